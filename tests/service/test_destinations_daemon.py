"""The real daemon posting to two destinations (Bluesky played by a second X stand-in)."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from appliance.core.destinations import Destination
from appliance.posting.outbox import DELETED, DROPPED, POSTED, WAITING
from appliance.service import daemon as daemon_module
from tests.conftest import wait_until
from tests.service.second_destination import (
    BLUESKY_SECTION,
    clients_with_bluesky_as_x,
    second_x_standin,
)
from tests.service.test_posting_daemon import Box

X, BLUESKY = Destination.X, Destination.BLUESKY
FAST = {"request_timeout_seconds": 1.0, "retry_max_seconds": 1.0}


class TwoBox(Box):
    """The sandbox, with [bluesky] enabled and its posts landing on `self.bluesky`."""

    def __init__(self, monkeypatch, **overrides: dict[str, object]) -> None:
        bluesky = {**BLUESKY_SECTION, **FAST, **overrides.pop("bluesky", {})}
        super().__init__(bluesky=bluesky, **overrides)
        self.bluesky = second_x_standin(self.keys)
        monkeypatch.setattr(
            daemon_module, "make_clients", clients_with_bluesky_as_x(self.bluesky.url)
        )

    def rows(self) -> dict[Destination, object]:
        return {e.destination: e for e in self.entries()}

    def stop(self) -> None:
        super().stop()
        self.bluesky.stop()


@pytest.fixture
def two(monkeypatch):
    box = TwoBox(monkeypatch, confirm={"grace_seconds": 0.0}, x=FAST).start()
    yield box
    box.stop()


def test_one_sentence_lands_on_both_and_the_journal_names_each(two, caplog):
    with caplog.at_level(logging.INFO):
        two.hear("Tweet that both of you should hear this.")
        assert two.x.wait_for_posts(1, 10) and two.bluesky.wait_for_posts(1, 10)
        assert wait_until(lambda: all(e.state == POSTED for e in two.entries()), 5)
    posted = [r for r in caplog.records if getattr(r, "APPLIANCE_EVENT", "") == "posted"]
    assert sorted(str(r.DESTINATION) for r in posted) == ["bluesky", "x"]
    assert [e.text for e in two.entries()] == ["Both of you should hear this."] * 2
    assert len({e.confirmation for e in two.entries()}) == 1


def test_an_outage_on_one_is_shown_without_hiding_the_other(two):
    two.bluesky.inject("503", count=1000)
    two.hear("Tweet that only X has this for now.")
    assert two.x.wait_for_posts(1, 10)
    assert wait_until(lambda: two.rows()[BLUESKY].state == WAITING, 10)
    assert wait_until(lambda: two.saw_status("Posting to Bluesky held up"), 10)
    assert wait_until(lambda: two.rows()[X].state == POSTED, 5) and two.bluesky.posts == []


def test_delete_that_deletes_everywhere_and_stops_what_has_not_gone_out(two):
    two.bluesky.inject("503", count=1000)  # Bluesky's row is still waiting
    two.hear("Tweet that I regret this.")
    assert two.x.wait_for_posts(1, 10)
    assert wait_until(lambda: two.daemon.state.last_confirmation, 5)
    two.hear("Delete that.")
    assert wait_until(lambda: two.x.posts == [], 10)
    assert wait_until(lambda: two.rows()[X].state == DELETED, 5)
    assert wait_until(lambda: two.rows()[BLUESKY].state == DROPPED, 5)
    assert two.bluesky.posts == []


def test_delete_that_after_both_posted_deletes_both(two):
    two.hear("Tweet that twice regretted.")
    assert two.x.wait_for_posts(1, 10) and two.bluesky.wait_for_posts(1, 10)
    assert wait_until(lambda: len(two.daemon.state.last_posts) == 2, 5)
    two.hear("Delete that.")
    assert wait_until(lambda: two.x.posts == [] and two.bluesky.posts == [], 10)
    assert wait_until(lambda: {e.state for e in two.entries()} == {DELETED}, 5)


def test_the_credentials_of_every_enabled_destination_are_loaded(two):
    assert dataclasses.is_dataclass(two.daemon.settings)
    assert two.daemon.settings.destinations == (X, BLUESKY)
    assert set(two.daemon.posters) == {X, BLUESKY}


def test_dropping_the_post_that_waits_for_credits_turns_the_light_off():
    # The stale light: out of credits cleared only on the next post result, so dropping
    # the waiting post (`appliance outbox drop`) left it on until the next post.
    from appliance.core import Pattern

    box = Box(confirm={"grace_seconds": 0.0}, x=FAST).start()
    try:
        box.x.spend_credits()
        box.hear("Tweet that nobody pays for this.")
        assert wait_until(lambda: box.pattern() is Pattern.OUT_OF_CREDITS, 10)
        [entry] = box.entries()
        assert box.daemon.outbox.drop(entry.id)  # as `appliance outbox drop` does
        assert wait_until(lambda: box.pattern() is not Pattern.OUT_OF_CREDITS, 10)
        last_status = lambda: [n for n in box.notices if n.startswith("STATUS=")][-1]  # noqa: E731
        assert wait_until(lambda: "credits" not in last_status(), 5)
        assert box.daemon.state.posts_in_flight == 0
    finally:
        box.stop()


def test_delete_that_while_one_destination_is_still_answering_deletes_it_there_too(two):
    two.bluesky.inject("drip", byte_interval_seconds=0.02)  # Bluesky answers slowly
    two.hear("Tweet that I regret this at once.")
    assert two.x.wait_for_posts(1, 10) and two.bluesky.wait_for_posts(1, 10)
    assert wait_until(lambda: two.daemon.state.last_confirmation, 5)
    assert two.rows()[BLUESKY].state == "sending"  # its answer is still on the way
    two.hear("Delete that.")
    assert wait_until(lambda: two.x.posts == [] and two.bluesky.posts == [], 20)
    assert wait_until(lambda: {e.state for e in two.entries()} == {DELETED}, 5)
