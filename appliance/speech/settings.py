"""The speech link's settings (service/config.py reads them from the file), constants, URL."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from appliance.core.audio import SAMPLE_RATE_HZ
from appliance.speech.gate import Session

ASSEMBLYAI_KEY = "assemblyai_api_key"  # its file in the credentials directory
CHUNK_SECONDS = 0.05  # the microphone's period; the service wants 50-1000 ms a message
# The socket timeout of one read or one send. A read that times out only lets the
# receiver look around (silence brings no frames); a send that cannot go out for this
# long means a stalled peer, and the connection is replaced. Short, so a stop is prompt.
RECEIVE_TIMEOUT_SECONDS = 2.0
# How far audio may run ahead of real time (counted from our Begin, which is later
# than the server's clock starts). The service closes 3007 beyond its own tolerance.
BURST_SECONDS = 0.5
# Audio sent but not yet part of a finished sentence, kept to replay after a drop.
REPLAY_MAX_SECONDS = 30.0
# A chunk this soon after the last confirmed word still belongs to that sentence.
CONFIRM_MARGIN_MS = 200


@dataclass(frozen=True)
class SpeechModel:
    """A streaming model: what we send for it and how its turns end (docs/service-behaviour.md)."""

    name: str
    query: tuple[tuple[str, str], ...]  # the model's own connection parameters
    sends_formatted_copy: bool  # an unformatted end of turn may be followed by a formatted one
    dollars_per_hour: float  # billed per hour of open session


# The documented streaming models. English formats only with format_turns (it may still
# send the older unformatted-then-formatted pair); multilingual formats in the model and
# takes no format_turns; Universal-3 Pro always formats (its migration guide: remove
# format_turns). Language detection (language_detection=true) is not asked for: the
# appliance does not use the language.
MODELS = {
    model.name: model
    for model in (
        SpeechModel("universal-streaming-english", (("format_turns", "true"),), True, 0.15),
        SpeechModel("universal-streaming-multilingual", (), False, 0.15),
        SpeechModel("u3-rt-pro", (), False, 0.45),
    )
}


@dataclass(frozen=True)
class AssemblyAISettings:
    """The speech link to AssemblyAI Universal-Streaming v3."""

    url: str = "wss://streaming.assemblyai.com/v3/ws"
    speech_model: str = "universal-streaming-english"
    reconnect_max_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    terminate_timeout_seconds: float = 5.0
    session: Session = Session.ON_SPEECH
    idle_close_seconds: float = 20.0
    opens_per_minute: int = 4
    ping_interval_seconds: float = 5.0
    ping_timeout_seconds: float = 20.0
    backlog_seconds: float = 30.0
    pre_roll_seconds: float = 1.0
    rotate_after_seconds: float = 10500.0

    def __post_init__(self) -> None:
        # The file's spelling ("always") becomes the enum; anything else is refused.
        object.__setattr__(self, "session", Session(self.session))


def session_url(base_url: str, speech_model: str) -> str:
    """The v3 URL with the query parameters the service needs: speech_model always."""
    query = urllib.parse.urlencode(
        (
            ("sample_rate", str(SAMPLE_RATE_HZ)),
            ("encoding", "pcm_s16le"),
            ("speech_model", speech_model),
            *MODELS[speech_model].query,
        )
    )
    return f"{base_url}{'&' if '?' in base_url else '?'}{query}"
