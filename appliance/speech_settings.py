"""The speech link's constants and the v3 session URL (its settings: config.AssemblyAISettings)."""

from __future__ import annotations

import urllib.parse

SAMPLE_RATE_HZ = 16000
CHUNK_SECONDS = 0.05  # the microphone's period; the service wants 50-1000 ms a message
# The receive timeout only lets the receiver look around; silence brings no frames.
RECEIVE_TIMEOUT_SECONDS = 10.0
# How far audio may run ahead of real time (counted from our Begin, which is later
# than the server's clock starts). The service closes 3007 beyond its own tolerance.
BURST_SECONDS = 0.5
# Audio sent but not yet part of a finished sentence, kept to replay after a drop.
REPLAY_MAX_SECONDS = 30.0
# A chunk this soon after the last confirmed word still belongs to that sentence.
CONFIRM_MARGIN_MS = 200


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
