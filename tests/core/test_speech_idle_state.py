"""No session by design (on_speech, idle) reads as listening, not as a broken link."""

from appliance import core
from appliance.core import Pattern
from appliance.core.events import LinkCause, LinkDown, LinkIdle


def test_idle_without_a_session_is_listening():
    state, _ = core.step(core.State(), LinkIdle("no speech"), 0.0, core.CoreSettings())
    assert state.link == "idle"
    assert core.led_pattern(state, 0.0) is Pattern.LISTENING
    assert core.status_line(state, 0.0) == "Listening"


def test_a_refused_key_stays_shown_while_idle():
    state, _ = core.step(
        core.State(),
        LinkDown("bad key", 300.0, 1008, LinkCause.KEY_REFUSED),
        0.0,
        core.CoreSettings(),
    )
    state, _ = core.step(state, LinkIdle("no speech"), 1.0, core.CoreSettings())
    assert core.led_pattern(state, 1.0) is Pattern.NOT_AUTHORISED
    assert core.status_line(state, 1.0).startswith("AssemblyAI refused the key")


def down(cause, reason="why"):
    return LinkDown(reason, 300.0, None, cause)


def test_each_link_cause_has_its_own_light_and_status_line():
    settings = core.CoreSettings()
    expected = {
        LinkCause.KEY_REFUSED: (Pattern.NOT_AUTHORISED, "AssemblyAI refused the key"),
        LinkCause.NO_BALANCE: (Pattern.SPEECH_NO_BALANCE, "AssemblyAI account out of balance"),
        LinkCause.TOO_MANY_SESSIONS: (
            Pattern.SPEECH_SESSION_LIMIT,
            "AssemblyAI session limit reached",
        ),
        LinkCause.TRANSIENT_REFUSAL: (Pattern.CONNECTING, "Connecting in"),
        LinkCause.DROPPED: (Pattern.CONNECTING, "Connecting in"),
    }
    for cause, (pattern, status) in expected.items():
        state, _ = core.step(core.State(), down(cause), 0.0, settings)
        assert core.led_pattern(state, 1.0) is pattern, cause
        assert core.status_line(state, 1.0).startswith(status), cause


def test_an_accepted_key_clears_a_key_problem_but_plain_idle_does_not():
    settings = core.CoreSettings()
    for cause in (LinkCause.KEY_REFUSED, LinkCause.NO_BALANCE):
        state, _ = core.step(core.State(), down(cause), 0.0, settings)
        kept, _ = core.step(state, LinkIdle("no speech"), 1.0, settings)
        assert kept.link_cause is cause
        cleared, _ = core.step(state, LinkIdle("no speech", is_key_confirmed=True), 1.0, settings)
        assert cleared.link_cause is None
        assert core.led_pattern(cleared, 1.0) is Pattern.LISTENING
