"""Privacy mute: in the core (state, LED, refusals) and through the real daemon (no session)."""

from __future__ import annotations

import pytest

from appliance.core import CoreSettings, Pattern, State, led_pattern, status_line, step
from appliance.core.events import (
    ButtonPressed,
    MuteChanged,
    MuteToggled,
    QueuePost,
    SentenceFinished,
    SetMuted,
)
from appliance.service.control import request
from appliance.tryout.sandbox import Sandbox
from tests.conftest import wait_until

SETTINGS = CoreSettings(candidate_window_seconds=60.0, refused_flash_seconds=1.0)


def run(events, start=None):
    state, effects = start or State(), []
    for now, event in events:
        state, new = step(state, event, now, SETTINGS)
        effects.extend(new)
    return state, effects


def test_long_hold_toggles_mute_and_tells_the_link():
    state, effects = run([(0, MuteToggled())])
    assert state.is_muted
    assert SetMuted(True) in effects
    state, effects = run([(1, MuteToggled())], state)
    assert not state.is_muted
    assert SetMuted(False) in effects


def test_muted_shows_muted_over_everything_but_a_flash():
    state, _ = run([(0, SentenceFinished("Hello there.")), (1, MuteChanged(True, "switch"))])
    assert led_pattern(state, 2, SETTINGS) is Pattern.MUTED
    assert status_line(state, 2, SETTINGS).startswith("Muted")


def test_confirm_while_muted_is_refused_visibly_and_posts_nothing():
    state, effects = run(
        [(0, SentenceFinished("Secret plans.")), (1, MuteChanged(True)), (2, ButtonPressed())]
    )
    assert not any(isinstance(effect, QueuePost) for effect in effects)
    assert any(getattr(effect, "event", "") == "refused" for effect in effects)
    assert led_pattern(state, 2.5, SETTINGS) is Pattern.REFUSED
    assert led_pattern(state, 3.5, SETTINGS) is Pattern.MUTED


def test_muting_drops_the_waiting_sentence_so_unmuting_cannot_post_it():
    state, effects = run(
        [
            (0, SentenceFinished("Secret plans.")),
            (1, MuteChanged(True)),
            (2, MuteChanged(False)),
            (3, ButtonPressed()),
        ]
    )
    assert state.candidate is None
    assert not any(isinstance(effect, QueuePost) for effect in effects)


def test_repeating_the_switch_position_changes_nothing():
    state, _ = run([(0, MuteChanged(True, "switch"))])
    again, effects = run([(1, MuteChanged(True, "switch"))], state)
    assert again == state and effects == []


def test_the_candidate_pattern_hurries_in_its_last_ten_seconds():
    state, _ = run([(0, SentenceFinished("Quick, post me."))])
    assert led_pattern(state, 49, SETTINGS) is Pattern.CANDIDATE
    assert led_pattern(state, 51, SETTINGS) is Pattern.CANDIDATE_ENDING


# ---- through the real daemon ------------------------------------------------------


@pytest.fixture
def muted_box(tmp_path):
    box = Sandbox(
        [],
        directory=tmp_path,
        settings_overrides={
            "gpio": {"start_muted": True},
            "assemblyai": {"session": "always"},
        },
    )
    box.start()
    yield box
    box.stop()


def test_started_muted_opens_no_session_refuses_confirm_and_unmutes(muted_box, speak, monkeypatch):
    box = muted_box
    daemon = box.daemon
    assert daemon is not None
    assert wait_until(lambda: daemon.panel.shown is Pattern.MUTED, 5)
    # Every pattern shown, kept: the refusal is a 1 s flash, which a look at the panel
    # now and then could miss on a busy machine.
    shown: list[Pattern] = []
    show = daemon.panel.show
    monkeypatch.setattr(daemon.panel, "show", lambda p: (shown.append(p), show(p)))
    box.say(speak("Mondays are the worst.", pause_seconds=0.5))
    assert box.speech.sessions == []  # no audio left the device
    box.press_button()
    assert wait_until(lambda: Pattern.REFUSED in shown, 5)
    assert wait_until(lambda: daemon.panel.shown is Pattern.MUTED, 5)
    assert box.daemon.outbox.entries() == []

    reply = request(box.dir / "control.sock", "unmute")
    assert reply["ok"], reply
    assert wait_until(lambda: daemon.state.link == "up", 10)
    assert len(box.speech.sessions) == 1
    assert request(box.dir / "control.sock", "mute")["ok"]
    assert wait_until(lambda: daemon.panel.shown is Pattern.MUTED, 5)
    assert wait_until(lambda: daemon.state.link != "up", 10)


def test_muting_during_the_grace_period_cancels_the_post():
    grace = CoreSettings(grace_seconds=3.0)
    state, effects = State(), []
    for now, event in [
        (0, SentenceFinished("Almost posted.")),
        (1, ButtonPressed()),
        (2, MuteToggled()),
        (10, ButtonPressed()),
    ]:
        state, new = step(state, event, now, grace)
        effects.extend(new)
    assert not any(isinstance(effect, QueuePost) for effect in effects)
    assert any(getattr(effect, "event", "") == "cancelled" for effect in effects)
