"""How requests to X travel: only to `[x] api_url`, and within a total deadline."""

from __future__ import annotations

import socket
import threading
import weakref
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter


class UnredirectedRequest(requests.RequestException):
    """A request for somewhere other than `[x] api_url` reached the transport: refused."""


class RequestAbandoned(requests.Timeout):
    """The request outlived its total deadline (or the daemon is stopping): cut off.

    X may or may not have acted on it; the caller retries, and a post that did go
    through comes back as X's "duplicate" answer.
    """


class _SocketTracker:
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
    """Mounted for every URL outside `[x] api_url`: nothing signed leaves for elsewhere."""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        host = urlsplit(request.url or "").netloc
        raise UnredirectedRequest(f"refused a request to {host}: outside [x] api_url")


class RedirectingSession(requests.Session):
    """Sends every tweepy request to `api_url`, whatever host tweepy names, within a deadline.

    tweepy 4.17 hard-codes api.twitter.com; X documents api.x.com; a later tweepy may
    use either or another. So the scheme and host of every URL are replaced, whatever
    they are, before requests applies the OAuth 1.0a signature (which then covers the
    URL actually reached). Transport adapters refuse anything outside `api_url`, and
    redirects are never followed: a stand-in or proxy can never pass a signed request
    on to the real X.

    `total_seconds` bounds the whole request (connect, send, every byte of the answer);
    `read_seconds` each wait for the next bytes.
    """

    def __init__(
        self, api_url: str, read_seconds: float, total_seconds: float | None = None
    ) -> None:
        super().__init__()
        self.api_url = api_url.rstrip("/")
        self.timeout_seconds = read_seconds
        self.total_seconds = read_seconds if total_seconds is None else total_seconds
        self._tracker = _SocketTracker()
        self._aborted = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[threading.Event] = set()
        refusing = _RefusingAdapter()
        self.mount("http://", refusing)
        self.mount("https://", refusing)
        self.mount(self.api_url + "/", _TrackingAdapter(self._tracker))

    def redirected(self, url: str) -> str:
        """`url` with its scheme and host (and any path prefix) replaced by `api_url`'s."""
        parts = urlsplit(url)
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        return self.api_url + path + (f"?{parts.query}" if parts.query else "")

    def abort(self) -> None:
        """Cut off the request under way and refuse new ones: the daemon is stopping."""
        self._aborted.set()
        with self._lock:
            for finished in self._in_flight:
                finished.set()

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        url = self.redirected(str(url))
        kwargs["allow_redirects"] = False
        if kwargs.get("timeout") is None:
            connect_seconds = min(self.timeout_seconds, self.total_seconds)
            kwargs["timeout"] = (connect_seconds, self.timeout_seconds)
        if self._aborted.is_set():
            raise RequestAbandoned("not sent: the daemon is stopping")
        finished = threading.Event()
        cut = threading.Event()
        with self._lock:
            self._in_flight.add(finished)
        watcher = threading.Thread(
            target=self._watch, args=(finished, cut), name="x-request-deadline", daemon=True
        )
        watcher.start()
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.RequestException as error:
            if cut.is_set():
                raise self._abandoned() from error
            raise
        finally:
            with self._lock:
                self._in_flight.discard(finished)
            finished.set()
            watcher.join()
        if cut.is_set():  # a body cut short can come back as a short, "complete" answer
            response.close()
            raise self._abandoned()
        return response

    def _abandoned(self) -> RequestAbandoned:
        if self._aborted.is_set():
            return RequestAbandoned("cut off: the daemon is stopping")
        return RequestAbandoned(f"cut off: no whole answer within {self.total_seconds:g} s")

    def _watch(self, finished: threading.Event, cut: threading.Event) -> None:
        # Set when the request ends, or by abort(); a timeout means the deadline passed.
        if finished.wait(self.total_seconds) and not self._aborted.is_set():
            return
        cut.set()
        self._tracker.cut()
