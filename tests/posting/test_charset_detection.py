"""requests without a character-set detector still reads X's JSON answers and texts."""

import json
import subprocess
import sys

import pytest

# A fresh interpreter: whether requests finds a detector is decided at its first import.
PROBE = r"""
import json, sys, warnings
warnings.simplefilter("error")  # requests' "no detector" warning would fail here
from appliance.posting.charset_detection import DETECTORS, leave_out_charset_detection
leave_out_charset_detection()
import requests

answer = requests.Response()
answer.status_code = 201
answer._content = json.dumps({"data": {"text": "café ☕"}}, ensure_ascii=False).encode()
answer.headers["Content-Type"] = "application/json"  # no charset named
loaded = [name for name in DETECTORS if sys.modules.get(name) is not None]
print(json.dumps([loaded, answer.json()["data"]["text"], answer.text]))
"""


@pytest.mark.timeout(60)
def test_requests_loads_no_detector_and_reads_utf8_without_one():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=50
    )
    assert result.returncode == 0, result.stderr
    loaded, from_json, text = json.loads(result.stdout)
    assert loaded == []
    assert from_json == "café ☕" and text.endswith('"café ☕"}}')


def test_too_late_once_requests_is_loaded_and_then_changes_nothing(monkeypatch):
    import requests  # noqa: F401 - loaded, as in this test process

    from appliance.posting.charset_detection import DETECTORS, leave_out_charset_detection

    before = {name: sys.modules.get(name, "absent") for name in DETECTORS}
    leave_out_charset_detection()
    assert {name: sys.modules.get(name, "absent") for name in DETECTORS} == before
