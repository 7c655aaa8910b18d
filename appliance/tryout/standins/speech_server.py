"""A local stand-in of AssemblyAI's v3 streaming API: real websocket frames, strict rules."""

from __future__ import annotations

import dataclasses
import json
import logging
import queue
import socket
import ssl
import struct
import threading
import uuid
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from appliance.clock import Clock
from appliance.tryout.standins.speech_faults import CLOSE_ABNORMAL, Faults
from appliance.tryout.standins.speech_records import (
    DripSocket,
    LiveSession,
    SessionRecord,
    send_then_close,
    stop_reading,
    truncate_reason,
)
from appliance.tryout.standins.speech_session import (
    CLOSE_GOING_AWAY,
    CLOSE_INVALID_MESSAGE,
    CLOSE_NORMAL,
    CLOSE_SERVER_ERROR,
    CLOSE_UNAUTHORIZED,
    REASON_UNAUTHORIZED,
    REFUSALS,
    TURN_STYLES,
    Action,
    Close,
    ParamError,
    Send,
    SessionLimits,
    StreamSession,
    error_close,
    is_authorized,
    parse_stream_params,
)
from appliance.tryout.standins.utterances import DetectorSettings, ScriptCursor

log = logging.getLogger(__name__)

PATH = "/v3/ws"
TOKEN_PATH = "/v3/token"  # GET with the key: a temporary token (doctor's key check)
# How often a session's thread looks up from recv() for faults, stop and expiry.
POLL_SECONDS = 0.05


class SpeechStandin(Faults):
    """The stand-in server: start() it, point a client at .url, stop() it."""

    def __init__(
        self,
        script: Iterable[str] = (),
        api_key: str = "test-key",
        host: str = "127.0.0.1",
        port: int = 0,
        session_max_seconds: float = 10800.0,
        rate_tolerance_seconds: float = 1.0,
        end_silence_ms: int = 700,
        speech_rms_threshold: float = 500.0,
        close_timeout_seconds: float = 2.0,
        sessions_per_minute: int | None = 5,
        turn_style: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock = Clock(),  # noqa: B008 - frozen, never changed
    ) -> None:
        super().__init__(clock)
        if turn_style is not None and turn_style not in TURN_STYLES:
            raise ValueError(f"turn_style: one of {TURN_STYLES}, not {turn_style!r}")
        self._turn_style = turn_style
        self._tls_context = tls_context  # serve wss:// (and https:// tokens) with it
        self._script = ScriptCursor(script)
        self._api_key = api_key
        self._host = host
        self._port = port
        self._limits = SessionLimits(
            session_max_seconds=session_max_seconds,
            rate_tolerance_seconds=rate_tolerance_seconds,
            detector=DetectorSettings(
                rms_threshold=speech_rms_threshold, end_silence_ms=end_silence_ms
            ),
        )
        self._close_timeout_seconds = close_timeout_seconds
        # The service caps new sessions per minute (5 on free accounts). What it answers
        # beyond the cap is undocumented; the stand-in refuses the handshake with 429.
        self._sessions_per_minute = sessions_per_minute
        self._opens: list[float] = []
        self.token_requests = 0
        self._server: Server | None = None
        self._url: str | None = None
        self._serve_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- public API ---------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("SpeechStandin.url: call start() first")
        return self._url

    def start(self) -> None:
        """Listen, and serve in a background thread; returns once listening."""
        if self._url is not None:
            raise RuntimeError("SpeechStandin.start: a stand-in starts once")
        self._server = serve(
            self._handle,
            self._host,
            self._port,
            process_request=self._check_path,
            # The real service's frames are plain; websocket-client cannot deflate anyway.
            compression=None,
            ssl=self._tls_context,
            # No keepalive pings: the real service is not known to send them, and a
            # client must not come to rely on the stand-in's to notice a dead link.
            ping_interval=None,
            close_timeout=self._close_timeout_seconds,
            logger=logging.getLogger(f"{__name__}.websockets"),
        )
        host, port = self._server.socket.getsockname()[:2]
        scheme = "wss" if self._tls_context else "ws"
        self._url = f"{scheme}://{host}:{port}{PATH}"
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever, name="speech-standin", daemon=True
        )
        self._serve_thread.start()
        log.info("speech stand-in listening on %s", self.url)

    def stop(self, timeout_seconds: float = 5.0) -> None:
        """Close every session (1001), stop listening, join the thread; always returns."""
        self._stopping.set()
        server, self._server = self._server, None
        if server is None:
            return
        # Server.shutdown() waits for every handler; run it aside so a stuck one
        # cannot hold stop() forever.
        closer = threading.Thread(target=server.shutdown, name="speech-standin-stop", daemon=True)
        closer.start()
        closer.join(timeout_seconds)
        if self._serve_thread is not None:
            self._serve_thread.join(timeout_seconds)
        if closer.is_alive():
            log.warning("speech stand-in: sessions still closing after %.1f s", timeout_seconds)

    @property
    def sessions(self) -> list[SessionRecord]:
        """Every upgraded connection so far, refused ones (1008, 3006) included."""
        with self._changed:
            return [live.record for live in self._sessions]

    def wait_for_sessions(self, n: int, timeout: float) -> bool:
        """Block until n sessions have been opened, or timeout seconds; True if they were."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._sessions) >= n, timeout)

    def wait_for_closed(self, timeout: float) -> bool:
        """Block until every session opened so far has ended; True if they all did."""
        with self._changed:
            return self._changed.wait_for(
                lambda: all(live.record.closed_at is not None for live in self._sessions), timeout
            )

    def __enter__(self) -> SpeechStandin:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- one connection -----------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        now = self._clock.monotonic()
        if now < self._drip_until:
            connection.socket = DripSocket(  # type: ignore[assignment]
                connection.socket, self._drip_seconds_per_byte, self._stopping
            )
        if urlsplit(request.path).path == TOKEN_PATH:
            # AssemblyAI's temporary-token request (GET /v3/token, the key in the
            # Authorization header: the temporary-token docs and the SDK). The refusal's
            # status and body are a GUESS: 401 with the SDK-style {"error": ...}.
            with self._changed:
                self.token_requests += 1
                self._changed.notify_all()
            if not is_authorized(request.headers.get("Authorization"), None, self._api_key):
                return connection.respond(HTTPStatus.UNAUTHORIZED, '{"error": "Invalid API key"}')
            if self._refusal in ("invalid_key", "no_balance"):
                body = json.dumps({"error": REFUSALS[self._refusal]})
                return connection.respond(HTTPStatus.UNAUTHORIZED, body)
            token = {"token": uuid.uuid4().hex, "expires_in_seconds": 60}
            return connection.respond(HTTPStatus.OK, json.dumps(token))
        if urlsplit(request.path).path != PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        if now < self._refuse_until:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Outage (stand-in fault)\n")
        return None

    def _update(self, live: LiveSession, **changes: object) -> None:
        with self._changed:
            live.record = dataclasses.replace(live.record, **changes)  # type: ignore[arg-type]
            self._changed.notify_all()

    def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None  # the handshake is done when the handler runs
        query = dict(parse_qsl(urlsplit(ws.request.path).query, keep_blank_values=True))
        live = LiveSession(
            SessionRecord(
                str(uuid.uuid4()),
                self._clock.wall(),
                None,
                0.0,
                None,
                "",
                0,
                urlsplit(ws.request.path).query,
            ),
            queue.SimpleQueue(),
        )
        with self._changed:
            self._sessions.append(live)
            self._changed.notify_all()
        log.info("session %s opened from %s", live.record.id, ws.remote_address)
        try:
            self._serve_session(ws, live, query)
        except ConnectionClosed:
            self._update(live, close_code=ws.close_code, close_reason=ws.close_reason or "")
        except Exception:
            log.exception("session %s failed", live.record.id)
            try:
                self._execute(ws, live, error_close(CLOSE_SERVER_ERROR, "Internal stand-in error"))
            except Exception:
                log.exception("session %s: closing after the failure failed too", live.record.id)
        finally:
            self._update(live, closed_at=self._clock.wall())
            record = live.record
            log.info(
                "session %s closed: code %s %r, %.1f s billed, %.1f s audio, %d turns",
                record.id,
                record.close_code,
                record.close_reason,
                (record.closed_at or 0.0) - record.opened_at,
                record.audio_seconds,
                record.turns_sent,
            )

    def _refusal_for_new_session(self) -> str | None:
        """Why a new session is refused now (a REFUSALS key), if it is."""
        now = self._clock.monotonic()
        with self._changed:
            if self._refusal is not None and self._refusals_left != 0:
                if self._refusals_left is not None:
                    self._refusals_left -= 1
                return self._refusal
            # The service caps new sessions per minute (5 on free accounts); beyond it, a
            # new session gets 1008 "Too many concurrent sessions" (the concurrency FAQ).
            self._opens = [t for t in self._opens if now - t < 60.0]
            if (
                self._sessions_per_minute is not None
                and len(self._opens) >= self._sessions_per_minute
            ):
                self.refused_opens += 1
                return "too_many_sessions"
            self._opens.append(now)
        return None

    def _serve_session(self, ws: ServerConnection, live: LiveSession, query: dict) -> None:
        headers = ws.request.headers if ws.request else {}
        if not is_authorized(headers.get("Authorization"), query.get("token"), self._api_key):
            # The real service completes the upgrade, then sends Error 1008 and closes 1008
            # (the reference's corrections): clients see an Error message and a close code.
            self._execute(ws, live, error_close(CLOSE_UNAUTHORIZED, REASON_UNAUTHORIZED))
            return
        refusal = self._refusal_for_new_session()
        if refusal is not None:
            self._execute(ws, live, error_close(CLOSE_UNAUTHORIZED, REFUSALS[refusal]))
            return
        try:
            params = parse_stream_params(query)
        except ParamError as error:
            # The real service's exact behaviour for a bad query is undocumented (a GUESS):
            # the upgrade, an Error message, then close 3006, as for any error close.
            self._execute(ws, live, error_close(CLOSE_INVALID_MESSAGE, str(error)))
            return
        session = StreamSession(
            live.record.id,
            params,
            self._limits,
            self._script,
            self._clock.monotonic(),
            live.record.opened_at,
            self._turn_style,
        )
        self._execute(ws, live, session.begin())
        while True:
            if self._stopping.is_set():
                self._execute(ws, live, session.on_shutdown())
                return
            try:
                kind, code, reason = live.faults.get_nowait()
            except queue.Empty:
                pass
            else:
                if kind == "drop":
                    self._drop(ws, live, reason)
                elif kind == "stall":
                    stop_reading(ws)
                    self._update(live, is_stalled=True)  # a test may now count on it
                    self._stopping.wait()
                    ws.close_socket()
                elif kind == "send":
                    ws.send(reason)
                    continue
                elif code in (CLOSE_NORMAL, CLOSE_GOING_AWAY):
                    self._execute(ws, live, [Close(code, reason)])
                else:
                    self._execute(ws, live, error_close(code, reason))
                return
            left_seconds = session.seconds_until_expiry(self._clock.monotonic())
            timeout = max(0.0, min(POLL_SECONDS, left_seconds))
            try:
                message = ws.recv(timeout=timeout)
            except TimeoutError:
                actions = session.on_tick(self._clock.monotonic())
            else:
                if isinstance(message, bytes):
                    actions = session.on_audio(message, self._clock.monotonic())
                else:
                    actions = session.on_text(message, self._clock.monotonic())
            self._update(live, audio_seconds=session.audio_seconds, turns_sent=session.turns_sent)
            if self._execute(ws, live, actions):
                return

    def _execute(self, ws: ServerConnection, live: LiveSession, actions: Sequence[Action]) -> bool:
        """Carry out the actions; True once the connection has been closed."""
        close = actions[-1] if actions else None
        if isinstance(close, Close):
            self._close_with(ws, live, [a for a in actions[:-1] if isinstance(a, Send)], close)
            return True
        for action in actions:
            if isinstance(action, Send):
                if self._reply_delay_seconds:
                    self._stopping.wait(self._reply_delay_seconds)
                self._log_turn(live, action)
                ws.send(json.dumps(action.message))
        return False

    def _close_with(
        self, ws: ServerConnection, live: LiveSession, messages: Sequence[Send], close: Close
    ) -> None:
        """Record the close, then send the messages and the close in one write."""
        if self._reply_delay_seconds:
            self._stopping.wait(self._reply_delay_seconds * (len(messages) + 1))
        for message in messages:
            self._log_turn(live, message)
        reason = truncate_reason(close.reason)
        self._update(live, close_code=close.code, close_reason=reason)
        log.info("session %s: closing %d %r", live.record.id, close.code, reason)
        send_then_close(ws, [message.message for message in messages], close.code, reason)

    def _log_turn(self, live: LiveSession, action: Send) -> None:
        if action.message.get("type") == "Turn":
            log.info(
                "session %s: turn %s%s%s %r",
                live.record.id,
                action.message["turn_order"],
                " end" if action.message["end_of_turn"] else " partial",
                " formatted" if action.message["turn_is_formatted"] else "",
                action.message["transcript"],
            )

    def _drop(self, ws: ServerConnection, live: LiveSession, reason: str) -> None:
        self._update(live, close_code=CLOSE_ABNORMAL, close_reason=reason)
        log.info("session %s: dropping the TCP connection", live.record.id)
        try:
            # Linger 0: close() sends a RST at once, like a cut cable or a crashed peer.
            ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        ws.close_socket()
