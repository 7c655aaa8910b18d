"""`appliance selftest` on gpiozero's mock pins, the test's finger on the button."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from appliance.cli.selftest import run_selftest
from appliance.core import Pattern
from appliance.devices.leds import Layout
from appliance.service.config import settings_from_dict

BUTTON = 17
HOLD_SECONDS, LONG_HOLD_SECONDS = 0.2, 0.6
TIMEOUT_SECONDS = 10.0


@pytest.fixture
def factory():
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


def settings(layout="separate"):
    return settings_from_dict(
        {
            "gpio": {
                "layout": layout,
                "button_pin": BUTTON,
                "hold_seconds": HOLD_SECONDS,
                "long_hold_seconds": LONG_HOLD_SECONDS,
            }
        }
    )


class Finger:
    """Reads the self-test's prompts and presses the (mock) button as asked."""

    def __init__(self, factory, gestures):
        self.lines: list[str] = []
        self._factory = factory
        self._gestures = list(gestures)  # seconds to hold, one per prompt

    def out(self, line: str) -> None:
        self.lines.append(line)
        if "Waiting up to" in line and self._gestures:
            seconds = self._gestures.pop(0)
            threading.Thread(target=self._press, args=(seconds,), daemon=True).start()

    def _press(self, seconds: float) -> None:
        time.sleep(0.05)  # the test's finger, not a clock the code relies on
        pin = self._factory.pin(BUTTON)
        pin.drive_low()
        time.sleep(seconds)
        pin.drive_high()


def selftest(factory, finger, layout="separate"):
    return run_selftest(
        settings(layout),
        pin_factory=factory,
        out=finger.out,
        pattern_seconds=0.01,
        gesture_wait_seconds=TIMEOUT_SECONDS,
    )


@pytest.mark.parametrize("layout", [layout.value for layout in Layout])
def test_press_then_hold_passes_and_every_pattern_was_announced(factory, layout):
    finger = Finger(factory, [0.05, (HOLD_SECONDS + LONG_HOLD_SECONDS) / 2])
    assert selftest(factory, finger, layout) == 0, finger.lines
    text = "\n".join(finger.lines)
    for pattern in Pattern:
        assert f"{pattern.name}: expect" in text
    assert "OK: press seen." in text and "OK: hold seen." in text
    assert text.endswith("PASS: LEDs shown, button works.")


def test_a_hold_instead_of_a_press_fails(factory):
    finger = Finger(factory, [(HOLD_SECONDS + LONG_HOLD_SECONDS) / 2])
    assert selftest(factory, finger) == 1
    assert "FAIL: expected a press, saw a hold." in finger.lines


def test_no_press_at_all_fails_after_the_wait(factory):
    finger = Finger(factory, [])
    result = run_selftest(
        settings(),
        pin_factory=factory,
        out=finger.out,
        pattern_seconds=0.0,
        gesture_wait_seconds=0.2,
    )
    assert result == 1
    assert any(line.startswith("FAIL: no press seen") for line in finger.lines)


def test_pins_in_use_are_reported_with_the_likely_cause(factory):
    held = factory.pin(BUTTON)
    from gpiozero import Button

    with Button(BUTTON, pin_factory=factory):
        finger = Finger(factory, [])
        assert selftest(factory, finger) == 1
    assert held is factory.pin(BUTTON)
    assert any("Is the daemon running?" in line for line in finger.lines)
