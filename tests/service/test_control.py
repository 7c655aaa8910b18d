"""The control socket on a real UNIX socket: permissions, bounds, bad requests, the CLI."""

from __future__ import annotations

import json
import socket
import stat
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.cli import main as cli
from appliance.core import Candidate, CoreSettings, State
from appliance.service.control import (
    MAX_REQUEST_BYTES,
    ControlError,
    ControlServer,
    format_status,
    parse_request,
    request,
)
from appliance.service.control_replies import status_reply
from appliance.tryout.sandbox import write_config

TIMEOUT_SECONDS = 5.0


class Recorder:
    """A handler that remembers the commands it was given."""

    def __init__(self):
        self.commands: list[str] = []

    def __call__(self, command: str) -> dict:
        self.commands.append(command)
        return {"ok": True, "message": f"did {command}"}


@pytest.fixture
def server(tmp_path):
    handler = Recorder()
    path = tmp_path / "run" / "control.sock"  # the parent does not exist yet
    with ControlServer(path, handler, request_timeout_seconds=0.5) as running:
        running.handler = handler  # type: ignore[attr-defined]
        yield running


def raw(path, payload: bytes, *, shut_write: bool = True) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(TIMEOUT_SECONDS)
        client.connect(str(path))
        client.sendall(payload)
        if shut_write:
            client.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            data = client.recv(65536)
            if not data:
                break
            reply += data
    return json.loads(reply)


def test_socket_is_created_with_mode_0660_in_a_new_directory(server):
    assert stat.S_ISSOCK(server.path.stat().st_mode)
    assert stat.S_IMODE(server.path.stat().st_mode) == 0o660


def test_a_command_reaches_the_handler_and_its_reply_comes_back(server):
    assert request(server.path, "confirm") == {"ok": True, "message": "did confirm"}
    assert server.handler.commands == ["confirm"]


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"not json\n", "not JSON"),
        (b'["status"]\n', "one key"),
        (b'{"command": "status", "extra": 1}\n', "one key"),
        (b'{"command": "reboot"}\n', "unknown command"),
        (b'{"command": 5}\n', "unknown command"),
        (b"\xff\xfe\n", "not JSON"),
        (b'{"command": "status"}' + b" " * MAX_REQUEST_BYTES + b"\n", "too long"),
    ],
)
def test_malformed_requests_get_an_error_and_change_nothing(server, payload, words):
    reply = raw(server.path, payload)
    assert reply["ok"] is False
    assert words in reply["error"]
    assert server.handler.commands == []


def test_a_slow_client_is_timed_out_while_others_are_served(server):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as slow:
        slow.settimeout(TIMEOUT_SECONDS)
        slow.connect(str(server.path))
        slow.sendall(b'{"command": "sta')  # and never a newline
        assert request(server.path, "status")["ok"]  # served meanwhile
        reply = json.loads(slow.recv(65536))
    assert reply["ok"] is False and "timed out" in reply["error"]
    assert server.handler.commands == ["status"]


def test_a_stale_socket_file_is_replaced(tmp_path):
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: a daemon that died
    with ControlServer(path, Recorder()):
        assert request(path, "status")["ok"]
    assert not path.exists()  # removed on close


def test_a_live_socket_is_not_stolen(server):
    with pytest.raises(ControlError, match="already"):
        ControlServer(server.path, Recorder()).start()
    assert request(server.path, "status")["ok"]


def test_a_missing_daemon_is_a_clear_error(tmp_path):
    with pytest.raises(ControlError, match="not running"):
        request(tmp_path / "nothing.sock", "status")


def test_the_cli_says_the_daemon_is_not_running_and_exits_1(tmp_path, capsys):
    config = write_config(
        tmp_path / "appliance.toml", control={"socket": str(tmp_path / "control.sock")}
    )
    assert cli.main(["status", "--config", str(config)]) == 1
    assert "not running" in capsys.readouterr().err


def test_the_cli_prints_status_and_exits_0(tmp_path, capsys):
    path = tmp_path / "control.sock"
    config = write_config(tmp_path / "appliance.toml", control={"socket": str(path)})
    state = State(link="up", candidate=Candidate("Hello world.", 0.0), microphone_ok=True)
    reply = status_reply(state, 15.0, CoreSettings(), {"posted": 2, "waiting": 1})
    with ControlServer(path, lambda command: reply):
        assert cli.main(["status", "--config", str(config)]) == 0
        out = capsys.readouterr().out
        assert "“Hello world.” (45 s left)" in out
        assert "2 posted, 1 waiting" in out
        assert cli.main(["status", "--json", "--config", str(config)]) == 0
        assert json.loads(capsys.readouterr().out)["candidate"]["text"] == "Hello world."


def test_a_refused_command_exits_1(tmp_path, capsys):
    path = tmp_path / "control.sock"
    config = write_config(tmp_path / "appliance.toml", control={"socket": str(path)})
    refused = {"ok": False, "message": "Nothing to post (control): no sentence is waiting."}
    with ControlServer(path, lambda command: refused):
        assert cli.main(["confirm", "--config", str(config)]) == 1
    assert "Nothing to post" in capsys.readouterr().err


def test_format_status_reads_one_fact_a_line():
    reply = status_reply(State(), 0.0, CoreSettings(), {})
    text = format_status(reply)
    assert "Outbox:     empty" in text and "Microphone: not open yet" in text


def test_close_stops_serving_promptly(tmp_path):
    path = tmp_path / "control.sock"
    server = ControlServer(path, Recorder())
    server.start()
    closed = threading.Thread(target=server.close)
    closed.start()
    closed.join(TIMEOUT_SECONDS)
    assert not closed.is_alive()
    with pytest.raises(ControlError):
        request(path, "status")


def test_the_daemon_answers_status_confirm_and_a_refused_confirm(tmp_path, capsys, speak):
    from appliance.tryout.sandbox import Sandbox
    from tests.conftest import wait_until

    sentence = "Mondays are the worst."
    # A short grace period (it has its own tests): the confirmed post still goes through it.
    overrides = {"assemblyai": {"session": "always"}, "confirm": {"grace_seconds": 0.5}}
    with Sandbox([sentence], directory=tmp_path, settings_overrides=overrides) as box:
        config = str(box.config_path)
        assert wait_until(lambda: box.daemon.state.link == "up", 10)
        box.say(speak(sentence))
        assert wait_until(lambda: box.daemon.state.candidate is not None, 20)
        assert cli.main(["status", "--json", "--config", config]) == 0
        status = json.loads(capsys.readouterr().out)
        assert status["candidate"]["text"] == sentence
        assert status["link"]["state"] == "up"
        assert cli.main(["confirm", "--config", config]) == 0
        assert sentence in capsys.readouterr().out
        assert box.x.wait_for_posts(1, 15)
        assert cli.main(["confirm", "--config", config]) == 1  # nothing waits now
        assert "Nothing to post" in capsys.readouterr().err
        assert wait_until(lambda: box.daemon.state.posts_in_flight == 0, 10)
        assert cli.main(["status", "--config", config]) == 0
        assert "1 posted" in capsys.readouterr().out


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=500, deadline=None)
@given(
    st.binary(max_size=MAX_REQUEST_BYTES)
    | _JSON.map(lambda value: json.dumps(value).encode())
    | _JSON.map(lambda value: json.dumps({"command": value}).encode())
)
def test_fuzz_any_request_line_gives_a_command_or_a_reason(line):
    command, problem = parse_request(line)
    assert (command in ("status", "confirm", "cancel", "mute", "unmute")) != bool(problem)
    assert len(problem) < 200


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * MAX_REQUEST_BYTES,  # deeper than json's parser recurses
        b'{"command": ' + b"[" * 1000 + b"\n",
        b"\xff\xfe\x00{\x00\n",  # a UTF-16 byte-order mark, then garbage
        b'{"command": {"status": 1}}\n',
        b'{"command": "' + b"a" * 900 + b'"}\n',
    ],
)
def test_hostile_requests_get_a_clear_reply_and_the_server_survives(server, payload):
    reply = raw(server.path, payload)
    assert reply["ok"] is False and reply["error"]
    assert len(reply["error"]) < 200
    assert raw(server.path, b'{"command": "status"}\n')["ok"] is True
    assert server.handler.commands == ["status"]


@settings(max_examples=40, deadline=None)
@given(st.binary(min_size=1, max_size=MAX_REQUEST_BYTES + 8))
def test_fuzz_random_bytes_on_the_live_socket_always_get_a_json_reply(tmp_path_factory, payload):
    path = tmp_path_factory.mktemp("fuzz") / "control.sock"
    with ControlServer(path, Recorder(), request_timeout_seconds=0.5) as running:
        reply = raw(running.path, payload)
        assert set(reply) == {"ok", "error"} or reply["ok"] is True
        assert raw(running.path, b'{"command": "status"}\n')["ok"] is True
