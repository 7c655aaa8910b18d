"""Boundary threads that are restarted, with backoff, when they die: none lingers dead."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from appliance import loops
from appliance.core.backoff import backoff_seconds

log = logging.getLogger(__name__)

# A thread that ran this long before dying was healthy: restart it after the
# shortest wait again rather than after the last, long one.
HEALTHY_AFTER_SECONDS = 60.0


class Supervised:
    """Runs `target(stop)` in a thread until `stop` is set; restarts it if it raises or returns.

    `last_progress_at` moves while the thread is being restarted, so the daemon's
    watchdog tells a thread that died (and is being taken care of here) from one that
    hangs (which only a restart of the whole process can cure).
    """

    def __init__(
        self,
        name: str,
        target: Callable[[threading.Event], None],
        stop: threading.Event,
        *,
        clock: Callable[[], float] = time.monotonic,
        restart_first_seconds: float = 1.0,
        restart_max_seconds: float = 30.0,
    ) -> None:
        self.name = name
        self._target = target
        self._stop = stop
        self._clock = clock
        self._first_seconds = restart_first_seconds
        self._max_seconds = restart_max_seconds
        self.deaths = 0
        self.last_problem = ""
        self.last_progress_at = clock()
        # A daemon thread: one stuck in a device or network call that no timeout reaches
        # must not keep the process alive after SIGTERM (the daemon joins each with a
        # timeout first). What it was doing is safe to cut: the outbox is crash-safe.
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_seconds: float) -> None:
        if self._thread.ident is not None:  # never started: start-up failed before it
            self._thread.join(timeout_seconds)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        failures_in_a_row = 0
        while not self._stop.is_set():
            started_at = self._clock()
            self.last_progress_at = started_at
            problem = self._run_once()
            if problem is None:
                return  # asked to stop
            if self._clock() - started_at >= HEALTHY_AFTER_SECONDS:
                failures_in_a_row = 0
                self.last_problem = ""  # a problem that comes back later is logged again
            failures_in_a_row += 1
            delay = backoff_seconds(
                failures_in_a_row,
                first_seconds=self._first_seconds,
                cap_seconds=self._max_seconds,
                uniform=_upper_half,
            )
            # Once per distinct problem: a thread dying every 30 s for a day (a disk
            # that stays full) must not flood the journal.
            if problem != self.last_problem:
                log.error(
                    "The %s thread stopped (%s); restarting it in %.0f s",
                    self.name,
                    problem,
                    delay,
                    extra={"APPLIANCE_EVENT": "thread_restarted", "THREAD": self.name},
                )
            self.last_problem = problem
            # Counted last: whoever sees the death also sees what it was.
            self.deaths += 1
            self._wait(delay)

    def _run_once(self) -> str | None:
        """Run the target once; None if it returned because of stop, else what went wrong."""
        try:
            self._target(self._stop)
        except Exception as error:  # noqa: BLE001 - any death must end in a restart
            log.debug("The %s thread failed", self.name, exc_info=True)
            return f"{type(error).__name__}: {error}"
        if self._stop.is_set():
            return None
        return "it returned without being asked to stop"

    def _wait(self, seconds: float) -> None:
        loops.wait(self._stop, seconds, self._clock, beat=self._beat)

    def _beat(self) -> None:
        self.last_progress_at = self._clock()  # waiting, not stuck: the watchdog sees it


def _upper_half(low: float, high: float) -> float:
    """Jitter, but never a near-zero wait that would spin on a thread dying at once."""
    return random.uniform((low + high) / 2, high)
