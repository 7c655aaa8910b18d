"""A destination whose client cannot be built, or whose SDK raises what nobody expected,
is that destination's problem: the daemon names it and its cause on the status line and
the LEDs, logs it once, keeps the post in the outbox and retries it, the others post
unhindered, and once the cause goes away the post goes out exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from appliance.core import Pattern
from appliance.core.destinations import Destination
from appliance.posting import x_client
from appliance.posting.outbox import POSTED, WAITING
from tests.conftest import refusing_url, wait_until
from tests.service.test_destinations_daemon import ThreeBox

X, BLUESKY, MASTODON = Destination.X, Destination.BLUESKY, Destination.MASTODON


class Broken:
    """Replaces `owner.name` with a callable that raises `error` until healed."""

    def __init__(self, monkeypatch, owner: object, name: str, error: Exception) -> None:
        self.is_broken = True
        real: Callable = getattr(owner, name)

        def broken(*args: object, **kwargs: object) -> object:
            if self.is_broken:
                raise error
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, broken)


def break_x(monkeypatch) -> Broken:
    # tweepy broken at run time: the lazily built client cannot be made.
    error = ImportError("cannot import name 'Client' from 'tweepy'")
    return Broken(monkeypatch, x_client, "make_client", error)


def break_bluesky(monkeypatch) -> Broken:
    # The SDK's sign-in (createSession, made when the client is first used) raises.
    from atproto_client import Client

    return Broken(monkeypatch, Client, "login", RuntimeError("the SDK tripped"))


def break_mastodon(monkeypatch) -> Broken:
    # Mastodon.py's constructor (the client is made on first use) raises.
    from mastodon import Mastodon

    return Broken(monkeypatch, Mastodon, "__init__", RuntimeError("the SDK tripped"))


CAUSES = {  # what the status line says after "Posting to <label> held up: "
    X: (break_x, "X's client could not be set up (ImportError: cannot import name"),
    BLUESKY: (break_bluesky, "Unexpected RuntimeError while talking to Bluesky"),
    MASTODON: (break_mastodon, "Unexpected RuntimeError while talking to Mastodon"),
}


@pytest.mark.parametrize("destination", list(CAUSES), ids=str)
def test_a_broken_client_is_that_destinations_shown_problem_and_the_post_goes_once(
    monkeypatch, caplog, destination
):
    breaker, cause = CAUSES[destination]
    broken = breaker(monkeypatch)
    box = ThreeBox().start()
    try:
        with caplog.at_level(logging.INFO):
            box.hear("Tweet that one of you is broken.")
            others = [d for d in Destination if d != destination]
            assert all(box.on[d].wait_for_posts(1, 10) for d in others)
            held_up = f"Posting to {destination.label} held up: {cause}"
            assert wait_until(lambda: box.saw_status(held_up), 10), box.notices
            assert wait_until(lambda: box.pattern() is Pattern.ERROR, 5)
            assert box.rows()[destination].state == WAITING
            assert box.on[destination].posts == []
            broken.is_broken = False
            assert wait_until(lambda: box.rows()[destination].state == POSTED, 15)
            assert wait_until(lambda: box.pattern() is Pattern.LISTENING, 5)
        assert all(box.texts(d) == ["One of you is broken."] for d in Destination)
    finally:
        box.stop()
    events = [getattr(r, "APPLIANCE_EVENT", "") for r in caplog.records]
    assert "thread_restarted" not in events  # the poster thread never died
    mine = [r for r in caplog.records if getattr(r, "DESTINATION", None) == destination]
    problems = [r for r in mine if r.levelno >= logging.ERROR]
    # Logged once, not per retry, as the destination's fault.
    assert [r.APPLIANCE_EVENT for r in problems] == ["client_fault"], [
        r.getMessage() for r in problems
    ]
    assert any(r.APPLIANCE_EVENT == "post_retrying" for r in mine)


@pytest.mark.parametrize("fault", ["unexpected", "network"])
def test_mastodons_instance_and_post_when_it_cannot_be_reached_or_built(monkeypatch, fault):
    from mastodon import Mastodon

    from appliance.core.mastodon_text import DEFAULT_MAX_CHARACTERS
    from appliance.posting.mastodon_client import MastodonClient
    from appliance.posting.outcome import Outcome

    if fault == "unexpected":
        Broken(monkeypatch, Mastodon, "__init__", RuntimeError("the SDK tripped"))
    with refusing_url() as url:
        client = MastodonClient(url, "token-" * 4, 5.0)
        assert client.max_characters() == DEFAULT_MAX_CHARACTERS  # the default, not a crash
        outcome = client.post("Anyone there?", "k-1")
    assert outcome.kind is Outcome.RETRY and not outcome.needs_user
    assert outcome.is_fault is (fault == "unexpected")
    wanted = "Unexpected RuntimeError" if fault == "unexpected" else "Could not reach Mastodon"
    assert outcome.detail.startswith(wanted)


def test_xs_client_that_cannot_be_built_says_why_without_keys_and_is_built_once_it_can(
    monkeypatch, caplog
):
    from appliance.clock import Clock
    from appliance.posting.outcome import Outcome
    from appliance.service.config import settings_from_dict
    from appliance.service.credentials import Credentials
    from appliance.service.destinations import LazyXClient
    from tests.service.test_destinations import X_KEY_VALUES

    secret = X_KEY_VALUES["x_access_token_secret"]
    broken = Broken(monkeypatch, x_client, "make_client", ValueError(f"bad header {secret}"))
    with refusing_url() as url:
        settings = settings_from_dict({"x": {"api_url": url}})
        client = LazyXClient(settings, Credentials(X_KEY_VALUES), Clock())
        with caplog.at_level(logging.DEBUG, logger="appliance.service.destinations"):
            first, second = client.post("a", "k-1"), client.post("a", "k-1")
        assert first == second and (first.kind, first.is_fault) == (Outcome.RETRY, True)
        said = "X's client could not be set up (ValueError: bad header [redacted])"
        assert said in first.detail
        assert secret not in first.detail
        assert client.delete("1") == first and client.find_post("a", 0.0) == ""
        assert not client.check_account().is_ok
        [record] = caplog.records  # once, not on every call, with its traceback
        assert (record.APPLIANCE_EVENT, record.DESTINATION) == ("client_setup_failed", X)
        assert record.exc_info is not None
        broken.is_broken = False
        outcome = client.post("a", "k-1")  # built now: X's own answer (nothing listens there)
    assert outcome.kind is Outcome.RETRY and not outcome.is_fault
    assert outcome.detail.startswith("Could not reach X")


def test_a_429_at_bluesky_sign_in_waits_for_its_reset_then_posts_once():
    box = ThreeBox().start()
    try:
        reset_seconds = 6
        box.on[BLUESKY].inject(
            "429", nsid="com.atproto.server.createSession", reset_in_seconds=reset_seconds
        )
        box.hear("Tweet that sign-ins are limited.")
        held_up = "Posting to Bluesky held up: Bluesky is limiting sign-ins as @"
        assert wait_until(lambda: box.saw_status(held_up), 10), box.notices
        assert wait_until(lambda: box.pattern() is Pattern.RATE_LIMITED, 8)
        row = box.rows()[BLUESKY]
        # Its reset, not the usual backoff (at most 1 s here: FAST's retry_max_seconds).
        assert row.state == WAITING and row.next_attempt_at >= row.updated_at + reset_seconds / 2
        assert wait_until(lambda: box.rows()[BLUESKY].state == POSTED, 20)
        assert box.texts(BLUESKY) == ["Sign-ins are limited."]
        assert box.on[BLUESKY].requests.count("com.atproto.server.createSession") == 2
    finally:
        box.stop()
