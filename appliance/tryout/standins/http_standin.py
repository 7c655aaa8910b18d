"""What the HTTP stand-ins share: a real socket served from a thread, posts, injected faults."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

from appliance.clock import Clock

log = logging.getLogger(__name__)
P = TypeVar("P")  # what a stand-in keeps of one post
Fault = tuple[str, dict[str, Any]]  # kind, options


class JsonHandler(BaseHTTPRequestHandler):
    """Hands every request to its stand-in's `_serve`; answers in JSON, or byte by byte.

    Keep-alive HTTP/1.1, every connection tracked (so stop() can end idle ones).
    """

    protocol_version = "HTTP/1.1"  # keep-alive, as the real services' front ends do
    server: StandinServer
    drip_interval_seconds: float | None = None  # set for the "drip" fault

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.standin._track(self.connection, open_=False)
        super().finish()

    def version_string(self) -> str:
        return self.server.standin.server_software

    def _dispatch(self) -> None:
        self.server.standin._serve(self, self.command)

    do_GET = do_POST = do_DELETE = _dispatch

    def send_json(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        body = json.dumps(payload).encode()
        if self.drip_interval_seconds is not None:
            self._drip(status, body, headers, self.drip_interval_seconds)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _drip(self, status: int, body: bytes, headers: dict[str, str], interval: float) -> None:
        # The whole answer, status line first, one byte at a time: every read the client
        # makes gets a byte in time, so only a deadline on the whole request ends it.
        self.close_connection = True
        lines = [f"HTTP/1.1 {status} {self.responses[status][0]}"]
        lines += ["Content-Type: application/json; charset=utf-8", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        answer = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        stopping = self.server.standin._stopping
        for index in range(len(answer)):
            try:
                self.wfile.write(answer[index : index + 1])
                self.wfile.flush()
            except OSError:
                return  # the client gave up
            if stopping.wait(interval):
                return

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers malformed requests in HTML; the services answer in JSON.
        self.close_connection = True
        phrase = self.responses.get(code, ("Error",))[0]
        body = self.server.standin.error_body(code, phrase, message or phrase)
        self.send_json(code, body, {"Connection": "close"})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def read_body(handler: JsonHandler) -> bytes | None:
    """The request's body; None, answered with 400, when Content-Length is no number."""
    try:
        length = int(handler.headers.get("Content-Length") or 0)
    except ValueError:
        handler.send_error(400, "Content-Length is not a number.")
        return None
    return handler.rfile.read(length) if length > 0 else b""


class StandinServer(ThreadingHTTPServer):
    standin: LoopbackStandin[Any]


class LoopbackStandin(Generic[P]):
    """A service's stand-in on a real socket, served from a background thread.

    A subclass answers requests in `_serve(handler, method)`, says how its service words
    an error in `error_body`, and names its fault kinds (and the options each takes).
    """

    label = "stand-in"  # "the X stand-in" in messages
    server_software = "standin"  # the Server header
    fault_kinds: tuple[str, ...] = ()
    fault_options: dict[str, set[str]] = {}  # read only

    def __init__(self, host: str, port: int, clock: Clock = Clock()) -> None:  # noqa: B008 - frozen
        self._address = (host, port)
        self._monotonic = clock.monotonic  # when a fault injected for_seconds ends
        self._lock = threading.Lock()
        self._posts_changed = threading.Condition(self._lock)
        self._posts: dict[str, P] = {}  # by id, in the order they came
        self._faults: deque[Fault] = deque()
        self._timed_fault: tuple[str, dict[str, Any], float] | None = None  # kind, kw, until
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: StandinServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError(f"the {self.label} is already started")
        self._server = StandinServer(self._address, JsonHandler)
        self._server.standin = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=self.server_software,
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()  # releases "hang" handlers
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # idle keep-alive readers would otherwise linger
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> Self:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"the {self.label} has no URL before start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ---- what tests and the CLI look at ------------------------------------------

    @property
    def posts(self) -> list[P]:
        """The posts now on the stand-in, oldest first (deleted ones are gone)."""
        with self._lock:
            return list(self._posts.values())

    def wait_for_posts(self, n: int, timeout: float) -> bool:
        with self._posts_changed:
            return self._posts_changed.wait_for(lambda: len(self._posts) >= n, timeout)

    def faults_left(self) -> int:
        """How many injected faults no request has met yet (a test waits for one to be met)."""
        with self._lock:
            return len(self._faults)

    def open_connections(self) -> int:
        """How many client connections are open now."""
        with self._lock:
            return len(self._connections)

    def _queue_fault(
        self, kind: str, count: int, for_seconds: float | None, kw: dict[str, Any]
    ) -> None:
        """inject()'s checks and bookkeeping: `count` faults, or one for `for_seconds`."""
        if kind not in self.fault_kinds:
            raise ValueError(f"unknown fault {kind!r}; expected one of {self.fault_kinds}")
        allowed = self.fault_options.get(kind, set())
        if set(kw) - allowed:
            raise TypeError(f"fault {kind!r} takes no {sorted(set(kw) - allowed)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            if for_seconds is not None:
                self._timed_fault = (kind, dict(kw), self._monotonic() + for_seconds)
            else:
                self._faults.extend([(kind, dict(kw))] * count)

    # ---- request handling (handler threads) --------------------------------------

    def _track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def _serve(self, handler: JsonHandler, method: str) -> None:
        raise NotImplementedError

    def error_body(self, status: int, phrase: str, message: str) -> Any:
        """The body of an error http.server raises itself (a malformed request)."""
        return {"error": message}

    def _next_fault(self, applies: Callable[[dict[str, Any]], bool] = lambda kw: True) -> Any:
        """The fault (kind, options) for this request, or None; `applies` picks requests."""
        with self._lock:
            if self._timed_fault is not None:
                kind, kw, until = self._timed_fault
                if self._monotonic() >= until:
                    self._timed_fault = None
                elif applies(kw):
                    return kind, kw
            if self._faults and applies(self._faults[0][1]):
                return self._faults.popleft()
            return None

    @staticmethod
    def _late_fault(
        handler: JsonHandler, fault: Fault | None, status: int, accepted: int, drip_seconds: float
    ) -> int:
        """The status to send for a request carried out: "drip" slows the answer down, and
        "accept_and_hang" withholds it (0) if the request was `accepted`.
        """
        if fault is not None and fault[0] == "drip":
            interval = fault[1].get("byte_interval_seconds", drip_seconds)
            handler.drip_interval_seconds = float(interval)
        elif fault is not None and status == accepted:
            return 0  # accepted and stored; the answer never comes
        return status

    def _send(
        self, handler: JsonHandler, status: int, payload: Any, headers: dict[str, str]
    ) -> None:
        """Answer; status 0 means "hang": hold the connection and answer nothing."""
        if status == 0:
            self._stopping.wait()
            handler.close_connection = True
            return
        handler.send_json(status, payload, headers)
