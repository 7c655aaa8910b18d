"""The pure decision core: events, state and step, posting decisions, views; no I/O."""

from appliance.core.machine import step
from appliance.core.pattern import Pattern
from appliance.core.state import Candidate, CoreSettings, LinkState, State
from appliance.core.views import led_pattern, next_tick_at, status_line

__all__ = [
    "Candidate",
    "CoreSettings",
    "LinkState",
    "Pattern",
    "State",
    "led_pattern",
    "next_tick_at",
    "status_line",
    "step",
]
