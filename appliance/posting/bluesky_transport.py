"""The httpx transport under the atproto SDK: sockets a DeadlineGuard can cut, no redirects."""

from __future__ import annotations

from typing import Any

from appliance.posting.deadline import SocketTracker


def tracking_transport(tracker: SocketTracker) -> Any:
    """An httpx transport whose sockets `tracker` holds, so that a DeadlineGuard can cut them,
    and whose redirects reach the SDK as answers instead of being followed.

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

    class UnredirectedTransport(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            # The SDK's httpx.Client follows redirects (atproto_client/request.py), and a
            # 307 or 308 would carry createSession's body, the app password, to wherever
            # it points. As for X and Mastodon, a redirect is never followed: without its
            # Location the client hands the 3xx to the SDK, which raises it as an answer.
            response = super().handle_request(request)
            if 300 <= response.status_code < 400:
                response.headers.pop("Location", None)
            return response

    transport = UnredirectedTransport(retries=0)
    # httpx has no public way to pass httpcore a network backend; its pool keeps one
    # here (httpx 0.23-0.28). Without it only httpx's own per-read timeouts apply.
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = TrackingBackend()
    return transport
