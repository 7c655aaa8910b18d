"""The one shape of a thread loop's waits: block on the stop Event, never sleep and poll."""

from __future__ import annotations

import threading
from collections.abc import Callable

# A loop in a long wait still shows it is alive this often: the daemon's stuck check
# (its STUCK_AFTER_SECONDS) reads the time of its last beat.
HEARTBEAT_SECONDS = 1.0


def wait(
    stop: threading.Event,
    seconds: float,
    clock: Callable[[], float],
    beat: Callable[[], None] | None = None,
) -> bool:
    """Block for `seconds` of `clock` or until `stop` is set; True if stopping.

    With `beat`, it is called first and then at least every HEARTBEAT_SECONDS.
    """
    deadline = clock() + seconds
    while not stop.is_set():
        if beat is not None:
            beat()
        left = deadline - clock()
        if left <= 0:
            return False
        stop.wait(min(HEARTBEAT_SECONDS, left) if beat is not None else left)
    return True


class Wakeup:
    """What a loop blocks on between rounds: a wake() from another thread, or its stop.

    A helper thread blocks on the stop Event and passes it on, so one blocking wait
    sees both (a threading.Event cannot wait for two).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._watched: threading.Event | None = None

    def stop_with(
        self, stop: threading.Event, name: str, also: Callable[[], None] | None = None
    ) -> None:
        """From now on `stop` wakes the loop too (and then calls `also`, if given)."""
        if stop is self._watched:
            return  # a restarted loop: its helper is still waiting
        self._watched = stop

        def pass_on() -> None:
            stop.wait()
            self._event.set()
            if also is not None:
                also()

        threading.Thread(target=pass_on, name=f"{name}-stop", daemon=True).start()

    def wake(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> None:
        """Block until woken, stopped or `seconds` passed."""
        self._event.wait(max(0.0, seconds))
        self._event.clear()
