"""A client that raises (a bug, a broken install, an SDK's surprise) never kills the poster:
the row waits in the outbox, the destination shows the problem, and a retry that may
repeat a request that went out is sent as one (the client's own exactly-once check)."""

from __future__ import annotations

import logging

import pytest

from appliance.core.destinations import Destination
from appliance.core.events import DeleteResult, PostResult, PostStatus
from appliance.posting.outbox import POSTED, WAITING, Outbox
from appliance.posting.outcome import Outcome, PostOutcome
from appliance.posting.poster import Poster
from tests.posting.doubles import ScriptedClient

MASTODON = Destination.MASTODON
TEXT = "The kettle is on."


class Boom(RuntimeError):
    """What an SDK might raise that no client expected."""


class Rig:
    """One outbox row for Mastodon, a scripted client, a poster called round by round."""

    def __init__(self, tmp_path, answers: list) -> None:
        self.clock = [1_000_000.0]
        self.outbox = Outbox(tmp_path / "outbox.sqlite3", clock=lambda: self.clock[0])
        self.entry_id = self.outbox.add(TEXT, "button", {MASTODON: TEXT})

        def answer(text: str) -> PostOutcome:
            next_answer = answers.pop(0)
            if isinstance(next_answer, Exception):
                raise next_answer
            return next_answer

        self.client = ScriptedClient(answer, MASTODON)
        self.events: list = []
        self.poster = Poster(
            self.outbox, self.client, self.events.append, clock=lambda: self.clock[0]
        )

    def row(self):
        return self.outbox.get(self.entry_id)

    def results(self) -> list[PostResult]:
        return [e for e in self.events if isinstance(e, PostResult)]

    def next_round(self) -> None:
        """Jump past the row's wait and send it again."""
        self.clock[0] = max(self.clock[0], self.row().next_attempt_at) + 1
        assert self.poster.send_next()


def test_an_exception_from_the_client_keeps_the_row_and_says_so(tmp_path, caplog):
    rig = Rig(tmp_path, [Boom("the SDK tripped over its own feet")])
    with caplog.at_level(logging.WARNING):
        assert rig.poster.send_next()  # before the fix: Boom escaped and killed the thread
    assert rig.row().state == WAITING
    [result] = rig.results()
    assert (result.outcome, result.destination) == (PostStatus.RETRYING, MASTODON)
    assert result.detail.startswith("Unexpected Boom while posting to Mastodon")
    assert "tripped" not in result.detail  # an exception's text may hold a key: journal only
    assert result.is_fault
    records = [r for r in caplog.records if getattr(r, "DESTINATION", None) == MASTODON]
    assert [r.APPLIANCE_EVENT for r in records] == ["client_fault", "post_retrying"]
    assert all(r.OUTBOX_ID == rig.entry_id for r in records)
    assert "the SDK tripped over its own feet" in records[0].getMessage()
    assert records[0].exc_info is not None  # the traceback, for whoever fixes it


def test_the_same_exception_again_is_logged_once(tmp_path, caplog):
    rig = Rig(tmp_path, [Boom("same"), Boom("same"), Boom("other")])
    with caplog.at_level(logging.WARNING):
        assert rig.poster.send_next()
        rig.next_round()
        rig.next_round()
    faults = [r for r in caplog.records if getattr(r, "APPLIANCE_EVENT", "") == "client_fault"]
    assert [r.getMessage().rsplit(": ", 1)[1] for r in faults] == ["same", "other"]


def test_after_an_exception_the_retry_is_treated_as_maybe_sent_and_posts_once(tmp_path):
    posted = PostOutcome(Outcome.POSTED, post_id="7")
    rig = Rig(tmp_path, [Boom("mid-request"), Boom("again"), posted])
    assert rig.poster.send_next()
    rig.next_round()
    rig.next_round()
    assert rig.row().state == POSTED and rig.row().post_id == "7"
    # The request may have reached the destination: the retries say since when, and
    # carry the same key (Mastodon's Idempotency-Key, Bluesky's record key).
    assert rig.client.tried_since == [0.0, rig.row().created_at, rig.row().created_at]
    assert len({key for _, key in rig.client.calls}) == 1
    assert [r.outcome for r in rig.results()] == [PostStatus.RETRYING] * 2 + [PostStatus.POSTED]


def test_each_exception_waits_on_the_backoff_schedule(tmp_path):
    rig = Rig(tmp_path, [Boom(str(n)) for n in range(12)])
    assert rig.poster.send_next()
    waits = [rig.row().next_attempt_at - rig.clock[0]]
    for _ in range(11):
        rig.next_round()
        waits.append(rig.row().next_attempt_at - rig.clock[0])
    assert rig.row().attempts == 12 and rig.row().state == WAITING
    # Full jitter under a ceiling that doubles from 2 s to the 300 s cap: never a spin.
    assert all(1.0 <= wait <= max(1.0, min(300.0, 2.0 * 2**n)) for n, wait in enumerate(waits))


def test_an_exception_while_looking_up_a_lost_post_is_no_post_id(tmp_path):
    duplicate = PostOutcome(Outcome.POSTED, is_duplicate=True)
    rig = Rig(tmp_path, [PostOutcome(Outcome.RETRY, detail="no answer"), duplicate])

    def find_post(text: str, since_unix_seconds: float) -> str:
        raise Boom("look-up broke")

    rig.client.find_post = find_post  # type: ignore[method-assign]
    assert rig.poster.send_next()
    rig.next_round()
    assert rig.row().state == POSTED and rig.row().post_id == ""


@pytest.mark.parametrize("attempts_left", [True, False])
def test_an_exception_while_deleting_is_retried_then_reported(tmp_path, attempts_left):
    rig = Rig(tmp_path, [PostOutcome(Outcome.POSTED, post_id="7")])
    assert rig.poster.send_next()
    failures = [Boom("delete broke")] * (1 if attempts_left else 100)

    def delete(post_id: str) -> PostOutcome:
        if failures:
            raise failures.pop()
        return PostOutcome(Outcome.DELETED, post_id=post_id)

    rig.client.delete = delete  # type: ignore[method-assign]
    rig.poster.request_delete(rig.entry_id, "7")
    for _ in range(10):
        rig.clock[0] += 1000
        rig.poster.delete_due()
        if any(isinstance(e, DeleteResult) for e in rig.events):
            break
    [result] = [e for e in rig.events if isinstance(e, DeleteResult)]
    assert result.is_deleted is attempts_left
    if not attempts_left:
        assert "Unexpected Boom while deleting a post from Mastodon" in result.detail
