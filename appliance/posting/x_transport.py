"""How requests to X travel: only to `[x] api_url`, and within a total deadline."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from appliance.posting.deadline import DeadlineGuard, RequestCutOff
from appliance.posting.deadline import SocketTracker as _SocketTracker


class UnredirectedRequest(requests.RequestException):
    """A request for somewhere other than the API's URL reached the transport: refused."""


class RequestAbandoned(requests.Timeout):
    """The request outlived its total deadline (or the daemon is stopping): cut off.

    The service may or may not have acted on it; the caller retries, and a post that did
    go through comes back as X's "duplicate" answer (Mastodon: by its Idempotency-Key).
    """


class _TrackingAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections (direct or through a proxy) report their sockets."""

    def __init__(self, tracker: _SocketTracker) -> None:
        self._pool_classes = _tracked_pool_classes(tracker)
        super().__init__(max_retries=0)  # a retry is the poster's decision, on its schedule

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS has connection classes of its own
            manager.pool_classes_by_scheme = self._pool_classes
        return manager


def _tracked_pool_classes(tracker: _SocketTracker) -> dict[str, Any]:
    """urllib3 pool classes whose connections add every socket they open to `tracker`."""

    class Http(urllib3.connection.HTTPConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            tracker.add(sock)
            return sock

    class Https(urllib3.connection.HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            tracker.add(sock)
            return sock

        def connect(self) -> None:
            super().connect()
            tracker.add(self.sock)  # the TLS wrapper now owns the file descriptor

    class HttpPool(urllib3.HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = Https

    return {"http": HttpPool, "https": HttpsPool}


class _RefusingAdapter(HTTPAdapter):
    """Mounted for every URL outside the API's URL: nothing signed leaves for elsewhere."""

    def __init__(self, setting: str) -> None:
        super().__init__()
        self._setting = setting

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        host = urlsplit(request.url or "").netloc
        raise UnredirectedRequest(f"refused a request to {host}: outside {self._setting}")


class RedirectingSession(requests.Session):
    """Sends every tweepy request to `api_url`, whatever host tweepy names, within a deadline.

    tweepy 4.17 hard-codes api.twitter.com; X documents api.x.com; a later tweepy may
    use either or another. So the scheme and host of every URL are replaced, whatever
    they are, before requests applies the OAuth 1.0a signature (which then covers the
    URL actually reached). Transport adapters refuse anything outside `api_url`, and
    redirects are never followed: a stand-in or proxy can never pass a signed request
    on to the real X.

    `total_seconds` bounds the whole request (connect, send, every byte of the answer);
    `read_seconds` each wait for the next bytes. `setting` names the URL's configuration
    key in errors (the Mastodon client uses this session too).
    """

    def __init__(
        self,
        api_url: str,
        read_seconds: float,
        total_seconds: float | None = None,
        setting: str = "[x] api_url",
    ) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout_seconds = read_seconds
        self.total_seconds = read_seconds if total_seconds is None else total_seconds
        self._guard = DeadlineGuard(self.total_seconds, "x-request-deadline")
        refusing = _RefusingAdapter(setting)
        self.mount("http://", refusing)
        self.mount("https://", refusing)
        self.mount(self.api_url + "/", _TrackingAdapter(self._guard.tracker))

    def redirected(self, url: str) -> str:
        """`url` with its scheme and host (and any path prefix) replaced by `api_url`'s."""
        parts = urlsplit(url)
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        return self.api_url + path + (f"?{parts.query}" if parts.query else "")

    def abort(self) -> None:
        """Cut off the request under way and refuse new ones: the daemon is stopping."""
        self._guard.abort()

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        url = self.redirected(str(url))
        kwargs["allow_redirects"] = False
        if kwargs.get("timeout") is None:
            connect_seconds = min(self.timeout_seconds, self.total_seconds)
            kwargs["timeout"] = (connect_seconds, self.timeout_seconds)
        send = super().request
        try:
            return self._guard.run(
                lambda: send(method, url, *args, **kwargs), discard=lambda r: r.close()
            )
        except RequestCutOff as error:
            raise RequestAbandoned(str(error)) from error
