"""What the control commands mean to the core, and the replies built from its state (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from appliance import core
from appliance.core.events import ButtonPressed, DiscardRequested, Event, Log, MuteChanged

# Each command is the same event a button gesture or the mute switch would send,
# so the socket can do nothing the panel cannot.
_EVENTS: dict[str, Event] = {
    "confirm": ButtonPressed("control"),
    "cancel": DiscardRequested("control"),
    "mute": MuteChanged(True, "control"),
    "unmute": MuteChanged(False, "control"),
}


def event_for(command: str) -> Event | None:
    """The event `command` stands for; None for "status", which changes nothing."""
    return _EVENTS.get(command)


def outcome_reply(
    effects: Iterable[object], state: core.State, now: float, settings: core.CoreSettings
) -> dict[str, Any]:
    """The reply to a command: ok unless the core refused it, with its journal lines."""
    logs = [effect for effect in effects if isinstance(effect, Log)]
    return {
        "ok": not any(effect.event == "refused" for effect in logs),
        "message": " ".join(effect.message for effect in logs),
        "status": core.status_line(state, now, settings),
    }


def status_reply(
    state: core.State,
    now: float,
    settings: core.CoreSettings,
    outbox_counts: Mapping[str, int],
) -> dict[str, Any]:
    """Everything `appliance status` shows, as JSON-ready values."""
    candidate = None
    if state.candidate is not None:
        left = settings.candidate_window_seconds - (now - state.candidate.heard_at)
        candidate = {"text": state.candidate.text, "seconds_left": round(max(0.0, left), 1)}
    return {
        "ok": True,
        "status": core.status_line(state, now, settings),
        "led": core.led_pattern(state, now, settings).value,
        "is_muted": state.is_muted,
        "candidate": candidate,
        "link": {
            "state": state.link,
            "detail": state.link_detail,
            "session_id": state.session_id,
        },
        "microphone": {"is_ok": state.microphone_ok, "detail": state.microphone_detail},
        "outbox": dict(sorted(outbox_counts.items())),
        "posts_in_flight": state.posts_in_flight,
        "last_post_id": state.last_post_id,
        "destinations": [
            {
                "destination": str(status.destination),
                "in_flight": status.in_flight,
                "problem": status.problem,
                "needs_user": status.needs_user,
                "is_rate_limited": status.is_rate_limited,
                "is_out_of_credits": status.is_out_of_credits,
                "is_fault": status.is_fault,
            }
            for status in state.destinations
        ],
    }
