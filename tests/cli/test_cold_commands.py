"""The quick commands stay quick: `appliance status|confirm|--help` load no network client.

Issue 13: on a Pi each of tweepy, requests and the websocket client costs a noticeable
part of a second to import, and these commands need none of them. Each command runs
here as its own fresh interpreter (like a cold `appliance status` in a shell) against
a control socket that answers like the daemon's, and the modules it loaded are listed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.service.control import ControlServer

# The network clients, their own dependencies, and the destinations' clients to come.
FORBIDDEN = (
    "tweepy",
    "requests",
    "requests_oauthlib",
    "oauthlib",
    "urllib3",
    "websocket",
    "websockets",
    "atproto",
    "mastodon",
)

TEXT_RULES = {"appliance.core.post_text", "appliance.core.lengths", "appliance.x_length"}

# Runs the program as `python -m appliance ARGS` would, then reports what it loaded (a
# None in sys.modules is a module kept out, not loaded).
PROBE = r"""
import json, runpy, sys
sys.argv = ["appliance", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("appliance", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code
loaded = sorted(name for name, module in sys.modules.items() if module is not None)
print("\nMODULES " + json.dumps({"code": code, "modules": loaded}))
"""


def loaded_modules(args: list[str], cwd: Path) -> tuple[object, set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )
    marker = result.stdout.rfind("\nMODULES ")
    assert marker >= 0, result.stderr
    report = json.loads(result.stdout[marker + len("\nMODULES ") :])
    return report["code"], set(report["modules"]), result.stdout[:marker]


def run_check_modules(tmp_path: Path) -> set[str]:
    """What `appliance run --check` (everything the daemon loads) loaded, with a default config."""
    config = tmp_path / "appliance.toml"
    config.write_text("")
    code, modules, output = loaded_modules(["run", "--check", "--config", str(config)], tmp_path)
    assert code in (0, None), output
    return modules


def forbidden_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in FORBIDDEN)


@pytest.fixture
def daemon_socket(tmp_path: Path):
    """A config file and a control socket answering every command as the daemon would."""
    socket_path = tmp_path / "control.sock"
    config = tmp_path / "appliance.toml"
    config.write_text(f'[control]\nsocket = "{socket_path}"\n')

    def handle(command: str) -> dict[str, object]:
        if command == "status":
            return {"ok": True, "status": "Listening", "led": "listening", "is_muted": False}
        return {"ok": True, "message": "Posting “the kettle is singing again”"}

    with ControlServer(socket_path, handle):
        yield config


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", [["status"], ["status", "--json"], ["confirm"]])
def test_a_control_command_loads_no_network_client(daemon_socket, tmp_path, command):
    code, modules, output = loaded_modules([*command, "--config", str(daemon_socket)], tmp_path)
    assert code in (0, None), output
    assert ("Listening" in output) if command[0] == "status" else ("kettle" in output)
    assert forbidden_in(modules) == []
    # Nor the post-text rules (link and emoji tables, three services' counts): reading
    # the settings needs only their names.
    assert sorted(modules & TEXT_RULES) == []


@pytest.mark.timeout(60)
def test_help_loads_no_network_client(tmp_path):
    code, modules, output = loaded_modules(["--help"], tmp_path)
    assert code in (0, None)
    assert "confirm" in output
    assert forbidden_in(modules) == []


@pytest.mark.timeout(60)
def test_the_probe_sees_a_network_client_when_one_is_loaded(tmp_path):
    """The check can fail: `appliance run --check` loads everything the daemon needs."""
    assert {"tweepy", "requests", "websocket"} <= set(forbidden_in(run_check_modules(tmp_path)))


# Loaded by the daemon's imports before issue 13's memory work, and not needed by an
# X-only daemon: the emoji package's tables (the sequences ship as a data file), the
# Public Suffix List's package (only its data file is read), graphemes (Bluesky's and
# Mastodon's count), requests' character-set detectors (answers are JSON) and html's
# entity tables (only finding a post after a lost answer needs them).
NOT_NEEDED = ("emoji", "publicsuffixlist", "grapheme", "chardet", "charset_normalizer", "html")


@pytest.mark.timeout(60)
def test_the_daemon_loads_no_module_it_does_not_need(tmp_path):
    modules = run_check_modules(tmp_path)
    assert "tweepy" in modules and "appliance.x_length._data" in modules  # it did load them
    assert sorted(name for name in modules if name.split(".")[0] in NOT_NEEDED) == []
