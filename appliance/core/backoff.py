"""Capped exponential backoff with full jitter, as a pure function."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_seconds(
    failures: int,
    *,
    first_seconds: float = 1.0,
    cap_seconds: float = 60.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Delay before retry number `failures` (1-based): uniform in [0, min(cap, first * 2**(n-1))].

    Full jitter keeps many devices that lost the same Wi-Fi from retrying in step.
    """
    ceiling = min(cap_seconds, first_seconds * 2 ** max(0, min(failures - 1, 30)))
    return uniform(0.0, ceiling)
