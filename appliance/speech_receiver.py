"""The receiving half of one speech session: frames in, events out, liveness noted."""

from __future__ import annotations

import json
import logging
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import websocket

from appliance.events import PartialText, SentenceFinished
from appliance.speech_messages import Begin, Malformed, ServerError, Termination, parse_message

log = logging.getLogger(__name__)


def turn_end_ms(frame: str | bytes) -> int | None:
    """Stream time (ms) where a Turn message's last word ends, if it says."""
    try:
        words = json.loads(frame).get("words") or []
        return int(words[-1]["end"]) if words else None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None


class SessionReceiver:
    """Reads one session's frames (on its own thread); the link thread reads its fields."""

    def __init__(
        self, ws: Any, emit: Callable[[object], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ws = ws
        self._emit = emit
        self._clock = clock
        self.ended = threading.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.session_id = ""
        self.is_terminated = False  # a Termination message came: every turn was delivered
        self.last_heard_at = clock()  # any frame, pongs included: proof the peer is alive
        # Audio up to here (ms of this session's stream) became finished sentences;
        # what was sent after it is replayed to the next session if this one dies.
        self.confirmed_end_ms = 0
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
        self.last_heard_at = self._clock()
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
            end_ms = turn_end_ms(frame.data)
            if end_ms is not None:
                self.confirmed_end_ms = max(self.confirmed_end_ms, end_ms)
            if message.turn_order <= self._last_turn_order and message.turn_order >= 0:
                return None  # the same turn twice must never become two candidates
            self._last_turn_order = message.turn_order
            self._emit(message)
        elif isinstance(message, PartialText):
            self._emit(message)
        elif isinstance(message, Termination):
            self.is_terminated = True
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
