"""`appliance selftest`: shows every LED pattern and waits for a press and a hold of the button."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from appliance.cli.exits import EX_FAIL, EX_OK
from appliance.core import Pattern
from appliance.devices.leds import describe, expectation
from appliance.devices.panel import Panel, PanelError, led_pins_for, make_pin_factory
from appliance.service.config import Settings

PATTERN_SECONDS = 3.0  # long enough to see two cycles of the slowest blink
GESTURE_WAIT_SECONDS = 30.0


def run_selftest(
    settings: Settings,
    *,
    pin_factory: Any = None,
    out: Callable[[str], None] = print,
    pattern_seconds: float = PATTERN_SECONDS,
    gesture_wait_seconds: float = GESTURE_WAIT_SECONDS,
    stop: threading.Event | None = None,
) -> int:
    """Walk through the patterns and the gestures; 0 when both gestures arrived, else 1.

    The daemon must be stopped first: it holds the same pins.
    """
    gpio = settings.gpio
    stop = stop or threading.Event()
    seen = _Gestures()
    try:
        factory = pin_factory or make_pin_factory(gpio.pin_factory)
        panel = Panel(
            pin_factory=factory,
            button_pin=gpio.button_pin,
            layout=gpio.layout,
            led_pins=led_pins_for(gpio),
            active_high=gpio.active_high,
            brightness=gpio.brightness,
            hold_seconds=gpio.hold_seconds,
            long_hold_seconds=gpio.long_hold_seconds,
            on_press=lambda: seen.note("press"),
            on_hold=lambda: seen.note("hold"),
            on_long_hold=lambda: seen.note("long hold"),
            mute_switch_pin=gpio.mute_switch_pin or None,
        )
    except (PanelError, ValueError) as error:
        out(f"FAIL: {error}")
        out("Is the daemon running? It holds the pins: `systemctl stop appliance` first.")
        return EX_FAIL
    with panel:
        pins = ", ".join(f"{name} GPIO{pin}" for name, pin in led_pins_for(gpio).items())
        out(f"LED layout {gpio.layout.value!r} ({pins}); button GPIO{gpio.button_pin}.")
        patterns = list(Pattern)
        for number, pattern in enumerate(patterns, 1):
            look = expectation(pattern, gpio.layout)
            out(f"[{number}/{len(patterns)}] {pattern.name}: expect {look}")
            out(f"        ({describe(pattern)})")
            panel.show(pattern)
            if stop.wait(pattern_seconds):
                return EX_FAIL
        passed = _gesture(
            panel,
            seen,
            "press",
            f"Press the button briefly (under {gpio.hold_seconds:g} s).",
            out,
            gesture_wait_seconds,
            stop,
        )
        passed = passed and _gesture(
            panel,
            seen,
            "hold",
            f"Hold the button for {gpio.hold_seconds:g} s (under {gpio.long_hold_seconds:g} s), "
            "then let go.",
            out,
            gesture_wait_seconds,
            stop,
        )
        switch = panel.mute_switch_is_on
        if switch is not None:
            position = "closed (muted)" if switch else "open"
            out(f"Mute switch GPIO{gpio.mute_switch_pin}: {position}.")
        panel.show(Pattern.POSTED if passed else Pattern.ERROR)
        out("PASS: LEDs shown, button works." if passed else "FAIL: see above.")
        stop.wait(min(pattern_seconds, 2.0))
    return EX_OK if passed else EX_FAIL


class _Gestures:
    """The gestures reported since the last `clear`, in order (set on gpiozero's threads)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.happened = threading.Event()

    def note(self, name: str) -> None:
        self.names.append(name)
        self.happened.set()

    def clear(self) -> None:
        self.names.clear()
        self.happened.clear()


def _gesture(
    panel: Panel,
    seen: _Gestures,
    wanted: str,
    prompt: str,
    out: Callable[[str], None],
    wait_seconds: float,
    stop: threading.Event,
) -> bool:
    seen.clear()
    panel.show(Pattern.CANDIDATE)  # "waiting for you"
    out(f"{prompt} Waiting up to {wait_seconds:g} s…")
    if not seen.happened.wait(wait_seconds) or stop.is_set():
        out(f"FAIL: no {wanted} seen. Check the button's wiring (pin to ground) and button_pin.")
        return False
    if seen.names[0] != wanted:
        out(f"FAIL: expected a {wanted}, saw a {seen.names[0]}.")
        return False
    out(f"OK: {wanted} seen.")
    return True
