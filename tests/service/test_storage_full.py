"""A full, read-only or immutable disk under the outbox: nothing confirmed is lost, no exit 78.

Real file systems: a small tmpfs mounted for the state directory (needs root and
CAP_SYS_ADMIN; skipped otherwise), filled up, bind-mounted read-only, or `chattr +i`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.core import Pattern
from appliance.core.destinations import Destination
from appliance.posting.outbox import FILE_NAME, POSTED, Outbox
from appliance.service.control import request
from appliance.tryout.sandbox import Sandbox, write_config
from tests.conftest import wait_until
from tests.service.service_process import running_service
from tests.service.test_posting_daemon import Box

EX_TEMPFAIL, EX_CONFIG = 75, 78
DISK_BYTES = 512 * 1024


class Disk:
    """A small tmpfs that the test fills and frees."""

    def __init__(self, mount_point: Path) -> None:
        self.mount_point = mount_point
        self.filler = mount_point / "filler"

    def fill(self) -> None:
        """Write until the file system refuses even one more byte."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for size in (65536, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * size)
        finally:
            os.close(fd)
        with pytest.raises(OSError) as caught:
            (self.mount_point / "probe").write_bytes(b"x" * 4096)
        assert caught.value.errno == errno.ENOSPC

    def free(self) -> None:
        self.filler.unlink()


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0755", "tmpfs", str(mount_point))
    except subprocess.CalledProcessError as error:
        pytest.skip(f"cannot mount a tmpfs here: {error.stderr.decode().strip()}")
    yield Disk(mount_point)
    # Lazily: a daemon thread of a failed test may still hold the outbox open.
    subprocess.run(["umount", "-R", "-l", str(mount_point)], capture_output=True, timeout=10)


def _box_on(disk: Disk) -> Box:
    """The daemon with its state directory on `disk`, posting at once, retrying X quickly."""
    return Box(
        confirm={"grace_seconds": 0.0},
        x={"request_timeout_seconds": 2.0, "retry_max_seconds": 1.0},
        state={"dir": str(disk.mount_point / "state")},
    ).start()


def test_a_post_confirmed_on_a_full_disk_is_held_shown_and_stored_once_there_is_room(disk):
    box = _box_on(disk)
    try:
        daemon = box.daemon
        assert wait_until(lambda: all(w.is_alive() for w in daemon.workers), 10)
        disk.fill()
        box.hear("Mondays are the worst.")
        assert wait_until(lambda: daemon.state.candidate is not None, 5)
        reply = request(box.dir / "control.sock", "confirm")
        assert reply["ok"], reply

        assert wait_until(lambda: box.pattern() is Pattern.STORAGE_FULL, 10)
        assert box.saw_status("Storage full or read-only: 1 confirmed post(s) held in memory")
        assert "database or disk is full" in daemon.state.storage_problem
        # The main loop, the control socket and every thread carry on.
        status = request(box.dir / "control.sock", "status")
        assert status["led"] == "storage_full"
        assert status["status"].startswith("Storage full")
        assert all(worker.is_alive() for worker in daemon.workers)
        assert box.x.posts == []

        disk.free()
        assert box.x.wait_for_posts(1, 20)
        assert [post.text for post in box.x.posts] == ["Mondays are the worst."]
        assert wait_until(lambda: [e.state for e in box.entries()] == [POSTED], 10)
        assert wait_until(lambda: box.pattern() is not Pattern.STORAGE_FULL, 5)
        assert daemon.state.storage_problem == ""
    finally:
        box.stop()
    assert not any(worker.is_alive() for worker in daemon.workers)


def test_stopping_while_the_disk_is_still_full_logs_the_held_text(disk, caplog):
    box = Box(confirm={"grace_seconds": 0.0}, state={"dir": str(disk.mount_point / "s")}).start()
    try:
        disk.fill()
        box.hear("Keep me somewhere.")
        assert wait_until(lambda: box.daemon.state.candidate is not None, 5)
        assert request(box.dir / "control.sock", "confirm")["ok"]
        assert wait_until(lambda: box.pattern() is Pattern.STORAGE_FULL, 10)
    finally:
        box.stop()
    lost = [r for r in caplog.records if getattr(r, "APPLIANCE_EVENT", "") == "post_lost"]
    assert [r.getMessage().endswith("“Keep me somewhere.”") for r in lost] == [True]


def _run(config: Path, timeout_seconds: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appliance", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        env={**os.environ, "CREDENTIALS_DIRECTORY": ""},
    )


def _config(tmp_path: Path, state_dir: Path) -> Path:
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "assemblyai_api_key").write_text("sk-test-key\n")
    return write_config(
        tmp_path / "appliance.toml",
        state={"dir": str(state_dir)},
        credentials={"dir": str(keys)},
        gpio={"pin_factory": "mock"},
        x={"dry_run": True},
        control={"socket": str(tmp_path / "control.sock")},
        audio={"device": "plughw:CARD=Absent,DEV=0"},
        assemblyai={"url": "ws://127.0.0.1:9/v3/ws"},
    )


def test_unwritable_storage_at_start_up_exits_75_so_systemd_restarts_it(disk, tmp_path):
    state = disk.mount_point / "state"
    config = _config(tmp_path, state)

    disk.fill()  # no outbox yet, and no room for one
    done = _run(config)
    assert done.returncode == EX_TEMPFAIL, done.stderr
    assert "Storage error" in done.stderr and str(state) in done.stderr
    assert "Traceback" not in done.stderr
    disk.free()

    with Outbox(state / FILE_NAME):
        pass
    subprocess.run(["chattr", "+i", str(state / FILE_NAME)], check=True, timeout=10)
    try:
        done = _run(config)
    finally:
        subprocess.run(["chattr", "-i", str(state / FILE_NAME)], check=True, timeout=10)
    assert done.returncode == EX_TEMPFAIL, done.stderr
    assert "Storage error" in done.stderr and "Traceback" not in done.stderr

    _mount("--bind", str(state), str(state))
    _mount("-o", "remount,bind,ro", str(state))
    done = _run(config)
    subprocess.run(["umount", str(state)], check=True, timeout=10)
    assert done.returncode == EX_TEMPFAIL, done.stderr
    assert "read-only" in done.stderr.lower() or "readonly" in done.stderr

    # A state "directory" that is a file is the configuration's fault: 78, no restarts.
    done = _run(_config(tmp_path, config))
    assert done.returncode == EX_CONFIG, done.stderr
    assert "state.dir" in done.stderr


def test_the_running_daemon_survives_a_full_disk_and_sigterm_exits_0(disk, tmp_path, speak):
    box = Sandbox(
        ["Mondays are the worst.", "Tweet that."],
        settings_overrides={
            "confirm": {"grace_seconds": 0.0},
            "state": {"dir": str(disk.mount_point / "state")},
            "x": {"retry_max_seconds": 1.0},
        },
    )
    box.start_standins()
    try:
        with running_service(box, tmp_path) as (process, notify):
            disk.fill()
            box.say(speak("Mondays are the worst.") + speak("Tweet that."))
            assert wait_until(
                lambda: any(m.startswith("STATUS=Storage full") for m in notify.messages), 40
            ), notify.messages
            assert request(box.dir / "control.sock", "status")["led"] == "storage_full"
            disk.free()
            assert box.x.wait_for_posts(1, 20)
            assert [post.text for post in box.x.posts] == ["Mondays are the worst."]
            disk.fill()  # full again; the daemon keeps running and stops cleanly
            time.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0
    finally:
        box.stop()
    log = process.stderr.read()
    assert "[storage_full]" in log and "[storage_ok]" in log
    assert "Traceback" not in log


def test_the_poster_thread_outlives_a_disk_that_fills_between_attempts(disk):
    box = _box_on(disk)
    try:
        daemon = box.daemon
        poster = next(worker for worker in daemon.workers if worker.name == "poster-x")
        box.x.inject("503", count=1000)  # X is down: the entry waits and is retried
        box.hear("Sent once the disk has room.")
        assert wait_until(lambda: daemon.state.candidate is not None, 5)
        assert request(box.dir / "control.sock", "confirm")["ok"]
        assert wait_until(lambda: box.daemon.state.status_of(Destination.X).problem != "", 10)

        disk.fill()  # the poster's next write to the outbox fails
        assert wait_until(lambda: poster.deaths >= 1, 15), poster.last_problem
        assert "database or disk is full" in poster.last_problem
        disk.free()
        box.x._faults.clear()  # noqa: SLF001 - X is back
        assert box.x.wait_for_posts(1, 40)
        assert [post.text for post in box.x.posts] == ["Sent once the disk has room."]
        assert poster.is_alive()
    finally:
        box.stop()
