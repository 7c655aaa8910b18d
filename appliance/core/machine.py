"""The decision core: one pure state machine, (state, event, now) -> (state, effects).

No I/O and no clock of its own: the daemon passes `now` (monotonic seconds) in and
carries the effects out. The LED pattern and the status sentence are derived from
the state by pure functions, so no path can leave a stale light.
"""

from __future__ import annotations

from dataclasses import replace

from appliance.core import posting
from appliance.core.commands import Command, parse_command
from appliance.core.events import (
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
    PostsSettled,
    PostStatus,
    SentenceFinished,
    SetMuted,
    StorageState,
    Tick,
)
from appliance.core.pattern import Pattern
from appliance.core.state import Candidate, CoreSettings, LinkState, State

# Speech link causes only the user can fix: shown until the key is accepted again.
_USER_CAUSES = (LinkCause.KEY_REFUSED, LinkCause.NO_BALANCE)


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
                link=LinkState.UP,
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
                link=LinkState.CONNECTING if state.link == LinkState.CONNECTING else LinkState.DOWN,
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
            return replace(state, link=LinkState.IDLE, session_id="", partial=""), []
        state = replace(state, link=LinkState.IDLE, link_detail="", link_retry_at=None)
        return replace(state, link_cause=None, session_id="", partial=""), []
    if isinstance(event, MicrophoneState):
        return replace(state, microphone_ok=event.is_ok, microphone_detail=event.detail), []
    if isinstance(event, StorageState):
        detail = "" if event.is_ok else event.detail or "cannot write"
        return replace(state, storage_problem=detail, posts_held=event.held), []
    if isinstance(event, PostResult):
        return _on_post_result(state, event, now, settings)
    if isinstance(event, PostsSettled):
        return _on_settled(state, event)
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
    status = state.status_of(event.destination)
    if event.outcome == PostStatus.RETRYING:
        return state.with_status(
            replace(
                status,
                problem=event.detail,
                is_rate_limited=event.is_rate_limited,
                is_out_of_credits=event.is_out_of_credits,
                is_fault=event.is_fault,
            )
        ), []
    # Posted or failed for good: this destination's held-up signs end with it.
    settled = replace(
        status,
        in_flight=max(0, status.in_flight - 1),
        problem="",
        is_rate_limited=False,
        is_out_of_credits=False,
        is_fault=False,
    )
    if event.outcome == PostStatus.POSTED:
        confirmation = event.confirmation or event.entry_id
        posts = state.last_posts if confirmation == state.last_confirmation else ()
        posted = replace(
            state.with_status(replace(settled, needs_user="")),
            last_post_id=event.post_id,
            last_posted_at=now,
            last_confirmation=confirmation,
            last_posts=(*posts, (event.destination, event.post_id)),
            flash=Pattern.POSTED,
            flash_until=now + settings.posted_flash_seconds,
        )
        return posted, []
    needs_user = event.detail if event.needs_user else status.needs_user
    return replace(
        state.with_status(replace(settled, needs_user=needs_user)),
        last_queued_text="",  # it failed: confirming the same text again should try again
    ), []


def _on_settled(state: State, event: PostsSettled) -> tuple[State, list[Effect]]:
    """Nothing of the destination is left to send (the user dropped what waited): the
    signs of its waiting rows (out of credits, rate limited, held up) end now."""
    status = state.status_of(event.destination)
    cleared = replace(
        status,
        in_flight=0,
        problem="",
        is_rate_limited=False,
        is_out_of_credits=False,
        is_fault=False,
    )
    return state.with_status(cleared), []


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
