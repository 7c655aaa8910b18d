"""Journal fields a user filters on (APPLIANCE_EVENT, POST_ID, ...) and keys that never get there.

The journal handler is python-systemd's own; only its sender is replaced, so the
fields checked are exactly those journald would store. The system test
(scripts/system-test.sh) checks the same under a real journald.
"""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("systemd.journal")

from appliance.core.destinations import Destination  # noqa: E402
from appliance.posting.outbox import DELETED, POSTED, Outbox  # noqa: E402
from appliance.posting.outcome import PostOutcome  # noqa: E402
from appliance.posting.poster import Poster
from appliance.service.systemd import RedactSecrets, configure_logging  # noqa: E402
from tests.conftest import wait_until  # noqa: E402
from tests.posting.doubles import ScriptedClient  # noqa: E402
from tests.service.test_destinations_daemon import ThreeBox  # noqa: E402

SECRET = "k3y-Th4t-Must-N0t-Leak-Anywhere"


@pytest.fixture
def journal():
    """(sent entries as dicts of fields, the redaction filter); restores logging after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    redact = RedactSecrets()
    handler = configure_logging("info", {"JOURNAL_STREAM": "8:12345"}, redact)
    sent: list[dict[str, object]] = []

    def send(text: str, /, **fields: object) -> None:
        sent.append({**fields, "MESSAGE": text})

    handler.send = send  # type: ignore[attr-defined]
    yield sent, redact
    for old in list(root.handlers):
        root.removeHandler(old)
    for old in saved_handlers:
        root.addHandler(old)
    root.setLevel(saved_level)


def test_a_post_is_logged_with_its_event_post_id_and_outbox_id(journal, tmp_path):
    sent, _ = journal
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        entry_id = outbox.add("Mondays are the worst.", "button")
        poster = Poster(
            outbox, ScriptedClient(lambda text: PostOutcome("posted", post_id="1234")), [].append
        )
        assert poster.send_next()
    posted = [fields for fields in sent if fields.get("APPLIANCE_EVENT") == "posted"]
    assert len(posted) == 1, sent
    assert posted[0]["POST_ID"] == "1234"
    assert str(posted[0]["OUTBOX_ID"]) == str(entry_id)
    assert posted[0]["SYSLOG_IDENTIFIER"] == "appliance"
    assert str(posted[0]["DESTINATION"]) == "x"


def test_each_destinations_journal_lines_name_it(journal, tmp_path):
    sent, _ = journal
    answers = {
        Destination.BLUESKY: PostOutcome("posted", post_id="at://did:plc:a/app.bsky.feed.post/1"),
        Destination.MASTODON: PostOutcome("retry", detail="The instance is busy (503)."),
    }
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.add("Hello.", "button", dict.fromkeys(answers, "Hello."))
        for destination, answer in answers.items():
            client = ScriptedClient(lambda text, answer=answer: answer, destination)
            assert Poster(outbox, client, [].append).send_next()
    fields = {str(f.get("DESTINATION")): f["APPLIANCE_EVENT"] for f in sent if "DESTINATION" in f}
    assert fields == {"bluesky": "posted", "mastodon": "post_retrying"}


def test_posted_and_deleted_on_each_destination_name_it_with_its_post_id(journal):
    # The real daemon and clients against the three stand-ins.
    sent, _ = journal
    box = ThreeBox().start()
    try:
        box.hear("Tweet that the journal knows where.")
        assert wait_until(lambda: {e.state for e in box.entries()} == {POSTED}, 15)
        ids = {d: box.rows()[d].post_id for d in Destination}
        box.hear("Delete that.")
        assert wait_until(lambda: {e.state for e in box.entries()} == {DELETED}, 15)
        # The main loop logs each deletion a moment after its poster marked the row.
        deleted = lambda: [f for f in sent if f.get("APPLIANCE_EVENT") == "deleted"]  # noqa: E731
        assert wait_until(lambda: len(deleted()) >= len(Destination), 10)
    finally:
        box.stop()
    assert ids[Destination.BLUESKY].startswith("at://") and all(ids.values())
    for event in ("posted", "deleted"):
        lines = [f for f in sent if f.get("APPLIANCE_EVENT") == event]
        found = {str(f["DESTINATION"]): f["POST_ID"] for f in lines}
        assert found == {str(d): post_id for d, post_id in ids.items()}, event


def test_a_key_in_a_log_line_reaches_the_journal_redacted(journal):
    sent, redact = journal
    redact.add([SECRET])
    logging.getLogger("appliance.test").warning("the server echoed %s back", SECRET)
    assert sent and "[redacted]" in str(sent[-1]["MESSAGE"])
    # Not in the message, nor in CODE_ARGS (the handler would add the raw args there).
    assert all(SECRET not in str(value) for fields in sent for value in fields.values())


def test_a_key_in_a_logged_exceptions_text_reaches_the_journal_redacted(journal):
    # A client's unexpected exception is logged with its traceback (client_fault); an
    # SDK's message may quote a header, key and all.
    sent, redact = journal
    redact.add([SECRET])
    try:
        raise ValueError(f"invalid header value 'Bearer {SECRET}'")
    except ValueError:
        logging.getLogger("appliance.test").error("Unexpected ValueError", exc_info=True)
    [fields] = sent
    assert "Traceback" in str(fields["EXCEPTION_TEXT"]) and "[redacted]" in str(fields["MESSAGE"])
    assert all(SECRET not in str(value) for value in fields.values())
