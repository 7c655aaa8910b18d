"""Parse AssemblyAI v3 server messages into checked values (pure; never raises).

Whatever arrives (bad JSON, 1e400, NaN, strings for numbers, huge ints, deep nesting,
invalid UTF-8), the result is a message or `Malformed`: the receiver must never die
of what a server sends.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

# A message this large is not a transcript of a few seconds of speech. The frame
# reader refuses bigger frames from their header, before reading them (speech_frames).
MAX_MESSAGE_BYTES = 256 * 1024
MAX_TURN_ORDER = 2**31 - 1
# Stream times are ms from the session's start; a session lasts at most 3 h.
MAX_STREAM_MS = 4 * 3600 * 1000
MAX_TEXT_CHARS = 20_000
MAX_CLOSE_CODE = 65535


@dataclass(frozen=True)
class Begin:
    session_id: str
    expires_at: float  # unix seconds


@dataclass(frozen=True)
class Termination:
    audio_duration_seconds: float
    session_duration_seconds: float


@dataclass(frozen=True)
class ServerError:
    """An `Error` message (or the legacy `{"error": ...}`): it precedes an error close."""

    message: str
    code: int | None = None


@dataclass(frozen=True)
class Turn:
    """One `Turn` message, checked. `turn_order` None: the server sent no usable one."""

    turn_order: int | None
    transcript: str
    end_of_turn: bool
    is_formatted: bool
    end_ms: int | None = None  # where its last word ends, ms of the stream
    problem: str = ""  # fields that were unusable and left out


@dataclass(frozen=True)
class Malformed:
    why: str


Message = Begin | Termination | ServerError | Turn | Malformed | None


class _Invalid(ValueError):
    pass


def parse_message(text: str | bytes) -> Message:
    """One server text frame -> a message, Malformed, or None (a type we ignore)."""
    if len(text) > MAX_MESSAGE_BYTES:
        return Malformed(f"message of {len(text)} bytes is larger than {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        return Malformed(f"not JSON: {str(error)[:200]}")
    if not isinstance(message, dict):
        return Malformed("not a JSON object")
    kind = message.get("type")
    try:
        if kind is None and "error" in message:  # legacy error shape
            return ServerError(_text(message, "error", required=True))
        if kind == "Begin":
            return Begin(
                _text(message, "id", required=True),
                _number(message, "expires_at", 0, 1e12),
            )
        if kind == "Turn":
            return _turn(message)
        if kind == "Termination":
            return Termination(
                _number(message, "audio_duration_seconds", 0, 1e9),
                _number(message, "session_duration_seconds", 0, 1e9),
            )
        if kind == "Error":
            return ServerError(
                _text(message, "error"), _whole(message, "error_code", 0, MAX_CLOSE_CODE)
            )
    except _Invalid as error:
        return Malformed(f"{str(kind)[:40]} message: {error}")
    return None  # Warning, SpeechStarted, and types added later: not ours to act on


def _turn(message: dict) -> Turn:
    transcript = _text(message, "transcript", required=True)
    end_of_turn = _flag(message, "end_of_turn")
    is_formatted = _flag(message, "turn_is_formatted")
    problems = []
    try:
        turn_order = _whole(message, "turn_order", 0, MAX_TURN_ORDER)
    except _Invalid as error:
        turn_order, problems = None, [str(error)]
    try:
        end_ms = _last_word_end_ms(message.get("words"))
    except _Invalid as error:
        end_ms = None
        problems.append(str(error))
    return Turn(turn_order, transcript, end_of_turn, is_formatted, end_ms, "; ".join(problems))


def _last_word_end_ms(words: object) -> int | None:
    if words is None:
        return None
    if not isinstance(words, list):
        raise _Invalid("words: not a list")
    end_ms = None
    for word in words:
        if not isinstance(word, dict):
            raise _Invalid("words: an entry is not an object")
        start = _number(word, "start", 0, MAX_STREAM_MS, name="words[].start")
        end = _number(word, "end", 0, MAX_STREAM_MS, name="words[].end")
        if end < start:
            raise _Invalid("words[]: ends before it starts")
        end_ms = max(end_ms or 0, int(end))
    return end_ms


def _number(message: dict, key: str, low: float, high: float, *, name: str = "") -> float:
    value = message.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"{name or key}: not a number ({type(value).__name__})")
    if isinstance(value, int) and not low <= value <= high:
        raise _Invalid(f"{name or key}: out of range")
    number = float(value)  # ints are range-checked above, so no OverflowError here
    if not math.isfinite(number) or not low <= number <= high:
        raise _Invalid(f"{name or key}: {number!r} is not within {low:g}..{high:g}")
    return number


def _whole(message: dict, key: str, low: int, high: int) -> int | None:
    value = message.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        shown = value if isinstance(value, (bool, float)) else type(value).__name__
        raise _Invalid(f"{key}: not a whole number within {low}..{high} ({shown!r})")
    return value


def _text(message: dict, key: str, *, required: bool = False) -> str:
    value = message.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{key}: not a string")
    if len(value) > MAX_TEXT_CHARS:
        raise _Invalid(f"{key}: {len(value)} characters, more than {MAX_TEXT_CHARS}")
    return value


def _flag(message: dict, key: str) -> bool:
    value = message.get(key, False)
    if not isinstance(value, bool):
        raise _Invalid(f"{key}: not true or false")
    return value
