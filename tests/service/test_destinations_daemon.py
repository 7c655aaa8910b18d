"""The real daemon posting to X, Bluesky and Mastodon (real clients, their stand-ins): a
problem on one destination never blocks or repeats another, and shows without hiding them."""

from __future__ import annotations

import logging
import time

import pytest

from appliance import core
from appliance.core import Pattern
from appliance.core.destinations import Destination
from appliance.posting.outbox import DELETED, DROPPED, FAILED, POSTED
from tests.conftest import wait_until
from tests.service.test_posting_daemon import Box

X, BLUESKY, MASTODON = Destination.X, Destination.BLUESKY, Destination.MASTODON
# Deadlines long enough for a first request on a busy machine (Bluesky's signs in first),
# short where a test waits for one to run out.
FAST = {"request_timeout_seconds": 5.0, "retry_max_seconds": 1.0}
HANG_SECONDS = 1.0
# A destination's first post loads its SDK and signs in: a second or so here, far more on
# a busy machine. Waiting longer costs nothing when it is quick.
FIRST_POST_SECONDS = 30.0


class ThreeBox(Box):
    """The sandbox with every destination enabled, each on its own stand-in."""

    def __init__(self, **overrides: dict[str, object]) -> None:
        for destination in Destination:
            overrides[str(destination)] = {**FAST, **overrides.get(str(destination), {})}
        super().__init__(tuple(Destination), confirm={"grace_seconds": 0.0}, **overrides)
        self.on = {X: self.x, **self.standins}  # each destination's stand-in

    def rows(self) -> dict[Destination, object]:
        return {e.destination: e for e in self.entries()}

    def texts(self, destination: Destination) -> list[str]:
        return [post.text for post in self.on[destination].posts]


@pytest.fixture
def three():
    box = ThreeBox().start()
    yield box
    box.stop()


def test_one_sentence_lands_on_each_and_the_journal_names_each(three, caplog):
    with caplog.at_level(logging.INFO):
        three.hear("Tweet that all of you should hear this.")
        assert all(three.on[d].wait_for_posts(1, FIRST_POST_SECONDS) for d in Destination)
        assert wait_until(lambda: {e.state for e in three.entries()} == {POSTED}, 5)
    posted = [r for r in caplog.records if getattr(r, "APPLIANCE_EVENT", "") == "posted"]
    assert sorted(str(r.DESTINATION) for r in posted) == ["bluesky", "mastodon", "x"]
    assert [e.text for e in three.entries()] == ["All of you should hear this."] * 3
    assert len({e.confirmation for e in three.entries()}) == 1
    assert {d: e.post_id for d, e in three.rows().items()} == {
        X: three.x.posts[0].id,
        BLUESKY: three.on[BLUESKY].posts[0].uri,
        MASTODON: three.on[MASTODON].posts[0].id,
    }


# Each fault for a while, then the destination answers again. "hang": never answered
# (within HANG_SECONDS); "accept_and_hang": stored, its answer lost (the retry must not
# post it twice).
FAULTS = {
    "503": {"count": 3},
    "429": {"reset_in_seconds": 8},  # well past the "posted" light of the others (3 s)
    "hang": {},
    "accept_and_hang": {},
}
HELD_UP = {  # what the status line says, after "Posting to Bluesky held up: Bluesky"
    "503": "is having trouble (503",
    "429": "is limiting",
    "hang": "did not answer in time",
    "accept_and_hang": "did not answer in time",
}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("destination", [BLUESKY, MASTODON], ids=str)
def test_a_fault_on_one_holds_up_only_it_and_each_gets_the_post_once(destination, fault):
    deadline = {"request_timeout_seconds": HANG_SECONDS if "hang" in fault else 5.0}
    three = ThreeBox(**{str(destination): deadline}).start()
    try:
        held_up_then_posted_once(three, destination, fault)
    finally:
        three.stop()


def held_up_then_posted_once(three: ThreeBox, destination: Destination, fault: str) -> None:
    three.on[destination].inject(fault, **FAULTS[fault])
    three.hear("Tweet that everyone gets this once.")
    others = [d for d in Destination if d != destination]
    assert all(three.on[d].wait_for_posts(1, FIRST_POST_SECONDS) for d in others)
    label = destination.label
    held_up = f"Posting to {label} held up: {label} {HELD_UP[fault]}"
    assert wait_until(lambda: three.saw_status(held_up), FIRST_POST_SECONDS), three.notices
    if fault == "429":
        # The light under the others' 3 s "posted" flash, which a busy machine can push
        # late enough to cover the whole 8 s wait: rate limited.
        def under_any_flash() -> Pattern:
            state = three.daemon.state
            return core.led_pattern(state, max(time.monotonic(), state.flash_until))

        assert wait_until(lambda: under_any_flash() is Pattern.RATE_LIMITED, 8)
    assert wait_until(lambda: {e.state for e in three.entries()} == {POSTED}, 20)
    assert all(three.texts(d) == ["Everyone gets this once."] for d in Destination)
    assert wait_until(lambda: three.pattern() is Pattern.LISTENING, 5)


@pytest.mark.parametrize("destination", [BLUESKY, MASTODON], ids=str)
def test_refused_credentials_on_one_say_so_and_the_others_post(three, destination):
    three.on[destination].inject("401", count=1000)
    three.hear("Tweet that my password is wrong somewhere.")
    others = [d for d in Destination if d != destination]
    assert all(three.on[d].wait_for_posts(1, FIRST_POST_SECONDS) for d in others)
    assert wait_until(lambda: three.rows()[destination].state == FAILED, FIRST_POST_SECONDS)
    assert wait_until(lambda: three.pattern() is Pattern.NOT_AUTHORISED, 5)
    assert wait_until(lambda: three.saw_status(f"Cannot post to {destination.label}: "), 5)
    assert three.on[destination].posts == []
    assert wait_until(lambda: {three.rows()[d].state for d in Destination} == {POSTED, FAILED}, 5)


def test_problems_on_several_destinations_are_all_in_the_status_line():
    box = ThreeBox(mastodon={"retry_max_seconds": 60.0}).start()
    try:
        box.on[BLUESKY].inject("401", count=1000)
        box.on[MASTODON].inject("429", reset_in_seconds=60)
        box.x.inject("503", count=1000)
        box.hear("Tweet that nothing works today.")
        wanted = ("Cannot post to Bluesky", "Posting to Mastodon held up", "Posting to X held up")
        shows_all = lambda: all(part in box.last_status() for part in wanted)  # noqa: E731
        assert wait_until(shows_all, 15), box.notices
        assert box.pattern() is Pattern.NOT_AUTHORISED  # the one the user must act on
        assert all(standin.posts == [] for standin in box.on.values())
    finally:
        box.stop()


def test_delete_that_deletes_everywhere_and_stops_what_has_not_gone_out(three):
    three.on[BLUESKY].inject("503", count=1000)  # Bluesky's row is still waiting
    three.hear("Tweet that I regret this.")
    assert all(three.on[d].wait_for_posts(1, FIRST_POST_SECONDS) for d in (X, MASTODON))
    assert wait_until(lambda: three.rows()[BLUESKY].attempts > 0, FIRST_POST_SECONDS)
    assert wait_until(lambda: three.daemon.state.last_confirmation, 5)
    three.hear("Delete that.")
    assert wait_until(lambda: three.x.posts == [] and three.on[MASTODON].posts == [], 10)
    assert wait_until(lambda: three.rows()[X].state == DELETED, 5)
    assert wait_until(lambda: three.rows()[MASTODON].state == DELETED, 5)
    assert wait_until(lambda: three.rows()[BLUESKY].state == DROPPED, 20)  # its try ends first
    assert three.on[BLUESKY].posts == []


def test_the_credentials_of_every_enabled_destination_are_loaded(three):
    assert three.daemon.settings.destinations == (X, BLUESKY, MASTODON)
    assert set(three.daemon.posters) == {X, BLUESKY, MASTODON}


def test_dropping_the_post_that_waits_for_credits_turns_the_light_off():
    # The stale light: out of credits cleared only on the next post result, so dropping
    # the waiting post (`appliance outbox drop`) left it on until the next post.
    box = Box(confirm={"grace_seconds": 0.0}, x=FAST).start()
    try:
        box.x.spend_credits()
        box.hear("Tweet that nobody pays for this.")
        assert wait_until(lambda: box.pattern() is Pattern.OUT_OF_CREDITS, 10)
        [entry] = box.entries()
        assert box.daemon.outbox.drop(entry.id)  # as `appliance outbox drop` does
        assert wait_until(lambda: box.pattern() is not Pattern.OUT_OF_CREDITS, 10)
        assert wait_until(lambda: "credits" not in box.last_status(), 5)
        assert box.daemon.state.posts_in_flight == 0
    finally:
        box.stop()


# "drip": the answer comes slowly (deleted there once it is in); "accept_and_hang": it
# never comes (the client gives up, finds the post by looking, and deletes it).
WHILE_ANSWERING = {"drip": 30.0, "accept_and_hang": 2 * HANG_SECONDS}  # fault: deadline
DRIP_SECONDS = {BLUESKY: 0.02, MASTODON: 0.004}  # per byte: some 5 s for the whole answer


@pytest.mark.parametrize("fault", list(WHILE_ANSWERING))
@pytest.mark.parametrize("destination", [BLUESKY, MASTODON], ids=str)
def test_delete_that_while_one_is_still_answering_deletes_it_there_too(destination, fault):
    timeout = {"request_timeout_seconds": WHILE_ANSWERING[fault]}
    box = ThreeBox(**{str(destination): timeout}).start()
    try:
        # A first post warms every client (SDK loaded, signed in), so the one under test
        # goes out at once everywhere: a cold start under load could outlast the drip.
        box.hear("Tweet that first things first.")
        assert all(box.on[d].wait_for_posts(1, FIRST_POST_SECONDS) for d in Destination)
        assert wait_until(lambda: {e.state for e in box.entries()} == {POSTED}, 10)
        warm_up = box.daemon.state.last_confirmation
        options = {"byte_interval_seconds": DRIP_SECONDS[destination]} if fault == "drip" else {}
        box.on[destination].inject(fault, **options)
        box.hear("Tweet that I regret this at once.")
        assert all(box.on[d].wait_for_posts(2, 10) for d in Destination)
        # "Delete that" means this one once one of its posts is known to the daemon.
        assert wait_until(lambda: box.daemon.state.last_confirmation not in (0, warm_up), 5)
        regretted = lambda: [e for e in box.entries() if e.text.startswith("I regret")]  # noqa: E731
        [under_test] = [e for e in regretted() if e.destination == destination]
        assert under_test.state == "sending"  # its answer is still on the way
        box.hear("Delete that.")
        first = ["First things first."]
        assert wait_until(lambda: all(box.texts(d) == first for d in Destination), 30), [
            (d, box.texts(d)) for d in Destination
        ]
        assert wait_until(lambda: {e.state for e in regretted()} == {DELETED}, 5)
    finally:
        box.stop()
