"""How calls to Bluesky end on time: a total deadline, and abort() from another thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from appliance.errors import ApplianceError
from appliance.posting.x_transport import _SocketTracker

T = TypeVar("T")


class RequestCutOff(ApplianceError):
    """A call outlived its total deadline, or the daemon is stopping: its sockets were cut.

    Bluesky may or may not have acted on it; a retry of a post uses the same record key,
    so it cannot make a second post.
    """


class DeadlineGuard:
    """Runs one client call (one or more HTTP requests) within `total_seconds`.

    httpx's timeouts bound each wait for bytes, not the whole answer (a server sending a
    byte a second never trips them), so a watcher thread shuts the call's sockets down
    when the deadline passes or abort() is called: the blocked read wakes at once.
    """

    def __init__(self, total_seconds: float) -> None:
        self.total_seconds = total_seconds
        self._tracker = _SocketTracker()
        self._aborted = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[threading.Event] = set()

    def transport(self) -> Any:
        """An httpx transport whose sockets this guard can cut (imports httpx: call lazily)."""
        import httpcore
        import httpx

        tracker = self._tracker

        class TrackedStream(httpcore.NetworkStream):
            def __init__(self, inner: httpcore.NetworkStream) -> None:
                self._inner = inner
                tracker.add(inner.get_extra_info("socket"))

            def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
                return self._inner.read(max_bytes, timeout)

            def write(self, buffer: bytes, timeout: float | None = None) -> None:
                self._inner.write(buffer, timeout)

            def close(self) -> None:
                self._inner.close()

            def start_tls(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
                # The TLS socket owns the file descriptor from here on: track it too.
                return TrackedStream(self._inner.start_tls(*args, **kwargs))

            def get_extra_info(self, info: str) -> Any:
                return self._inner.get_extra_info(info)

        class TrackingBackend(httpcore.NetworkBackend):
            def __init__(self) -> None:
                self._inner = httpcore.SyncBackend()

            def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
                return TrackedStream(self._inner.connect_tcp(*args, **kwargs))

            def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
                return TrackedStream(self._inner.connect_unix_socket(*args, **kwargs))

            def sleep(self, seconds: float) -> None:
                self._inner.sleep(seconds)

        transport = httpx.HTTPTransport(retries=0)
        # httpx has no public way to pass httpcore a network backend; its pool keeps one
        # here (httpx 0.23-0.28). Without it only httpx's own per-read timeouts apply.
        pool = getattr(transport, "_pool", None)
        if pool is not None and hasattr(pool, "_network_backend"):
            pool._network_backend = TrackingBackend()
        return transport

    def abort(self) -> None:
        """Cut off the call under way and refuse new ones: the daemon is stopping."""
        self._aborted.set()
        with self._lock:
            for finished in self._in_flight:
                finished.set()

    def run(self, call: Callable[[], T]) -> T:
        """`call()`, or RequestCutOff if it is still running at the deadline or abort()."""
        if self._aborted.is_set():
            raise RequestCutOff("not sent: the daemon is stopping")
        finished, cut = threading.Event(), threading.Event()
        with self._lock:
            self._in_flight.add(finished)
        watcher = threading.Thread(
            target=self._watch, args=(finished, cut), name="bluesky-deadline", daemon=True
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
            watcher.join()
        if cut.is_set():  # an answer cut short can still parse as a complete one
            raise self._cut_off()
        return result

    def _cut_off(self) -> RequestCutOff:
        if self._aborted.is_set():
            return RequestCutOff("cut off: the daemon is stopping")
        return RequestCutOff(f"cut off: no whole answer within {self.total_seconds:g} s")

    def _watch(self, finished: threading.Event, cut: threading.Event) -> None:
        # Set when the call ends, or by abort(); a timeout means the deadline passed.
        if finished.wait(self.total_seconds) and not self._aborted.is_set():
            return
        cut.set()
        self._tracker.cut()
