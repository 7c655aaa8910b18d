"""What `appliance demo` prints: the daemon's own journal lines, its LEDs, the stand-ins' view."""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any, TextIO

from appliance.core import Pattern
from appliance.devices.leds import describe

# The events a person at the desk notices; the rest stays in the journal.
_SHOWN_EVENTS = {
    "candidate": "heard",
    "confirmed": "confirmed",
    "queued": "outbox",
    "refused": "refused",
    "discarded": "discarded",
    "expired": "expired",
    "grace": "grace",
    "cancelled": "cancelled",
    "posted": "posted",
    "post_retrying": "post trouble",
    "x_out_of_credits": "X credits",
    "link_cost": "X price",
    "post_failed": "post failed",
    "link_down": "speech link",
    "session_opened": "speech",
    "session_closed": "speech",
    "deleted": "deleted",
}
_COLOURS = {"green": "32", "amber": "33", "red": "31", "blue": "34"}


class DemoView(logging.Handler):
    """Prints the demo's timeline; reads LED levels from the (mock) pins."""

    def __init__(self, out: TextIO = sys.stdout, colour: bool | None = None) -> None:
        super().__init__(logging.INFO)
        self.out = out
        self.colour = out.isatty() if colour is None else colour
        self.started_at = time.monotonic()
        self._lock = threading.Lock()

    def say(self, kind: str, text: str) -> None:
        """One timeline line: seconds since start, a label, the text."""
        with self._lock:
            elapsed = time.monotonic() - self.started_at
            label = self._paint(f"{kind:>12}", "1") if kind else " " * 12
            self.out.write(f"{elapsed:6.1f}s {label}  {text}\n")
            self.out.flush()

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "APPLIANCE_EVENT", "")
        if (
            event in _SHOWN_EVENTS
            and record.name.startswith("appliance.")
            and (not record.name.startswith("appliance.tryout.standins"))
        ):
            self.say(_SHOWN_EVENTS[event], record.getMessage())

    def leds(self, levels: dict[str, float], pattern: Pattern | None) -> None:
        dots = " ".join(self._dot(name, level) for name, level in levels.items())
        name = pattern.value.replace("_", " ") if pattern else "off"
        meaning = describe(pattern) if pattern else ""
        self.say("LEDs", f"{dots}  {name}: {meaning}")

    def _dot(self, name: str, level: float) -> str:
        if level <= 0.05:
            return self._paint("○", "2") if self.colour else f"{name}:off"
        return self._paint("●", _COLOURS.get(name, "37")) if self.colour else f"{name}:ON"

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text


class Poller:
    """Calls `poll(stop)` every 50 ms on a thread of its own until stopped."""

    def __init__(self, name: str, poll: Any) -> None:
        self._poll = poll
        self.stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Poller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(2)

    def _run(self) -> None:
        while not self.stopping.wait(0.05):
            self._poll(self.stopping)


def watch_leds(view: DemoView, pins: dict[str, Any], panel: Any) -> Poller:
    """Report each new pattern with the LEDs' look at that moment."""
    shown: list[Pattern | None] = [None]

    def poll(stop: threading.Event) -> None:
        if panel.shown is not shown[0]:
            shown[0] = panel.shown
            view.leds(_brightest(pins, stop), shown[0])

    return Poller("demo-leds", poll).start()


def _brightest(pins: dict[str, Any], stop: threading.Event) -> dict[str, float]:
    """Each LED's brightest level over half a second: a pulse or blink counts as lit."""
    levels = dict.fromkeys(pins, 0.0)
    for _ in range(10):
        for name, pin in pins.items():
            levels[name] = max(levels[name], float(pin.state))
        if stop.wait(0.05):
            break
    return levels


def watch_changes(name: str, read: Any, show: Any) -> Poller:
    """Call show(value, previous) whenever read() returns something new."""
    last: list[Any] = [None]

    def poll(_stop: threading.Event) -> None:
        value = read()
        if value != last[0]:
            show(value, last[0])
            last[0] = value

    return Poller(name, poll).start()
