"""The pure decision core: events, state and step, posting decisions, views; no I/O."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from appliance.core.machine import step
    from appliance.core.pattern import Pattern
    from appliance.core.state import Candidate, CoreSettings, LinkState, State
    from appliance.core.views import led_pattern, next_tick_at, status_line

# Each name's module, imported on first use (PEP 562): a command that needs one
# constant of the core, such as `appliance status` reading the configuration, then
# does not load the whole state machine (issue 13).
_HOMES = {
    "Candidate": "state",
    "CoreSettings": "state",
    "LinkState": "state",
    "Pattern": "pattern",
    "State": "state",
    "led_pattern": "views",
    "next_tick_at": "views",
    "status_line": "views",
    "step": "machine",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # once found, a plain attribute
    return value
