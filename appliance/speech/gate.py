"""When a speech session should be open: a pure gate over voice activity, mute and age."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace

SECONDS_PER_MINUTE = 60.0


class Session(enum.StrEnum):
    """When a session is open: [assemblyai] session's values."""

    ON_SPEECH = "on_speech"  # only while someone speaks: billed only then
    ALWAYS = "always"  # all the time (muted excepted)


class Decision(enum.Enum):
    OPEN = "open"  # no session, one is wanted
    CLOSE = "close"  # a session is open, none is wanted (idle or muted): Terminate it
    ROTATE = "rotate"  # the session is old and there is a pause: hand over to a new one
    KEEP = "keep"  # leave things as they are


@dataclass(frozen=True)
class GateSettings:
    """How the gate decides; times in seconds."""

    mode: Session = Session.ON_SPEECH
    idle_close_seconds: float = 20.0
    rotate_after_seconds: float = 10500.0  # 2 h 55 min: before the service's 3 h limit
    pause_seconds: float = 1.0  # silence that counts as a pause to rotate in

    def __post_init__(self) -> None:
        # The file's spelling ("always") becomes the enum; anything else is refused.
        object.__setattr__(self, "mode", Session(self.mode))


@dataclass(frozen=True)
class GateState:
    """What the gate knows: mute, and when speech was last heard (monotonic seconds)."""

    is_muted: bool = False
    last_speech_at: float | None = None


def on_voice(state: GateState, is_speaking: bool, now: float) -> GateState:
    """Fold one chunk's voice activity into the state."""
    if is_speaking and not state.is_muted:
        return replace(state, last_speech_at=now)
    return state


def is_wanted(state: GateState, now: float, settings: GateSettings) -> bool:
    """True while a session should be open."""
    if state.is_muted:
        return False
    if settings.mode is Session.ALWAYS:
        return True
    return (
        state.last_speech_at is not None
        and now - state.last_speech_at < settings.idle_close_seconds
    )


def decide(
    state: GateState, session_age_seconds: float | None, now: float, settings: GateSettings
) -> Decision:
    """What to do with the session (None: there is none) right now."""
    wanted = is_wanted(state, now, settings)
    if session_age_seconds is None:
        return Decision.OPEN if wanted else Decision.KEEP
    if not wanted:
        return Decision.CLOSE
    is_pause = state.last_speech_at is None or now - state.last_speech_at >= settings.pause_seconds
    if session_age_seconds >= settings.rotate_after_seconds and is_pause:
        return Decision.ROTATE
    return Decision.KEEP


def next_open_at(recent_opens: Sequence[float], now: float, opens_per_minute: int) -> float:
    """The earliest time a new session may be opened without exceeding opens_per_minute.

    The service counts new sessions per minute (5 on free accounts); a reconnect loop
    or a chatty on/off gate must stay under it, or every open is refused.
    """
    # `now < t + 60` rather than `now - t < 60`: the time this returns is such a sum, and
    # the two roundings can disagree by one ulp at the window's edge (found by Hypothesis).
    window = [t for t in recent_opens if now < t + SECONDS_PER_MINUTE]
    if len(window) < max(1, opens_per_minute):
        return now
    window.sort()
    return window[len(window) - max(1, opens_per_minute)] + SECONDS_PER_MINUTE
