"""Bluesky signs in (createSession) on its first call: each way that can fail is an outcome
the poster acts on, never an exception, and a 429 waits for the reset Bluesky names."""

from __future__ import annotations

import socket
import time

from appliance.clock import Clock
from appliance.posting.bluesky_client import BlueskyClient
from appliance.posting.outcome import Outcome
from tests.posting.test_bluesky_client import APP_PASSWORD, HANDLE, client_for, srv  # noqa: F401

CREATE_SESSION = "com.atproto.server.createSession"


def test_a_429_at_sign_in_is_a_rate_limit_that_waits_for_its_reset(srv):  # noqa: F811
    now_seconds = time.time()
    srv.inject("429", nsid=CREATE_SESSION, reset_in_seconds=900)
    client = client_for(srv, clock=Clock(wall=lambda: now_seconds))
    outcome = client.post("limited", "k-1")
    assert (outcome.kind, outcome.is_rate_limited, outcome.needs_user) == (
        Outcome.RETRY,
        True,
        False,
    )
    assert 900 <= outcome.retry_after_seconds <= 902
    assert "sign" in outcome.detail and "429" in outcome.detail
    assert srv.posts == [] and "com.atproto.repo.createRecord" not in srv.requests
    assert client.post("limited", "k-1").kind is Outcome.POSTED  # once the limit is lifted
    assert [p.text for p in srv.posts] == ["limited"]


def test_a_network_error_at_sign_in_is_retried():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once closed
    client = BlueskyClient(f"http://127.0.0.1:{port}", HANDLE, APP_PASSWORD, 10.0)
    outcome = client.post("words", "k-1")
    assert (outcome.kind, outcome.needs_user, outcome.is_fault) == (Outcome.RETRY, False, False)
    assert outcome.detail.startswith("Could not reach Bluesky")


def test_an_unexpected_exception_at_sign_in_is_a_retried_fault(srv, monkeypatch):  # noqa: F811
    from atproto_client import Client

    def login(*args: object, **kwargs: object) -> None:
        raise KeyError("a field the SDK expected")

    monkeypatch.setattr(Client, "login", login)
    outcome = client_for(srv).post("words", "k-1")
    assert (outcome.kind, outcome.is_fault) == (Outcome.RETRY, True)
    assert "Unexpected KeyError while talking to Bluesky" in outcome.detail
    assert srv.posts == []


def test_a_refused_app_password_at_sign_in_needs_the_user_and_hides_it(srv):  # noqa: F811
    outcome = client_for(srv, password="wrong-password-1234").post("words", "k-1")
    assert (outcome.kind, outcome.needs_user) == (Outcome.FAILED, True)
    assert "refused to sign in" in outcome.detail
    assert "wrong-password-1234" not in outcome.detail
