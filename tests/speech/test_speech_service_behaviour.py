"""The link against the stand-in's documented behaviours: Error frames, 1008 causes,
expiry, the ways a turn ends, the models, and the free start-up key check."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs

import pytest

from appliance.core.events import LinkCause, LinkDown, LinkIdle, LinkUp, SentenceFinished
from appliance.errors import ConfigError
from appliance.service.config import settings_from_dict
from appliance.speech.settings import MODELS
from appliance.tryout.standins.speech_session import TURN_STYLES
from tests.speech import test_speech_faults as faults
from tests.speech.test_speech_faults import SENTENCES, said
from tests.speech.test_speech_link import KEY, Feeder, Recorder, start_link

make_standin, link_with = faults.make_standin, faults.link_with  # the same fixtures


def sentences(recorder):
    return [e.text for e in recorder.of(SentenceFinished)]


@pytest.mark.parametrize(
    ("refusal", "cause"),
    [
        ("invalid_key", LinkCause.KEY_REFUSED),
        ("no_balance", LinkCause.NO_BALANCE),
        ("too_many_sessions", LinkCause.TOO_MANY_SESSIONS),
        ("incorrect_padding", LinkCause.TRANSIENT_REFUSAL),
    ],
)
def test_each_1008_cause_is_told_apart_by_its_message(
    make_standin, link_with, refusal, cause, caplog
):
    standin = make_standin()
    standin.refuse_sessions(refusal, count=1)
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
    [down] = recorder.of(LinkDown)
    assert down.close_code == 1008 and down.cause is cause, down
    # One journal line, with the cause in its own field.
    [line] = [r for r in caplog.records if getattr(r, "APPLIANCE_EVENT", "") == "link_down"]
    assert line.SPEECH_ERROR == cause.value and line.CLOSE_CODE == 1008
    if cause is LinkCause.TRANSIENT_REFUSAL:
        # A blip: the retry comes fast and works.
        assert down.retry_in_seconds <= 1.0
        assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    elif cause is LinkCause.TOO_MANY_SESSIONS:
        assert 60 <= down.retry_in_seconds <= 75
    elif cause is LinkCause.NO_BALANCE:
        assert down.retry_in_seconds >= 300 and "funds" in down.reason


def test_an_error_message_before_the_close_is_the_reason_given(make_standin, link_with):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    long_reason = "Session Cancelled: " + "an error occurred in a long story " * 6
    standin.close_all(code=3005, reason=long_reason)  # close reason: "See Error message..."
    assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
    down = recorder.of(LinkDown)[0]
    assert down.cause is LinkCause.SERVER_ERROR and "long story" in down.reason


def test_expiry_mid_sentence_loses_no_word_and_raises_no_alarm(make_standin, link_with, speak):
    standin = make_standin(session_max_seconds=5.0)
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    feeder.play(speak("", pause_seconds=3.8) + speak(SENTENCES[0]))  # spans the expiry
    assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20), recorder.events
    assert standin.sessions[0].close_code == 3008
    feeder.stop.wait(1.0)
    assert sentences(recorder) == SENTENCES[:1]
    assert recorder.of(LinkDown) == []
    assert len(recorder.of(LinkUp)) >= 2


@pytest.mark.parametrize("style", TURN_STYLES)
def test_every_way_a_turn_ends_delivers_each_sentence_once(make_standin, link_with, speak, style):
    standin = make_standin(turn_style=style)
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    feeder.play(said(speak, SENTENCES[:2]))
    assert recorder.wait_for(lambda r: len(r.of(SentenceFinished)) >= 2, 30), recorder.events
    feeder.stop.wait(2.0)  # a late formatted copy must not become a second sentence
    if style == "unformatted_only":
        assert sentences(recorder) == [
            "mondays are the worst",
            "my cat thinks the keyboard is a bed",
        ]
    else:
        assert sentences(recorder) == SENTENCES[:2]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_is_asked_for_by_name_with_its_own_parameters(make_standin, link_with, model):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always", speech_model=model)
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    query = parse_qs(standin.sessions[0].query)
    assert query["speech_model"] == [model]
    assert ("format_turns" in query) == (model == "universal-streaming-english")


def test_a_model_outside_the_documented_ones_is_a_clear_configuration_error():
    with pytest.raises(ConfigError) as error:
        settings_from_dict({"assemblyai": {"speech_model": "universal"}}, "/etc/a.toml")
    message = str(error.value)
    assert message.startswith("/etc/a.toml: assemblyai.speech_model: one of")
    assert all(name in message for name in MODELS)


def test_the_start_up_key_check_opens_no_billed_session(make_standin):
    standin = make_standin()
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder, key=KEY, session="on_speech")
    try:
        assert recorder.wait_for(lambda r: r.of(LinkIdle), 5)
        assert standin.token_requests == 1 and standin.sessions == []
        assert recorder.of(LinkIdle)[0].is_key_confirmed
    finally:
        stop.set()
        thread.join(10)


@pytest.mark.parametrize(
    ("refusal", "cause"),
    [("invalid_key", LinkCause.KEY_REFUSED), ("no_balance", LinkCause.NO_BALANCE)],
)
def test_a_refused_key_check_is_shown_without_any_session(make_standin, refusal, cause):
    standin = make_standin()
    standin.refuse_sessions(refusal)
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder, key=KEY, session="on_speech")
    try:
        with Feeder(link):
            assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
            assert recorder.of(LinkDown)[0].cause is cause
            threading.Event().wait(0.5)
        assert standin.sessions == []
    finally:
        stop.set()
        thread.join(10)
