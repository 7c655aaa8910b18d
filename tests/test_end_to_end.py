"""End to end: espeak-ng speech through real ALSA, the real daemon, the two stand-ins."""

from __future__ import annotations

import pytest

from appliance.tryout.sandbox import Sandbox
from tests.conftest import wait_until
from tests.speech_audio import silence

SCRIPT = [
    "Mondays are the worst.",
    "My cat thinks the keyboard is a bed.",
    "Tweet that.",
    "Tweet that coffee is a personality.",
    "This one stays private.",
]


# The grace period has its own tests (tests/service/test_posting_daemon.py); here it only
# adds waiting, so it is short, but not 0: a confirmed post still goes through it.
SHORT_GRACE = {"confirm": {"grace_seconds": 0.5}}


@pytest.fixture
def sandbox():
    box = Sandbox(SCRIPT, settings_overrides=SHORT_GRACE)
    box.start()
    # session = "on_speech" (the default): no session until someone speaks.
    assert wait_until(lambda: box.daemon.state.link == "idle", 10), box.daemon.state
    yield box
    box.stop()


def candidate_text(box):
    candidate = box.daemon.state.candidate
    return candidate.text if candidate else None


def post_texts(box):
    return [post.text for post in box.x.posts]


def test_spoken_sentence_is_posted_after_a_button_press(sandbox, speak):
    sandbox.say(speak(SCRIPT[0]))
    assert wait_until(lambda: candidate_text(sandbox) == SCRIPT[0], 20)
    assert post_texts(sandbox) == []  # heard, but not confirmed: nothing posted
    sandbox.press_button()
    assert sandbox.x.wait_for_posts(1, 10)
    assert post_texts(sandbox) == [SCRIPT[0]]
    assert wait_until(lambda: sandbox.daemon.state.last_post_id == sandbox.x.posts[0].id, 5)
    entry = sandbox.daemon.outbox.entries()[0]
    assert (entry.state, entry.post_id, entry.confirmed_by) == (
        "posted",
        sandbox.x.posts[0].id,
        "button",
    )


def test_voice_confirmation_and_tweet_that_text(sandbox, speak):
    sandbox.say(speak(SCRIPT[0]))  # consumed by the script cursor, never confirmed
    sandbox.say(speak(SCRIPT[1]))
    sandbox.say(speak(SCRIPT[2]))  # "Tweet that."
    assert sandbox.x.wait_for_posts(1, 30)
    sandbox.say(speak(SCRIPT[3]))  # "Tweet that coffee is a personality."
    assert sandbox.x.wait_for_posts(2, 20)
    assert post_texts(sandbox) == [SCRIPT[1], "Coffee is a personality."]


def test_nothing_is_posted_without_a_confirmation(speak):
    with Sandbox(
        SCRIPT[:2], settings_overrides={"confirm": {"candidate_window_seconds": 1.0}}
    ) as box:
        assert wait_until(lambda: box.daemon.state.link == "idle", 10)
        box.say(speak(SCRIPT[0]) + speak(SCRIPT[1]))
        assert wait_until(lambda: candidate_text(box) == SCRIPT[1], 30)
        # The window passes; the candidate expires and a late press posts nothing.
        assert wait_until(lambda: box.daemon.state.candidate is None, 5)
        box.press_button()
        box.say(silence(1.0))
        assert not box.x.wait_for_posts(1, 2)
        assert box.daemon.outbox.entries() == []


def test_keeps_listening_after_the_speech_server_drops_the_connection(speak):
    overrides = {"assemblyai": {"session": "always"}, **SHORT_GRACE}
    with Sandbox(SCRIPT, settings_overrides=overrides) as box:
        assert wait_until(lambda: box.daemon.state.link == "up", 10)
        box.speech.drop_all()
        # It retries at once, so a look at the state may never catch it down: the second
        # session is what shows the drop was noticed and mended.
        assert box.speech.wait_for_sessions(2, 15)
        assert wait_until(lambda: box.daemon.state.link == "up", 15)
        box.say(speak(SCRIPT[0]))
        assert wait_until(lambda: candidate_text(box) == SCRIPT[0], 20)
        box.press_button()
        assert box.x.wait_for_posts(1, 10)
        assert len(box.speech.sessions) == 2


def test_on_speech_opens_a_session_for_speech_and_closes_it_when_idle(speak):
    overrides = {"assemblyai": {"idle_close_seconds": 2.0}}
    with Sandbox(SCRIPT, settings_overrides=overrides) as box:
        assert wait_until(lambda: box.daemon.state.link == "idle", 10)
        # A free temporary token checked the key at start-up; silence costs nothing.
        assert box.speech.token_requests == 1 and box.speech.sessions == []
        box.say(speak(SCRIPT[0]))
        assert wait_until(lambda: candidate_text(box) == SCRIPT[0], 20)
        assert wait_until(lambda: box.daemon.state.link == "idle", 10)
        assert box.speech.wait_for_closed(5)
        assert [s.close_code for s in box.speech.sessions] == [1000]  # by Terminate
