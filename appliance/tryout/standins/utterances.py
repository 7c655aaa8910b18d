"""Pure core of the speech stand-in: audio to utterances, script lines to transcript words."""

from __future__ import annotations

import math
import re
import sys
import threading
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from appliance.core.audio import SAMPLE_RATE_HZ

FRAME_MS = 50
FRAME_SAMPLES = SAMPLE_RATE_HZ * FRAME_MS // 1000
# How fast partial transcripts grow: roughly one more word per this much speech.
MS_PER_REVEALED_WORD = 300


def decode_pcm_s16le(data: bytes) -> array[int]:
    """Samples of little-endian signed 16-bit PCM (the caller ensures an even length)."""
    samples = array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()
    return samples


def _mulaw_to_linear(byte: int) -> int:
    # G.711 mu-law expansion.
    u = ~byte & 0xFF
    magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
    magnitude -= 0x84
    return -magnitude if u & 0x80 else magnitude


_MULAW_TABLE = [_mulaw_to_linear(b) for b in range(256)]


def decode_pcm_mulaw(data: bytes) -> list[int]:
    """Samples of 8-bit G.711 mu-law audio, expanded to the 16-bit range."""
    return [_MULAW_TABLE[b] for b in data]


def rms(samples: Sequence[int]) -> float:
    """Root mean square of the samples, 0.0 for none."""
    if not samples:
        return 0.0
    return math.sqrt(math.fsum(s * s for s in samples) / len(samples))


@dataclass(frozen=True)
class DetectorSettings:
    """How the stand-in decides that someone is speaking."""

    rms_threshold: float = 500.0
    """Frame RMS (of 32768) above which a 50 ms frame counts as speech; about -36 dBFS."""
    onset_ms: int = 150
    """Loud audio needed, without a break, before an utterance starts."""
    end_silence_ms: int = 700
    """Quiet audio after which an utterance ends."""


@dataclass(frozen=True)
class SpeechProgress:
    """An utterance is going on: it started at start_ms, its last loud frame ended at end_ms."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class SpeechEnded:
    """An utterance ended: start_ms to end_ms of stream time (its loud part)."""

    start_ms: int
    end_ms: int


SpeechEvent = SpeechProgress | SpeechEnded


class UtteranceDetector:
    """Energy-based utterance detection over 50 ms frames; times are ms of audio received."""

    def __init__(self, settings: DetectorSettings) -> None:
        self._settings = settings
        self._pending: list[int] = []
        self._frames_seen = 0
        self._loud_run_frames = 0
        self._quiet_run_frames = 0
        self._speech_start_ms: int | None = None
        self._last_loud_end_ms = 0

    @property
    def is_in_speech(self) -> bool:
        return self._speech_start_ms is not None

    def feed(self, samples: Iterable[int]) -> list[SpeechEvent]:
        """Add samples; return what happened in each 50 ms frame they completed."""
        self._pending.extend(samples)
        events: list[SpeechEvent] = []
        while len(self._pending) >= FRAME_SAMPLES:
            frame = self._pending[:FRAME_SAMPLES]
            del self._pending[:FRAME_SAMPLES]
            event = self._on_frame(rms(frame) > self._settings.rms_threshold)
            if event is not None:
                events.append(event)
        return events

    def force_end(self) -> SpeechEnded | None:
        """End the utterance in progress now, if there is one."""
        if self._speech_start_ms is None:
            return None
        ended = SpeechEnded(self._speech_start_ms, self._last_loud_end_ms)
        self._speech_start_ms = None
        self._loud_run_frames = 0
        self._quiet_run_frames = 0
        return ended

    def _on_frame(self, is_loud: bool) -> SpeechEvent | None:
        frame_start_ms = self._frames_seen * FRAME_MS
        self._frames_seen += 1
        frame_end_ms = frame_start_ms + FRAME_MS
        if self._speech_start_ms is None:
            self._loud_run_frames = self._loud_run_frames + 1 if is_loud else 0
            if self._loud_run_frames * FRAME_MS < self._settings.onset_ms:
                return None
            self._speech_start_ms = frame_end_ms - self._loud_run_frames * FRAME_MS
            self._last_loud_end_ms = frame_end_ms
            self._quiet_run_frames = 0
            return SpeechProgress(self._speech_start_ms, frame_end_ms)
        if is_loud:
            self._quiet_run_frames = 0
            self._last_loud_end_ms = frame_end_ms
        else:
            self._quiet_run_frames += 1
            if self._quiet_run_frames * FRAME_MS >= self._settings.end_silence_ms:
                return self.force_end()
        return SpeechProgress(self._speech_start_ms, self._last_loud_end_ms)


class ScriptCursor:
    """The script's lines and one position in them, shared by every session (thread-safe)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = [line.strip() for line in lines if line.strip()]
        self._next = 0
        self._lock = threading.Lock()

    def peek(self) -> str | None:
        """The line the next finished utterance will get, or None once the script is used up."""
        with self._lock:
            return self._lines[self._next] if self._next < len(self._lines) else None

    def take(self) -> str | None:
        """Consume and return the next line, or None once the script is used up."""
        with self._lock:
            if self._next >= len(self._lines):
                return None
            self._next += 1
            return self._lines[self._next - 1]


def fallback_text(speech_ms: int) -> str:
    """What the stand-in says it heard once the script is used up."""
    return f"(stand-in heard {speech_ms / 1000:.1f} s of speech)"


_EDGE_PUNCTUATION = re.compile(r"^[^\w]+|[^\w]+$")


def unformatted_words(text: str) -> list[str]:
    """The words as an unformatted turn shows them: lowercase, no punctuation around words."""
    words = (_EDGE_PUNCTUATION.sub("", token).lower() for token in text.split())
    return [word for word in words if word]


def formatted_words(text: str) -> list[str]:
    """The words as a formatted turn shows them: the text's own tokens."""
    return text.split()


def revealed_word_count(speech_ms: int, total_words: int) -> int:
    """How many words a partial shows after speech_ms of speech: never all of them."""
    return max(0, min(1 + speech_ms // MS_PER_REVEALED_WORD, total_words - 1))


def word_entries(
    words: Sequence[str], start_ms: int, end_ms: int, *, confidence: float, all_final: bool
) -> list[dict[str, object]]:
    """Words spread evenly over start_ms..end_ms; in a partial only the last is not final."""
    if not words:
        return []
    slot_ms = max(1, end_ms - start_ms) / len(words)
    entries: list[dict[str, object]] = []
    for index, word in enumerate(words):
        word_start = start_ms + index * slot_ms
        entries.append(
            {
                "start": int(word_start),
                "end": int(word_start + slot_ms * 0.9),
                "text": word,
                "confidence": confidence,
                "word_is_final": all_final or index < len(words) - 1,
            }
        )
    return entries


def turn_message(
    *,
    turn_order: int,
    words: Sequence[str],
    start_ms: int,
    end_ms: int,
    end_of_turn: bool,
    is_formatted: bool,
    end_of_turn_confidence: float,
    utterance: str = "",
) -> dict[str, object]:
    """A v3 `Turn` message with the reference's field names."""
    return {
        "type": "Turn",
        "turn_order": turn_order,
        "turn_is_formatted": is_formatted,
        "end_of_turn": end_of_turn,
        "transcript": " ".join(words),
        "end_of_turn_confidence": end_of_turn_confidence,
        "words": word_entries(
            words, start_ms, end_ms, confidence=0.95 if end_of_turn else 0.8, all_final=end_of_turn
        ),
        "utterance": utterance,
    }
