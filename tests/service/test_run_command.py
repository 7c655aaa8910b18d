"""`appliance run` as a real process: config errors, sd_notify, posting, shutdown, no key leaks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from appliance.tryout.sandbox import Sandbox, write_config
from tests.conftest import wait_until

EX_CONFIG = 78


def run_appliance(args, env=None, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "appliance", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_bad_config_exits_78_naming_file_key_and_expectation(tmp_path):
    config = write_config(tmp_path / "appliance.toml", x={"dry_run": "yes"})
    done = run_appliance(["run", "--config", str(config)])
    assert done.returncode == EX_CONFIG
    assert f"{config}: x.dry_run: true or false, not 'yes'" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_missing_config_and_missing_key_exit_78(tmp_path):
    done = run_appliance(["run"], env={"APPLIANCE_CONFIG": str(tmp_path / "nope.toml")})
    assert done.returncode == EX_CONFIG and "nope.toml" in done.stderr
    config = write_config(
        tmp_path / "appliance.toml",
        credentials={"dir": str(tmp_path / "keys")},
        gpio={"pin_factory": "mock"},
        state={"dir": str(tmp_path / "state")},
    )
    done = run_appliance(["run", "--config", str(config)], env={"CREDENTIALS_DIRECTORY": ""})
    assert done.returncode == EX_CONFIG
    assert "assemblyai_api_key" in done.stderr and "does not exist" in done.stderr


class NotifySocket:
    """A socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                self.messages.extend(self.sock.recv(4096).decode().splitlines())
            except TimeoutError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def box():
    # A short grace period: it has its own tests; here it would only add waiting.
    sandbox = Sandbox(
        ["Mondays are the worst.", "Tweet that."],
        settings_overrides={"confirm": {"grace_seconds": 0.5}},
    )
    sandbox.start_standins()
    yield sandbox
    sandbox.stop()


@pytest.mark.parametrize("optimized", [False, True], ids=["plain", "as-the-unit-runs-it"])
def test_run_posts_after_tweet_that_and_stops_cleanly(box, speak, tmp_path, optimized):
    write_config(box.config_path, **box.sections())
    notify = NotifySocket(tmp_path / "notify")
    # systemd/appliance.service runs it with -OO (no docstrings, no asserts) and a
    # bytecode cache of its own: nothing on the way from speech to post may need either.
    unit_environment = {"PYTHONOPTIMIZE": "2", "PYTHONPYCACHEPREFIX": str(tmp_path / "pyc")}
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance", "run", "--config", str(box.config_path)],
        env={
            **os.environ,
            **(unit_environment if optimized else {}),
            "NOTIFY_SOCKET": notify.path,
            "WATCHDOG_USEC": "2000000",
            "WATCHDOG_PID": "",
        },
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: "READY=1" in notify.messages, 20), notify.messages
        box.say(speak("Mondays are the worst.") + speak("Tweet that."))
        assert box.x.wait_for_posts(1, 40)
        assert [p.text for p in box.x.posts] == ["Mondays are the worst."]
        assert wait_until(lambda: "WATCHDOG=1" in notify.messages, 5)
        assert wait_until(
            lambda: any(m.startswith("STATUS=Posted") for m in notify.messages), 10
        ), notify.messages
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        notify.close()
    log = process.stderr.read()
    assert "Confirmed by voice" in log and "posted" in log
    assert "STOPPING=1" in notify.messages
    # Shutdown ended the speech session with Terminate: a normal close, not a cut.
    assert box.speech.sessions[-1].close_code == 1000
    for key in box.keys.values():
        assert key not in log


def test_watchdog_is_not_fed_while_the_microphone_is_stuck(box):
    """A hung capture thread must stop the pings, so systemd restarts the daemon."""
    from appliance.service import daemon as daemon_module
    from appliance.service.daemon import Parts

    stuck = threading.Event()

    class StuckPcm:
        def __init__(self, *args, **kwargs):
            pass

        def info(self):
            return {
                "rate": 16000,
                "channels": 1,
                "format": 2,
                "format_name": "S16_LE",
                "period_size": 800,
            }

        def read(self):
            stuck.wait(30)  # a driver that never returns
            return 0, b""

        def close(self):
            pass

    pings = []

    class Notifier:
        def ready(self):
            pass

        def status(self, text):
            pass

        def stopping(self):
            pass

        def watchdog(self):
            pings.append(time.monotonic())

    old = daemon_module.STUCK_AFTER_SECONDS
    daemon_module.STUCK_AFTER_SECONDS = 1.0
    try:
        parts = Parts(pcm_factory=StuckPcm, notifier=Notifier(), watchdog_interval_seconds=0.1)
        box.start_daemon(parts)
        # However long a busy machine takes to start it: it pings (every 0.1 s), then,
        # the microphone stuck for STUCK_AFTER_SECONDS, stops.
        assert wait_until(lambda: pings, 20), "never pinged, even at the start"
        assert wait_until(lambda: time.monotonic() - pings[-1] >= 1.0, 20), "kept pinging"
        last = pings[-1]
        time.sleep(1.0)
        assert pings[-1] == last, "kept pinging while the microphone was stuck"
    finally:
        daemon_module.STUCK_AFTER_SECONDS = old
        stuck.set()
