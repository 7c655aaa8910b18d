"""The one clock: monotonic seconds for durations and deadlines, wall seconds for timestamps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """Both readings a part may need; the daemon passes one Clock's readings to every part.

    `monotonic` never jumps (durations, retries, the watchdog); `wall` is Unix seconds,
    only for what is kept on disk or compared with another machine's time (X's
    reset headers, the outbox's timestamps).
    """

    monotonic: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
