"""The core's posting decisions: grace period, cancel, "delete that", duplicates, length.

Pure functions over the core's State (appliance.core.machine calls them from `step`).
"""

from __future__ import annotations

from dataclasses import replace

from appliance.core import x_links
from appliance.core.events import DeletePost, DeleteResult, Effect, Log, QueuePost
from appliance.core.pattern import Pattern
from appliance.core.post_text import OverLength, prepare
from appliance.core.state import CoreSettings, Pending, State


def start_post(
    state: State, text: str, source: str, now: float, settings: CoreSettings
) -> tuple[State, list[Effect]]:
    """A confirmation: check the text, then hold it for the grace period or queue it."""
    prepared = prepare(text, settings.over_length)
    if prepared.refused:
        refused = replace(
            state, flash=Pattern.REFUSED, flash_until=now + settings.refused_flash_seconds
        )
        if prepared.empty:  # e.g. only zero-width characters: no length advice applies
            return refused, [Log("refused", f"Not posting ({source}): {prepared.refused}.")]
        message = (
            f"Not posting “{text}”: {prepared.refused}. Say it shorter, or set "
            f'[x] over_length = "{OverLength.SHORTEN}".'
        )
        return refused, [Log("refused_length", message, "warning")]
    text = prepared.text
    pending = state.pending
    if text == state.last_queued_text or (pending is not None and pending.text == text):
        message = f"“{text}” was just confirmed; posting it once ({source})."
        return state, [Log("duplicate", message)]
    effects: list[Effect] = [Log("confirmed", f"Confirmed by {source}: “{text}”")]
    if prepared.shortened:
        weight = prepared.weighted_length
        effects.append(Log("shortened", f"Shortened to {weight} characters (X's count) to fit."))
    is_linked = x_links.has_link(text)
    if is_linked:
        effects.append(Log("link_cost", x_links.link_cost_note()))
    if pending is not None:  # a new confirmation ends the old one's grace period
        state, released = release(state)
        effects = released + effects
    if settings.grace_seconds <= 0:
        state, released = release(replace(state, pending=Pending(text, source, now, is_linked)))
        return state, effects + released
    grace = settings.grace_seconds
    effects.append(
        Log("grace", f"Posting in {grace:g} s: press the button again or say “cancel” to stop it.")
    )
    return replace(state, pending=Pending(text, source, now + grace, is_linked)), effects


def release(state: State) -> tuple[State, list[Effect]]:
    """The pending text goes to the outbox."""
    pending = state.pending
    assert pending is not None
    queued = replace(
        state,
        pending=None,
        last_queued_text=pending.text,
        posts_in_flight=state.posts_in_flight + 1,
    )
    return queued, [QueuePost(pending.text, pending.confirmed_by)]


def cancel_pending(state: State, source: str) -> tuple[State, list[Effect]]:
    pending = state.pending
    assert pending is not None
    return replace(state, pending=None), [
        Log("cancelled", f"Cancelled ({source}): “{pending.text}” will not be posted.")
    ]


def delete(state: State, now: float, settings: CoreSettings) -> tuple[State, list[Effect]]:
    if state.pending is not None:  # not on X yet: stopping it is the undo
        return cancel_pending(state, "voice")
    posted_at = state.last_posted_at
    if state.last_post_id and posted_at is not None:
        if now - posted_at <= settings.delete_window_seconds:
            post_id = state.last_post_id
            message = f"Deleting post {post_id} from X."
            return replace(state, last_post_id="", last_posted_at=None), [
                Log("delete_requested", message, fields=(("POST_ID", post_id),)),
                DeletePost(post_id),
            ]
    why = f"no post in the last {settings.delete_window_seconds:.0f} s"
    if state.posts_in_flight:
        why = "the post is still being sent (`appliance outbox drop ID` stops it)"
    refused = replace(
        state, flash=Pattern.REFUSED, flash_until=now + settings.refused_flash_seconds
    )
    return refused, [Log("refused", f"Nothing to delete: {why}.")]


def on_delete_result(
    state: State, event: DeleteResult, now: float, settings: CoreSettings
) -> tuple[State, list[Effect]]:
    fields = (("POST_ID", event.post_id),)
    if event.is_deleted:
        return state, [Log("deleted", f"Deleted post {event.post_id} from X.", fields=fields)]
    refused = replace(
        state, flash=Pattern.REFUSED, flash_until=now + settings.refused_flash_seconds
    )
    message = f"Could not delete post {event.post_id}: {event.detail}"
    return refused, [Log("delete_failed", message, "warning", fields)]
