"""The speech link: streams 50 ms audio chunks to AssemblyAI v3 and turns replies into events."""

from __future__ import annotations

import json
import logging
import queue
import struct
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import websocket

from appliance.events import LinkDown, LinkUp, PartialText, SentenceFinished
from appliance.reconnect import HEALTHY_AFTER_SECONDS, Verdict, verdict
from appliance.speech_messages import (
    Begin,
    Malformed,
    ServerError,
    Termination,
    parse_message,
)

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 16000
# Chunks waiting to be sent while a session is up: 1 s. More means the socket stalls.
SEND_QUEUE_CHUNKS = 20
# Without speech the server sends nothing; the receive timeout only lets us look around.
RECEIVE_TIMEOUT_SECONDS = 10.0


def session_url(base_url: str, speech_model: str) -> str:
    """The v3 URL with the query parameters the service needs."""
    query = urllib.parse.urlencode(
        {
            "sample_rate": SAMPLE_RATE_HZ,
            "encoding": "pcm_s16le",
            "speech_model": speech_model,
            "format_turns": "true",
        }
    )
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"


class SpeechLink:
    """Keeps one session open, reconnects when it drops, and never exits on network trouble."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        speech_model: str,
        emit: Callable[[object], None],
        connect: Callable[..., Any] = websocket.create_connection,
        reconnect_max_seconds: float = 60.0,
        connect_timeout_seconds: float = 10.0,
        terminate_timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = session_url(url, speech_model)
        self._host = urllib.parse.urlsplit(url).netloc
        self._api_key = api_key
        self._emit = emit
        self._connect = connect
        self._reconnect_max_seconds = reconnect_max_seconds
        self._connect_timeout_seconds = connect_timeout_seconds
        self._terminate_timeout_seconds = terminate_timeout_seconds
        self._clock = clock
        self._chunks: queue.Queue[bytes] = queue.Queue(SEND_QUEUE_CHUNKS)
        self._is_up = threading.Event()
        self._last_problem = ""
        self.last_progress_at = clock()
        self.chunks_sent = 0
        self.chunks_dropped = 0
        self.sessions_opened = 0

    @property
    def is_up(self) -> bool:
        return self._is_up.is_set()

    def send_audio(self, chunk: bytes) -> None:
        """Called by the microphone thread for every 50 ms period; never blocks."""
        if not self._is_up.is_set():
            self.chunks_dropped += 1
            return
        try:
            self._chunks.put_nowait(chunk)
        except queue.Full:
            self.chunks_dropped += 1

    # ---- the link thread ------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            self.last_progress_at = self._clock()
            code, reason, up_seconds = self._one_session(stop)
            if stop.is_set():
                break
            failures = 1 if up_seconds >= HEALTHY_AFTER_SECONDS else failures + 1
            decision = verdict(code, reason, failures, cap_seconds=self._reconnect_max_seconds)
            self._report_down(decision, code)
            self._wait(stop, decision.delay_seconds)

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        # In slices, so the watchdog sees a live thread while it waits.
        deadline = self._clock() + seconds
        while not stop.is_set() and self._clock() < deadline:
            self.last_progress_at = self._clock()
            stop.wait(min(1.0, max(0.0, deadline - self._clock())))

    def _report_down(self, decision: Verdict, code: int | None) -> None:
        message = (
            f"Speech link down: {decision.explanation}; retrying in {decision.delay_seconds:.0f} s"
        )
        if decision.explanation != self._last_problem:
            level = logging.ERROR if decision.needs_user or decision.is_our_bug else logging.WARNING
            if decision.is_our_bug:
                message += " (this is a bug in appliance: please report it)"
            log.log(level, message, extra={"APPLIANCE_EVENT": "link_down", "CLOSE_CODE": code})
            self._last_problem = decision.explanation
        else:
            log.debug(message)
        self._emit(LinkDown(decision.explanation, decision.delay_seconds, code))

    def _one_session(self, stop: threading.Event) -> tuple[int | None, str, float]:
        """Connect, stream until the session ends; returns (close code, reason, seconds up)."""
        try:
            ws = self._connect(
                self._url,
                header=[f"Authorization: {self._api_key}"],
                timeout=self._connect_timeout_seconds,
            )
        except websocket.WebSocketBadStatusException as error:
            code = 1008 if error.status_code in (401, 403) else None
            return code, f"the server answered HTTP {error.status_code}", 0.0
        except (OSError, websocket.WebSocketException) as error:
            return None, f"cannot connect to {self._host}: {error}", 0.0
        try:
            return self._stream(ws, stop)
        finally:
            self._is_up.clear()
            try:
                ws.close(timeout=1)
            except Exception:  # noqa: BLE001 - the socket may already be gone
                pass

    def _stream(self, ws: Any, stop: threading.Event) -> tuple[int | None, str, float]:
        ws.settimeout(RECEIVE_TIMEOUT_SECONDS)
        session = _Session(ws, self._emit)
        first = session.receive_one()
        if not isinstance(first, Begin):
            return session.close_code, session.close_reason or f"no Begin message: {first!r}", 0.0
        opened_at = self._clock()
        self.sessions_opened += 1
        self._drain_queue()
        self._is_up.set()
        if self._last_problem:
            log.info("Speech link is back (it was down: %s)", self._last_problem)
            self._last_problem = ""
        log.info(
            "Speech session %s opened",
            first.session_id,
            extra={"APPLIANCE_EVENT": "session_opened", "SPEECH_SESSION_ID": first.session_id},
        )
        self._emit(LinkUp(first.session_id))
        receiver = threading.Thread(target=session.receive_all, name="speech-receive", daemon=True)
        receiver.start()
        try:
            self._send_until_closed(ws, session, stop)
            if stop.is_set() and not session.ended.is_set():
                self._terminate(ws, session)
        finally:
            self._is_up.clear()
            up_seconds = self._clock() - opened_at
            log.info(
                "Speech session %s closed after %.0f s",
                first.session_id,
                up_seconds,
                extra={"APPLIANCE_EVENT": "session_closed", "SPEECH_SESSION_ID": first.session_id},
            )
        return session.close_code, session.close_reason, up_seconds

    def _send_until_closed(self, ws: Any, session: _Session, stop: threading.Event) -> None:
        while not stop.is_set() and not session.ended.is_set():
            self.last_progress_at = self._clock()
            try:
                chunk = self._chunks.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                ws.send_binary(chunk)
                self.chunks_sent += 1
            except (OSError, websocket.WebSocketException) as error:
                session.lost(f"sending failed: {error}")
                return

    def _terminate(self, ws: Any, session: _Session) -> None:
        """Ask the server to finish (so the last words arrive and billing stops), bounded."""
        try:
            ws.send(json.dumps({"type": "Terminate"}))
        except (OSError, websocket.WebSocketException):
            return
        if not session.ended.wait(self._terminate_timeout_seconds):
            log.warning(
                "No Termination from the speech service within %.0f s",
                self._terminate_timeout_seconds,
            )

    def _drain_queue(self) -> None:
        while True:
            try:
                self._chunks.get_nowait()
            except queue.Empty:
                return


class _Session:
    """The receiving half of one open session."""

    def __init__(self, ws: Any, emit: Callable[[object], None]) -> None:
        self._ws = ws
        self._emit = emit
        self.ended = threading.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.session_id = ""
        self._last_turn_order = -1

    def lost(self, reason: str) -> None:
        if not self.ended.is_set():
            self.close_reason = reason
            self.ended.set()

    def receive_all(self) -> None:
        while not self.ended.is_set():
            self.receive_one()

    def receive_one(self) -> object:
        """Read one frame and act on it; returns what it was (or None)."""
        try:
            opcode, frame = self._ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            return None
        except (OSError, websocket.WebSocketException) as error:
            self.lost(f"connection lost: {error or type(error).__name__}")
            return None
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data or b""
            self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            self.close_reason = data[2:].decode("utf-8", "replace")
            self.ended.set()
            return None
        if opcode != websocket.ABNF.OPCODE_TEXT:
            return None
        message = parse_message(frame.data, session_id=self.session_id)
        if isinstance(message, Begin):
            self.session_id = message.session_id
        elif isinstance(message, SentenceFinished):
            if message.turn_order <= self._last_turn_order and message.turn_order >= 0:
                return None  # the same turn twice must never become two candidates
            self._last_turn_order = message.turn_order
            self._emit(message)
        elif isinstance(message, PartialText):
            self._emit(message)
        elif isinstance(message, Termination):
            self.ended.set()
        elif isinstance(message, ServerError):
            log.error(
                "The speech service reported an error: %s",
                message.message,
                extra={"APPLIANCE_EVENT": "speech_error"},
            )
        elif isinstance(message, Malformed):
            log.warning(
                "Ignored a malformed message from the speech service: %s",
                message.why,
                extra={"APPLIANCE_EVENT": "speech_malformed"},
            )
        return message
