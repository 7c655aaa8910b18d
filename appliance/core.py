"""The decision core: one pure state machine, (state, event, now) -> (state, effects).

No I/O and no clock of its own: the daemon passes `now` (monotonic seconds) in and
carries the effects out. The LED pattern and the status sentence are derived from
the state by pure functions, so no path can leave a stale light.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from appliance import core_posting as posting
from appliance.commands import Command, parse_command
from appliance.core_posting import Pending
from appliance.events import (
    ButtonPressed,
    DeleteResult,
    DiscardRequested,
    Effect,
    Event,
    LinkCause,
    LinkDown,
    LinkIdle,
    LinkUp,
    Log,
    MicrophoneState,
    MuteChanged,
    MuteToggled,
    PartialText,
    PostResult,
    SentenceFinished,
    SetMuted,
    StorageState,
    Tick,
)
from appliance.leds import Pattern
from appliance.post_text import SHORTEN
from appliance.x_links import LINK_POST_PRICE_USD

# The grace light blinks faster in the last second before the post goes out.
GRACE_ENDING_SECONDS = 1.0
# Speech link causes only the user can fix: shown until the key is accepted again.
_USER_CAUSES = (LinkCause.KEY_REFUSED, LinkCause.NO_BALANCE)


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
    over_length: str = SHORTEN  # "shorten" | "refuse" a text X would count as over 280
    candidate_ending_seconds: float = 10.0  # the last seconds of the window pulse faster


@dataclass(frozen=True)
class Candidate:
    text: str
    heard_at: float  # monotonic seconds


@dataclass(frozen=True)
class State:
    """Everything the appliance knows; changed only by `step`."""

    # "connecting" (never up yet) | "up" | "down" | "idle" (no session by design)
    link: str = "connecting"
    link_detail: str = ""
    link_retry_at: float | None = None
    link_cause: LinkCause | None = None  # why the link is down (kept while idle if user's)
    session_id: str = ""
    microphone_ok: bool | None = None  # None: not opened yet
    microphone_detail: str = ""
    candidate: Candidate | None = None
    partial: str = ""
    posts_in_flight: int = 0
    x_problem: str = ""  # why posting is held up (retrying), "" when fine
    x_rate_limited: bool = False
    x_out_of_credits: bool = False  # X answered 402: posts wait until credits are added
    x_needs_user: str = ""  # a failure only the user can fix (keys, permissions)
    last_post_id: str = ""
    last_posted_at: float | None = None  # when last_post_id was posted (monotonic seconds)
    pending: Pending | None = None  # confirmed, in its grace period, not yet in the outbox
    last_queued_text: str = ""  # the same text confirmed twice in a row is posted once
    flash: Pattern | None = None
    flash_until: float = 0.0
    is_muted: bool = False  # privacy: no speech session, nothing can be confirmed
    storage_problem: str = ""  # why the outbox cannot be written, "" when it can
    posts_held: int = 0  # confirmed posts waiting in memory for the outbox


def step(
    state: State, event: Event, now: float, settings: CoreSettings = CoreSettings()
) -> tuple[State, list[Effect]]:
    """Apply one event at time `now`; return the new state and the effects to carry out."""
    state = _expire(state, now, settings)
    if state.pending is not None and now >= state.pending.post_at:
        # The grace period ended (any event, not only a Tick, notices it).
        state, released = posting.release(state)
        state, effects = step(state, event, now, settings)
        return state, released + effects
    if isinstance(event, Tick):
        return _expire_logged(state, now, settings)
    if isinstance(event, PartialText):
        return replace(state, partial=event.text), []
    if isinstance(event, SentenceFinished):
        return _on_sentence(replace(state, partial=""), event, now, settings)
    if isinstance(event, MuteToggled):
        return _set_muted(state, not state.is_muted, event.source)
    if isinstance(event, MuteChanged):
        return _set_muted(state, event.is_muted, event.source)
    if isinstance(event, ButtonPressed):
        if state.is_muted:
            return _refuse(state, now, settings, f"Muted: confirming is off ({event.source}).")
        return _confirm(state, now, settings, event.source)
    if isinstance(event, DiscardRequested):
        return _discard(state, event.source)
    if isinstance(event, LinkUp):
        return (
            replace(
                state,
                link="up",
                link_detail="",
                link_retry_at=None,
                link_cause=None,
                session_id=event.session_id,
            ),
            [],
        )
    if isinstance(event, LinkDown):
        return (
            replace(
                state,
                link="connecting" if state.link == "connecting" else "down",
                link_detail=event.reason,
                link_retry_at=now + event.retry_in_seconds,
                link_cause=event.cause,
                session_id="",
                partial="",
            ),
            [],
        )
    if isinstance(event, LinkIdle):
        # No session by design (nobody speaking, or muted): listening, not down. A
        # refused key stays shown until a session opens or the key is accepted again.
        if state.link_cause in _USER_CAUSES and not event.is_key_confirmed:
            return replace(state, link="idle", session_id="", partial=""), []
        state = replace(state, link="idle", link_detail="", link_retry_at=None, link_cause=None)
        return replace(state, session_id="", partial=""), []
    if isinstance(event, MicrophoneState):
        return replace(state, microphone_ok=event.is_ok, microphone_detail=event.detail), []
    if isinstance(event, StorageState):
        detail = "" if event.is_ok else event.detail or "cannot write"
        return replace(state, storage_problem=detail, posts_held=event.held), []
    if isinstance(event, PostResult):
        return _on_post_result(state, event, now, settings)
    if isinstance(event, DeleteResult):
        return posting.on_delete_result(state, event, now, settings)
    raise TypeError(f"not an event: {event!r}")


def _on_sentence(
    state: State, event: SentenceFinished, now: float, settings: CoreSettings
) -> tuple[State, list[Effect]]:
    text = event.text.strip()
    if not text:
        return state, []
    command = parse_command(text)
    if command is None:
        # A new sentence replaces the old candidate: the device offers what you just said.
        return replace(state, candidate=Candidate(text, now)), [
            Log("candidate", f"Heard “{text}” — press the button or say “tweet that” to post it.")
        ]
    if command.command is Command.DISCARD:
        return _discard(state, "voice")
    if command.command is Command.DELETE:
        return posting.delete(state, now, settings)
    if command.text:
        return posting.start_post(state, command.text, "voice", now, settings)
    return _confirm(state, now, settings, "voice")


def _set_muted(state: State, is_muted: bool, source: str) -> tuple[State, list[Effect]]:
    if is_muted == state.is_muted:
        return state, []  # the switch repeats its position; the daemon set it at start
    if not is_muted:
        return replace(state, is_muted=False), [
            SetMuted(False),
            Log("unmuted", f"Unmuted ({source}): listening again."),
        ]
    # What was heard or confirmed before muting is dropped too: muting means "not this,
    # not now", and while muted a press could not cancel a grace period any more.
    cancelled: list[Effect] = []
    if state.pending is not None:
        state, cancelled = posting.cancel_pending(state, source)
    dropped = f" Dropped {state.candidate.text!r}." if state.candidate else ""
    return replace(state, is_muted=True, candidate=None, partial=""), [
        SetMuted(True),
        Log("muted", f"Muted ({source}): no audio leaves the device.{dropped}"),
        *cancelled,
    ]


def _refuse(
    state: State, now: float, settings: CoreSettings, message: str
) -> tuple[State, list[Effect]]:
    flashed = replace(
        state, flash=Pattern.REFUSED, flash_until=now + settings.refused_flash_seconds
    )
    return flashed, [Log("refused", message)]


def _discard(state: State, source: str) -> tuple[State, list[Effect]]:
    if state.pending is not None:
        return posting.cancel_pending(state, source)
    if state.candidate is None:
        return state, [Log("discarded", f"Nothing to discard ({source}).")]
    return replace(state, candidate=None), [
        Log("discarded", f"Discarded “{state.candidate.text}” ({source}).")
    ]


def _confirm(
    state: State, now: float, settings: CoreSettings, source: str
) -> tuple[State, list[Effect]]:
    candidate = state.candidate
    if state.pending is not None and source != "voice":
        return posting.cancel_pending(state, source)  # a second press within the grace period
    if candidate is None and state.pending is not None:
        return state, [Log("duplicate", f"Already posting “{state.pending.text}” ({source}).")]
    if candidate is None or now - candidate.heard_at > settings.candidate_window_seconds:
        flashed = replace(
            state,
            candidate=None,
            flash=Pattern.REFUSED,
            flash_until=now + settings.refused_flash_seconds,
        )
        return flashed, [Log("refused", f"Nothing to post ({source}): no sentence is waiting.")]
    return posting.start_post(replace(state, candidate=None), candidate.text, source, now, settings)


def _on_post_result(
    state: State, event: PostResult, now: float, settings: CoreSettings
) -> tuple[State, list[Effect]]:
    if event.outcome == "retrying":
        return replace(
            state,
            x_problem=event.detail,
            x_rate_limited=event.is_rate_limited,
            x_out_of_credits=event.is_out_of_credits,
        ), []
    in_flight = max(0, state.posts_in_flight - 1)
    if event.outcome == "posted":
        posted = replace(
            state,
            posts_in_flight=in_flight,
            x_problem="",
            x_rate_limited=False,
            x_out_of_credits=False,
            x_needs_user="",
            last_post_id=event.post_id,
            last_posted_at=now,
            flash=Pattern.POSTED,
            flash_until=now + settings.posted_flash_seconds,
        )
        return posted, []
    return replace(
        state,
        posts_in_flight=in_flight,
        x_problem="",
        x_rate_limited=False,
        x_out_of_credits=False,
        x_needs_user=event.detail if event.needs_user else state.x_needs_user,
        last_queued_text="",  # it failed: confirming the same text again should try again
    ), []


def _expire(state: State, now: float, settings: CoreSettings) -> State:
    if state.flash is not None and now >= state.flash_until:
        state = replace(state, flash=None)
    return state


def _expire_logged(state: State, now: float, settings: CoreSettings) -> tuple[State, list[Effect]]:
    candidate = state.candidate
    if candidate is not None and now - candidate.heard_at > settings.candidate_window_seconds:
        return replace(state, candidate=None), [
            Log(
                "expired",
                f"{candidate.text!r} expired unposted after "
                f"{settings.candidate_window_seconds:.0f} s.",
            )
        ]
    return state, []


def led_pattern(state: State, now: float, settings: CoreSettings = CoreSettings()) -> Pattern:
    """The one LED pattern that tells the truth about `state`."""
    if state.flash is not None and now < state.flash_until:
        return state.flash
    if state.pending is not None:
        if state.pending.post_at - now <= GRACE_ENDING_SECONDS:
            return Pattern.GRACE_ENDING
        return Pattern.GRACE
    if state.is_muted:
        return Pattern.MUTED  # privacy first: the mute light is never hidden by another
    if state.storage_problem:
        return Pattern.STORAGE_FULL  # confirmed posts exist only in memory: say so first
    if state.x_needs_user or state.link_cause is LinkCause.KEY_REFUSED:
        return Pattern.NOT_AUTHORISED
    if state.link_cause is LinkCause.NO_BALANCE:
        return Pattern.SPEECH_NO_BALANCE
    if state.microphone_ok is False:
        return Pattern.NO_MICROPHONE
    if state.x_out_of_credits:  # also for posts kept from before a restart
        return Pattern.OUT_OF_CREDITS
    if state.posts_in_flight:
        return Pattern.RATE_LIMITED if state.x_rate_limited else Pattern.POSTING
    if state.candidate is not None:
        left = settings.candidate_window_seconds - (now - state.candidate.heard_at)
        if left <= settings.candidate_ending_seconds:
            return Pattern.CANDIDATE_ENDING
        return Pattern.CANDIDATE
    if state.link_cause is LinkCause.TOO_MANY_SESSIONS and state.link != "up":
        return Pattern.SPEECH_SESSION_LIMIT
    if state.link == "connecting":
        return Pattern.CONNECTING
    if state.link == "down":
        return Pattern.RECONNECTING
    if state.partial:
        return Pattern.HEARING
    return Pattern.LISTENING


def status_line(state: State, now: float, settings: CoreSettings = CoreSettings()) -> str:
    """The sentence `systemctl status` shows: what the device does, or what is wrong."""
    if state.pending is not None:
        # Rounded up: a countdown reads 3, 2, 1 and never "0 s" before it posts.
        countdown = max(1, math.ceil(state.pending.post_at - now))
        cost = f" (a link: ${LINK_POST_PRICE_USD:.2f} on X)" if state.pending.has_link else ""
        return (
            f"Posting “{state.pending.text}”{cost} in {countdown} s — press the button or say "
            "“cancel” to stop it"
        )
    if state.is_muted:
        return "Muted: no audio leaves the device (long-hold the button or `appliance unmute`)"
    if state.storage_problem:
        return (
            f"Storage full or read-only: {state.posts_held} confirmed post(s) held in memory "
            f"until the outbox can be written ({state.storage_problem}); free space"
        )
    if state.x_needs_user:
        return f"Cannot post: {state.x_needs_user}"
    if state.link_cause is LinkCause.KEY_REFUSED:
        return f"AssemblyAI refused the key: {state.link_detail}"
    if state.link_cause is LinkCause.NO_BALANCE:
        return f"AssemblyAI account out of balance: {state.link_detail}"
    if state.microphone_ok is False:
        return f"No microphone: {state.microphone_detail}"
    if state.x_out_of_credits:
        return (
            "X account out of credits: posts are kept and go out by themselves once "
            "credits are added in the X Developer Console"
        )
    if state.posts_in_flight:
        if state.x_problem:
            return f"Posting held up: {state.x_problem}"
        return "Posting…"
    if state.link not in ("up", "idle"):
        verb = "Connecting" if state.link == "connecting" else "Reconnecting"
        target = "to the speech service"
        if state.link_cause is LinkCause.TOO_MANY_SESSIONS:
            verb, target = "AssemblyAI session limit reached: trying again", "now"
        if state.link_retry_at is not None and state.link_retry_at > now:
            wait = state.link_retry_at - now
            return f"{verb} in {wait:.0f} s: {state.link_detail}"
        return f"{verb} {target}…"
    if state.candidate is not None:
        left = settings.candidate_window_seconds - (now - state.candidate.heard_at)
        return (
            f"Heard “{state.candidate.text}” — press the button or say “tweet that” "
            f"({max(0, left):.0f} s left)"
        )
    if state.flash is Pattern.POSTED and state.last_post_id:
        return f"Posted {state.last_post_id}; listening"
    return "Listening"
