"""Parse AssemblyAI v3 server messages into events (pure)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from appliance.events import PartialText, SentenceFinished

# A message this large is not a transcript of a few seconds of speech.
MAX_MESSAGE_BYTES = 256 * 1024


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
    message: str


@dataclass(frozen=True)
class Malformed:
    why: str


Message = Begin | Termination | ServerError | Malformed | PartialText | SentenceFinished | None


def parse_message(text: str | bytes, *, formatted: bool = True, session_id: str = "") -> Message:
    """One server message -> an event, a session message, Malformed, or None (ignore)."""
    if len(text) > MAX_MESSAGE_BYTES:
        return Malformed(f"message of {len(text)} bytes is larger than {MAX_MESSAGE_BYTES}")
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        return Malformed(f"not JSON: {error}")
    if not isinstance(message, dict):
        return Malformed("not a JSON object")
    kind = message.get("type")
    if kind is None and "error" in message:  # legacy error shape
        return ServerError(str(message["error"]))
    try:
        if kind == "Begin":
            return Begin(str(message["id"]), float(message.get("expires_at") or 0))
        if kind == "Turn":
            return _turn(message, formatted, session_id)
        if kind == "Termination":
            return Termination(
                float(message.get("audio_duration_seconds") or 0),
                float(message.get("session_duration_seconds") or 0),
            )
        if kind == "Error":
            code = message.get("error_code")
            return ServerError(f"{message.get('error', '')}{f' (code {code})' if code else ''}")
    except (KeyError, TypeError, ValueError) as error:
        return Malformed(f"{kind} message without a valid {error}")
    return None  # Warning, SpeechStarted, and types added later: not ours to act on


def _turn(message: dict, formatted: bool, session_id: str) -> Message:
    transcript = message["transcript"]
    if not isinstance(transcript, str):
        raise TypeError("transcript")
    if not message.get("end_of_turn"):
        return PartialText(transcript)
    # With format_turns the formatted message is the finished sentence; the
    # unformatted end-of-turn before it is only the last partial.
    if formatted and not message.get("turn_is_formatted"):
        return PartialText(transcript)
    return SentenceFinished(transcript, int(message.get("turn_order", -1)), session_id)
