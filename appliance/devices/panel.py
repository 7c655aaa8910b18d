"""The panel: status LEDs, the one button and an optional mute switch, through gpiozero."""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gpiozero import PWMLED, DigitalInputDevice

from appliance import loops
from appliance.core import Pattern
from appliance.devices.leds import (
    CHANNELS,
    OFF,
    Layout,
    level_at,
    looks_for,
    seconds_until_change,
)
from appliance.devices.pin_factories import PIN_FACTORIES
from appliance.errors import ApplianceError

log = logging.getLogger(__name__)

# Waking a hair after a blink edge, not on it, so the edge has certainly passed.
EDGE_MARGIN_SECONDS = 0.002
JOIN_TIMEOUT_SECONDS = 2.0


def led_pins_for(gpio: Any) -> dict[str, int]:
    """The LED pins of `gpio` (GpioSettings) for its layout, by channel name."""
    if gpio.layout is Layout.RGB:
        return {"red": gpio.rgb_red_pin, "green": gpio.rgb_green_pin, "blue": gpio.rgb_blue_pin}
    return {"green": gpio.green_pin, "amber": gpio.amber_pin, "red": gpio.red_pin}


class PanelError(ApplianceError):
    """The GPIO pins could not be opened (no such backend, pin busy or missing)."""


def make_pin_factory(name: str) -> Any:
    """The gpiozero pin factory called `name`; "" is None, gpiozero's own choice."""
    name = name.strip().lower()
    if not name:
        return None
    if name not in PIN_FACTORIES:
        valid = ", ".join(['""', *PIN_FACTORIES])
        raise ValueError(f"unknown pin factory {name!r}; expected one of {valid}")
    module_name, class_name = PIN_FACTORIES[name]
    try:
        factory_class = getattr(importlib.import_module(module_name), class_name)
        if name == "mock":
            from gpiozero.pins.mock import MockPWMPin

            # PWM pins, because every LED here is dimmed or pulsed.
            return factory_class(pin_class=MockPWMPin)
        return factory_class()
    except Exception as error:  # ImportError, or the backend's own on a non-Pi
        raise PanelError(f"pin factory {name!r} does not load here: {error}") from error


class Panel:
    """Shows one LED `Pattern` at a time and reports button gestures and the mute switch.

    Gestures: each press of the button reports exactly one of them.
    - press: released before `hold_seconds`; reported on release.
    - hold: released between `hold_seconds` and `long_hold_seconds`; reported on
      release, so someone holding on towards a long hold (to mute, say) never sets
      off the hold's action (dropping the sentence) on the way.
    - long hold: reported the moment `long_hold_seconds` is reached, while still held,
      so its effect shows and tells the user to let go; that release reports nothing.

    Press and release callbacks run on gpiozero's threads, the long hold on the panel's
    own: keep them tiny (put an event on a queue). The long hold is timed here, by
    the thread that draws the LEDs, not by gpiozero's hold thread (a Button's, which
    wakes ten times a second for as long as the button exists).
    `on_mute_switch(is_on)` is called once from the constructor with the switch's
    position and then on every change; it always carries the position, never a
    toggle, so a repeat is harmless.
    """

    def __init__(
        self,
        *,
        pin_factory: Any,
        button_pin: int,
        layout: Layout,
        led_pins: dict[str, int],
        active_high: bool = True,
        brightness: float = 1.0,
        hold_seconds: float = 1.5,
        long_hold_seconds: float = 4.0,
        on_press: Callable[[], None] | None = None,
        on_hold: Callable[[], None] | None = None,
        on_long_hold: Callable[[], None] | None = None,
        mute_switch_pin: int | None = None,
        on_mute_switch: Callable[[bool], None] | None = None,
        bounce_seconds: float | None = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check(layout, led_pins, brightness, hold_seconds, long_hold_seconds)
        self._layout = Layout(layout)  # a plain string that passed _check works too
        self._brightness = brightness
        self._hold_seconds = hold_seconds
        self._long_hold_seconds = long_hold_seconds
        self._on_press, self._on_hold, self._on_long_hold = on_press, on_hold, on_long_hold
        self._on_mute_switch = on_mute_switch
        self.shown: Pattern | None = None
        self._looks = dict.fromkeys(led_pins, OFF)  # dark until the first show()
        self._clock = clock  # monotonic seconds: LED timing and how long a press lasted
        self._started_at = clock()
        self._lock = threading.Lock()  # guards the pattern and every LED write
        self._wakeup = loops.Wakeup()
        self._stopping = threading.Event()
        self._gesture_lock = threading.Lock()
        self._pressed_at: float | None = None  # None: no press waiting to be reported
        self._failing = False  # the last LED write failed (logged once)
        self._stack = contextlib.ExitStack()
        try:
            self._leds = {
                name: self._open(
                    f"the {name} LED",
                    PWMLED,
                    pin,
                    active_high=active_high,
                    initial_value=0,
                    pin_factory=pin_factory,
                )
                for name, pin in led_pins.items()
            }
            self._levels = dict.fromkeys(self._leds, 0.0)
            self._button = self._open(
                "the button",
                DigitalInputDevice,
                button_pin,
                pull_up=True,
                bounce_time=bounce_seconds,
                pin_factory=pin_factory,
            )
            self._button.when_activated = self._pressed
            self._button.when_deactivated = self._released
            self._switch = None
            if mute_switch_pin is not None:
                self._switch = self._open(
                    "the mute switch",
                    DigitalInputDevice,
                    mute_switch_pin,
                    pull_up=True,
                    bounce_time=bounce_seconds,
                    pin_factory=pin_factory,
                )
                self._switch.when_activated = lambda: self._call(self._on_mute_switch, True)
                self._switch.when_deactivated = lambda: self._call(self._on_mute_switch, False)
            # One thread draws every blink and pulse, so LEDs that take turns stay in step,
            # and times the long hold; it sleeps until the next edge or the long hold,
            # and for good while the pattern is steady and the button is up.
            self._thread = threading.Thread(target=self._draw, name="panel-leds", daemon=True)
            self._thread.start()
            self._stack.callback(self._stop_drawing)  # runs before the LEDs close
        except BaseException:
            self._stack.close()
            raise
        if self._switch is not None:
            self._call(self._on_mute_switch, self.mute_switch_is_on)

    def _open(self, what: str, device_class: type, pin: int, **kwargs: Any) -> Any:
        try:
            device = device_class(pin, **kwargs)
        except Exception as error:  # gpiozero raises many kinds (busy, invalid, no backend)
            raise PanelError(f"cannot open GPIO{pin} for {what}: {error}") from error
        return self._stack.enter_context(device)

    @property
    def mute_switch_is_on(self) -> bool | None:
        """Whether the mute switch is closed (muted); None when there is no switch."""
        return None if self._switch is None else bool(self._switch.is_active)

    def show(self, pattern: Pattern) -> None:
        """Show `pattern` in place of whatever was shown; showing it again changes nothing."""
        with self._lock:
            if pattern is self.shown or self._stopping.is_set():
                return
            self.shown = pattern
            self._looks = looks_for(pattern, self._layout)
            self._started_at = self._clock()
            # Written here, not left to the drawing thread, so no old light survives
            # this call even for an instant.
            self._write(0.0)
        self._wakeup.wake()

    def _write(self, elapsed_seconds: float) -> None:
        for name, look in self._looks.items():
            level = level_at(look, elapsed_seconds) * self._brightness
            if level != self._levels[name]:
                self._leds[name].value = level
                self._levels[name] = level

    def _draw(self) -> None:
        # Its stop is set by _stop_drawing, which wakes it too: no watcher needed.
        loops.run_loop(self._stopping, self._draw_once, self._wakeup, "panel", watch_stop=False)

    def _draw_once(self) -> float | None:
        """Set every LED to its level now, report a long hold that is due; return the
        seconds until either may change. A show() during the wait wakes it early, and
        the next round reads the pattern afresh."""
        try:
            with self._lock:
                if self._stopping.is_set():
                    return None
                elapsed = self._clock() - self._started_at
                self._write(elapsed)
                waits = [seconds_until_change(look, elapsed) for look in self._looks.values()]
            self._failing = False
        except Exception:  # a dead drawing thread would freeze a stale light
            if not self._failing:
                log.exception("Could not set the LEDs; retrying")
            self._failing, waits = True, [1.0]
        waits.append(self._long_hold_due())
        known = [wait for wait in waits if wait is not None]
        return min(known) + EDGE_MARGIN_SECONDS if known else None

    def _long_hold_due(self) -> float | None:
        """Report the long hold if the button has been down long enough; else the
        seconds until it will have been (None: the button is up)."""
        with self._gesture_lock:
            if self._pressed_at is None:
                return None
            left = self._pressed_at + self._long_hold_seconds - self._clock()
        if left > 0:
            return left
        self._long_held()
        return None

    def _stop_drawing(self) -> None:
        with self._lock:
            self._stopping.set()
        self._wakeup.wake()
        self._thread.join(JOIN_TIMEOUT_SECONDS)
        for led in self._leds.values():
            led.off()  # dark on the way out: a closed pin may keep its last level

    # ---- gestures: press and release on gpiozero's threads ---------------------------

    def _pressed(self) -> None:
        with self._gesture_lock:
            self._pressed_at = self._clock()
        self._wakeup.wake()  # the drawing thread times the long hold

    def _long_held(self) -> None:
        with self._gesture_lock:
            if self._pressed_at is None:
                return  # released in the same instant: the release reported it
            self._pressed_at = None
        self._call(self._on_long_hold)

    def _released(self) -> None:
        with self._gesture_lock:
            pressed_at, self._pressed_at = self._pressed_at, None
            if pressed_at is None:
                return  # the long hold was already reported
            held_seconds = self._clock() - pressed_at
        if held_seconds < self._hold_seconds:
            self._call(self._on_press)
        elif held_seconds < self._long_hold_seconds:
            self._call(self._on_hold)
        else:
            self._call(self._on_long_hold)  # the release beat the drawing thread

    @staticmethod
    def _call(callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # raised into gpiozero, it would kill its hold thread for good
            log.exception("A panel callback failed")

    # ---- closing ----------------------------------------------------------------

    def close(self) -> None:
        """Turn the LEDs off, stop the drawing thread and release every pin."""
        self._stack.close()

    def __enter__(self) -> Panel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check(
    layout: Layout,
    led_pins: dict[str, int],
    brightness: float,
    hold_seconds: float,
    long_hold_seconds: float,
) -> None:
    if layout not in CHANNELS:
        raise ValueError(f"unknown LED layout {layout!r}; expected one of {', '.join(Layout)}")
    channels = CHANNELS[layout]
    if set(led_pins) != set(channels):
        raise ValueError(f"the {layout} layout needs led_pins for {', '.join(channels)}")
    if not 0.0 < brightness <= 1.0:
        # 0 would hide MUTED too, and the mute light must always be visible.
        raise ValueError(f"brightness must be above 0 and at most 1, not {brightness}")
    if not 0.0 < hold_seconds < long_hold_seconds:
        raise ValueError("need 0 < hold_seconds < long_hold_seconds")
