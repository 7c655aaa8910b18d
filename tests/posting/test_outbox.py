"""The outbox on disk: states, order, crash recovery."""

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from appliance.core.destinations import Destination
from appliance.posting.outbox import FAILED, POSTED, QUEUED, SENDING, WAITING, Outbox


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_entries_survive_reopening_and_keep_order(tmp_path):
    path = tmp_path / "state" / "outbox.sqlite3"
    with Outbox(path) as outbox:
        first = outbox.add("one", "button")
        outbox.add("two", "voice")
    with Outbox(path) as outbox:
        assert outbox.next_due().id == first
        assert [e.text for e in outbox.entries()] == ["two", "one"]


def test_wal_and_full_sync(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    Outbox(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_waiting_entries_become_due_at_their_time(tmp_path):
    clock = Clock()
    with Outbox(tmp_path / "o.db", clock) as outbox:
        entry = outbox.add("later", "button")
        outbox.mark_sending(entry)
        outbox.mark_waiting(entry, clock.now + 30, "X answered 503")
        assert outbox.next_due() is None
        assert outbox.next_attempt_at() == clock.now + 30
        clock.now += 31
        due = outbox.next_due()
        assert due.id == entry and due.state == WAITING and due.attempts == 1


def test_recover_requeues_entries_caught_sending(tmp_path):
    path = tmp_path / "o.db"
    with Outbox(path) as outbox:
        a = outbox.add("sent?", "button")
        b = outbox.add("done", "button")
        outbox.mark_sending(a)
        outbox.mark_sending(b)
        outbox.mark_posted(b, "99")
    with Outbox(path) as outbox:
        assert outbox.recover() == 1
        assert outbox.get(a).state == QUEUED and outbox.get(a).attempts == 1
        assert outbox.get(b).state == POSTED and outbox.get(b).post_id == "99"
        outbox.mark_sending(a)
        assert outbox.get(a).state == SENDING
        outbox.mark_failed(a, "X said no")
        assert outbox.get(a).state == FAILED and outbox.next_due() is None


def test_a_dropped_entry_cannot_be_claimed_for_sending(tmp_path):
    from appliance.posting.outbox import DROPPED

    with Outbox(tmp_path / "o.db") as outbox:
        entry = outbox.add("never mind", "button")
        assert outbox.drop(entry)
        assert outbox.get(entry).state == DROPPED
        assert not outbox.mark_sending(entry)  # the poster lost the race: it skips it
        assert outbox.next_due() is None
        assert outbox.retry(entry) and outbox.next_due().id == entry
        assert outbox.mark_sending(entry)
        assert not outbox.drop(entry) and not outbox.retry(entry)  # being sent right now
        outbox.mark_posted(entry, "55")
        assert not outbox.drop(entry) and not outbox.retry(entry)


def test_retry_makes_a_waiting_entry_due_now(tmp_path):
    clock = Clock()
    with Outbox(tmp_path / "o.db", clock) as outbox:
        entry = outbox.add("later", "button")
        outbox.mark_sending(entry)
        outbox.mark_waiting(entry, clock.now + 900, "429")
        assert outbox.next_due() is None
        assert outbox.retry(entry)
        assert outbox.next_due().id == entry


def test_mark_deleted_changes_only_the_posted_entry(tmp_path):
    from appliance.posting.outbox import DELETED

    with Outbox(tmp_path / "o.db") as outbox:
        a, b = outbox.add("a", "button"), outbox.add("b", "button")
        for entry, post_id in ((a, "1"), (b, "2")):
            outbox.mark_sending(entry)
            outbox.mark_posted(entry, post_id)
        outbox.mark_deleted(b)
        assert (outbox.get(a).state, outbox.get(b).state) == (POSTED, DELETED)


def test_counts_cover_the_whole_outbox(tmp_path):
    with Outbox(tmp_path / "o.db") as outbox:
        ids = [outbox.add(f"post {n}", "button") for n in range(1200)]
        for entry_id in ids[:1100]:
            outbox.mark_sending(entry_id)
            outbox.mark_posted(entry_id, str(entry_id))
        outbox.mark_failed(ids[-1], "X said no")
        assert outbox.counts() == {POSTED: 1100, QUEUED: 99, FAILED: 1}


def test_outside_systemd_the_outbox_is_private_whatever_the_umask(tmp_path):
    import os
    import stat

    old_umask = os.umask(0o022)  # a login shell's: files 0644, directories 0755
    try:
        path = tmp_path / "state" / "outbox.sqlite3"
        with Outbox(path) as outbox:
            outbox.add("Not for the other users of this machine.", "button")
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert modes == {
            "outbox.sqlite3": 0o600,
            "outbox.sqlite3-wal": 0o600,
            "outbox.sqlite3-shm": 0o600,
        } or modes == {"outbox.sqlite3": 0o600}, modes
        # An outbox an older version left world-readable is tightened when opened.
        path.chmod(0o644)
        Outbox(path).close()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_recover_counts_only_the_entries_it_requeued(tmp_path):
    # An UPDATE has no row id of its own: counting with the last insert's id said
    # "2 post(s) were being sent" after a clean stop.
    with Outbox(tmp_path / "o.db") as outbox:
        outbox.add("one", "button")
        outbox.add("two", "voice")
        assert outbox.recover() == 0


# ---- destinations (issue 15) ----------------------------------------------------

V1_OUTBOX = Path(__file__).parent / "data" / "outbox-v1.sqlite3"  # made by the first release


def test_an_outbox_of_the_first_release_is_migrated_in_place_and_keeps_every_row(tmp_path):
    path = tmp_path / "outbox.sqlite3"
    shutil.copyfile(V1_OUTBOX, path)
    with Outbox(path) as outbox:
        rows = {entry.id: entry for entry in outbox.entries()}
        assert [(rows[n].state, rows[n].destination) for n in (1, 2, 3, 4)] == [
            (POSTED, Destination.X),
            (WAITING, Destination.X),
            (SENDING, Destination.X),
            (FAILED, Destination.X),
        ]
        assert rows[1].post_id == "1700000000000000001"
        assert [rows[n].confirmation for n in (1, 2, 3, 4)] == [1, 2, 3, 4]
        assert outbox.recover(Destination.X) == 1  # the one caught sending
        assert outbox.next_due(Destination.X).id == 2  # due long ago
        key = outbox.key_for(2)
        new = outbox.add("After the upgrade.", "button", {Destination.X: "After the upgrade."})
        assert new == 5
    with Outbox(path) as outbox:  # opened again: the same uuid, so the same keys
        assert outbox.key_for(2) == key
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2


def test_a_confirmation_is_one_row_per_destination_added_in_one_transaction(tmp_path):
    texts = {Destination.X: "Short for X…", Destination.BLUESKY: "Longer for Bluesky."}
    with Outbox(tmp_path / "o.db") as outbox:
        confirmation = outbox.add("Longer for Bluesky.", "voice", texts)
        rows = outbox.confirmation(confirmation)
        assert [(e.destination, e.text, e.state) for e in rows] == [
            (Destination.X, "Short for X…", QUEUED),
            (Destination.BLUESKY, "Longer for Bluesky.", QUEUED),
        ]
        assert {e.confirmation for e in rows} == {confirmation} and rows[0].id == confirmation
        # Each destination sees only its own rows.
        assert outbox.next_due(Destination.BLUESKY).id == rows[1].id
        assert outbox.next_due(Destination.MASTODON) is None
        outbox.mark_sending(rows[0].id)
        outbox.mark_waiting(rows[0].id, 10**10, "429")
        assert outbox.next_due(Destination.X) is None
        assert outbox.next_attempt_at(Destination.BLUESKY) is None
        assert outbox.unfinished(Destination.X) == 1 and outbox.unfinished(Destination.BLUESKY) == 1
        assert outbox.recover(Destination.BLUESKY) == 0


def test_a_confirmation_that_cannot_be_stored_whole_stores_nothing(tmp_path):
    with Outbox(tmp_path / "o.db") as outbox:
        bad = {Destination.X: "fine", Destination.BLUESKY: None}  # NOT NULL fails mid-way
        with pytest.raises(sqlite3.IntegrityError):
            outbox.add("fine", "button", bad)  # type: ignore[arg-type]
        assert outbox.entries() == []


def test_post_keys_are_stable_per_row_and_differ_between_outboxes(tmp_path):
    with Outbox(tmp_path / "a.db") as a, Outbox(tmp_path / "b.db") as b:
        assert a.key_for(7) == a.key_for(7) != a.key_for(8)
        assert a.key_for(7) != b.key_for(7)
        assert re.fullmatch(r"[A-Za-z0-9-]{1,64}", a.key_for(2**62))
