"""End to end on every destination with the real clients: spoken, confirmed, posted once on
X, Bluesky and Mastodon, then deleted from each ("delete that")."""

from __future__ import annotations

import pytest

from appliance.core.destinations import Destination
from appliance.posting.outbox import DELETED, POSTED
from appliance.tryout.sandbox import Sandbox
from tests.conftest import wait_until

SENTENCE = "Tweet that the kettle is on."
DESTINATIONS = tuple(Destination)


@pytest.fixture
def sandbox():
    box = Sandbox(
        [SENTENCE, "Delete that."],
        settings_overrides={"confirm": {"grace_seconds": 0.0}},
        destinations=DESTINATIONS,
    )
    box.start()
    yield box
    box.stop()


def test_one_sentence_lands_once_on_every_destination_and_delete_that_removes_it(sandbox, speak):
    standins = {Destination.X: sandbox.x, **sandbox.standins}
    sandbox.say(speak(SENTENCE))
    for destination, standin in standins.items():
        assert standin.wait_for_posts(1, 20), destination
    rows = sandbox.daemon.outbox.entries
    assert wait_until(lambda: {e.state for e in rows()} == {POSTED}, 10), rows()
    assert sorted(e.destination for e in rows()) == sorted(DESTINATIONS)
    assert all([p.text for p in s.posts] == ["The kettle is on."] for s in standins.values())

    sandbox.say(speak("Delete that."))
    assert wait_until(lambda: {e.state for e in rows()} == {DELETED}, 20), rows()
    assert all(standin.posts == [] for standin in standins.values())
