"""Start-up does only what READY=1 needs: the X client and the length tables come after.

Issue 13: tweepy and requests were about a quarter of the daemon's imports before
READY=1. Posting through the lazily built client is covered by test_posting_daemon.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from appliance.clock import Clock
from appliance.service.config import Settings, XSettings
from appliance.service.credentials import Credentials
from appliance.service.daemon import Parts
from appliance.service.destinations import LazyXClient, make_clients
from appliance.service.systemd import Notifier
from appliance.tryout.sandbox import Sandbox
from appliance.tryout.standins.x_server import XStandin
from tests.conftest import wait_until

KEYS = {
    "x_consumer_key": "ck",
    "x_consumer_secret": "cs",
    "x_access_token": "at",
    "x_access_token_secret": "ats",
}

PROBE = r"""
import json, sys
import appliance.service.daemon, appliance.service.daemon_parts, appliance.service.destinations
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("tweepy", "requests"))))
"""


@pytest.mark.timeout(60)
def test_the_daemon_module_loads_no_x_client(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=50, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.timeout(30)
def test_the_lazily_built_x_client_posts_and_aborts_nothing_before_use():
    with XStandin(**{name.removeprefix("x_"): value for name, value in KEYS.items()}) as x:
        settings = Settings(x=XSettings(api_url=x.url, request_timeout_seconds=5.0))
        [client] = make_clients(settings, Credentials(KEYS), Clock()).values()
        assert isinstance(client, LazyXClient)
        client.abort()  # nothing under way, nothing built: a no-op
        outcome = client.post("the kettle is singing again", "appliance-test-1")
        assert outcome.post_id
        assert [p.text for p in x.posts] == ["the kettle is singing again"]


@pytest.mark.timeout(60)
def test_after_ready_work_runs_once_after_ready():
    notices: list[str] = []
    seen_at_call: list[list[str]] = []
    box = Sandbox([])
    try:
        box.start_standins()
        box.start_daemon(
            Parts(
                notifier=Notifier(send=notices.append),
                after_ready=lambda: seen_at_call.append(list(notices)),
            )
        )
        assert wait_until(lambda: seen_at_call, 20)
        assert "READY=1" in seen_at_call[0]
        time.sleep(0.5)  # the main loop is running: no second call
        assert len(seen_at_call) == 1
    finally:
        box.stop()
