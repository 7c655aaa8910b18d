"""The panel on gpiozero's mock pins: LED levels, gestures, the mute switch, pin factories."""

from __future__ import annotations

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from appliance.core import Pattern
from appliance.devices.leds import Layout, level_at, looks_for
from appliance.devices.panel import Panel, PanelError, make_pin_factory
from appliance.errors import ApplianceError

BUTTON, MUTE_SWITCH = 17, 27
PINS = {
    Layout.SEPARATE: {"green": 22, "amber": 23, "red": 24},
    Layout.RGB: {"red": 5, "green": 6, "blue": 13},
}
HOLD_SECONDS, LONG_HOLD_SECONDS = 0.2, 0.5
TIMEOUT_SECONDS = 10.0  # only a failing wait waits this long: room for a busy machine


@pytest.fixture
def factory():
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.reset()


@pytest.fixture
def open_panel(factory):
    """open_panel(**overrides) -> a Panel on the mock factory, closed after the test."""
    panels = []

    def _open(layout=Layout.SEPARATE, **overrides):
        options = dict(
            pin_factory=factory,
            button_pin=BUTTON,
            layout=layout,
            led_pins=PINS.get(layout, PINS[Layout.SEPARATE]),
            hold_seconds=HOLD_SECONDS,
            long_hold_seconds=LONG_HOLD_SECONDS,
        )
        options.update(overrides)
        panel = Panel(**options)
        panels.append(panel)
        return panel

    yield _open
    for panel in panels:
        panel.close()


def wait_until(predicate, timeout_seconds=TIMEOUT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout_seconds
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.005)
    return True


def state(factory, pin) -> float:
    return float(factory.pin(pin).state)


class Recorder:
    """Callbacks that remember each call and signal it."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.happened = {name: threading.Event() for name in ("press", "hold", "long", "mute")}

    def callbacks(self):
        return dict(
            on_press=lambda: self._note("press"),
            on_hold=lambda: self._note("hold"),
            on_long_hold=lambda: self._note("long"),
        )

    def _note(self, name, *args):
        self.calls.append((name, *args))
        self.happened[name].set()

    def mute(self, is_on):
        self._note("mute", is_on)

    def names(self):
        return [call[0] for call in self.calls]


# ---- LEDs ---------------------------------------------------------------------


def test_leds_are_dark_until_the_first_pattern(factory, open_panel):
    panel = open_panel()
    assert panel.shown is None
    assert all(state(factory, pin) == 0.0 for pin in PINS[Layout.SEPARATE].values())


def test_listening_lights_green_dimly_and_nothing_else(factory, open_panel):
    open_panel().show(Pattern.LISTENING)
    assert state(factory, 22) == pytest.approx(0.2)
    assert state(factory, 23) == 0.0 and state(factory, 24) == 0.0


def test_active_low_inverts_every_pin(factory, open_panel):
    open_panel(active_high=False).show(Pattern.LISTENING)
    assert state(factory, 22) == pytest.approx(0.8)
    assert state(factory, 23) == 1.0 and state(factory, 24) == 1.0  # high is dark


def test_brightness_scales_every_level(factory, open_panel):
    panel = open_panel(brightness=0.5)
    panel.show(Pattern.HEARING)
    assert state(factory, 22) == pytest.approx(0.5)
    panel.show(Pattern.MUTED)
    assert state(factory, 24) == pytest.approx(0.1)


def test_rgb_muted_is_dim_red(factory, open_panel):
    open_panel(Layout.RGB, active_high=False).show(Pattern.MUTED)
    assert state(factory, 5) == pytest.approx(0.8)
    assert state(factory, 6) == 1.0 and state(factory, 13) == 1.0


def test_rgb_candidate_pulses_amber(factory, open_panel):
    open_panel(Layout.RGB).show(Pattern.CANDIDATE)
    # The pulse peaks 1 s in: wait until it has passed the peak.
    assert wait_until(lambda: factory.pin(5).states[-1].state < max_state(factory, 5) - 0.1)
    assert max_state(factory, 5) == pytest.approx(1.0, abs=0.05)
    assert max_state(factory, 6) == pytest.approx(0.35, abs=0.02)
    assert max_state(factory, 13) == 0.0


def max_state(factory, pin) -> float:
    return max(float(change.state) for change in factory.pin(pin).states)


@pytest.mark.parametrize("active_high", [True, False])
@pytest.mark.parametrize("layout", list(Layout))
def test_every_pattern_is_drawn_as_the_leds_module_says(factory, open_panel, layout, active_high):
    brightness = 0.7
    panel = open_panel(layout, active_high=active_high, brightness=brightness)
    for pattern in Pattern:
        before = time.monotonic()
        panel.show(pattern)
        after = time.monotonic()
        looks = looks_for(pattern, layout)
        for _ in range(2):  # at the start and a moment into each pattern
            for name, pin in PINS[layout].items():
                elapsed = time.monotonic() - before
                # Any level the pattern has shortly before now (allowing for the call's
                # own time and the drawing thread's latency) is right; nothing else is.
                near = [
                    level_at(looks[name], elapsed + offset_ms / 1000) * brightness
                    for offset_ms in range(-100 - int((after - before) * 1000), 25, 5)
                ]
                level = state(factory, pin) if active_high else 1.0 - state(factory, pin)
                assert min(near) - 0.02 <= level <= max(near) + 0.02, (pattern, name)
            threading.Event().wait(0.06)


def test_showing_the_same_pattern_again_does_not_restart_it(factory, open_panel):
    panel = open_panel()
    panel.show(Pattern.CANDIDATE)  # a pulse: starts dark, rises for a second
    assert wait_until(lambda: state(factory, 23) > 0.4)
    panel.show(Pattern.CANDIDATE)
    assert state(factory, 23) > 0.4, "restarted from dark"


def test_showing_the_same_steady_pattern_again_writes_nothing(factory, open_panel):
    panel = open_panel()
    panel.show(Pattern.LISTENING)
    factory.pin(22).clear_states()
    panel.show(Pattern.LISTENING)
    assert len(factory.pin(22).states) == 1


def test_a_steady_pattern_stops_the_blinking_for_good(factory, open_panel):
    panel = open_panel()
    panel.show(Pattern.ERROR)  # red, fast blink
    assert wait_until(lambda: len(factory.pin(24).states) >= 4), "it blinks"
    panel.show(Pattern.LISTENING)
    assert state(factory, 24) == 0.0 and state(factory, 22) == pytest.approx(0.2)
    for pin in (22, 23, 24):
        factory.pin(pin).clear_states()
    threading.Event().wait(0.5)  # five blink periods: any leftover blinker would show
    assert all(len(factory.pin(pin).states) == 1 for pin in (22, 23, 24))


@pytest.mark.parametrize("layout", list(Layout))
def test_no_light_from_the_previous_pattern_survives(factory, open_panel, layout):
    panel = open_panel(layout)
    for old in Pattern:
        for new in Pattern:
            panel.show(old)
            panel.show(new)
            for name, look in looks_for(new, layout).items():
                if look.kind == "off":
                    assert state(factory, PINS[layout][name]) == 0.0, (old, new, name)
    assert panel.shown is Pattern.ERROR


def test_posting_takes_turns_green_then_amber(factory, open_panel):
    open_panel().show(Pattern.POSTING)
    assert wait_until(lambda: len(factory.pin(23).states) >= 4)
    green, amber = factory.pin(22), factory.pin(23)
    assert green.states[1].state == 1.0 and amber.states[1].state == 1.0
    # Amber lights as green goes out; the two are never lit together for long.
    green_off = green.states[0].timestamp + green.states[1].timestamp + green.states[2].timestamp
    amber_on = amber.states[0].timestamp + amber.states[1].timestamp
    assert amber_on == pytest.approx(green_off, abs=0.03)


def test_close_darkens_stops_the_thread_and_frees_the_pins(factory, open_panel):
    panel = open_panel()
    panel.show(Pattern.GRACE)
    panel.close()
    panel.close()  # twice is fine
    assert state(factory, 23) == 0.0
    assert not [t for t in threading.enumerate() if t.name == "panel-leds" and t.is_alive()]
    panel.show(Pattern.LISTENING)  # after close: ignored, not an error
    with Panel(
        pin_factory=factory,
        button_pin=BUTTON,
        layout=Layout.SEPARATE,
        led_pins=PINS[Layout.SEPARATE],
    ) as again:
        again.show(Pattern.HEARING)
        assert state(factory, 22) == 1.0


# ---- gestures -----------------------------------------------------------------


def hold_button(factory, seconds):
    factory.pin(BUTTON).drive_low()
    threading.Event().wait(seconds)
    factory.pin(BUTTON).drive_high()


def test_short_press_reports_a_press_only(factory, open_panel):
    calls = Recorder()
    open_panel(**calls.callbacks())
    hold_button(factory, 0.05)
    assert calls.happened["press"].wait(TIMEOUT_SECONDS)
    assert not calls.happened["long"].wait(LONG_HOLD_SECONDS + 0.2)
    assert calls.names() == ["press"]


def test_two_presses_are_two_presses(factory, open_panel):
    calls = Recorder()
    open_panel(**calls.callbacks())
    hold_button(factory, 0.05)
    hold_button(factory, 0.05)
    assert wait_until(lambda: len(calls.calls) == 2)
    assert calls.names() == ["press", "press"]


def test_hold_reports_a_hold_on_release_only(factory, open_panel):
    calls = Recorder()
    open_panel(**calls.callbacks())
    factory.pin(BUTTON).drive_low()
    # Past the hold time but short of the long hold: nothing reported while held...
    assert not calls.happened["long"].wait(HOLD_SECONDS + 0.1)
    assert calls.calls == []
    factory.pin(BUTTON).drive_high()
    # ...and a hold on release.
    assert calls.happened["hold"].wait(TIMEOUT_SECONDS)
    assert not calls.happened["long"].wait(LONG_HOLD_SECONDS)
    assert calls.names() == ["hold"]


def test_long_hold_reports_once_while_held_and_nothing_on_release(factory, open_panel):
    calls = Recorder()
    open_panel(**calls.callbacks())
    pressed_at = time.monotonic()
    factory.pin(BUTTON).drive_low()
    assert calls.happened["long"].wait(TIMEOUT_SECONDS)
    assert time.monotonic() - pressed_at >= LONG_HOLD_SECONDS - 0.01
    assert factory.pin(BUTTON).state == 0, "reported while still held"
    threading.Event().wait(0.3)
    factory.pin(BUTTON).drive_high()
    assert calls.names() == ["long"], "no hold on the way, no press on release"


def test_a_failing_callback_does_not_stop_later_gestures(factory, open_panel):
    calls = Recorder()
    failures = []

    def fails_once():
        if not failures:
            failures.append(1)
            raise RuntimeError("boom")
        calls._note("long")

    open_panel(on_long_hold=fails_once)
    hold_button(factory, LONG_HOLD_SECONDS + 0.15)
    assert failures == [1]
    factory.pin(BUTTON).drive_low()
    assert calls.happened["long"].wait(TIMEOUT_SECONDS), "gpiozero's hold thread survived"
    factory.pin(BUTTON).drive_high()


# ---- mute switch --------------------------------------------------------------


class ClosedSwitchPin(MockPWMPin):
    """A pin wired to a closed switch: it reads low whatever the pull-up does."""

    def _set_pull(self, value):
        super()._set_pull(value)
        self.drive_low()


def test_mute_switch_closed_at_start_is_reported(factory, open_panel):
    factory.pin(MUTE_SWITCH, pin_class=ClosedSwitchPin)
    calls = Recorder()
    panel = open_panel(mute_switch_pin=MUTE_SWITCH, on_mute_switch=calls.mute)
    assert panel.mute_switch_is_on is True
    assert calls.calls == [("mute", True)]


def test_mute_switch_open_at_start_and_every_change_is_reported(factory, open_panel):
    calls = Recorder()
    panel = open_panel(mute_switch_pin=MUTE_SWITCH, on_mute_switch=calls.mute)
    assert panel.mute_switch_is_on is False
    factory.pin(MUTE_SWITCH).drive_low()
    assert panel.mute_switch_is_on is True
    factory.pin(MUTE_SWITCH).drive_high()
    assert wait_until(lambda: len(calls.calls) == 3)
    assert calls.calls == [("mute", False), ("mute", True), ("mute", False)]


def test_without_a_mute_switch_there_is_no_position(open_panel):
    assert open_panel().mute_switch_is_on is None


# ---- construction and pin factories --------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"layout": "matrix"}, "separate, rgb"),
        ({"led_pins": {"green": 22, "amber": 23}}, "green, amber, red"),
        ({"brightness": 0.0}, "brightness"),
        ({"brightness": 1.5}, "brightness"),
        ({"hold_seconds": 0.5, "long_hold_seconds": 0.5}, "long_hold_seconds"),
    ],
)
def test_bad_settings_are_refused(open_panel, overrides, message):
    with pytest.raises(ValueError, match=message):
        open_panel(**overrides)


def test_a_busy_pin_is_a_panel_error_and_frees_what_was_opened(factory, open_panel):
    with pytest.raises(PanelError, match="GPIO22 for the button"):
        open_panel(button_pin=22)
    open_panel().show(Pattern.HEARING)  # every LED pin was released again
    assert state(factory, 22) == 1.0


def test_make_pin_factory_names():
    assert make_pin_factory("") is None
    mock = make_pin_factory(" Mock ")
    assert isinstance(mock, MockFactory) and mock.pin_class is MockPWMPin


def test_make_pin_factory_lists_the_valid_names():
    with pytest.raises(ValueError) as caught:
        make_pin_factory("wiringpi")
    for name in ("mock", "lgpio", "rpigpio", "pigpio", "native"):
        assert name in str(caught.value)


def test_a_factory_that_cannot_load_is_an_appliance_error(monkeypatch):
    def no_library(name):
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr("appliance.devices.panel.importlib.import_module", no_library)
    with pytest.raises(ApplianceError, match="'lgpio' does not load here"):
        make_pin_factory("lgpio")


def test_the_panel_runs_one_thread_that_sleeps_while_nothing_changes(factory, open_panel):
    # The long hold is timed by the drawing thread: no gpiozero hold thread that wakes
    # ten times a second for as long as the button exists.
    # The threads themselves, not their idents: an ident is reused once its thread ends,
    # and a thread of an earlier test may end just now.
    before = set(threading.enumerate())
    panel = open_panel()
    panel.show(Pattern.LISTENING)
    added = [t for t in threading.enumerate() if t not in before]
    assert [t.name for t in added] == ["panel-leds"]
    assert wait_until(lambda: panel._wakeup.is_waiting)  # noqa: SLF001 - a steady light
