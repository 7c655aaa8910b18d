"""A local stand-in of X's API v2 on a real socket: HTTP, OAuth 1.0a checks, injected faults."""

from __future__ import annotations

import json
import logging
import math
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from oauthlib.oauth1 import SignatureOnlyEndpoint

from appliance.tryout.standins.x_account import XAccount
from appliance.tryout.standins.x_protocol import (
    CREDITS_DEPLETED,
    DRIP_BYTE_INTERVAL_SECONDS,
    FAULT_KINDS,
    NOT_PERMITTED,
    RATE_LIMIT_POSTS,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    UNAVAILABLE,
    USER_24H_LIMIT_POSTS,
    StandinPost,
    _Answer,
    _problem,
    _same,
    _Validator,
)

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as X's front end does
    server_version = "x-standin"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.standin._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.standin._track(self.connection, open_=False)
        super().finish()

    def _dispatch(self) -> None:
        self.server.standin._serve(self, self.command)

    do_GET = do_POST = do_DELETE = _dispatch

    def send_json(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
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

    drip_interval_seconds: float | None = None  # set for the "drip" fault

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
        # http.server answers malformed requests in HTML; X answers everything in JSON.
        self.close_connection = True
        phrase = self.responses.get(code, ("Error",))[0]
        self.send_json(code, _problem(code, phrase, message or phrase), {"Connection": "close"})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    standin: XStandin


class XStandin:
    """X's API v2 for one app and one user, on a real socket, served from a background thread."""

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        keys = (consumer_key, consumer_secret, access_token, access_token_secret)
        self._validator = _Validator(keys)
        self._endpoint = SignatureOnlyEndpoint(self._validator)
        self._address = (host, port)
        self.account = XAccount()
        self._lock = threading.Lock()  # guards the faults and the connections
        self._faults: deque[tuple[str, dict[str, Any]]] = deque()
        self._timed_fault: tuple[str, dict[str, Any], float] | None = None  # kind, kw, until
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle --------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the X stand-in is already started")
        self._server = _Server(self._address, _Handler)
        self._server.standin = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="x-standin"
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

    def __enter__(self) -> XStandin:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the X stand-in has no URL before start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # ---- what tests and the CLI look at ------------------------------------------

    @property
    def posts(self) -> list[StandinPost]:
        """The posts now on the stand-in, oldest first (deleted ones are gone)."""
        return self.account.posts

    def open_connections(self) -> int:
        """How many client connections are open now."""
        with self._lock:
            return len(self._connections)

    def spend_credits(self) -> None:
        """The account's credits are spent: every signed request answers 402 until added."""
        self.account.is_out_of_credits = True

    def add_credits(self) -> None:
        self.account.is_out_of_credits = False

    def wait_for_posts(self, n: int, timeout: float) -> bool:
        return self.account.wait_for_posts(n, timeout)

    def inject(
        self, kind: str, count: int = 1, *, for_seconds: float | None = None, **kw: Any
    ) -> None:
        """Answer the next `count` POSTs (or every POST for `for_seconds`) with a fault.

        "429" takes reset_in_seconds (default 900) and user_24h (the 24-hour user limit
        rather than the 15-minute window); "hang" reads the request and never answers;
        "drip" takes byte_interval_seconds.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULT_KINDS}")
        options = {"429": {"reset_in_seconds", "user_24h"}, "drip": {"byte_interval_seconds"}}
        allowed = options.get(kind, set())
        if set(kw) - allowed:
            raise TypeError(f"fault {kind!r} takes no {sorted(set(kw) - allowed)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            if for_seconds is not None:
                self._timed_fault = (kind, dict(kw), time.monotonic() + for_seconds)
            else:
                self._faults.extend([(kind, dict(kw))] * count)

    # ---- request handling (handler threads) --------------------------------------

    def _track(self, connection: socket.socket, open_: bool) -> None:
        with self._lock:
            (self._connections.add if open_ else self._connections.discard)(connection)

    def _serve(self, handler: _Handler, method: str) -> None:
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.send_error(400, "Content-Length is not a number.")
            return
        body = handler.rfile.read(length) if length > 0 else b""
        fault = self._next_fault() if method == "POST" else None
        if fault is not None and fault[0] not in ("accept_and_hang", "drip"):
            status, payload, headers = self._fault_answer(*fault)
        elif not self._is_signed(handler, method, body):
            status, payload, headers = 401, UNAUTHORIZED, {}
        elif self.account.is_out_of_credits:
            status, payload, headers = 402, CREDITS_DEPLETED, {}
        else:
            status, payload, headers = self.account.route(method, handler.path, body)
            if fault is not None and fault[0] == "drip":
                interval = fault[1].get("byte_interval_seconds", DRIP_BYTE_INTERVAL_SECONDS)
                handler.drip_interval_seconds = float(interval)
            elif fault is not None and status == 201:
                status = 0  # accepted and stored; the answer never comes
        if status == 0:  # "hang": hold the connection, answer nothing
            self._stopping.wait()
            handler.close_connection = True
            return
        handler.send_json(status, payload, headers)

    def _next_fault(self) -> tuple[str, dict[str, Any]] | None:
        with self._lock:
            if self._timed_fault is not None:
                kind, kw, until = self._timed_fault
                if time.monotonic() < until:
                    return kind, kw
                self._timed_fault = None
            return self._faults.popleft() if self._faults else None

    def _is_signed(self, handler: _Handler, method: str, body: bytes) -> bool:
        # Verify against the URL the client reached (and so signed), not api.twitter.com.
        host = handler.headers.get("Host") or "{}:{}".format(*handler.server.server_address[:2])
        uri = f"http://{host}{handler.path}"
        try:
            valid, request = self._endpoint.validate_request(
                uri, method, body.decode("utf-8", "replace"), dict(handler.headers)
            )
        except ValueError:  # oauthlib's answer to a malformed Authorization header
            return False
        # SignatureOnlyEndpoint never checks the token itself, only its secret.
        return valid and _same(request.resource_owner_key, self._validator.access_token)

    def _fault_answer(self, kind: str, kw: dict[str, Any]) -> _Answer:
        if kind != "429":
            simple = {"hang": (0, {}), "503": (503, UNAVAILABLE), "401": (401, UNAUTHORIZED)}
            simple["402"] = (402, CREDITS_DEPLETED)
            status, payload = simple.get(kind, (403, NOT_PERMITTED))
            return status, payload, {}
        reset = str(math.ceil(time.time() + float(kw.get("reset_in_seconds", 900))))
        if not kw.get("user_24h", False):
            limit = {"limit": str(RATE_LIMIT_POSTS), "remaining": "0", "reset": reset}
            return 429, TOO_MANY_REQUESTS, {f"x-rate-limit-{k}": v for k, v in limit.items()}
        # The 24-hour user limit: the 15-minute window still has room.
        headers = self.account.window_headers(time.time())
        limit = {"limit": str(USER_24H_LIMIT_POSTS), "remaining": "0", "reset": reset}
        headers.update({f"x-user-limit-24hour-{k}": v for k, v in limit.items()})
        return 429, TOO_MANY_REQUESTS, headers
