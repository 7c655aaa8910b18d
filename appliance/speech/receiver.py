"""The receiving half of one speech session: frames in, events out, liveness noted.

Nothing a server sends may end this thread: every frame is parsed by a parser that
never raises, oversized frames are skipped from their header, and anything
unexpected is logged once and survived.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import websocket

from appliance.speech.frames import FrameTooLarge, StreamUnusable
from appliance.speech.protocol import (
    Begin,
    Malformed,
    ServerError,
    Termination,
    Turn,
    parse_message,
)
from appliance.speech.turns import TurnAssembler, TurnEvent

log = logging.getLogger(__name__)


class SessionReceiver:
    """Reads one session's frames (on its own thread); the link thread reads its fields."""

    def __init__(
        self,
        ws: Any,
        emit: Callable[[object], None],
        clock: Callable[[], float] = time.monotonic,
        *,
        sends_formatted_copy: bool = True,
    ) -> None:
        self._ws = ws
        self._emit = emit
        self._clock = clock
        self.ended = threading.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.error: ServerError | None = None  # the Error message that preceded the close
        self.error_at: float | None = None
        self.session_id = ""
        self.is_terminated = False  # a Termination message came
        self.last_heard_at = clock()  # any frame, pongs included: proof the peer is alive
        # Turns -> sentences; the link thread asks for overdue ones, so under a lock.
        self._turns = TurnAssembler(sends_formatted_copy=sends_formatted_copy)
        self._turns_lock = threading.Lock()
        self._problems_logged: set[str] = set()

    @property
    def confirmed_end_ms(self) -> int:
        """Audio up to here (ms of this session's stream) became finished sentences."""
        return self._turns.confirmed_end_ms

    @property
    def ending_message(self) -> str:
        """Why it ended, in the service's words: its Error message beats the close reason
        (which is cut at 123 bytes, or only says "See Error message for details")."""
        return self.error.message if self.error is not None else self.close_reason

    @property
    def ending_code(self) -> int | None:
        """The close code, else the Error message's code (its close may never be read)."""
        if self.close_code is not None:
            return self.close_code
        return self.error.code if self.error is not None else None

    def lost(self, reason: str) -> None:
        if not self.ended.is_set():
            self.close_reason = reason
            self.ended.set()

    def deliver_due(self) -> None:
        """Emit a sentence whose formatted copy is overdue (called by the link thread)."""
        self._deliver(lambda turns: turns.due(self._clock()))

    def finish(self) -> None:
        """The session is over: a sentence still waiting for its copy goes out now."""
        self._deliver(lambda turns: turns.finish())

    def receive_all(self) -> None:
        while not self.ended.is_set():
            self.receive_one()

    def receive_one(self) -> object:
        """Read one frame and act on it; returns what it was (or None). Never raises."""
        try:
            opcode, frame = self._ws.recv_data_frame(True)
        except websocket.WebSocketTimeoutException:
            return None
        except FrameTooLarge as error:
            self.last_heard_at = self._clock()
            self._warn_once("oversized", f"Ignored a message from the speech service: {error}")
            return None
        except (OSError, websocket.WebSocketException, StreamUnusable) as error:
            self.lost(f"connection lost: {error or type(error).__name__}")
            return None
        except Exception as error:  # noqa: BLE001 - a reader bug must not deafen the device
            log.exception("Speech receiver: unexpected error reading a frame")
            self.lost(f"connection lost: {type(error).__name__}")
            return None
        self.last_heard_at = self._clock()
        try:
            return self._handle(opcode, frame)
        except Exception:  # noqa: BLE001 - whatever it was, the next frame still counts
            log.exception("Speech receiver: a frame could not be handled; carrying on")
            return None

    def _handle(self, opcode: int, frame: Any) -> object:
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data or b""
            self.close_code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
            self.close_reason = data[2:].decode("utf-8", "replace")
            self.finish()
            self.ended.set()
            return None
        if opcode != websocket.ABNF.OPCODE_TEXT:
            return None
        message = parse_message(frame.data)
        if isinstance(message, Begin):
            self.session_id = message.session_id
            self._turns.session_id = message.session_id
        elif isinstance(message, Turn):
            if message.problem:
                self._warn_once("turn", f"A Turn message had unusable fields: {message.problem}")
            self._deliver(lambda turns: turns.on_turn(message, self._clock()))
        elif isinstance(message, Termination):
            self.is_terminated = True
            self.finish()
            self.ended.set()
        elif isinstance(message, ServerError):
            self.error, self.error_at = message, self._clock()
            log.info(
                "The speech service sent an error message: %s (code %s)",
                message.message,
                message.code,
                extra={"APPLIANCE_EVENT": "speech_error", "CLOSE_CODE": message.code},
            )
        elif isinstance(message, Malformed):
            self._warn_once(
                message.why[:20],
                f"Ignored a malformed message from the speech service: {message.why}",
            )
        return message

    def _deliver(self, step: Callable[[TurnAssembler], list[TurnEvent]]) -> None:
        # Emitting under the lock keeps the two threads' sentences in order.
        with self._turns_lock:
            for event in step(self._turns):
                self._emit(event)

    def _warn_once(self, kind: str, message: str) -> None:
        # One log line per kind of trouble per session: a flood of junk is not a log flood.
        if kind in self._problems_logged:
            log.debug("%s", message)
            return
        self._problems_logged.add(kind)
        log.warning(message, extra={"APPLIANCE_EVENT": "speech_malformed"})
