"""The loops' waits: blocking, ended by stop or a wake-up, beating while they wait."""

from __future__ import annotations

import threading

from appliance import loops


class FakeClock:
    """Time that moves only when the stop Event's wait is asked to wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ClockedStop(threading.Event):
    """A stop Event whose timed waits advance a fake clock instead of real time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout=None):  # noqa: ANN001 - threading.Event's signature
        self.waits.append(timeout)
        self.clock.now += timeout
        return self.is_set()


def test_a_wait_lasts_its_seconds_and_beats_at_least_every_heartbeat():
    clock = FakeClock()
    stop = ClockedStop(clock)
    beats = []
    assert loops.wait(stop, 3.5, clock, beat=lambda: beats.append(clock.now)) is False
    assert clock.now == 3.5
    assert max(stop.waits) <= loops.HEARTBEAT_SECONDS
    assert beats[0] == 0.0 and len(beats) >= 4


def test_a_wait_ends_at_once_when_stopping():
    stop = threading.Event()
    stop.set()
    assert loops.wait(stop, 3600.0, FakeClock()) is True


def test_a_wakeup_is_ended_by_stop_and_by_wake():
    stop = threading.Event()
    wakeup = loops.Wakeup()
    stopped = []
    wakeup.stop_with(stop, "test", also=lambda: stopped.append(True))
    wakeup.wake()
    woke = threading.Thread(target=wakeup.wait, args=(60.0,))
    woke.start()
    woke.join(5)
    assert not woke.is_alive()  # the earlier wake() ended it
    waiter = threading.Thread(target=wakeup.wait, args=(60.0,))
    waiter.start()
    stop.set()
    waiter.join(5)
    assert not waiter.is_alive() and stopped == [True]
