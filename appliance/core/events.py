"""Events the boundaries feed into the decision core, and effects the core hands back.

Every boundary (microphone, speech link, panel, poster, control socket) turns the
outside world into these plain values; the core (`appliance.core.machine`) decides; the
daemon carries out the effects. Times are seconds on the daemon's monotonic clock
unless a name says otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from appliance.core.destinations import Destination


class LinkCause(enum.Enum):
    """Why the speech link is down, in the link's own terms (never a service close code)."""

    DROPPED = "dropped"  # connection lost, refused, timed out or cut: a blip
    SERVER_ERROR = "server_error"  # the service failed or answered something unexpected
    KEY_REFUSED = "key_refused"  # the key is wrong or missing: only the user can fix it
    NO_BALANCE = "no_balance"  # the account has no balance left: only the user can fix it
    TOO_MANY_SESSIONS = "too_many_sessions"  # the account's session limit: wait a minute
    TRANSIENT_REFUSAL = "transient_refusal"  # a refusal a retry fixes ("Incorrect padding")
    OUR_BUG = "our_bug"  # the service rejected what we sent (invalid message, chunk, rate)


# ---- events -------------------------------------------------------------------


@dataclass(frozen=True)
class PartialText:
    """Words of the turn still being spoken (not final, never posted as such)."""

    text: str


@dataclass(frozen=True)
class SentenceFinished:
    """A finished, formatted sentence from the speech service."""

    text: str
    turn_order: int = -1
    session_id: str = ""


@dataclass(frozen=True)
class ButtonPressed:
    """The confirm button was pressed (or `appliance confirm` was sent)."""

    source: str = "button"


@dataclass(frozen=True)
class DiscardRequested:
    """The user asked to drop the candidate (button held, or `appliance cancel`)."""

    source: str = "button"


@dataclass(frozen=True)
class LinkUp:
    """A speech session is open and audio flows."""

    session_id: str


@dataclass(frozen=True)
class LinkDown:
    """The speech link is down; it will be retried in `retry_in_seconds`."""

    reason: str
    retry_in_seconds: float
    close_code: int | None = None  # for the journal only; decisions use `cause`
    cause: LinkCause = LinkCause.DROPPED


@dataclass(frozen=True)
class LinkIdle:
    """No speech session by design (no one speaking, or muted): listening locally, not down."""

    reason: str = "no speech"
    is_key_confirmed: bool = False  # the key was just accepted: a key problem is over


@dataclass(frozen=True)
class MicrophoneState:
    """The microphone opened (`is_ok`) or failed (`detail` says how)."""

    is_ok: bool
    detail: str = ""


class PostStatus(enum.StrEnum):
    """Where an outbox entry stands after an attempt."""

    POSTED = "posted"
    RETRYING = "retrying"  # it waits in the outbox for its next attempt
    FAILED = "failed"  # for good: retrying cannot help


@dataclass(frozen=True)
class PostResult:
    """What became of an outbox entry: posted, retrying later, or failed for good."""

    entry_id: int
    outcome: PostStatus
    post_id: str = ""
    detail: str = ""
    # True when the failure needs the user (bad keys, no write permission).
    needs_user: bool = False
    is_rate_limited: bool = False  # the destination limits how often we post; it waits
    is_out_of_credits: bool = False  # the X account has no credits; the entry waits for them
    is_fault: bool = False  # a fault no answer explains (a bug, a broken install); it waits
    destination: Destination = Destination.X
    confirmation: int = 0  # the confirmation the entry belongs to; 0: the entry's own id


@dataclass(frozen=True)
class PostsSettled:
    """Nothing of this destination is left to send (posted, failed or dropped by the user)."""

    destination: Destination


@dataclass(frozen=True)
class DeleteResult:
    """What became of a "delete that" on one destination: deleted, or why not."""

    post_id: str
    is_deleted: bool
    detail: str = ""
    destination: Destination = Destination.X
    confirmation: int = 0


@dataclass(frozen=True)
class MuteChanged:
    """Mute (`is_muted`) or unmute: the mute switch, `appliance mute`/`unmute`, start-up."""

    is_muted: bool
    source: str = "control"  # "switch" | "control" | "start"


@dataclass(frozen=True)
class MuteToggled:
    """Flip the mute: the button held for the long hold."""

    source: str = "button"


@dataclass(frozen=True)
class StorageState:
    """Whether the outbox can be written; `held` confirmed posts wait in memory until it can."""

    is_ok: bool
    detail: str = ""
    held: int = 0


@dataclass(frozen=True)
class Tick:
    """Time passed; lets the core expire candidates and end LED flashes."""


Event = (
    PartialText
    | SentenceFinished
    | ButtonPressed
    | DiscardRequested
    | LinkUp
    | LinkDown
    | LinkIdle
    | MicrophoneState
    | MuteChanged
    | MuteToggled
    | PostResult
    | PostsSettled
    | DeleteResult
    | StorageState
    | Tick
)

# ---- effects ------------------------------------------------------------------


@dataclass(frozen=True)
class QueuePost:
    """Write this confirmed text to the outbox, one row per destination (in one go);
    each destination's poster sends its row from there."""

    text: str
    confirmed_by: str  # "button" | "voice" | "control"
    # Each enabled destination's text (shortened for it where it had to be); () means
    # `text` for X alone.
    texts: tuple[tuple[Destination, str], ...] = ()

    def destination_texts(self) -> dict[Destination, str]:
        return dict(self.texts) if self.texts else {Destination.X: self.text}


@dataclass(frozen=True)
class Log:
    """One journal line. `event` becomes the APPLIANCE_EVENT field."""

    event: str
    message: str
    level: str = "info"  # "debug" | "info" | "warning" | "error"
    fields: tuple[tuple[str, str], ...] = ()  # more journal fields, e.g. (("POST_ID", "12"),)


@dataclass(frozen=True)
class DeletePost:
    """Delete a confirmation's posts everywhere they went, and stop its rows not sent yet
    (each destination's poster thread deletes, never the main loop)."""

    confirmation: int


@dataclass(frozen=True)
class SetMuted:
    """Close (`is_muted`) or allow the speech session: while muted no audio leaves."""

    is_muted: bool


Effect = QueuePost | DeletePost | Log | SetMuted
