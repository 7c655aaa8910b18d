"""The core's posting decisions: grace period, cancel, "delete that", duplicates, length.

Pure functions over the core's State (appliance.core.machine calls them from `step`).
"""

from __future__ import annotations

from dataclasses import replace

from appliance.core import lengths, x_links
from appliance.core.destinations import Destination, OverLength
from appliance.core.events import DeletePost, DeleteResult, Effect, Log, QueuePost
from appliance.core.pattern import Pattern
from appliance.core.post_text import prepare_everywhere
from appliance.core.state import CoreSettings, Pending, State


def start_post(
    state: State, text: str, source: str, now: float, settings: CoreSettings
) -> tuple[State, list[Effect]]:
    """A confirmation: check the text, then hold it for the grace period or queue it."""
    destinations = settings.destinations
    prepared = prepare_everywhere(text, settings.over_length, destinations, settings.max_lengths)
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
    for destination, length in prepared.shortened:
        if destination == Destination.X:
            message = f"Shortened to {length} characters (X's count) to fit."
        else:
            unit = lengths.RULES[destination].unit
            message = f"Shortened for {destination.label} to {length} {unit} to fit."
        effects.append(Log("shortened", message, fields=(("DESTINATION", destination),)))
    is_linked = Destination.X in destinations and x_links.has_link(text)
    if is_linked:
        effects.append(Log("link_cost", x_links.link_cost_note()))
    if pending is not None:  # a new confirmation ends the old one's grace period
        state, released = release(state)
        effects = released + effects
    post_at = now + max(0.0, settings.grace_seconds)
    new = Pending(text, source, post_at, is_linked, prepared.texts)
    if settings.grace_seconds <= 0:
        state, released = release(replace(state, pending=new))
        return state, effects + released
    grace = settings.grace_seconds
    effects.append(
        Log("grace", f"Posting in {grace:g} s: press the button again or say “cancel” to stop it.")
    )
    return replace(state, pending=new), effects


def release(state: State) -> tuple[State, list[Effect]]:
    """The pending text goes to the outbox, one row per destination."""
    pending = state.pending
    assert pending is not None
    queued = replace(state, pending=None, last_queued_text=pending.text)
    texts = pending.texts or ((Destination.X, pending.text),)
    for destination, _ in texts:
        status = queued.status_of(destination)
        queued = queued.with_status(replace(status, in_flight=status.in_flight + 1))
    return queued, [QueuePost(pending.text, pending.confirmed_by, texts)]


def cancel_pending(state: State, source: str) -> tuple[State, list[Effect]]:
    pending = state.pending
    assert pending is not None
    return replace(state, pending=None), [
        Log("cancelled", f"Cancelled ({source}): “{pending.text}” will not be posted.")
    ]


def delete(state: State, now: float, settings: CoreSettings) -> tuple[State, list[Effect]]:
    if state.pending is not None:  # not posted yet: stopping it is the undo
        return cancel_pending(state, "voice")
    posted_at = state.last_posted_at
    why = f"no post in the last {settings.delete_window_seconds:.0f} s"
    known = [(d, post_id) for d, post_id in state.last_posts if post_id]
    if state.last_confirmation and posted_at is not None and not known:
        # Posted, but its answer was lost and the look-up found nothing.
        where = ", ".join(d.label for d, _ in state.last_posts)
        why = f"the post's id is unknown: delete it on {where}"
    elif state.last_confirmation and posted_at is not None:
        if now - posted_at <= settings.delete_window_seconds:
            posts = ", ".join(f"post {post_id} from {d.label}" for d, post_id in known)
            fields = tuple(("POST_ID", post_id) for _, post_id in known[:1])
            unsent = [d for d in settings.destinations if d not in dict(state.last_posts)]
            message = f"Deleting {posts}"
            if unsent:
                message += f"; not sending it to {', '.join(d.label for d in unsent)}"
            effects: list[Effect] = [
                Log("delete_requested", message + ".", fields=fields),
                DeletePost(state.last_confirmation),
            ]
            cleared = replace(state, last_post_id="", last_posted_at=None, last_confirmation=0)
            return replace(cleared, last_posts=()), effects
    if state.posts_in_flight:
        why = "the post is still being sent (`appliance outbox drop ID` stops it)"
    refused = replace(
        state, flash=Pattern.REFUSED, flash_until=now + settings.refused_flash_seconds
    )
    return refused, [Log("refused", f"Nothing to delete: {why}.")]


def on_delete_result(
    state: State, event: DeleteResult, now: float, settings: CoreSettings
) -> tuple[State, list[Effect]]:
    fields = (("POST_ID", event.post_id), ("DESTINATION", str(event.destination)))
    label = event.destination.label
    if event.is_deleted:
        return state, [Log("deleted", f"Deleted post {event.post_id} from {label}.", fields=fields)]
    refused = replace(
        state, flash=Pattern.REFUSED, flash_until=now + settings.refused_flash_seconds
    )
    message = f"Could not delete post {event.post_id} from {label}: {event.detail}"
    return refused, [Log("delete_failed", message, "warning", fields)]
