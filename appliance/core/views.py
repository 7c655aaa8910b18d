"""What the state looks like from outside: the LED pattern and the status sentence."""

from __future__ import annotations

import math

from appliance.core.events import LinkCause
from appliance.core.pattern import Pattern
from appliance.core.state import CoreSettings, LinkState, State
from appliance.core.x_links import LINK_POST_PRICE_USD

# The grace light blinks faster in the last second before the post goes out.
GRACE_ENDING_SECONDS = 1.0


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
    statuses = state.destinations
    if any(s.needs_user for s in statuses) or state.link_cause is LinkCause.KEY_REFUSED:
        return Pattern.NOT_AUTHORISED
    if state.link_cause is LinkCause.NO_BALANCE:
        return Pattern.SPEECH_NO_BALANCE
    if state.microphone_ok is False:
        return Pattern.NO_MICROPHONE
    if any(s.is_out_of_credits for s in statuses):  # also for posts kept from before a restart
        return Pattern.OUT_OF_CREDITS
    if any(s.is_fault for s in statuses):  # posts wait on something no answer explains
        return Pattern.ERROR
    if state.posts_in_flight:
        is_limited = any(s.is_rate_limited and s.in_flight for s in statuses)
        return Pattern.RATE_LIMITED if is_limited else Pattern.POSTING
    if state.candidate is not None:
        left = settings.candidate_window_seconds - (now - state.candidate.heard_at)
        if left <= settings.candidate_ending_seconds:
            return Pattern.CANDIDATE_ENDING
        return Pattern.CANDIDATE
    if state.link_cause is LinkCause.TOO_MANY_SESSIONS and state.link != LinkState.UP:
        return Pattern.SPEECH_SESSION_LIMIT
    if state.link == LinkState.CONNECTING:
        return Pattern.CONNECTING
    if state.link == LinkState.DOWN:
        return Pattern.RECONNECTING
    if state.partial:
        return Pattern.HEARING
    return Pattern.LISTENING


def next_tick_at(
    state: State, now: float, tick_seconds: float, settings: CoreSettings = CoreSettings()
) -> float | None:
    """When time alone may next change the state, the LED pattern or the status line, so
    a Tick is due; None: nothing changes until another event comes.

    A countdown (a candidate's window, a grace period, a reconnect's wait) is shown in
    whole seconds: it is looked at every `tick_seconds` while it runs.
    """
    due = []
    if state.flash is not None:
        due.append(state.flash_until)
    if (
        state.pending is not None
        or state.candidate is not None
        or (state.link_retry_at is not None and state.link_retry_at > now)
    ):
        due.append(now + tick_seconds)
    return min(due) if due else None


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
    notes = destination_notes(state, settings)
    if any(s.needs_user for s in state.destinations):
        return " · ".join(notes)
    if state.link_cause is LinkCause.KEY_REFUSED:
        return f"AssemblyAI refused the key: {state.link_detail}"
    if state.link_cause is LinkCause.NO_BALANCE:
        return f"AssemblyAI account out of balance: {state.link_detail}"
    if state.microphone_ok is False:
        return f"No microphone: {state.microphone_detail}"
    if any(s.is_out_of_credits or s.is_fault for s in state.destinations):
        return " · ".join(notes)
    if state.posts_in_flight:
        return " · ".join(notes) if notes else "Posting…"
    if state.link not in (LinkState.UP, LinkState.IDLE):
        verb = "Connecting" if state.link == LinkState.CONNECTING else "Reconnecting"
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


def destination_notes(state: State, settings: CoreSettings = CoreSettings()) -> list[str]:
    """One sentence per destination with a problem, so that none hides another.

    With X alone they read as they always did; with more, each names its destination."""
    is_several = len(settings.destinations) > 1
    notes = []
    for status in state.destinations:
        label = status.destination.label
        if status.needs_user:
            where = f" to {label}" if is_several else ""
            notes.append(f"Cannot post{where}: {status.needs_user}")
        elif status.is_out_of_credits:
            notes.append(
                "X account out of credits: posts are kept and go out by themselves once "
                "credits are added in the X Developer Console"
            )
        elif status.problem and (state.posts_in_flight or status.is_fault):
            where = f" to {label}" if is_several else ""
            notes.append(f"Posting{where} held up: {status.problem}")
    return notes
