"""One source per fact: each is spelled in one module, and copies outside Python agree with it."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from appliance.cli.checks import Status
from appliance.cli.exits import EX_CONFIG
from appliance.core.audio import SAMPLE_RATE_HZ
from appliance.core.destinations import OverLength
from appliance.devices.leds import Layout
from appliance.posting.outbox import FILE_NAME
from appliance.posting.x_keys import BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN
from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS
from appliance.service.control import COMMANDS
from appliance.service.control_replies import event_for
from appliance.speech.gate import Session
from appliance.tryout.standins.x_server import XStandin

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["scripts/system-test.sh", "scripts/arm64-test.sh"])
def test_the_scripts_write_the_key_files_the_program_reads(script):
    line = re.search(r"^KEY_NAMES=\((.*)\)$", (REPO / script).read_text(), re.MULTILINE)
    assert line, f"{script} has no KEY_NAMES=(...) line"
    assert tuple(line.group(1).split()) == (ASSEMBLYAI_KEY, *X_KEYS)


def test_every_control_command_but_status_stands_for_an_event():
    assert COMMANDS[0] == "status" and event_for("status") is None
    assert all(event_for(command) is not None for command in COMMANDS[1:])
    assert event_for("reboot") is None


# ---- facts Python can import: each is spelled in one module only ----------------------

PACKAGE = REPO / "appliance"


def constants(path: Path) -> list[tuple[int, object]]:
    """Every literal in a module's code (comments are not code), with its line."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [(node.lineno, node.value) for node in ast.walk(tree) if isinstance(node, ast.Constant)]


def spelled_outside(values: set[object], homes: set[str], roots=(PACKAGE,)) -> list[str]:
    """Where a literal equal to one of `values` appears outside the `homes` (repo paths)."""
    found = []
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            where = path.relative_to(REPO).as_posix()
            if any(where == home or where.startswith(home + "/") for home in homes):
                continue
            for line, value in constants(path):
                # bool is an int: True would equal 1
                if not isinstance(value, bool) and value in values:
                    found.append(f"{where}:{line}: {value!r}")
    return found


@pytest.mark.parametrize(
    ("kind", "home"),
    [
        (Session, "appliance/speech/gate.py"),
        (OverLength, "appliance/core/destinations.py"),
        (Layout, "appliance/devices/leds.py"),
        (Status, "appliance/cli/checks.py"),
    ],
)
def test_a_states_spelling_lives_in_its_enum_alone(kind, home):
    values = {member.value for member in kind}
    assert spelled_outside(values, {home}) == []


def test_only_speech_reconnect_and_the_stand_ins_know_the_services_close_codes():
    reconnect = PACKAGE / "speech" / "reconnect.py"
    # 1000 also counts milliseconds everywhere; the others are the service's own.
    codes = {v for _, v in constants(reconnect) if type(v) is int and 1000 < v < 5000}
    assert {1008, 3005, 3007, 3008} <= codes
    # The stand-ins play the service, so they speak its codes too.
    homes = {"appliance/speech/reconnect.py", "appliance/tryout/standins"}
    assert spelled_outside(codes, homes) == []


# The benchmark's reference client is the tutorial's one self-contained script on
# purpose: it spells its own rate and key names, as that script did.
REFERENCE_CLIENT = "bench/reference_client.py"


def test_the_sample_rate_and_the_outbox_file_are_spelled_once():
    roots = (PACKAGE, REPO / "bench")
    homes = {"appliance/core/audio.py", REFERENCE_CLIENT}
    assert spelled_outside({SAMPLE_RATE_HZ}, homes, roots) == []
    assert spelled_outside({FILE_NAME}, {"appliance/posting/outbox.py"}, roots) == []


def test_the_key_names_are_spelled_where_they_are_defined_only():
    homes = {"appliance/speech/settings.py", "appliance/posting/x_keys.py", REFERENCE_CLIENT}
    names = {ASSEMBLYAI_KEY, *X_KEYS, BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN}
    assert spelled_outside(names, homes, (PACKAGE, REPO / "bench")) == []


def test_the_x_stand_in_takes_the_keys_in_the_order_of_their_files():
    parameters = list(inspect.signature(XStandin).parameters)[: len(X_KEYS)]
    assert [f"x_{name}" for name in parameters] == list(X_KEYS)


def test_every_control_command_has_one_help_line_and_one_event_at_most():
    from appliance.cli.main import _CONTROL_HELP
    from appliance.service.control_replies import _EVENTS

    assert set(_CONTROL_HELP) == set(_EVENTS) == set(COMMANDS) - {"status"}


def test_the_commands_return_exit_codes_by_name():
    # A bare `return 1` in a command hides which of exits.py's codes it means.
    found = []
    for path in sorted((PACKAGE / "cli").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Return) and node.value is not None:
                value = node.value
                values = [value.body, value.orelse] if isinstance(value, ast.IfExp) else [value]
                found += [
                    f"{path.name}:{node.lineno}"
                    for one in values
                    if isinstance(one, ast.Constant) and type(one.value) is int
                ]
    assert found == []


def test_the_scripts_name_the_configuration_exit_code_the_program_uses():
    install = (REPO / "scripts" / "install.sh").read_text()
    system_test = (REPO / "scripts" / "system-test.sh").read_text()
    assert set(re.findall(r"exit (\d+), no restart loop", install)) == {str(EX_CONFIG)}
    assert set(re.findall(r'ExecMainStatus\)" = (\d+)', system_test)) == {str(EX_CONFIG)}
