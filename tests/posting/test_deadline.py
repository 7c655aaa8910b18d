"""The total deadline cuts a call's sockets, those it opens late included."""

from __future__ import annotations

import queue
import socket
import threading

import pytest

from appliance.posting.deadline import DeadlineGuard, RequestCutOff

TIMEOUT_SECONDS = 10.0


@pytest.fixture
def silent_server():
    """A loopback server that accepts and never answers: a read on it blocks for good."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    accepted.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield server.getsockname()
        stop.set()
        thread.join(TIMEOUT_SECONDS)
        for connection in accepted:
            connection.close()


def in_thread(function) -> queue.Queue:
    results: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            results.put(function())
        except Exception as error:  # noqa: BLE001 - the test looks at it
            results.put(error)

    threading.Thread(target=run, daemon=True).start()
    return results


def test_a_call_past_its_deadline_is_cut_off(silent_server):
    guard = DeadlineGuard(0.2)

    def call() -> bytes:
        sock = socket.create_connection(silent_server)
        guard.tracker.add(sock)
        with sock:
            return sock.recv(1)

    outcome = in_thread(lambda: guard.run(call)).get(timeout=TIMEOUT_SECONDS)
    assert isinstance(outcome, RequestCutOff) and "within 0.2 s" in str(outcome)


def test_a_socket_opened_after_the_deadline_is_cut_too(silent_server):
    # A slow start (a cold import, a thread a busy machine left waiting) used up the
    # deadline before the request's socket existed: that socket must not run unbounded.
    guard = DeadlineGuard(0.2)
    first_cut = threading.Event()
    cut = guard.tracker.cut
    guard.tracker.cut = lambda: (cut(), first_cut.set())  # type: ignore[method-assign]

    def call() -> bytes:
        first_cut.wait(TIMEOUT_SECONDS)  # the deadline has passed, and nothing was cut
        sock = socket.create_connection(silent_server)
        guard.tracker.add(sock)
        with sock:
            return sock.recv(1)

    outcome = in_thread(lambda: guard.run(call)).get(timeout=TIMEOUT_SECONDS)
    assert isinstance(outcome, RequestCutOff)


def test_abort_cuts_a_socket_opened_after_it(silent_server):
    guard = DeadlineGuard(60.0)
    started, aborted = threading.Event(), threading.Event()

    def call() -> bytes:
        started.set()
        aborted.wait(TIMEOUT_SECONDS)
        sock = socket.create_connection(silent_server)
        guard.tracker.add(sock)
        with sock:
            return sock.recv(1)

    results = in_thread(lambda: guard.run(call))
    assert started.wait(TIMEOUT_SECONDS)  # under way: abort() cuts it, not refuses it
    guard.abort()
    aborted.set()
    outcome = results.get(timeout=TIMEOUT_SECONDS)
    assert isinstance(outcome, RequestCutOff) and str(outcome) == "cut off: the daemon is stopping"
