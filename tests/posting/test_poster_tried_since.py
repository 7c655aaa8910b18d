"""The poster tells a client when a row may first have been sent: Mastodon forgets an
Idempotency-Key after an hour, and only the outbox remembers across a restart."""

from __future__ import annotations

from appliance.core.destinations import Destination
from appliance.posting.outbox import Outbox
from appliance.posting.outcome import AccountCheck, Outcome, PostOutcome
from appliance.posting.poster import Poster


class Recording:
    destination = Destination.MASTODON

    def __init__(self, answers: list[PostOutcome]) -> None:
        self.answers = answers
        self.tried_since: list[float] = []

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        self.tried_since.append(tried_since)
        return self.answers.pop(0)

    def delete(self, post_id: str) -> PostOutcome:
        return PostOutcome(Outcome.DELETED, post_id=post_id)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        return ""

    def check_account(self) -> AccountCheck:
        return AccountCheck(True, "ok")

    def abort(self) -> None:
        pass


def test_a_row_never_sent_says_so_and_a_retried_one_gives_its_confirmation_time(tmp_path):
    clock = [1_000_000.0]
    outbox = Outbox(tmp_path / "outbox.sqlite3", clock=lambda: clock[0])
    outbox.add("The kettle is on.", "button", {Destination.MASTODON: "The kettle is on."})
    lost = PostOutcome(Outcome.RETRY, detail="no answer in time")
    client = Recording([lost, PostOutcome(Outcome.POSTED, post_id="7")])
    poster = Poster(outbox, client, lambda event: None, clock=lambda: clock[0])
    assert poster.send_next()
    clock[0] += 7200  # two hours later, e.g. after a restart
    restarted = Poster(outbox, client, lambda event: None, clock=lambda: clock[0])
    restarted.recover()
    assert restarted.send_next()
    assert client.tried_since == [0.0, 1_000_000.0]
