"""`kill -9` between confirmation and X's answer: after a restart, exactly one post.

The daemon runs as `appliance run --config ...` in a subprocess, against the stand-ins
and the simulated microphone of this test process; the confirmation is spoken.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.posting.outbox import POSTED, SENDING, Outbox
from appliance.tryout.sandbox import Sandbox, write_config
from tests.conftest import wait_until

SENTENCE = "Tweet that the power went out."


def start_daemon(
    box: Sandbox, log_path: Path, command: list[str] | None = None
) -> subprocess.Popen:
    environ = {
        k: v for k, v in os.environ.items() if k not in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET")
    }
    command = command or ["-m", "appliance", "run", "--config", str(box.config_path)]
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, *command],
            env=environ,
            cwd=Path(__file__).resolve().parents[2],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def stop_all(daemons: list[subprocess.Popen]) -> None:
    for daemon in daemons:
        if daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()


def entry_states(box: Sandbox) -> list[str]:
    path = box.dir / "state" / "outbox.sqlite3"
    if not path.exists():
        return []
    with Outbox(path) as outbox:
        return [entry.state for entry in outbox.entries()]


@pytest.mark.parametrize("fault", ["hang", "accept_and_hang"])
def test_kill_9_while_posting_then_restart_posts_exactly_once(fault, speak, tmp_path):
    box = Sandbox(
        [SENTENCE],
        directory=tmp_path,
        settings_overrides={
            "confirm": {"grace_seconds": 0.0},
            "x": {"request_timeout_seconds": 60.0},  # the request is still hanging at the kill
        },
    )
    box.start_standins()
    write_config(box.config_path, **box.sections())
    log_path = tmp_path / "daemon.log"
    daemons: list[subprocess.Popen] = []
    try:
        box.x.inject(fault)  # "hang": X never saw it; "accept_and_hang": X has it, no answer
        daemons.append(start_daemon(box, log_path))
        # The speech session opens when there is speech (session gate): wait for "Started".
        assert wait_until(lambda: "Started" in log_path.read_text(), 30), log_path.read_text()
        box.say(speak(SENTENCE))
        assert wait_until(lambda: entry_states(box) == [SENDING], 40), log_path.read_text()
        time.sleep(0.3)  # the request is on the wire
        assert len(box.x.posts) == (1 if fault == "accept_and_hang" else 0)
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait(10)

        daemons.append(start_daemon(box, log_path))
        assert wait_until(lambda: entry_states(box) == [POSTED], 40), log_path.read_text()
        assert [post.text for post in box.x.posts] == ["The power went out."]
        assert "sending them again" in log_path.read_text()
    finally:
        stop_all(daemons)
        box.stop()


def start_two_destination_daemon(box: Sandbox, second_x_url: str, log_path: Path):
    """`appliance run`, Bluesky played by a second X stand-in (tests.service.second_destination)."""
    module = "tests.service.second_destination"
    return start_daemon(box, log_path, ["-m", module, str(box.config_path), second_x_url])


def rows_by_destination(box: Sandbox) -> dict[str, str]:
    path = box.dir / "state" / "outbox.sqlite3"
    if not path.exists():
        return {}
    with Outbox(path) as outbox:
        return {str(entry.destination): str(entry.state) for entry in outbox.entries()}


@pytest.mark.parametrize("fault", ["hang", "accept_and_hang"])
def test_kill_9_while_one_destination_hangs_then_each_has_exactly_one_post(fault, speak, tmp_path):
    from tests.service.second_destination import BLUESKY_SECTION, second_x_standin

    box = Sandbox(
        [SENTENCE],
        directory=tmp_path,
        settings_overrides={
            "confirm": {"grace_seconds": 0.0},
            "x": {"request_timeout_seconds": 60.0},  # X's request is still hanging at the kill
            "bluesky": dict(BLUESKY_SECTION),
        },
    )
    bluesky = second_x_standin(box.keys)
    box.start_standins()
    write_config(box.config_path, **box.sections())
    log_path = tmp_path / "daemon.log"
    daemons: list[subprocess.Popen] = []
    try:
        box.x.inject(fault)
        daemons.append(start_two_destination_daemon(box, bluesky.url, log_path))
        assert wait_until(lambda: "Started" in log_path.read_text(), 30), log_path.read_text()
        box.say(speak(SENTENCE))
        # Bluesky has it; X's request hangs.
        expected = {"x": SENDING, "bluesky": POSTED}
        assert wait_until(lambda: rows_by_destination(box) == expected, 40), log_path.read_text()
        time.sleep(0.3)
        assert len(box.x.posts) == (1 if fault == "accept_and_hang" else 0)
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait(10)

        daemons.append(start_two_destination_daemon(box, bluesky.url, log_path))
        done = {"x": POSTED, "bluesky": POSTED}
        assert wait_until(lambda: rows_by_destination(box) == done, 40), log_path.read_text()
        assert [post.text for post in box.x.posts] == ["The power went out."]
        assert [post.text for post in bluesky.posts] == ["The power went out."]
        assert "sent to X when the daemon stopped" in log_path.read_text()
    finally:
        stop_all(daemons)
        bluesky.stop()
        box.stop()
