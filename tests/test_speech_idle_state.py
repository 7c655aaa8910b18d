"""No session by design (on_speech, idle) reads as listening, not as a broken link."""

from appliance import core
from appliance.events import LinkDown, LinkIdle
from appliance.leds import Pattern


def test_idle_without_a_session_is_listening():
    state, _ = core.step(core.State(), LinkIdle("no speech"), 0.0, core.CoreSettings())
    assert state.link == "idle"
    assert core.led_pattern(state, 0.0) is Pattern.LISTENING
    assert core.status_line(state, 0.0) == "Listening"


def test_a_refused_key_stays_shown_while_idle():
    state, _ = core.step(core.State(), LinkDown("bad key", 300.0, 1008), 0.0, core.CoreSettings())
    state, _ = core.step(state, LinkIdle("no speech"), 1.0, core.CoreSettings())
    assert core.led_pattern(state, 1.0) is Pattern.NOT_AUTHORISED
    assert core.status_line(state, 1.0).startswith("AssemblyAI refused the key")
