"""The core's state and the settings of its decisions: plain frozen values."""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from appliance.core.destinations import Destination, OverLength
from appliance.core.events import LinkCause
from appliance.core.pattern import Pattern


class LinkState(enum.StrEnum):
    """Where the speech link stands, as the core sees it."""

    CONNECTING = "connecting"  # never up yet
    UP = "up"
    DOWN = "down"
    IDLE = "idle"  # no session by design (nobody speaking, or muted): not a fault


@dataclass(frozen=True)
class Pending:
    """A confirmed text in its grace period: queued at `post_at` unless cancelled first."""

    text: str
    confirmed_by: str
    post_at: float  # monotonic seconds
    has_link: bool = False  # X charges about 13 times more for a post with a link
    texts: tuple[tuple[Destination, str], ...] = ()  # each destination's; (): `text` for X


@dataclass(frozen=True)
class CoreSettings:
    """Timings of the decisions."""

    candidate_window_seconds: float = 60.0  # a candidate older than this is never posted
    posted_flash_seconds: float = 3.0  # how long the LEDs say "posted"
    refused_flash_seconds: float = 1.0  # how long the LEDs say "nothing to confirm"
    # A confirmed text waits this long (a second press or "cancel" stops it) before it is
    # queued; 0 queues at once. The daemon passes [confirm] grace_seconds.
    grace_seconds: float = 0.0
    delete_window_seconds: float = 300.0  # "delete that" reaches back this far
    over_length: OverLength = OverLength.SHORTEN  # a text too long for a destination
    candidate_ending_seconds: float = 10.0  # the last seconds of the window pulse faster
    # Where a confirmed text goes (the enabled destinations, in config order) ...
    destinations: tuple[Destination, ...] = (Destination.X,)
    # ... and their length limits where they differ from core.lengths' defaults
    # (Mastodon's is the instance's, learnt at start).
    max_lengths: tuple[tuple[Destination, int], ...] = ()

    def __post_init__(self) -> None:
        # The file's spelling ("refuse") becomes the enum; anything else is refused.
        object.__setattr__(self, "over_length", OverLength(self.over_length))


@dataclass(frozen=True)
class DestinationStatus:
    """How posting to one destination stands."""

    destination: Destination
    in_flight: int = 0  # confirmed rows for it not yet posted or failed
    problem: str = ""  # why posting is held up (retrying), "" when fine
    is_rate_limited: bool = False
    is_out_of_credits: bool = False  # X without credits: posts wait until credits are added
    needs_user: str = ""  # a failure only the user can fix (keys, permissions)
    is_fault: bool = False  # `problem` is a fault (a bug, a broken install), not the network


@dataclass(frozen=True)
class Candidate:
    text: str
    heard_at: float  # monotonic seconds


@dataclass(frozen=True)
class State:
    """Everything the appliance knows; changed only by `step`."""

    link: LinkState = LinkState.CONNECTING
    link_detail: str = ""
    link_retry_at: float | None = None
    link_cause: LinkCause | None = None  # why the link is down (kept while idle if user's)
    session_id: str = ""
    microphone_ok: bool | None = None  # None: not opened yet
    microphone_detail: str = ""
    candidate: Candidate | None = None
    partial: str = ""
    # One per destination that has posted, is posting or had a problem, in first-seen order.
    destinations: tuple[DestinationStatus, ...] = ()
    last_post_id: str = ""
    last_posted_at: float | None = None  # when last_post_id was posted (monotonic seconds)
    last_confirmation: int = 0  # the confirmation last_post_id belongs to ("delete that")
    last_posts: tuple[tuple[Destination, str], ...] = ()  # its posts so far, by destination
    pending: Pending | None = None  # confirmed, in its grace period, not yet in the outbox
    last_queued_text: str = ""  # the same text confirmed twice in a row is posted once
    flash: Pattern | None = None
    flash_until: float = 0.0
    is_muted: bool = False  # privacy: no speech session, nothing can be confirmed
    storage_problem: str = ""  # why the outbox cannot be written, "" when it can
    posts_held: int = 0  # confirmed posts waiting in memory for the outbox

    @property
    def posts_in_flight(self) -> int:
        """Rows confirmed and not yet posted or failed, over every destination."""
        return sum(status.in_flight for status in self.destinations)

    def status_of(self, destination: Destination) -> DestinationStatus:
        for status in self.destinations:
            if status.destination == destination:
                return status
        return DestinationStatus(destination)

    def with_status(self, status: DestinationStatus) -> State:
        """This state with the destination's status replaced (or added)."""
        others = [s for s in self.destinations if s.destination != status.destination]
        if len(others) == len(self.destinations):
            return replace(self, destinations=(*self.destinations, status))
        return replace(
            self,
            destinations=tuple(
                status if s.destination == status.destination else s for s in self.destinations
            ),
        )
