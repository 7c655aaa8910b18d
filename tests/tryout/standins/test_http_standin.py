"""The HTTP stand-ins' shared base: JSON errors in each service's words, faults, connections."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from appliance.tryout.standins.bluesky_server import BlueskyStandin
from appliance.tryout.standins.http_standin import LoopbackStandin
from appliance.tryout.standins.mastodon_server import MastodonStandin
from appliance.tryout.standins.x_server import XStandin

TIMEOUT_SECONDS = 5.0
MESSAGE = "Content-Length is not a number."

# Each stand-in, its Server header, and the body its service gives a malformed request.
STANDINS: dict[str, tuple[Callable[[], LoopbackStandin[Any]], str, dict[str, Any]]] = {
    "x": (
        lambda: XStandin("ck", "cs", "at", "ats"),
        "x-standin",
        {"title": "Bad Request", "detail": MESSAGE, "type": "about:blank", "status": 400},
    ),
    "mastodon": (lambda: MastodonStandin("token"), "mastodon-standin", {"error": MESSAGE}),
    "bluesky": (
        lambda: BlueskyStandin("app-password"),
        "bluesky-standin",
        {"error": "InvalidRequest", "message": MESSAGE},
    ),
}


@pytest.fixture(params=sorted(STANDINS))
def case(request):
    make, server, body = STANDINS[request.param]
    with make() as standin:
        yield standin, server, body


def test_a_malformed_request_gets_a_json_error_in_the_services_words(case):
    standin, server, body = case
    host, port = standin.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_SECONDS)
    try:
        connection.putrequest("POST", "/anything")
        connection.putheader("Content-Length", "many")
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 400
        assert response.getheader("Server") == server
        assert response.getheader("Content-Type", "").startswith("application/json")
        assert response.getheader("Connection") == "close"
        assert json.loads(response.read()) == body
    finally:
        connection.close()
    assert standin.posts == []


def test_inject_refuses_unknown_faults_options_and_counts(case):
    standin = case[0]
    with pytest.raises(ValueError, match="unknown fault"):
        standin.inject("418")
    with pytest.raises(TypeError, match="takes no"):
        standin.inject("503", reset_in_seconds=5)
    with pytest.raises(ValueError, match="at least 1"):
        standin.inject("503", count=0)


def test_stop_ends_idle_keep_alive_connections(case):
    standin = case[0]
    host, port = standin.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT_SECONDS)
    try:
        connection.request("GET", "/nowhere")
        connection.getresponse().read()  # answered; the connection stays open
        assert standin.open_connections() == 1
        standin.stop()
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while standin.open_connections() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert standin.open_connections() == 0
    finally:
        connection.close()
