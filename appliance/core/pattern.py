"""Everything the LEDs can say: the core derives one from its state, devices/leds.py draws it."""

from __future__ import annotations

import enum


class Pattern(enum.Enum):
    """Everything the LEDs can say; the core picks one from the state, the panel shows it."""

    STARTING = "starting"
    CONNECTING = "connecting"
    LISTENING = "listening"
    HEARING = "hearing"
    CANDIDATE = "candidate"
    CANDIDATE_ENDING = "candidate_ending"
    GRACE = "grace"
    GRACE_ENDING = "grace_ending"
    POSTING = "posting"
    POSTED = "posted"
    REFUSED = "refused"
    MUTED = "muted"
    NO_MICROPHONE = "no_microphone"
    RECONNECTING = "reconnecting"
    NOT_AUTHORISED = "not_authorised"
    RATE_LIMITED = "rate_limited"
    OUT_OF_CREDITS = "out_of_credits"
    STORAGE_FULL = "storage_full"
    # The speech service's account, not the network: each cause its own light.
    SPEECH_NO_BALANCE = "speech_no_balance"
    SPEECH_SESSION_LIMIT = "speech_session_limit"
    ERROR = "error"
