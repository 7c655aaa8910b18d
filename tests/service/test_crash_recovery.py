"""`kill -9` between confirmation and a destination's answer: after a restart, exactly one
post on each destination (X, and Bluesky and Mastodon with their real clients).

The daemon runs as `appliance run --config ...` in a subprocess, against the stand-ins
and the simulated microphone of this test process; the confirmation is spoken.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.core.destinations import Destination
from appliance.posting.bluesky_record_key import record_key
from appliance.posting.outbox import POSTED, SENDING, Entry, Outbox
from appliance.tryout.sandbox import Sandbox, write_config
from appliance.tryout.standins.mastodon_server import MastodonStandin
from tests.conftest import wait_until

SENTENCE = "Tweet that the power went out."


def start_daemon(box: Sandbox, log_path: Path) -> subprocess.Popen:
    environ = {
        k: v for k, v in os.environ.items() if k not in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET")
    }
    command = ["-m", "appliance", "run", "--config", str(box.config_path)]
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [sys.executable, *command],
            env=environ,
            cwd=Path(__file__).resolve().parents[2],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def stop_all(daemons: list[subprocess.Popen]) -> None:
    for daemon in daemons:
        if daemon.poll() is None:
            daemon.terminate()
            try:
                daemon.wait(20)
            except subprocess.TimeoutExpired:
                daemon.kill()


def entry_states(box: Sandbox) -> list[str]:
    path = box.dir / "state" / "outbox.sqlite3"
    if not path.exists():
        return []
    with Outbox(path) as outbox:
        return [entry.state for entry in outbox.entries()]


@pytest.mark.parametrize("fault", ["hang", "accept_and_hang"])
def test_kill_9_while_posting_then_restart_posts_exactly_once(fault, speak, tmp_path):
    box = Sandbox(
        [SENTENCE],
        directory=tmp_path,
        settings_overrides={
            "confirm": {"grace_seconds": 0.0},
            "x": {"request_timeout_seconds": 60.0},  # the request is still hanging at the kill
        },
    )
    box.start_standins()
    write_config(box.config_path, **box.sections())
    log_path = tmp_path / "daemon.log"
    daemons: list[subprocess.Popen] = []
    try:
        box.x.inject(fault)  # "hang": X never saw it; "accept_and_hang": X has it, no answer
        daemons.append(start_daemon(box, log_path))
        # The speech session opens when there is speech (session gate): wait for "Started".
        assert wait_until(lambda: "Started" in log_path.read_text(), 30), log_path.read_text()
        box.say(speak(SENTENCE))
        assert wait_until(lambda: entry_states(box) == [SENDING], 40), log_path.read_text()
        assert wait_until(lambda: box.x.faults_left() == 0, 20)  # the request is on the wire
        # ... and, for "accept_and_hang", stored (after checking its signature: no fixed time).
        stored = 1 if fault == "accept_and_hang" else 0
        assert wait_until(lambda: len(box.x.posts) == stored, 20), box.x.posts
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait(10)

        daemons.append(start_daemon(box, log_path))
        assert wait_until(lambda: entry_states(box) == [POSTED], 40), log_path.read_text()
        assert [post.text for post in box.x.posts] == ["The power went out."]
        assert "sending them again" in log_path.read_text()
    finally:
        stop_all(daemons)
        box.stop()


def rows_by_destination(box: Sandbox) -> dict[Destination, Entry]:
    path = box.dir / "state" / "outbox.sqlite3"
    if not path.exists():
        return {}
    with Outbox(path) as outbox:
        return {entry.destination: entry for entry in outbox.entries()}


def states(box: Sandbox) -> dict[Destination, str]:
    return {destination: str(e.state) for destination, e in rows_by_destination(box).items()}


def post_key(box: Sandbox, destination: Destination) -> str:
    with Outbox(box.dir / "state" / "outbox.sqlite3") as outbox:
        return outbox.key_for(rows_by_destination(box)[destination].id)


def mastodon_status_keys(mastodon: MastodonStandin) -> list[str]:
    """The Idempotency-Key of every POST /api/v1/statuses the stand-in was sent."""
    return [
        next((v for k, v in headers.items() if k.lower() == "idempotency-key"), "")
        for method, path, headers in mastodon.requests
        if (method, path) == ("POST", "/api/v1/statuses")
    ]


@pytest.mark.parametrize("fault", ["hang", "accept_and_hang"])
@pytest.mark.parametrize("hanging", list(Destination), ids=str)
def test_kill_9_while_one_destination_hangs_then_each_has_exactly_one_post(
    hanging, fault, speak, tmp_path
):
    """X, Bluesky and Mastodon with their real clients; `hanging`'s POST hangs ("hang":
    never received; "accept_and_hang": stored, the answer lost) while the others post."""
    box = Sandbox(
        [SENTENCE],
        directory=tmp_path,
        destinations=tuple(Destination),
        settings_overrides={
            "confirm": {"grace_seconds": 0.0},
            str(hanging): {"request_timeout_seconds": 60.0},  # still hanging at the kill
        },
    )
    standins = {Destination.X: box.x, **box.standins}
    box.start_standins()
    write_config(box.config_path, **box.sections())
    log_path = tmp_path / "daemon.log"
    daemons: list[subprocess.Popen] = []
    try:
        standins[hanging].inject(fault)  # Bluesky's: com.atproto.repo.createRecord
        daemons.append(start_daemon(box, log_path))
        assert wait_until(lambda: "Started" in log_path.read_text(), 30), log_path.read_text()
        box.say(speak(SENTENCE))
        expected = {d: (SENDING if d == hanging else POSTED) for d in Destination}
        assert wait_until(lambda: states(box) == expected, 40), log_path.read_text()
        # The request reached the stand-in (Bluesky's SDK may still be loading otherwise).
        assert wait_until(lambda: standins[hanging].faults_left() == 0, 20)
        # ... and, for "accept_and_hang", stored (after checking the request: no fixed time).
        stored = 1 if fault == "accept_and_hang" else 0
        assert wait_until(lambda: len(standins[hanging].posts) == stored, 20)
        daemons[0].send_signal(signal.SIGKILL)
        daemons[0].wait(10)
        # What the first run sent: on a busy machine it may itself have retried an answer
        # that came too late, so the restart is judged by what it adds.
        bluesky, mastodon = standins[Destination.BLUESKY], standins[Destination.MASTODON]
        creates_before = bluesky.requests.count("com.atproto.repo.createRecord")
        statuses_before = len(mastodon_status_keys(mastodon))

        daemons.append(start_daemon(box, log_path))
        done = dict.fromkeys(Destination, POSTED)
        assert wait_until(lambda: states(box) == done, 40), log_path.read_text()
        for destination, standin in standins.items():
            assert [post.text for post in standin.posts] == ["The power went out."], destination
        log_text = log_path.read_text()
        assert f"sent to {hanging.label} when the daemon stopped" in log_text
        assert log_text.count("when the daemon stopped") == 1  # the others were not resent

        # How each made the retry safe. Bluesky: the record key follows from the row's
        # key, so the retry asks for the same record (and finds it if it was stored).
        assert [post.rkey for post in bluesky.posts] == [
            record_key(post_key(box, Destination.BLUESKY))
        ]
        creates = bluesky.requests.count("com.atproto.repo.createRecord") - creates_before
        assert (creates > 0) == (hanging == Destination.BLUESKY)  # only the unanswered again
        rows = rows_by_destination(box)
        if (hanging, fault) == (Destination.BLUESKY, "accept_and_hang"):
            assert "com.atproto.repo.getRecord" in bluesky.requests
            assert rows[hanging].post_id == bluesky.posts[0].uri
        # Mastodon: every attempt carries the row's key as its Idempotency-Key.
        keys = mastodon_status_keys(mastodon)
        assert keys == [post_key(box, Destination.MASTODON)] * len(keys)
        assert (len(keys) > statuses_before) == (hanging == Destination.MASTODON)
        assert rows[Destination.MASTODON].post_id == mastodon.posts[0].id
    finally:
        stop_all(daemons)
        box.stop()
