"""A total deadline for a client call, and abort() from another thread, by cutting sockets."""

from __future__ import annotations

import socket
import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

from appliance.errors import ApplianceError

T = TypeVar("T")

# How often a call past its deadline (or aborted) has its sockets cut again.
RECUT_SECONDS = 0.05


class SocketTracker:
    """The sockets a session has open, so that a watcher can cut a request off.

    urllib3's read and total timeouts only measure the time between reads (its Timeout
    docstring: a server sending one byte every fifteen seconds never trips a 20 s
    timeout). So a watcher thread cuts a late request off: shutting its socket down
    wakes the thread blocked in recv() at once, with an error.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def add(self, sock: socket.socket | None) -> None:
        if sock is not None:
            with self._lock:
                self._sockets.add(sock)

    def cut(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                # The base class's shutdown: an SSLSocket's own would drop its TLS
                # state under the reading thread.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already closed, or detached into its TLS wrapper


class RequestCutOff(ApplianceError):
    """A call outlived its total deadline, or the daemon is stopping: its sockets were cut.

    The service may or may not have acted on it; the caller's retry must be safe (X
    answers "duplicate", Bluesky finds the record under the same record key).
    """


class DeadlineGuard:
    """Runs one client call (one or more HTTP requests) within `total_seconds`.

    The HTTP libraries' timeouts bound each wait for bytes, not the whole answer (a
    server sending a byte a second never trips them), so a watcher thread shuts the
    call's sockets down (those `tracker` holds) when the deadline passes or abort() is
    called: the blocked read wakes at once, with an error.

    The tracker holds the client's sockets, not one call's: once a call is past its
    deadline, every socket of the client is cut until that call returns. So a guard
    serves one call at a time, as each client does (its poster's thread alone uses it;
    doctor builds its own).
    """

    def __init__(self, total_seconds: float, name: str = "request-deadline") -> None:
        self.total_seconds = total_seconds
        self.name = name  # the watcher threads' name
        self.tracker = SocketTracker()
        self._aborted = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[threading.Event] = set()

    def abort(self) -> None:
        """Cut off the call under way and refuse new ones: the daemon is stopping."""
        self._aborted.set()
        with self._lock:
            for finished in self._in_flight:
                finished.set()

    def run(self, call: Callable[[], T], discard: Callable[[T], object] | None = None) -> T:
        """`call()`, or RequestCutOff if it is still running at the deadline or abort().

        `discard` releases a result that came back although the call was cut off.
        """
        if self._aborted.is_set():
            raise RequestCutOff("not sent: the daemon is stopping")
        finished, cut, done = threading.Event(), threading.Event(), threading.Event()
        with self._lock:
            self._in_flight.add(finished)
        watcher = threading.Thread(
            target=self._watch, args=(finished, cut, done), name=self.name, daemon=True
        )
        watcher.start()
        try:
            result = call()
        except Exception as error:
            if cut.is_set():
                raise self._cut_off() from error
            raise
        finally:
            with self._lock:
                self._in_flight.discard(finished)
            finished.set()
            done.set()
            watcher.join()
        if cut.is_set():  # an answer cut short can still parse as a complete one
            if discard is not None:
                discard(result)
            raise self._cut_off()
        return result

    def _cut_off(self) -> RequestCutOff:
        if self._aborted.is_set():
            return RequestCutOff("cut off: the daemon is stopping")
        return RequestCutOff(f"cut off: no whole answer within {self.total_seconds:g} s")

    def _watch(
        self, finished: threading.Event, cut: threading.Event, done: threading.Event
    ) -> None:
        # finished: set when the call ends, or by abort() (a timeout means the deadline
        # passed); done: set only when the call ends.
        if finished.wait(self.total_seconds) and not self._aborted.is_set():
            return
        cut.set()
        # Again until the call returns: a socket it opens later (its start was slow: a
        # cold import, a thread a busy machine kept waiting) would otherwise run unbounded.
        while True:
            self.tracker.cut()
            if done.wait(RECUT_SECONDS):
                return
