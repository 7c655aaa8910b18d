"""Pure core of one stand-in v3 streaming session: (message, now) in, actions out, no I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from appliance.tryout.standins.utterances import (
    SAMPLE_RATE_HZ,
    DetectorSettings,
    ScriptCursor,
    SpeechEnded,
    SpeechProgress,
    UtteranceDetector,
    decode_pcm_mulaw,
    decode_pcm_s16le,
    fallback_text,
    formatted_words,
    revealed_word_count,
    turn_message,
    unformatted_words,
)

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_UNAUTHORIZED = 1008
CLOSE_SERVER_ERROR = 3005
CLOSE_INVALID_MESSAGE = 3006
CLOSE_INPUT_DURATION = 3007
CLOSE_SESSION_EXPIRED = 3008

REASON_UNAUTHORIZED = "Unauthorized connection: Invalid API key"
REASON_CHUNK_DURATION = "Input duration violation"
REASON_RATE = "Audio Transmission Rate Exceeded"
# The common-session-errors page: the Error message's text for 3008.
REASON_EXPIRED = "Session Expired: Maximum session duration exceeded"
# A close reason is at most 123 bytes; a longer error says this and the Error message
# carries the whole text (common-session-errors page).
REASON_SEE_ERROR = "See Error message for details"
MAX_CLOSE_REASON_BYTES = 123

# Why the service refuses a connection with 1008, as the Error message says it. Sources:
# "Invalid API key": the reference's corrections (Error 1008 before Begin);
# "Too many concurrent sessions": the FAQ on the new-sessions-per-minute limit (1008);
# "Incorrect padding": a transient 1008 seen in the wild (field reports; exact text a
# guess); the balance text is a GUESS: the docs only say "Unauthorized Connection:
# <reason>" for an account issue such as insufficient balance.
REFUSALS = {
    "invalid_key": REASON_UNAUTHORIZED,
    "no_balance": "Unauthorized connection: Insufficient account balance",
    "too_many_sessions": "Unauthorized connection: Too many concurrent sessions",
    "incorrect_padding": "Unauthorized connection: Incorrect padding",
}

# How a finished turn is sent (selectable, as the service's models differ):
# "two_messages": unformatted end of turn, then a formatted copy (the English model's
#   older flow with format_turns; message-sequence docs);
# "single_formatted": one end-of-turn message, already formatted, partials formatted too
#   (the English model since ~March 2026, and u3-rt-pro: turn-detection docs, migration
#   guide);
# "unformatted_only": no formatted message at all (a model that does not format).
TURN_STYLES = ("two_messages", "single_formatted", "unformatted_only")

MIN_CHUNK_MS = 50
MAX_CHUNK_MS = 1000

# Names from the reference and the public docs; the live service keeps adding models,
# so extend this set rather than loosening the check.
SPEECH_MODELS = frozenset(
    {
        "universal-streaming-english",
        "universal-streaming-multilingual",
        "u3-rt-pro",
        "universal-3-5-pro",
        "universal-3-6-pro",
        "whisper-rt",
    }
)
ENCODING_BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_mulaw": 1}
_BOOLEANS = {"true": True, "false": False}


class ParamError(ValueError):
    """A connection query parameter the real service would refuse."""


@dataclass(frozen=True)
class StreamParams:
    """The connection's query parameters, checked."""

    encoding: str = "pcm_s16le"
    speech_model: str = "universal-streaming-english"
    format_turns: bool = False

    @property
    def default_turn_style(self) -> str:
        """As the models behave today: u3-rt-pro always formats (its migration guide); the
        English model with format_turns sends one formatted end of turn (the reference's
        corrections); whether it formats without format_turns is a GUESS (it does not
        here); multilingual sends no formatted message (its docs)."""
        if self.speech_model == "u3-rt-pro":
            return "single_formatted"
        if self.format_turns and self.speech_model == "universal-streaming-english":
            return "single_formatted"
        return "unformatted_only"


def _number(query: Mapping[str, str], name: str, low: float, high: float) -> None:
    if name not in query:
        return
    try:
        value = float(query[name])
    except ValueError:
        raise ParamError(f"Invalid {name}: expected a number, got {query[name]!r}") from None
    if not low <= value <= high:
        raise ParamError(f"Invalid {name}: {value:g} is outside {low:g}..{high:g}")


def parse_stream_params(query: Mapping[str, str]) -> StreamParams:
    """Check the query the way the service does; raise ParamError naming the parameter."""
    if "sample_rate" not in query:
        raise ParamError("Missing sample_rate")
    if query["sample_rate"] != str(SAMPLE_RATE_HZ):
        raise ParamError(f"Invalid sample_rate: the stand-in only takes {SAMPLE_RATE_HZ}")
    encoding = query.get("encoding", "pcm_s16le")
    if encoding not in ENCODING_BYTES_PER_SAMPLE:
        raise ParamError(f"Invalid encoding: {encoding!r}")
    speech_model = query.get("speech_model")
    if not speech_model:
        raise ParamError("Missing speech_model")
    if speech_model not in SPEECH_MODELS:
        raise ParamError(f"Invalid speech_model: {speech_model!r}")
    format_turns = _BOOLEANS.get(query.get("format_turns", "false").lower())
    if format_turns is None:
        raise ParamError(f"Invalid format_turns: {query['format_turns']!r}")
    _number(query, "end_of_turn_confidence_threshold", 0.0, 1.0)
    _number(query, "vad_threshold", 0.0, 1.0)
    _number(query, "min_turn_silence", 0, 10_000)
    _number(query, "min_end_of_turn_silence_when_confident", 0, 10_000)
    _number(query, "max_turn_silence", 0, 10_000)
    _number(query, "inactivity_timeout", 5, 3600)
    if "keyterms_prompt" in query:
        try:
            terms = json.loads(query["keyterms_prompt"])
        except ValueError:
            terms = None
        if not (
            isinstance(terms, list)
            and len(terms) <= 100
            and all(isinstance(t, str) and len(t) <= 50 for t in terms)
        ):
            raise ParamError("Invalid keyterms_prompt: a JSON array of <= 100 terms of <= 50 chars")
    return StreamParams(encoding=encoding, speech_model=speech_model, format_turns=format_turns)


def is_authorized(authorization: str | None, token: str | None, api_key: str) -> bool:
    """The key goes bare in the Authorization header, or as a (stand-in) temporary token."""
    return authorization == api_key or token == api_key


@dataclass(frozen=True)
class Send:
    """Send this JSON message."""

    message: dict[str, object]


@dataclass(frozen=True)
class Close:
    """Close the websocket with this code and reason."""

    code: int
    reason: str


Action = Send | Close


def error_close(code: int, error: str) -> list[Action]:
    """An error close as the service does it: an Error message first, then the close.

    Source: the common-session-errors page ("the server sends an Error text frame
    immediately before it closes the WebSocket"; error_code equals the close code).
    """
    reason = error if len(error.encode()) <= MAX_CLOSE_REASON_BYTES else REASON_SEE_ERROR
    return [Send({"type": "Error", "error_code": code, "error": error}), Close(code, reason)]


@dataclass(frozen=True)
class SessionLimits:
    """How strict the stand-in is with one session."""

    session_max_seconds: float = 10800.0
    """Close with 3008 after this long; the real service allows 3 hours."""
    rate_tolerance_seconds: float = 1.0
    """Audio may run ahead of the wall clock by this much before a 3007."""
    detector: DetectorSettings = field(default_factory=DetectorSettings)


class StreamSession:
    """One session's protocol state; every change happens in the on_* methods."""

    def __init__(
        self,
        session_id: str,
        params: StreamParams,
        limits: SessionLimits,
        script: ScriptCursor,
        opened_monotonic: float,
        opened_unix: float,
        turn_style: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.params = params
        self.limits = limits
        self.script = script
        self.opened_monotonic = opened_monotonic
        self.opened_unix = opened_unix
        self.turn_style = turn_style or params.default_turn_style
        self.audio_samples = 0
        self.turns_sent = 0
        self.is_finished = False
        self._detector = UtteranceDetector(limits.detector)
        self._turn_order = 0
        self._words_revealed = 0

    @property
    def audio_seconds(self) -> float:
        return self.audio_samples / SAMPLE_RATE_HZ

    def seconds_until_expiry(self, now: float) -> float:
        return self.opened_monotonic + self.limits.session_max_seconds - now

    def begin(self) -> list[Action]:
        expires_at = int(self.opened_unix + self.limits.session_max_seconds)
        return [Send({"type": "Begin", "id": self.session_id, "expires_at": expires_at})]

    def on_tick(self, now: float) -> list[Action]:
        if not self.is_finished and self.seconds_until_expiry(now) <= 0:
            # Error 3008, then Termination, then close 3008 (the reference's corrections).
            # The turn in progress is NOT finished first: a GUESS, the worst case for a
            # client, which must replay what was not yet a finished sentence.
            self.is_finished = True
            error, close = error_close(CLOSE_SESSION_EXPIRED, REASON_EXPIRED)
            return [error, self._termination(now), close]
        return []

    def on_audio(self, data: bytes, now: float) -> list[Action]:
        if self.is_finished:
            return []
        expired = self.on_tick(now)
        if expired:
            return expired
        bytes_per_sample = ENCODING_BYTES_PER_SAMPLE[self.params.encoding]
        if len(data) % bytes_per_sample:
            return self._close(CLOSE_INVALID_MESSAGE, "Invalid audio: a partial sample")
        chunk_ms = len(data) // bytes_per_sample * 1000 / SAMPLE_RATE_HZ
        if not MIN_CHUNK_MS <= chunk_ms <= MAX_CHUNK_MS:
            return self._close(CLOSE_INPUT_DURATION, REASON_CHUNK_DURATION)
        self.audio_samples += len(data) // bytes_per_sample
        elapsed = now - self.opened_monotonic
        if self.audio_seconds > elapsed + self.limits.rate_tolerance_seconds:
            return self._close(CLOSE_INPUT_DURATION, REASON_RATE)
        if self.params.encoding == "pcm_mulaw":
            samples: Iterable[int] = decode_pcm_mulaw(data)
        else:
            samples = decode_pcm_s16le(data)
        actions: list[Action] = []
        for event in self._detector.feed(samples):
            if isinstance(event, SpeechEnded):
                actions += self._finish_turn(event, end_of_turn_confidence=0.9)
            else:
                actions += self._maybe_partial(event)
        return actions

    def on_text(self, text: str, now: float) -> list[Action]:
        if self.is_finished:
            return []
        expired = self.on_tick(now)
        if expired:
            return expired
        try:
            message = json.loads(text)
        except ValueError:
            return self._close(CLOSE_INVALID_MESSAGE, "Invalid JSON")
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "Terminate":
            actions = self._force_endpoint()
            actions.append(self._termination(now))
            return actions + self._close(CLOSE_NORMAL, "")
        if kind == "ForceEndpoint":
            return self._force_endpoint()
        if kind == "UpdateConfiguration":
            return []
        return self._close(CLOSE_INVALID_MESSAGE, f"Invalid message type: {str(kind)[:60]!r}")

    def on_shutdown(self) -> list[Action]:
        if self.is_finished:
            return []
        return self._close(CLOSE_GOING_AWAY, "Stand-in shutting down")

    def _termination(self, now: float) -> Send:
        return Send(
            {
                "type": "Termination",
                # Integers, as the official SDK's model declares them.
                "audio_duration_seconds": round(self.audio_seconds),
                "session_duration_seconds": round(now - self.opened_monotonic),
            }
        )

    def _close(self, code: int, reason: str) -> list[Action]:
        self.is_finished = True
        if code in (CLOSE_NORMAL, CLOSE_GOING_AWAY):
            return [Close(code, reason)]
        return error_close(code, reason)

    def _force_endpoint(self) -> list[Action]:
        ended = self._detector.force_end()
        return self._finish_turn(ended, end_of_turn_confidence=1.0) if ended else []

    def _maybe_partial(self, progress: SpeechProgress) -> list[Action]:
        speech_ms = progress.end_ms - progress.start_ms
        # Peek, not take: a session that dies mid-utterance leaves the line for the retry.
        text = self.script.peek() or fallback_text(speech_ms)
        is_formatted = self.turn_style == "single_formatted"
        words = (formatted_words if is_formatted else unformatted_words)(text)
        count = revealed_word_count(speech_ms, len(words))
        if count <= self._words_revealed:
            return []
        self._words_revealed = count
        return [
            Send(
                turn_message(
                    turn_order=self._turn_order,
                    words=words[:count],
                    start_ms=progress.start_ms,
                    end_ms=progress.end_ms,
                    end_of_turn=False,
                    is_formatted=is_formatted,
                    end_of_turn_confidence=0.05,
                )
            )
        ]

    def _finish_turn(self, ended: SpeechEnded, end_of_turn_confidence: float) -> list[Action]:
        text = self.script.take() or fallback_text(ended.end_ms - ended.start_ms)

        def final(words: list[str], is_formatted: bool, utterance: str) -> Send:
            return Send(
                turn_message(
                    turn_order=self._turn_order,
                    words=words,
                    start_ms=ended.start_ms,
                    end_ms=ended.end_ms,
                    end_of_turn=True,
                    is_formatted=is_formatted,
                    end_of_turn_confidence=end_of_turn_confidence,
                    utterance=utterance,
                )
            )

        if self.turn_style == "single_formatted":
            formatted = formatted_words(text)
            actions: list[Action] = [final(formatted, True, " ".join(formatted))]
        else:
            plain = unformatted_words(text)
            actions = [final(plain, False, " ".join(plain))]
            if self.turn_style == "two_messages":
                actions.append(final(formatted_words(text), True, ""))
        self._turn_order += 1
        self._words_revealed = 0
        self.turns_sent += 1
        return actions
