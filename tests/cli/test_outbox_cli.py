"""`appliance outbox`: list, retry and drop, through the real command line."""

import subprocess
import sys

from appliance.cli.main import main
from appliance.posting.outbox import DROPPED, FAILED, QUEUED, Outbox
from appliance.tryout.sandbox import write_config


def config(tmp_path):
    return write_config(tmp_path / "appliance.toml", state={"dir": str(tmp_path / "state")})


def test_list_retry_and_drop(tmp_path, capsys):
    path = config(tmp_path)
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as outbox:
        posted = outbox.add("Mondays are the worst.", "button")
        outbox.mark_sending(posted)
        outbox.mark_posted(posted, "1790000000000000001")
        failed = outbox.add("Keys were wrong.", "voice")
        outbox.mark_sending(failed)
        outbox.mark_failed(failed, "X did not accept the keys (401)")
        queued = outbox.add("Still to go.", "button")
    assert main(["outbox", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [str(queued), str(failed), str(posted)]
    assert "posted" in lines[2] and "1790000000000000001" in lines[2]
    assert "failed" in lines[1] and "401" in lines[1] and "Keys were wrong." in lines[1]

    assert main(["outbox", "retry", str(failed), "--config", str(path)]) == 0
    assert main(["outbox", "drop", str(queued), "--config", str(path)]) == 0
    assert main(["outbox", "drop", str(posted), "--config", str(path)]) == 1
    assert main(["outbox", "retry", "999", "--config", str(path)]) == 1
    assert "No entry 999" in capsys.readouterr().out
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as outbox:
        assert outbox.get(failed).state == QUEUED
        assert outbox.get(queued).state == DROPPED
        assert outbox.get(posted).state != FAILED


def test_no_outbox_yet_is_not_an_error(tmp_path, capsys):
    assert main(["outbox", "--config", str(config(tmp_path))]) == 0
    assert "No outbox" in capsys.readouterr().out
    assert not (tmp_path / "state").exists()  # listing creates nothing


def test_runs_as_a_command(tmp_path):
    path = config(tmp_path)
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as outbox:
        outbox.add("Hello.", "button")
    result = subprocess.run(
        [sys.executable, "-m", "appliance", "outbox", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "queued" in result.stdout and "Hello." in result.stdout


def test_an_unreadable_state_directory_is_a_message_not_a_traceback(tmp_path, capsys):
    import os

    if os.geteuid() == 0:
        import pytest

        pytest.skip("root reads every directory")
    state = tmp_path / "state"
    state.mkdir(mode=0o000)
    try:
        assert main(["outbox", "--config", str(config(tmp_path))]) == 1
        assert "Cannot open" in capsys.readouterr().err
    finally:
        state.chmod(0o700)


def test_each_destination_has_its_own_row_to_list_retry_or_drop(tmp_path, capsys):
    from appliance.core.destinations import Destination

    path = config(tmp_path)
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as outbox:
        texts = {Destination.X: "Both.", Destination.BLUESKY: "Both."}
        confirmation = outbox.add("Both.", "button", texts)
        x_row, bluesky_row = (e.id for e in outbox.confirmation(confirmation))
        outbox.mark_sending(bluesky_row)
        outbox.mark_waiting(bluesky_row, 10**10, "Bluesky is limiting posts (429)")
    assert main(["outbox", "--config", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == [str(bluesky_row), "bluesky", "waiting"]
    assert lines[1].split()[:3] == [str(x_row), "x", "queued"]
    assert main(["outbox", "list", "--to", "bluesky", "--config", str(path)]) == 0
    assert [line.split()[1] for line in capsys.readouterr().out.splitlines()] == ["bluesky"]
    assert main(["outbox", "drop", str(bluesky_row), "--config", str(path)]) == 0
    assert "will not be posted to Bluesky" in capsys.readouterr().out
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as outbox:
        assert outbox.get(bluesky_row).state == DROPPED
        assert outbox.get(x_row).state == QUEUED  # the other destination's row goes on
