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


def test_run_loop_waits_what_each_round_asks_and_ends_on_stop():
    stop = threading.Event()
    asked: list[float | None] = []

    class RecordingWakeup(loops.Wakeup):
        def wait(self, seconds):
            asked.append(seconds)

    rounds = iter([0.0, 2.5, None])

    def step():
        seconds = next(rounds)
        if seconds is None:
            stop.set()  # the last round
        return seconds

    loops.run_loop(stop, step, RecordingWakeup(), "test")
    assert asked == [2.5], "0 goes again at once; the round that stopped waits for nothing"


def test_a_loop_waiting_for_a_wake_is_ended_by_stop_and_counts_as_waiting():
    stop = threading.Event()
    wakeup = loops.Wakeup()
    rounds = []

    def step():
        rounds.append(1)
        return None

    thread = threading.Thread(target=loops.run_loop, args=(stop, step, wakeup, "test"))
    thread.start()
    deadline = threading.Event()
    for _ in range(500):
        if wakeup.is_waiting:
            break
        deadline.wait(0.01)
    assert wakeup.is_waiting and rounds == [1]
    wakeup.wake()
    for _ in range(500):
        if len(rounds) == 2 and wakeup.is_waiting:
            break
        deadline.wait(0.01)
    assert len(rounds) == 2
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_every_loop_on_one_stop_shares_one_watcher_thread():
    stop = threading.Event()
    before = threading.active_count()
    wakeups = [loops.Wakeup() for _ in range(5)]
    called = []
    for wakeup in wakeups:
        wakeup.stop_with(stop, "test")
        loops.when_set(stop, lambda: called.append(1))
    again = wakeups[0].wake
    loops.when_set(stop, again)  # already there: not added twice
    assert threading.active_count() == before + 1
    stop.set()
    for wakeup in wakeups:
        assert wakeup._event.wait(5)  # noqa: SLF001 - each was woken
    loops.when_set(stop, lambda: called.append(2))  # after the fact: called at once
    assert called[-1] == 2 and called.count(1) == 5
