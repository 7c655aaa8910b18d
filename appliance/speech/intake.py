"""Audio coming in from the microphone thread: voice activity, the session gate, the backlog."""

from __future__ import annotations

import threading
from collections.abc import Callable

from appliance.speech.backlog import Backlog
from appliance.speech.gate import Decision, GateSettings, GateState, decide, on_voice
from appliance.speech.settings import CHUNK_SECONDS, SAMPLE_RATE_HZ
from appliance.speech.vad import SpeechDetector

# The unit of voice activity, the backlog and replay: 50 ms, whatever the capture period.
CHUNK_BYTES = round(CHUNK_SECONDS * SAMPLE_RATE_HZ) * 2


class Intake:
    """What the microphone thread hands in, and what the link thread asks about it.

    The microphone thread calls `send_audio` with each period; the link thread asks
    `decide`/`is_session_needed` and takes audio from `backlog`. `wake` is called when a
    session becomes wanted (speech, unmute) or unwanted (mute).
    """

    def __init__(
        self,
        gate_settings: GateSettings,
        backlog: Backlog,
        detector: SpeechDetector,
        wake: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self.backlog = backlog
        self._gate_settings = gate_settings
        self._detector = detector
        self._wake = wake
        self._clock = clock
        self._gate = GateState()
        self._lock = threading.Lock()  # guards _gate (microphone thread vs link thread)

    @property
    def is_muted(self) -> bool:
        with self._lock:
            return self._gate.is_muted

    def send_audio(self, period: bytes) -> None:
        """Called by the microphone thread for every period; never blocks for long.

        The period is looked at and kept in 50 ms chunks; the link thread is woken once.
        """
        chunks = [period[i : i + CHUNK_BYTES] for i in range(0, len(period), CHUNK_BYTES)]
        heard = []
        for chunk in chunks:
            is_speech = self._detector.is_speech(chunk)
            heard.append((chunk, is_speech, self._detector.is_speaking))
        now = self._clock()
        with self._lock:
            if self._gate.is_muted:
                return  # muted: audio never leaves the device, not even into the backlog
            was_wanted = self._wanted_locked(now)
            for chunk, is_speech, is_speaking in heard:
                gate = on_voice(self._gate, is_speaking, now)
                if gate is not self._gate:
                    self._gate = gate
                    if not was_wanted and self._wanted_locked(now):
                        was_wanted = True
                        self.backlog.retain(self.backlog.max_chunks)
                        self._wake()
                # Under the lock: a chunk must not slip in after set_muted(True) cleared.
                self.backlog.push(chunk, is_speech, notify=False)
        self.backlog.notify()

    def set_muted(self, is_muted: bool) -> None:
        """Muted: drop all audio and want no session until unmuted."""
        with self._lock:
            if self._gate.is_muted == is_muted:
                return
            self._gate = GateState(is_muted=is_muted, last_speech_at=None)
        if is_muted:
            self.backlog.clear()
        self._wake()

    def _wanted_locked(self, now: float) -> bool:
        return decide(self._gate, None, now, self._gate_settings) is Decision.OPEN

    def decide(self, session_age_seconds: float | None) -> Decision:
        with self._lock:
            return decide(self._gate, session_age_seconds, self._clock(), self._gate_settings)

    def is_session_needed(self) -> bool:
        return self.decide(None) is Decision.OPEN or self.backlog.owes_speech()
