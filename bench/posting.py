"""Posting latency: button release → POST at the X stand-in, and "tweet that …" → POST.

The real daemon (sandbox: stand-ins on loopback, mock GPIO), grace period off. The
voice path is timed from the moment the finished, formatted sentence enters the
daemon's event queue (where the speech link puts it) to the POST's arrival; both
clocks are this process's time.time(). Run: .venv/bin/python bench/posting.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.core.events import SentenceFinished  # noqa: E402
from appliance.tryout.sandbox import BUTTON_PIN, PRESS_SECONDS, Sandbox  # noqa: E402
from bench.table import print_table  # noqa: E402

RUNS = 30
TARGET = "p50 < 50 ms"


def _wait(predicate, timeout_seconds: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not get there in time")
        time.sleep(0.005)


def _percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):.0f} ms, p95 {p95:.0f} ms (n={len(ms)})"


def measure(runs: int = RUNS) -> tuple[list[float], list[float]]:
    """Seconds per run: (button release → POST, voice "tweet that" → POST)."""
    box = Sandbox([], settings_overrides={"confirm": {"grace_seconds": 0.0}})
    box.start()
    daemon = box.daemon
    assert daemon is not None
    pin = box.pin_factory.pin(BUTTON_PIN)
    button, voice = [], []
    try:
        for run in range(runs):
            daemon.events.put(SentenceFinished(f"Bench sentence number {run}."))
            _wait(lambda: daemon.state.candidate is not None)
            pin.drive_low()
            time.sleep(PRESS_SECONDS)
            released = time.time()
            pin.drive_high()  # the panel reports a press on release (a hold is not a press)
            if not box.x.wait_for_posts(2 * run + 1, 10):
                raise TimeoutError("no POST after the button")
            button.append(box.x.posts[-1].received_at - released)
            _wait(lambda: daemon.state.posts_in_flight == 0)

            heard = time.time()
            daemon.events.put(SentenceFinished(f"Tweet that voice number {run}."))
            if not box.x.wait_for_posts(2 * run + 2, 10):
                raise TimeoutError("no POST after “tweet that”")
            voice.append(box.x.posts[-1].received_at - heard)
            _wait(lambda: daemon.state.posts_in_flight == 0)
    finally:
        box.stop()
    return button, voice


def rows(runs: int = RUNS) -> list[tuple[str, str, str]]:
    button, voice = measure(runs)
    return [
        ("button release → POST at X stand-in", _percentiles(button), TARGET),
        ("“tweet that …” sentence → POST at X stand-in", _percentiles(voice), TARGET),
    ]


if __name__ == "__main__":
    print_table(rows())
