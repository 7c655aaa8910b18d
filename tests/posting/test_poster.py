"""The poster thread against the X stand-in: every answer of X handled on purpose."""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time

import pytest

from appliance.core.destinations import Destination
from appliance.core.events import DeleteResult, PostResult, PostsSettled
from appliance.posting.outbox import DELETED, FAILED, POSTED, WAITING, Outbox
from appliance.posting.poster import Poster
from appliance.posting.x_client import XCredentials, XPoster, make_client
from appliance.tryout.standins.x_server import XStandin
from tests.conftest import wait_until

CREDENTIALS = XCredentials(
    consumer_key="PosterConsumerKey01234567",
    consumer_secret="poster-consumer-secret-ABCDEFGHIJ0123456789",
    access_token="1-PosterAccessToken0123456789",
    access_token_secret="poster-token-secret-KLMNOPQRSTU987654321",
)


class Rig:
    """A stand-in, an outbox on disk and a running poster thread."""

    def __init__(self, tmp_path, timeout_seconds: float = 5.0) -> None:
        self.x = XStandin(**dataclasses.asdict(CREDENTIALS))
        self.x.start()
        self.outbox = Outbox(tmp_path / "outbox.sqlite3")
        self.client = XPoster(make_client(self.x.url, CREDENTIALS, timeout_seconds))
        self.sent: list[str] = []
        self.keys: list[str] = []
        self.events: queue.Queue = queue.Queue()
        self.poster = Poster(
            self.outbox, self, self.events.put, retry_first_seconds=0.2, retry_max_seconds=0.5
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.poster.run, args=(self.stop,), daemon=True)
        self.thread.start()

    # The Client the poster sees: the real XPoster, with what it was asked to send noted.
    destination = Destination.X

    def post(self, text: str, key: str, tried_since: float = 0.0):
        self.sent.append(text)
        self.keys.append(key)
        return self.client.post(text, key)

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def queue(self, text: str) -> int:
        entry_id = self.outbox.add(text, "button")
        self.poster.wake()
        return entry_id

    def result(self, timeout: float = 10.0) -> object:
        """The next post or delete result (a PostsSettled is not one)."""
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if not isinstance(event, PostsSettled):
                return event

    def final_result(self, timeout: float = 15.0) -> PostResult:
        deadline = time.monotonic() + timeout
        while True:
            event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(event, PostResult) and event.outcome != "retrying":
                return event

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.x.stop()
        self.outbox.close()


@pytest.fixture
def rig(tmp_path):
    r = Rig(tmp_path)
    yield r
    r.close()


def texts(rig):
    return [post.text for post in rig.x.posts]


def test_503_for_a_while_is_retried_with_backoff_until_posted(rig):
    rig.x.inject("503", for_seconds=1.5)
    entry = rig.queue("through the outage")
    first = rig.result()
    assert first.outcome == "retrying" and "503" in first.detail
    result = rig.final_result()
    assert result.outcome == "posted" and texts(rig) == ["through the outage"]
    assert 2 <= len(rig.sent) < 15  # backed off, not a tight loop
    assert rig.outbox.get(entry).state == POSTED


def test_429_waits_for_xs_reset_then_posts(rig):
    rig.x.inject("429", reset_in_seconds=3)
    entry = rig.queue("rate limited")
    limited = rig.result()
    assert limited.outcome == "retrying" and limited.is_rate_limited
    assert rig.outbox.get(entry).state == WAITING
    waiting_until = rig.outbox.get(entry).next_attempt_at
    assert waiting_until >= time.time() + 1.5  # X's reset (3 s), not the 1-s backoff
    assert rig.final_result().outcome == "posted"
    assert rig.x.posts[0].received_at >= waiting_until - 0.01
    assert len(rig.sent) == 2


def test_429_on_the_24_hour_limit_waits_for_that_reset(rig):
    rig.x.inject("429", reset_in_seconds=3600, user_24h=True)
    entry = rig.queue("too many today")
    assert rig.result().is_rate_limited
    assert rig.outbox.get(entry).next_attempt_at >= time.time() + 3500


@pytest.mark.parametrize(
    "fault, phrase",
    [("401", "regenerate the access token"), ("403", '"Read and write"')],
)
def test_401_and_403_fail_at_once_and_say_what_to_fix(rig, caplog, fault, phrase):
    rig.x.inject(fault, count=5)
    with caplog.at_level(logging.ERROR, logger="appliance.posting.poster"):
        entry = rig.queue("needs the user")
        result = rig.final_result()
        time.sleep(0.5)
    assert result.outcome == "failed" and result.needs_user and phrase in result.detail
    assert rig.sent == ["needs the user"]  # not retried blindly
    assert rig.outbox.get(entry).state == FAILED
    [line] = [r for r in caplog.records if r.getMessage().startswith("Post ")]
    assert phrase in line.getMessage()
    for secret in dataclasses.astuple(CREDENTIALS):
        assert secret not in line.getMessage()


def test_400_fails_with_xs_detail(rig):
    rig.queue("a" * 300)  # past the core's check, as if written by an older version
    result = rig.final_result()
    assert result.outcome == "failed" and not result.needs_user
    assert "400" in result.detail and "too long" in result.detail


def test_a_duplicate_on_the_first_attempt_is_a_failure(rig):
    rig.queue("said before")
    assert rig.final_result().outcome == "posted"
    entry = rig.queue("said before")
    result = rig.final_result()
    assert result.outcome == "failed" and "already has" in result.detail
    assert rig.outbox.get(entry).state == FAILED and len(rig.x.posts) == 1


def test_a_lost_answer_then_duplicate_counts_as_posted_once(tmp_path):
    rig = Rig(tmp_path, timeout_seconds=0.5)
    try:
        rig.x.inject("accept_and_hang")
        entry = rig.queue("answer lost")
        assert rig.result().outcome == "retrying"  # the request timed out
        assert rig.x.wait_for_posts(1, 5)  # ... but X has it (a busy stand-in stores it late)
        assert texts(rig) == ["answer lost"]
        result = rig.final_result()
        assert result.outcome == "posted"
        assert rig.outbox.get(entry).reason == "X already had it (earlier attempt)"
        assert texts(rig) == ["answer lost"] and len(rig.sent) == 2
        # X's "duplicate" has no id: it was looked up, so "delete that" can delete it.
        [on_x] = rig.x.posts
        assert result.post_id == on_x.id == rig.outbox.get(entry).post_id
        rig.poster.request_delete(entry, result.post_id)
        assert rig.result().is_deleted and rig.x.posts == []
    finally:
        rig.close()


def test_a_drip_fed_answer_is_abandoned_and_the_post_counts_once(tmp_path):
    rig = Rig(tmp_path, timeout_seconds=1.0)
    try:
        rig.x.inject("drip", byte_interval_seconds=0.05)
        entry = rig.queue("one byte at a time")
        first = rig.result()
        assert first.outcome == "retrying" and "in time" in first.detail
        assert rig.outbox.get(entry).state == WAITING  # not stuck in "sending"
        result = rig.final_result()
        assert result.outcome == "posted" and texts(rig) == ["one byte at a time"]
        assert result.post_id == rig.x.posts[0].id
    finally:
        rig.close()


def test_stop_is_prompt_while_x_drip_feeds_its_answer(tmp_path):
    rig = Rig(tmp_path, timeout_seconds=60.0)
    try:
        rig.x.inject("drip", byte_interval_seconds=0.5)
        entry = rig.queue("slow answer")
        assert wait_until(lambda: rig.x.posts, 5)  # X has it and is dripping the answer
        rig.stop.set()
        rig.thread.join(3)
        assert not rig.thread.is_alive()
        assert rig.outbox.get(entry).state == WAITING  # sent again after the restart
    finally:
        rig.close()


def test_spent_credits_keep_the_post_waiting_until_credits_are_added(rig, caplog):
    rig.x.spend_credits()
    with caplog.at_level(logging.WARNING, logger="appliance.posting.poster"):
        entry = rig.queue("worth paying for")
        first = rig.result()
        assert first.outcome == "retrying" and first.is_out_of_credits
        assert "X account out of credits" in first.detail and "api_url" not in first.detail
        assert rig.outbox.get(entry).state == WAITING
        # The normal schedule (at least 1 s, capped by retry_max_seconds), not a 15-minute
        # reset nor "failed": tried again and again.
        assert wait_until(lambda: len(rig.sent) >= 3, 10)
        assert rig.outbox.get(entry).next_attempt_at <= time.time() + 1.0
    events = {getattr(record, "APPLIANCE_EVENT", "") for record in caplog.records}
    assert "x_out_of_credits" in events
    rig.x.add_credits()
    result = rig.final_result()
    assert result.outcome == "posted" and texts(rig) == ["worth paying for"]
    assert rig.outbox.get(entry).state == POSTED


def test_a_stalled_connection_times_out_and_is_retried(tmp_path):
    rig = Rig(tmp_path, timeout_seconds=0.5)
    try:
        rig.x.inject("hang")
        rig.queue("after the stall")
        first = rig.result()
        assert first.outcome == "retrying" and "in time" in first.detail
        assert rig.final_result().outcome == "posted" and texts(rig) == ["after the stall"]
    finally:
        rig.close()


def test_stop_is_noticed_during_a_long_wait(rig):
    rig.x.inject("429", reset_in_seconds=900)
    rig.queue("waits 15 minutes")
    assert rig.result().is_rate_limited
    rig.stop.set()
    rig.thread.join(3)
    assert not rig.thread.is_alive()


def test_delete_removes_the_post_and_marks_the_entry(rig):
    entry = rig.queue("regrettable")
    post_id = rig.final_result().post_id
    rig.poster.request_delete(entry, post_id)
    result = rig.result()
    assert result == DeleteResult(
        post_id, True, f"Deleted post {post_id} from X.", Destination.X, entry
    )
    assert rig.x.posts == [] and rig.outbox.get(entry).state == DELETED
    rig.poster.request_delete(entry, post_id)
    again = rig.result()
    assert not again.is_deleted and "already deleted" in again.detail


def test_an_entry_dropped_before_sending_is_never_sent(rig):
    rig.x.inject("hang")  # nothing else happens while the first request hangs
    rig.outbox.add("first", "button")
    rig.poster.wake()
    assert wait_until(lambda: rig.sent == ["first"], 5)
    second = rig.outbox.add("second", "button")
    assert rig.outbox.drop(second)
    rig.x.stop()  # releases the hang: the first is retried later, the second never
    time.sleep(0.5)
    assert "second" not in rig.sent
