"""The faults a test can order from the speech stand-in: closes, drops, stalls, refusals."""

from __future__ import annotations

import threading

from appliance.clock import Clock
from appliance.tryout.standins.speech_records import LiveSession
from appliance.tryout.standins.speech_session import REFUSALS

CLOSE_ABNORMAL = 1006  # no close frame: what websockets reports for a cut connection


class Faults:
    """The stand-in's fault switches and the live sessions they reach (its base class)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock  # when a timed fault ends, and the sessions' times
        self._changed = threading.Condition()  # guards _sessions; notified on every change
        self._sessions: list[LiveSession] = []
        self.refused_opens = 0
        self._refuse_until = 0.0
        self._refusal: str | None = None
        self._refusals_left: int | None = None
        self._drip_until = 0.0
        self._drip_seconds_per_byte = 0.0
        self._reply_delay_seconds = 0.0

    def close_all(self, code: int = 3005, reason: str = "Session cancelled") -> None:
        """Fault: every open session closes with this code (within ~50 ms); an error code
        (not 1000/1001) with an Error message first, as the service does."""
        self._fault(("close", code, reason))

    def drop_all(self) -> None:
        """Fault: cut every open TCP connection, without a close frame."""
        self._fault(("drop", CLOSE_ABNORMAL, "Connection dropped by the stand-in"))

    def stall_all(self) -> None:
        """Fault: half-open. Stop reading and answering (pings too), keep TCP open."""
        self._fault(("stall", 0, ""))

    def inject(self, frame: str | bytes) -> None:
        """Fault: send this raw frame (malformed, unknown type, oversized...) to every session."""
        text = frame.decode("latin-1") if isinstance(frame, bytes) else frame
        self._fault(("send", 0, text))

    def refuse_for(self, seconds: float) -> None:
        """Fault: an outage. Handshakes are answered 503 for this long."""
        self._refuse_until = self._clock.monotonic() + seconds

    def refuse_sessions(self, kind: str | None, count: int | None = None) -> None:
        """Fault: new connections are refused with Error 1008 and close 1008, for this
        cause (a key of REFUSALS; None ends it), the next `count` times (None: all).
        A refused key or balance also refuses the token request (401: a GUESS)."""
        if kind is not None and kind not in REFUSALS:
            raise ValueError(f"refuse_sessions: one of {sorted(REFUSALS)}, not {kind!r}")
        self._refusal, self._refusals_left = kind, count

    def drip_handshake(self, seconds_per_byte: float, for_seconds: float) -> None:
        """Fault: for this long, every handshake answer (and token answer) is sent one
        byte every `seconds_per_byte`: a slow server no per-read timeout notices."""
        self._drip_seconds_per_byte = seconds_per_byte
        self._drip_until = self._clock.monotonic() + for_seconds

    def set_reply_delay(self, seconds: float) -> None:
        """Fault: slow answers. Every message a session sends waits this long first."""
        self._reply_delay_seconds = seconds

    def _fault(self, fault: tuple[str, int, str]) -> None:
        with self._changed:
            for live in self._sessions:
                if live.record.closed_at is None:
                    live.faults.put(fault)
