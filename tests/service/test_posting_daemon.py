"""Posting through the real daemon (sandbox, X stand-in): grace, undo, and X's answers."""

from __future__ import annotations

import threading
import time

import pytest

from appliance import core
from appliance.core import Pattern
from appliance.core.destinations import Destination
from appliance.core.events import SentenceFinished
from appliance.service.daemon import Parts
from appliance.service.systemd import Notifier
from appliance.tryout.sandbox import Sandbox
from tests.conftest import wait_until


class Box(Sandbox):
    """A sandbox whose daemon's STATUS= lines are kept, and which is told sentences directly."""

    def __init__(
        self, destinations: tuple[Destination, ...] = (Destination.X,), **overrides: dict
    ) -> None:
        super().__init__([], settings_overrides=overrides, destinations=destinations)
        self.notices: list[str] = []

    def start(self) -> Box:
        self.start_standins()
        self.start_daemon(Parts(notifier=Notifier(send=self.notices.append)))
        return self

    def hear(self, text: str) -> None:
        """A finished sentence, as the speech link emits it."""
        assert self.daemon is not None
        self.daemon.events.put(SentenceFinished(text))

    def pattern(self) -> Pattern:
        assert self.daemon is not None
        return core.led_pattern(self.daemon.state, time.monotonic())

    def saw_status(self, fragment: str) -> bool:
        return any(fragment in notice for notice in self.notices if notice.startswith("STATUS="))

    def last_status(self) -> str:
        return ([n for n in self.notices if n.startswith("STATUS=")] or [""])[-1]

    def entries(self):
        assert self.daemon is not None
        return self.daemon.outbox.entries()


FAST_X = {"request_timeout_seconds": 1.0, "retry_max_seconds": 1.0}


@pytest.fixture
def box():
    sandbox = Box(confirm={"grace_seconds": 1.0}, x=FAST_X).start()
    yield sandbox
    sandbox.stop()


# Long enough that a busy machine cannot let it run out between the test's two presses.
GRACE_SECONDS = 3.0


def test_grace_period_then_post_and_a_second_press_cancels():
    box = Box(confirm={"grace_seconds": GRACE_SECONDS}, x=FAST_X).start()
    try:
        box.hear("Coffee first.")
        assert wait_until(lambda: box.daemon.state.candidate is not None, 5)
        box.press_button()
        grace = (Pattern.GRACE, Pattern.GRACE_ENDING)  # the last second blinks faster
        assert wait_until(lambda: box.pattern() in grace, GRACE_SECONDS)
        assert box.x.posts == [] and box.entries() == []  # nothing reaches the outbox yet
        assert box.x.wait_for_posts(1, 10 + GRACE_SECONDS)
        box.hear("Second thoughts.")
        assert wait_until(lambda: box.daemon.state.candidate is not None, 5)
        box.press_button()
        assert wait_until(lambda: box.daemon.state.pending is not None, 5)
        box.press_button()  # within the grace period
        assert wait_until(lambda: box.daemon.state.pending is None, 5)
        time.sleep(GRACE_SECONDS + 0.5)  # past when it would have been posted
        assert [p.text for p in box.x.posts] == ["Coffee first."]
        assert [e.text for e in box.entries()] == ["Coffee first."]
    finally:
        box.stop()


def test_delete_that_removes_the_last_post_from_x(box):
    box.hear("Tweet that I regret this.")
    assert box.x.wait_for_posts(1, 10)
    assert wait_until(lambda: box.daemon.state.last_post_id, 5)
    box.hear("Delete that.")
    assert wait_until(lambda: box.x.posts == [], 10)
    assert wait_until(lambda: box.entries()[0].state == "deleted", 5)


def test_the_main_loop_never_waits_on_x():
    with Box(confirm={"grace_seconds": 0.0}, x={"request_timeout_seconds": 5.0}) as box:
        box.x.inject("hang")
        box.hear("Tweet that into the void.")
        assert wait_until(lambda: box.daemon.state.posts_in_flight == 1, 5)
        box.hear("Still listening.")  # while the POST hangs
        assert wait_until(lambda: box.daemon.state.candidate is not None, 4)
        assert box.x.posts == [] and box.daemon.state.posts_in_flight == 1  # still hanging
        assert box.x.wait_for_posts(1, 20)  # timed out, retried, posted


def test_503_for_a_while_shows_held_up_then_posts(box):
    box.x.inject("503", for_seconds=2.0)
    box.hear("Tweet that the server is back.")
    assert wait_until(lambda: box.saw_status("Posting held up: X is having trouble (503"), 10)
    assert box.x.wait_for_posts(1, 15)
    assert wait_until(lambda: box.entries()[0].state == "posted", 5)


def test_429_shows_rate_limited_and_posts_after_the_reset(box):
    box.x.inject("429", reset_in_seconds=2)
    box.hear("Tweet that slow and steady.")
    assert wait_until(lambda: box.pattern() is Pattern.RATE_LIMITED, 5)
    assert box.saw_status("Posting held up: X is limiting posts (429")
    assert box.x.posts == []
    assert box.x.wait_for_posts(1, 10)


def test_401_shows_not_authorised_and_what_to_fix(box):
    box.x.inject("401", count=3)
    box.hear("Tweet that with the wrong keys.")
    assert wait_until(lambda: box.pattern() is Pattern.NOT_AUTHORISED, 10)
    assert box.saw_status("Cannot post: X did not accept the keys (401")
    assert box.entries()[0].state == "failed"
    time.sleep(1.5)
    assert box.x.posts == [] and box.entries()[0].attempts == 1  # not retried blindly


def test_a_drip_fed_answer_is_abandoned_then_counted_once_and_can_be_deleted():
    x = {"request_timeout_seconds": 1.0, "retry_max_seconds": 1.0}
    with Box(confirm={"grace_seconds": 0.0}, x=x) as box:
        box.x.inject("drip", byte_interval_seconds=0.2)
        box.hear("Tweet that the network is slow.")
        assert box.x.wait_for_posts(1, 5)  # X has it; its answer trickles
        assert box.daemon.control("status")["ok"]  # the main loop answers meanwhile
        # Abandoned at the deadline (not "sending" for ever), retried, met as a duplicate.
        assert wait_until(lambda: box.entries()[0].state == "posted", 15)
        [entry] = box.entries()
        assert entry.reason == "X already had it (earlier attempt)"
        assert entry.post_id == box.x.posts[0].id  # looked up: "delete that" can use it
        assert wait_until(lambda: box.daemon.state.last_post_id == entry.post_id, 5)
        box.hear("Delete that.")
        assert wait_until(lambda: box.x.posts == [], 10)


def test_stop_is_prompt_while_x_drip_feeds_its_answer():
    before = set(threading.enumerate())
    box = Box(confirm={"grace_seconds": 0.0}, x={"request_timeout_seconds": 60.0}).start()
    try:
        box.x.inject("drip", byte_interval_seconds=0.5)
        box.hear("Tweet that I am leaving.")
        assert box.x.wait_for_posts(1, 5)
        [poster] = [t for t in set(threading.enumerate()) - before if t.name == "poster-x"]
        box._stop.set()  # SIGTERM, while X still trickles its answer
        # The poster thread is cut off from X, not left waiting on the slow answer.
        poster.join(5)
        assert not poster.is_alive()
    finally:
        box.stop()


def test_spent_x_credits_show_and_the_post_goes_out_once_they_are_added(box):
    box.x.spend_credits()
    box.hear("Tweet that money talks.")
    assert wait_until(lambda: box.pattern() is Pattern.OUT_OF_CREDITS, 10)
    assert box.saw_status("X account out of credits")
    assert box.entries()[0].state in ("waiting", "sending") and box.x.posts == []
    box.x.add_credits()
    assert box.x.wait_for_posts(1, 10)
    assert wait_until(lambda: box.entries()[0].state == "posted", 5)
    assert wait_until(lambda: box.pattern() is not Pattern.OUT_OF_CREDITS, 5)


def test_confirming_a_post_with_a_link_says_what_it_costs(box):
    box.hear("Read example.com today.")
    assert wait_until(lambda: box.daemon.state.candidate is not None, 5)
    reply = box.daemon.control("confirm")
    assert reply["ok"] and "13×" in reply["message"] and "$0.20" in reply["message"]
    assert "$0.20 on X" in reply["status"]
