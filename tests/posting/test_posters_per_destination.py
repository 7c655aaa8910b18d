"""Two destinations, two poster threads, one outbox: a fault on one never touches the other.

The machinery under test is the outbox and the posters, which know destinations only
through the Client protocol: so both destinations are the real XPoster against X
stand-ins, the second labelled Bluesky (tests.posting.doubles.Relabelled), faults and all.
The real Bluesky and Mastodon clients are tested the same way through the daemon
(tests/service/test_destinations_daemon.py, test_crash_recovery.py).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time

import pytest

from appliance.core.destinations import Destination
from appliance.core.events import DeleteResult, PostResult, PostsSettled
from appliance.posting.outbox import DELETED, DROPPED, POSTED, SENDING, WAITING, Outbox
from appliance.posting.outcome import Outcome, PostOutcome
from appliance.posting.poster import Poster
from appliance.posting.x_client import XPoster, make_client
from appliance.tryout.standins.x_server import XStandin
from tests.conftest import wait_until
from tests.posting.doubles import Relabelled, ScriptedClient
from tests.posting.test_poster import CREDENTIALS

X, BLUESKY = Destination.X, Destination.BLUESKY


class TwoDestinations:
    """Two X stand-ins (the second posing as Bluesky), one outbox, a poster thread each."""

    def __init__(self, tmp_path, timeout_seconds: float = 5.0) -> None:
        self.standins = {d: XStandin(**dataclasses.asdict(CREDENTIALS)) for d in (X, BLUESKY)}
        for standin in self.standins.values():
            standin.start()
        self.outbox = Outbox(tmp_path / "outbox.sqlite3")
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.posters: dict[Destination, Poster] = {}
        self.threads = []
        for destination, standin in self.standins.items():
            client = XPoster(make_client(standin.url, CREDENTIALS, timeout_seconds))
            poster = Poster(
                self.outbox,
                Relabelled(client, destination),
                self.events.put,
                retry_first_seconds=0.2,
                retry_max_seconds=0.5,
            )
            self.posters[destination] = poster
            thread = threading.Thread(target=poster.run, args=(self.stop,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def confirm(self, text: str) -> int:
        confirmation = self.outbox.add(text, "button", {X: text, BLUESKY: text})
        for poster in self.posters.values():
            poster.wake()
        return confirmation

    def rows(self, confirmation: int) -> dict[Destination, object]:
        return {entry.destination: entry for entry in self.outbox.confirmation(confirmation)}

    def results(self, kind: type, until: float = 10.0) -> list:
        """Every event of `kind` that arrives within `until` seconds of quiet."""
        found = []
        deadline = time.monotonic() + until
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(event, kind):
                found.append(event)
                deadline = min(deadline, time.monotonic() + 1.0)
        return found

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)
        for standin in self.standins.values():
            standin.stop()
        self.outbox.close()


@pytest.fixture
def two(tmp_path):
    rig = TwoDestinations(tmp_path, timeout_seconds=60.0)
    yield rig
    rig.close()


def test_a_hang_on_one_destination_never_holds_up_the_other(two):
    two.standins[X].inject("hang")  # X never answers this request
    confirmation = two.confirm("Through on one, stuck on the other.")
    assert two.standins[BLUESKY].wait_for_posts(1, 10)
    assert wait_until(lambda: two.rows(confirmation)[BLUESKY].state == POSTED, 5)
    assert two.rows(confirmation)[X].state == SENDING  # still hanging, on its own thread
    # The next confirmation goes out on the healthy destination while X still hangs.
    second = two.confirm("And another one.")
    assert wait_until(lambda: two.rows(second)[BLUESKY].state == POSTED, 10)
    assert [post.text for post in two.standins[X].posts] == []


def test_a_429_on_one_destination_waits_there_alone(two):
    two.standins[BLUESKY].inject("429", reset_in_seconds=900)
    confirmation = two.confirm("Limited on one.")
    assert wait_until(lambda: two.rows(confirmation)[X].state == POSTED, 10)
    assert wait_until(lambda: two.rows(confirmation)[BLUESKY].state == WAITING, 10)
    results = [r for r in two.results(PostResult, 3) if r.outcome == "retrying"]
    assert {(r.destination, r.is_rate_limited) for r in results} == {(BLUESKY, True)}
    assert [p.text for p in two.standins[X].posts] == ["Limited on one."]
    assert two.standins[BLUESKY].posts == []


def test_a_refusal_on_one_destination_fails_there_alone(two):
    two.standins[BLUESKY].inject("401", count=5)
    confirmation = two.confirm("Keys wrong on one.")
    assert wait_until(lambda: two.rows(confirmation)[X].state == POSTED, 10)
    failed = [r for r in two.results(PostResult, 3) if r.outcome == "failed"]
    assert [(r.destination, r.needs_user) for r in failed] == [(BLUESKY, True)]
    assert failed[0].confirmation == confirmation


def test_each_row_has_its_own_stable_key(tmp_path):
    clients = {d: ScriptedClient(destination=d) for d in (X, BLUESKY)}
    with Outbox(tmp_path / "o.db") as outbox:
        posters = {d: Poster(outbox, clients[d], [].append) for d in clients}
        confirmation = outbox.add("Same text.", "button", {X: "Same text.", BLUESKY: "Same text."})
        for poster in posters.values():
            assert poster.send_next()
            assert not poster.send_next()  # its own row only
        rows = outbox.confirmation(confirmation)
        assert [c.calls[0][1] for c in clients.values()] == [outbox.key_for(e.id) for e in rows]
        assert clients[X].calls[0][1] != clients[BLUESKY].calls[0][1]


def test_delete_deletes_each_destinations_own_post(two):
    confirmation = two.confirm("Regrettable everywhere.")
    assert wait_until(lambda: all(e.state == POSTED for e in two.rows(confirmation).values()), 10)
    for entry in two.rows(confirmation).values():
        two.posters[entry.destination].request_delete(entry.id, entry.post_id, confirmation)
    deleted = two.results(DeleteResult, 10)
    assert sorted((r.destination, r.is_deleted) for r in deleted) == [(BLUESKY, True), (X, True)]
    assert all(standin.posts == [] for standin in two.standins.values())


def test_dropping_a_waiting_row_says_the_destination_settled(two):
    # The stale-light bug: a problem shown for a row stayed after the row was dropped.
    two.standins[BLUESKY].spend_credits()
    confirmation = two.confirm("Waits for credits.")
    assert wait_until(lambda: two.rows(confirmation)[BLUESKY].state == WAITING, 10)
    assert two.outbox.drop(two.rows(confirmation)[BLUESKY].id)
    two.posters[BLUESKY].wake()
    settled = two.results(PostsSettled, 10)
    assert BLUESKY in {event.destination for event in settled}
    assert two.rows(confirmation)[BLUESKY].state == DROPPED


def test_the_poster_shows_progress_on_the_clock_it_is_given(tmp_path):
    # The daemon compares last_progress_at with its own (injected) monotonic clock.
    now = [5000.0]
    with Outbox(tmp_path / "o.db") as outbox:
        poster = Poster(outbox, ScriptedClient(), [].append, monotonic=lambda: now[0])
        assert poster.last_progress_at == 5000.0
        now[0] = 6000.0
        stop = threading.Event()
        thread = threading.Thread(target=poster.run, args=(stop,), daemon=True)
        thread.start()
        assert wait_until(lambda: poster.last_progress_at == 6000.0, 5)
        stop.set()
        thread.join(5)


def test_delete_that_during_a_request_deletes_the_post_once_it_is_sent(two):
    # "Delete that" after X posted while Bluesky's request is still under way.
    two.standins[BLUESKY].inject("drip", byte_interval_seconds=0.02)  # a slow answer
    confirmation = two.confirm("Regretted mid-request.")
    assert wait_until(lambda: two.rows(confirmation)[BLUESKY].state == SENDING, 5)
    row = two.rows(confirmation)[BLUESKY]
    two.posters[BLUESKY].request_delete_when_sent(row.id, confirmation)
    deleted = two.results(DeleteResult, 20)
    assert [(r.destination, r.is_deleted) for r in deleted] == [(BLUESKY, True)]
    assert two.standins[BLUESKY].posts == []
    assert two.rows(confirmation)[BLUESKY].state == DELETED


def test_delete_that_during_a_request_that_must_be_retried_drops_it(tmp_path):
    outcome = PostOutcome(Outcome.RETRY, detail="busy (503)")
    noted = []

    def answer(text: str) -> PostOutcome:  # "delete that" arrives while the request runs
        noted.append(poster.request_delete_when_sent(confirmation, confirmation))
        return outcome

    client = ScriptedClient(answer, BLUESKY)
    with Outbox(tmp_path / "o.db") as outbox:
        poster = Poster(outbox, client, [].append)
        confirmation = outbox.add("Never mind.", "voice", {BLUESKY: "Never mind."})
        assert poster.send_next()
        assert noted == [True]  # the row was being sent: the poster took the note
        assert outbox.get(confirmation).state == DROPPED
        assert not poster.send_next() and len(client.calls) == 1
