"""Facts that must also be spelled out where Python cannot import them agree with the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS
from appliance.service.control import COMMANDS
from appliance.service.control_replies import event_for

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script", ["scripts/system-test.sh", "scripts/arm64-test.sh"])
def test_the_scripts_write_the_key_files_the_program_reads(script):
    line = re.search(r"^KEY_NAMES=\((.*)\)$", (REPO / script).read_text(), re.MULTILINE)
    assert line, f"{script} has no KEY_NAMES=(...) line"
    assert tuple(line.group(1).split()) == (ASSEMBLYAI_KEY, *X_KEYS)


def test_every_control_command_but_status_stands_for_an_event():
    assert COMMANDS[0] == "status" and event_for("status") is None
    assert all(event_for(command) is not None for command in COMMANDS[1:])
    assert event_for("reboot") is None
