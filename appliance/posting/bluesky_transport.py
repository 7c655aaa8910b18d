"""The httpx transport under the atproto SDK, with sockets a DeadlineGuard can cut."""

from __future__ import annotations

from typing import Any

from appliance.posting.deadline import SocketTracker


def tracking_transport(tracker: SocketTracker) -> Any:
    """An httpx transport whose sockets `tracker` holds, so that a DeadlineGuard can cut them.

    Imports httpx: call it only when Bluesky is used.
    """
    import httpcore
    import httpx

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
