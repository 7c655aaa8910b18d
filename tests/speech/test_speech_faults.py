"""The speech link against a stand-in that misbehaves: what the user hears must survive."""

from __future__ import annotations

import threading

import pytest

from appliance.core.events import LinkDown, LinkIdle, LinkUp, SentenceFinished
from appliance.tryout.standins.speech_server import SpeechStandin
from tests.conftest import wait_until
from tests.speech.test_speech_link import KEY, Feeder, Recorder, start_link

SENTENCES = ["Mondays are the worst.", "My cat thinks the keyboard is a bed.", "Tweet that."]


@pytest.fixture
def make_standin():
    started = []

    def make(**options):
        standin = SpeechStandin(script=SENTENCES, api_key=KEY, **options)
        standin.start()
        started.append(standin)
        return standin

    yield make
    for standin in started:
        # What the user never wants to see, whatever the test: our audio refused as too fast.
        assert all(s.close_code != 3007 for s in standin.sessions), standin.sessions
        standin.stop()


@pytest.fixture
def link_with(make_standin):
    running = []

    def start(standin, **options):
        recorder = Recorder()
        link, stop, thread = start_link(standin.url, recorder, **options)
        feeder = Feeder(link).__enter__()
        running.append((stop, thread, feeder))
        return link, recorder, feeder

    yield start
    for stop, thread, feeder in running:
        feeder.__exit__()
        stop.set()
        thread.join(10)
        assert not thread.is_alive()


def sentences(recorder):
    return [e.text for e in recorder.of(SentenceFinished)]


def said(speak, texts):
    return b"".join(speak(text) for text in texts)


def test_sentences_said_during_a_10_s_outage_arrive_in_order_once(make_standin, link_with, speak):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.refuse_for(10.0)
    standin.drop_all()
    assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
    feeder.play(said(speak, SENTENCES))  # about 9 s of speech while nothing can connect
    assert recorder.wait_for(lambda r: len(r.of(SentenceFinished)) >= 3, 60), recorder.events
    assert sentences(recorder) == SENTENCES
    assert link.chunks_dropped == 0
    assert link.backlog.chunks_skipped > 0  # it caught up by leaving out silence


def test_a_drop_in_the_middle_of_a_sentence_loses_no_word(make_standin, link_with, speak):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    feeder.play(said(speak, SENTENCES[:2]))
    # Partials of the first sentence have arrived: the drop cuts a turn in progress.
    assert wait_until(lambda: any(s.audio_seconds > 1.0 for s in standin.sessions), 10)
    standin.drop_all()
    assert recorder.wait_for(lambda r: len(r.of(SentenceFinished)) >= 2, 30), recorder.events
    assert sentences(recorder) == SENTENCES[:2]
    assert len(standin.sessions) == 2


def test_a_half_open_connection_is_noticed_and_replaced(make_standin, link_with, speak):
    standin = make_standin()
    link, recorder, feeder = link_with(
        standin, session="always", ping_interval_seconds=0.5, ping_timeout_seconds=2.0
    )
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.stall_all()  # no FIN, no RST, no pong: like Wi-Fi gone
    assert recorder.wait_for(lambda r: r.of(LinkDown), 10)
    assert "no answer" in recorder.of(LinkDown)[0].reason
    assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 10)
    feeder.play(speak(SENTENCES[0]))
    assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20)
    assert sentences(recorder) == SENTENCES[:1]


@pytest.mark.parametrize("code", [3005, 4999])
def test_transient_close_codes_back_off_and_reconnect(make_standin, link_with, code):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.close_all(code=code, reason="fault")
    assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
    down = recorder.of(LinkDown)[0]
    assert down.close_code == code and 0 <= down.retry_in_seconds <= 1.0
    assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 10)


def test_session_expiry_reconnects_at_once_without_an_alarm(make_standin, link_with):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.close_all(code=3008, reason="Session Expired: Maximum session duration exceeded")
    assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 5)
    assert recorder.of(LinkDown) == []  # not "connection lost": the service's own rotation


def test_rotation_hands_over_at_a_pause_without_losing_or_repeating(make_standin, link_with, speak):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always", rotate_after_seconds=3.0)
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    feeder.play(said(speak, SENTENCES[:2]))
    assert recorder.wait_for(lambda r: len(r.of(SentenceFinished)) >= 2, 30)
    assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 3, 15)
    assert sentences(recorder) == SENTENCES[:2]
    assert recorder.of(LinkDown) == []  # a planned hand-over is not an outage
    assert standin.sessions[0].close_code == 1000  # ended by Terminate


def test_on_speech_opens_for_speech_with_pre_roll_and_closes_when_idle(
    make_standin, link_with, speak
):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="on_speech", idle_close_seconds=1.5)
    assert recorder.wait_for(lambda r: r.of(LinkIdle), 5)
    feeder.stop.wait(1.0)
    # The start-up key check asked for a free token; silence opens no session.
    assert standin.token_requests == 1 and standin.sessions == []
    sentence = speak(SENTENCES[0])
    feeder.play(sentence)
    assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20)
    assert standin.wait_for_closed(10)
    assert sentences(recorder) == SENTENCES[:1]
    [session] = standin.sessions
    assert session.close_code == 1000
    # Pre-roll: the audio from before the detector fired went too (the first word).
    spoken_seconds = (len(sentence) - 1.5 * 32000) / 32000
    assert session.audio_seconds >= spoken_seconds


def test_muted_holds_no_session_and_sends_nothing(make_standin, link_with, speak):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    link.set_muted(True)
    assert recorder.wait_for(lambda r: r.of(LinkIdle), 10)
    assert standin.wait_for_closed(5)
    feeder.play(speak(SENTENCES[0]))
    feeder.stop.wait(3.0)
    assert len(standin.sessions) == 1 and standin.sessions[0].close_code == 1000
    assert recorder.of(SentenceFinished) == []
    link.set_muted(False)
    assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 10)


@pytest.mark.parametrize(
    "frame",
    ["{not json", '{"type": "SomethingNew", "x": 1}', '{"type": "Turn"}', "x" * 300_000],
)
def test_malformed_unknown_and_oversized_messages_are_survived(
    make_standin, link_with, speak, frame
):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.inject(frame)
    feeder.play(speak(SENTENCES[0]))
    assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20)
    assert sentences(recorder) == SENTENCES[:1]
    assert recorder.of(LinkDown) == [] and len(standin.sessions) == 1


def test_slow_answers_still_arrive_in_order(make_standin, link_with, speak):
    standin = make_standin()
    standin.set_reply_delay(0.2)
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    feeder.play(said(speak, SENTENCES[:2]))
    assert recorder.wait_for(lambda r: len(r.of(SentenceFinished)) >= 2, 30)
    assert sentences(recorder) == SENTENCES[:2]


def test_a_1008_is_retried_slowly_even_with_speech_waiting(make_standin, speak):
    standin = make_standin()
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder, key="wrong", session="on_speech")
    try:
        with Feeder(link) as feeder:
            feeder.play(speak(SENTENCES[0]))
            assert recorder.wait_for(lambda r: len(r.of(LinkDown)) >= 2, 10)
            assert recorder.of(LinkDown)[1].retry_in_seconds >= 60
            threading.Event().wait(2.0)  # a storm would have opened more by now
        # Each attempt is a free token request or a session: two in all, no more.
        assert len(standin.sessions) + standin.token_requests == 2
    finally:
        stop.set()
        thread.join(10)


def test_reconnects_never_exceed_the_opens_per_minute_limit(make_standin, link_with):
    standin = make_standin(sessions_per_minute=3)
    link, recorder, feeder = link_with(standin, session="always", opens_per_minute=2)
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.close_all(code=3005, reason="fault")
    assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 10)
    standin.close_all(code=3005, reason="fault")
    assert recorder.wait_for(lambda r: len(r.of(LinkDown)) >= 2, 5)
    threading.Event().wait(3.0)  # without the limiter, a third session would be open now
    assert len(standin.sessions) == 2 and standin.refused_opens == 0
    assert not link.is_up
