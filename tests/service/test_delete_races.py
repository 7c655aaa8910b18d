""" "Delete that" while the destination's poster moves the row on under the main loop.

The main loop reads a confirmation's rows, then acts on each; the poster thread may post
or claim a row between the two. Either way the post must not stay up.
"""

from __future__ import annotations

import itertools

from appliance.core.destinations import Destination
from appliance.posting.outbox import EntryState, Outbox
from appliance.posting.outcome import Outcome, PostOutcome
from appliance.posting.poster import Poster
from appliance.service.daemon_parts import delete_everywhere
from tests.posting.doubles import ScriptedClient


class ReadEarlier:
    """The outbox as the main loop saw it a moment ago: its confirmation() is stale."""

    def __init__(self, outbox: Outbox, confirmation: int) -> None:
        self._outbox = outbox
        self._rows = outbox.confirmation(confirmation)

    def confirmation(self, confirmation_id: int):
        return self._rows

    def __getattr__(self, name: str):
        return getattr(self._outbox, name)


def rig(tmp_path):
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    ids = (str(n) for n in itertools.count(100))
    client = ScriptedClient(lambda text: PostOutcome(Outcome.POSTED, post_id=next(ids)))
    return outbox, client, Poster(outbox, client, lambda event: None)


def settle(poster: Poster) -> None:
    for _ in range(3):
        poster._round()


def test_a_row_posted_after_the_main_loop_read_it_as_sending_is_deleted(tmp_path):
    outbox, client, poster = rig(tmp_path)
    confirmation = outbox.add("The kettle is on.", "button")
    entry = outbox.next_due(Destination.X)
    assert entry is not None and outbox.mark_sending(entry.id)
    seen = ReadEarlier(outbox, confirmation)  # the main loop reads it as sending ...
    poster._send_entry(entry)  # ... the answer comes before its note reaches the poster
    delete_everywhere(seen, {Destination.X: poster}, confirmation)  # type: ignore[arg-type]
    settle(poster)
    assert client.deleted == ["100"]
    assert outbox.get(entry.id).state == EntryState.DELETED


def test_a_row_claimed_after_the_main_loop_read_it_as_queued_is_deleted_once_sent(tmp_path):
    outbox, client, poster = rig(tmp_path)
    confirmation = outbox.add("The kettle is on.", "button")
    seen = ReadEarlier(outbox, confirmation)  # the main loop reads it as queued ...
    entry = outbox.next_due(Destination.X)
    assert entry is not None and outbox.mark_sending(entry.id)  # ... the poster claims it
    delete_everywhere(seen, {Destination.X: poster}, confirmation)  # type: ignore[arg-type]
    poster._send_entry(entry)
    settle(poster)
    assert client.deleted == ["100"]
    assert outbox.get(entry.id).state == EntryState.DELETED
