"""The poster tells a client when a row may first have been sent: Mastodon forgets an
Idempotency-Key after an hour, and only the outbox remembers across a restart."""

from __future__ import annotations

from appliance.core.destinations import Destination
from appliance.posting.outbox import Outbox
from appliance.posting.outcome import Outcome, PostOutcome
from appliance.posting.poster import Poster
from tests.posting.doubles import ScriptedClient


def test_a_row_never_sent_says_so_and_a_retried_one_gives_its_confirmation_time(tmp_path):
    clock = [1_000_000.0]
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=lambda: clock[0])
    outbox.add("The kettle is on.", "button", {Destination.MASTODON: "The kettle is on."})
    lost = PostOutcome(Outcome.RETRY, detail="no answer in time")
    answers = [lost, PostOutcome(Outcome.POSTED, post_id="7")]
    client = ScriptedClient(lambda text: answers.pop(0), Destination.MASTODON)
    poster = Poster(outbox, client, lambda event: None, clock=lambda: clock[0])
    assert poster.send_next()
    clock[0] += 7200  # two hours later, e.g. after a restart
    restarted = Poster(outbox, client, lambda event: None, clock=lambda: clock[0])
    restarted.recover()
    assert restarted.send_next()
    assert client.tried_since == [0.0, 1_000_000.0]
