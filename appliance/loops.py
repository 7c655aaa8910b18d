"""The one shape of a thread loop: rounds of work, blocking waits between them, until stop."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# A loop in a long backoff wait still shows it is alive this often: the daemon's stuck
# check (its STUCK_AFTER_SECONDS) reads the time of its last beat.
HEARTBEAT_SECONDS = 1.0


def run_loop(
    stop: threading.Event,
    step: Callable[[], float | None],
    wakeup: Wakeup,
    name: str,
    *,
    watch_stop: bool = True,
) -> None:
    """Run rounds of `step()` until `stop` is set: the one loop every thread here runs.

    `step` does one round of work and returns the seconds until the next round is due:
    0 goes again at once (a round that blocks by itself, on a device read or accept()),
    None waits until woken. In between the thread blocks on `wakeup`, which wake() and
    `stop` end early: no thread sleeps and polls. watch_stop=False saves the watcher
    when whoever sets `stop` wakes `wakeup` too (a part closing its own loop).
    """
    if watch_stop:
        wakeup.stop_with(stop, name)
    while not stop.is_set():
        seconds = step()
        if stop.is_set():
            return
        if seconds is None or seconds > 0:
            wakeup.wait(seconds)


def wait(
    stop: threading.Event,
    seconds: float,
    clock: Callable[[], float],
    beat: Callable[[], None] | None = None,
) -> bool:
    """Block for `seconds` of `clock` or until `stop` is set; True if stopping.

    For a backoff that nothing but stop may cut short. With `beat`, it is called
    first and then at least every HEARTBEAT_SECONDS.
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


# Every Event someone waits to see set, with what to call then: one watcher thread per
# Event, however many loops share it (the daemon's stop is shared by all of them).
_watched: dict[int, tuple[threading.Event, list[Callable[[], Any]]]] = {}
_watched_lock = threading.Lock()


def when_set(event: threading.Event, callback: Callable[[], Any]) -> None:
    """Call `callback` once `event` is set (now, if it is); a callback already waiting is
    not added twice (a restarted loop registers again)."""
    with _watched_lock:
        if not event.is_set():
            entry = _watched.get(id(event))
            if entry is None:
                entry = (event, [])
                _watched[id(event)] = entry
                threading.Thread(
                    target=_watch, args=(event,), name="stop-watcher", daemon=True
                ).start()
            if callback not in entry[1]:
                entry[1].append(callback)
            return
    callback()


def _watch(event: threading.Event) -> None:
    event.wait()
    with _watched_lock:
        _, callbacks = _watched.pop(id(event))
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: BLE001 - the other loops must still hear of the stop
            log.exception("A stop callback failed")


class Wakeup:
    """What a loop blocks on between rounds: a wake() from another thread, its stop, or
    the round coming due."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._watched: threading.Event | None = None
        # True while blocked here: a thread waiting for work is idle, not stuck.
        self.is_waiting = False

    def stop_with(
        self, stop: threading.Event, name: str = "", also: Callable[[], None] | None = None
    ) -> None:
        """From now on `stop` wakes the loop too (and then calls `also`, if given)."""
        if stop is self._watched:
            return  # a restarted loop: still registered
        self._watched = stop
        when_set(stop, self.wake)
        if also is not None:
            when_set(stop, also)

    def wake(self) -> None:
        self._event.set()

    def wait(self, seconds: float | None) -> None:
        """Block until woken, stopped or `seconds` passed (None: until woken or stopped)."""
        self.is_waiting = True
        try:
            self._event.wait(None if seconds is None else max(0.0, seconds))
        finally:
            self.is_waiting = False
        self._event.clear()


class Inbox(Wakeup):
    """A Wakeup that carries items: put() from any thread, the loop takes them in order."""

    def __init__(self) -> None:
        super().__init__()
        self._items: collections.deque[object] = collections.deque()

    def put(self, item: object) -> None:
        self._items.append(item)
        self.wake()

    def take(self) -> object | None:
        """The oldest item, or None when there is none."""
        try:
            return self._items.popleft()
        except IndexError:
            return None
