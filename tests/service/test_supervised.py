"""No thread lingers dead: boundary threads restart, the control socket reopens, a failed
main loop stops everything in order and exits non-zero (not 78)."""

from __future__ import annotations

import logging
import threading

import pytest

from appliance.core.destinations import Destination
from appliance.core.events import SentenceFinished
from appliance.errors import DaemonFailed
from appliance.service import daemon as daemon_module
from appliance.service.control import ControlError, request
from appliance.service.daemon import Parts
from appliance.service.supervised import Supervised
from appliance.tryout.sandbox import Sandbox
from tests.conftest import wait_until

WAIT_SECONDS = 10.0


class Flaky:
    """A thread body that fails `failures` times, then runs until stopped."""

    def __init__(self, *failures: BaseException | None) -> None:
        self.failures = list(failures)
        self.runs = 0
        self.running = threading.Event()

    def __call__(self, stop: threading.Event) -> None:
        self.runs += 1
        if self.failures:
            failure = self.failures.pop(0)
            if failure is None:
                return  # returned although nobody asked it to stop
            raise failure
        self.running.set()
        stop.wait()


def test_a_thread_that_dies_or_returns_is_restarted_and_each_problem_logged_once(caplog):
    stop = threading.Event()
    body = Flaky(OSError("disk full"), OSError("disk full"), None)
    worker = Supervised("poster", body, stop, restart_first_seconds=0.01)
    with caplog.at_level(logging.ERROR, logger="appliance.service.supervised"):
        worker.start()
        assert body.running.wait(WAIT_SECONDS)
    assert body.runs == 4 and worker.deaths == 3
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2, messages  # the same problem twice in a row is logged once
    assert "The poster thread stopped (OSError: disk full); restarting it in" in messages[0]
    assert "returned without being asked to stop" in messages[1]
    stop.set()
    worker.join(WAIT_SECONDS)
    assert not worker.is_alive()


def test_stop_during_the_restart_wait_ends_the_thread_promptly():
    stop = threading.Event()
    body = Flaky(*[RuntimeError("bug")] * 50)
    worker = Supervised("speech-link", body, stop, restart_first_seconds=60.0)
    worker.start()
    assert wait_until(lambda: worker.deaths == 1, WAIT_SECONDS)
    progress = worker.last_progress_at
    assert wait_until(lambda: worker.last_progress_at > progress, WAIT_SECONDS), (
        "a thread waiting to be restarted is looked after, not stuck"
    )
    stop.set()
    worker.join(WAIT_SECONDS)
    assert not worker.is_alive() and body.runs == 1


def answers(socket_path) -> bool:
    try:
        return bool(request(socket_path, "status")["ok"])
    except ControlError:
        return False


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox([], directory=tmp_path)
    sandbox.start_standins()
    yield sandbox
    sandbox.stop()


def _fail_once(function, error):
    calls = iter([error])

    def failing(*args, **kwargs):
        failure = next(calls, None)
        if failure is not None:
            raise failure
        return function(*args, **kwargs)

    return failing


@pytest.mark.parametrize("name", ["poster-x", "microphone"])
def test_a_daemon_thread_that_dies_is_restarted_and_works_again(box, name):
    daemon = box.start_daemon()
    assert wait_until(lambda: daemon.workers and all(w.is_alive() for w in daemon.workers), 10)
    worker = next(w for w in daemon.workers if w.name == name)
    failure = RuntimeError("Cannot operate on a closed database.")
    if name == "poster-x":  # its next look at the outbox fails
        daemon.outbox.next_due = _fail_once(daemon.outbox.next_due, failure)
        daemon.posters[Destination.X].wake()
        frames_before = 0
    else:  # handing the next chunk of audio on fails
        daemon.microphone._on_audio = _fail_once(daemon.microphone._on_audio, failure)  # noqa: SLF001
        frames_before = daemon.microphone.frames_read
    assert wait_until(lambda: worker.deaths == 1, 15), worker.last_problem
    assert "closed database" in worker.last_problem
    if name == "poster-x":
        daemon.events.put(SentenceFinished("Still posting after a restart."))
        assert wait_until(lambda: daemon.state.candidate is not None, 5)
        assert request(box.dir / "control.sock", "confirm")["ok"]
        assert box.x.wait_for_posts(1, 20)
    else:
        assert wait_until(lambda: daemon.microphone.frames_read > frames_before + 16000, 15)
    assert worker.is_alive() and worker.deaths == 1


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_control_socket_is_reopened_when_its_thread_dies(box):
    daemon = box.start_daemon()
    socket_path = box.dir / "control.sock"
    assert wait_until(lambda: answers(socket_path), 10)
    server = daemon._control  # noqa: SLF001
    assert server is not None

    class Broken:
        """A listening socket whose accept() fails in a way the server does not expect."""

        def __init__(self, real):
            self.real = real

        def accept(self):
            raise RuntimeError("a bug in the accept loop")

        def close(self):
            self.real.close()

    server._socket = Broken(server._socket)  # noqa: SLF001
    # The thread blocks in accept() until a client comes; the accept() after that fails.
    assert request(socket_path, "status")["ok"]
    assert wait_until(lambda: not server.is_serving(), 5)
    assert wait_until(lambda: daemon._control is not server, 5)  # noqa: SLF001
    assert wait_until(lambda: answers(socket_path), 5)
    assert request(socket_path, "mute")["ok"] and daemon.state.is_muted


def test_a_failed_main_loop_stops_every_thread_then_raises(box, monkeypatch):
    monkeypatch.setattr(daemon_module, "TICK_SECONDS", 0.05)
    from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS, load_settings
    from appliance.service.credentials import load_credentials
    from appliance.service.daemon import Daemon
    from appliance.tryout.sandbox import write_config

    write_config(box.config_path, **box.sections())
    settings = load_settings(box.config_path)
    credentials = load_credentials(settings, {}, (ASSEMBLYAI_KEY, *X_KEYS))
    daemon = Daemon(settings, credentials, Parts(pin_factory=box.pin_factory))
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            daemon.run(stop)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            failures.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_until(lambda: daemon.workers and all(w.is_alive() for w in daemon.workers), 10)
    daemon.events.put(object())  # not an event: the core raises, as a bug would
    thread.join(20)
    assert not thread.is_alive()
    assert len(failures) == 1 and isinstance(failures[0], DaemonFailed)
    assert "not an event" in str(failures[0])
    assert not any(worker.is_alive() for worker in daemon.workers)
    assert not (box.dir / "control.sock").exists()
