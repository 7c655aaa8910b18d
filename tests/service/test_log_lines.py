"""One record, one line: a heard newline cannot forge a log line on stderr or in the journal."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from appliance import core
from appliance.core.events import SentenceFinished
from appliance.posting.outbox import Outbox
from appliance.posting.outcome import PostOutcome
from appliance.posting.poster import Poster
from appliance.service.systemd import RedactSecrets, configure_logging, escape_controls
from tests.posting.doubles import ScriptedClient

FORGED = "Nice day.\n12:00:00 info    [posted] Posted “fake” as 1"


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    yield
    for old in list(root.handlers):
        root.removeHandler(old)
    for old in saved_handlers:
        root.addHandler(old)
    root.setLevel(saved_level)


def _log_the_paths_a_transcript_takes(tmp_path) -> None:
    """A heard sentence is logged by the core (candidate) and the poster (posted)."""
    _, effects = core.step(core.State(), SentenceFinished(FORGED), 0.0)
    for effect in effects:
        logging.getLogger("appliance.service.daemon").info(effect.message)  # as Daemon.handle does
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.add(FORGED, "button")
        assert Poster(
            outbox, ScriptedClient(lambda text: PostOutcome("posted", post_id="77")), [].append
        ).send_next()


def test_a_newline_in_a_transcript_stays_on_its_line_on_stderr(
    restore_logging, tmp_path, monkeypatch
):
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    configure_logging("info", {}, RedactSecrets())
    _log_the_paths_a_transcript_takes(tmp_path)
    lines = stderr.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert not any(line.startswith("12:00:00") for line in lines)
    assert "Nice day.\\n12:00:00 info    [posted] Posted “fake” as 1" in lines[1]


def test_a_newline_in_a_transcript_stays_in_its_journal_entry(restore_logging, tmp_path):
    pytest.importorskip("systemd.journal")
    handler = configure_logging("info", {"JOURNAL_STREAM": "8:1"}, RedactSecrets())
    sent: list[dict[str, object]] = []
    handler.send = lambda text, /, **fields: sent.append({**fields, "MESSAGE": text})  # type: ignore[attr-defined]
    _log_the_paths_a_transcript_takes(tmp_path)
    messages = [str(fields["MESSAGE"]) for fields in sent]
    assert len(messages) == 2
    assert all("\n" not in message for message in messages), messages


def test_escape_controls_keeps_ordinary_text_and_shows_the_rest():
    assert escape_controls("Ça va? 👨‍👩‍👧 “quoted” tab-free") == "Ça va? 👨‍👩‍👧 “quoted” tab-free"
    assert (
        escape_controls("a\r\nb\x1b[2Jc\u2028d\u202ee\x00")
        == "a\\r\\nb\\x1b[2Jc\\u2028d\\u202ee\\x00"
    )
