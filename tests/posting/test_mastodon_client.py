"""The Mastodon client: real Mastodon.py against the real stand-in, every answer classified."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading

import pytest

from appliance.clock import Clock
from appliance.posting.mastodon_client import (
    IDEMPOTENCY_WINDOW_SECONDS,
    MastodonClient,
    outcome_for_status,
    plain_text,
    retry_after_seconds,
    server_url,
)
from appliance.posting.outcome import Outcome, PostOutcome
from appliance.tryout.standins.mastodon_server import STANDIN_ACCOUNT_ID, MastodonStandin
from tests.conftest import SteppedClock, wait_until
from tests.posting.test_bluesky_client import redirecting_to
from tests.posting.test_x_client import call_within

TOKEN = "client-access-token-ABCDEFGHIJ0123456789"
KEY = "appliance-0123abcd-7"
TIMEOUT_SECONDS = 5.0


@pytest.fixture
def srv():
    with MastodonStandin(TOKEN) as standin:
        yield standin


def client_for(srv: MastodonStandin, token: str = TOKEN, timeout_seconds: float = 5.0, **kw):
    return MastodonClient(srv.url, token, timeout_seconds, **kw)


def assert_no_secret(outcome: PostOutcome) -> None:
    assert TOKEN not in outcome.detail and TOKEN not in repr(outcome)


def posts_to_statuses(srv: MastodonStandin) -> list:
    return [(method, path, headers) for method, path, headers in srv.requests if method == "POST"]


def test_a_post_arrives_with_its_text_its_id_and_the_idempotency_key(srv):
    outcome = client_for(srv).post("hello from the desk", KEY)
    assert (outcome.kind, outcome.needs_user, outcome.is_duplicate) == ("posted", False, False)
    [status] = srv.posts
    assert (status.id, status.text, status.idempotency_key) == (
        outcome.post_id,
        "hello from the desk",
        KEY,
    )
    [(_, _, headers)] = posts_to_statuses(srv)
    assert headers["Idempotency-Key"] == KEY
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_lost_answer_then_a_retry_with_the_same_key_makes_one_status(srv):
    srv.inject("accept_and_hang")
    client = client_for(srv, timeout_seconds=0.5)
    lost = call_within(5.0, client.post, "said once", KEY)
    assert (lost.kind, lost.needs_user) == ("retry", False)
    assert "in time" in lost.detail
    assert srv.wait_for_posts(1, 5)  # Mastodon has it (a busy stand-in stores it late)
    assert len(srv.posts) == 1  # ... and we do not know
    again = client.post("said once", KEY)
    assert again.kind == "posted" and again.post_id == srv.posts[0].id
    assert len(srv.posts) == 1
    assert len(posts_to_statuses(srv)) == 2


def test_a_drip_fed_answer_is_abandoned_at_the_total_deadline_and_the_retry_is_safe(srv):
    # Every read gets a byte in time: only a deadline on the whole request ends it.
    srv.inject("drip", byte_interval_seconds=0.05)
    client = client_for(srv, timeout_seconds=1.0)
    outcome = call_within(10.0, client.post, "slowly answered", KEY)
    assert outcome.kind == "retry" and "in time" in outcome.detail
    again = client.post("slowly answered", KEY)
    assert (again.kind, again.post_id) == ("posted", srv.posts[0].id)
    assert len(srv.posts) == 1


def test_a_retry_after_mastodon_forgot_the_key_finds_the_status_instead_of_posting_again(srv):
    import time

    wall = SteppedClock(time.time())
    client = client_for(srv, timeout_seconds=0.5, clock=Clock(wall=wall))
    srv.inject("accept_and_hang")
    assert call_within(5.0, client.post, "after a long outage", KEY).kind == "retry"
    assert srv.wait_for_posts(1, 5)  # stored (late, if busy) before its key is forgotten
    srv.forget_idempotency_keys()  # an hour later, Mastodon no longer knows the key
    wall.now += IDEMPOTENCY_WINDOW_SECONDS + 60
    outcome = client.post("after a long outage", KEY)
    assert (outcome.kind, outcome.is_duplicate) == ("posted", True)
    assert outcome.post_id == srv.posts[0].id
    assert len(srv.posts) == 1 and len(posts_to_statuses(srv)) == 1


def test_after_a_restart_past_the_hour_the_outbox_time_finds_the_earlier_status(srv):
    # kill -9 while a status was in flight, back more than an hour later: a new
    # process (a new client, nothing in memory) gets the row's time from the outbox.
    import time

    wall = SteppedClock(time.time())
    before = client_for(srv, timeout_seconds=0.5, clock=Clock(wall=wall))
    srv.inject("accept_and_hang")
    confirmed_at = wall.now
    assert call_within(5.0, before.post, "posted before the power cut", KEY).kind == "retry"
    assert srv.wait_for_posts(1, 5)  # stored (late, if busy) before its key is forgotten
    srv.forget_idempotency_keys()
    wall.now += IDEMPOTENCY_WINDOW_SECONDS + 60
    after = client_for(srv, clock=Clock(wall=wall))
    outcome = after.post("posted before the power cut", KEY, tried_since=confirmed_at)
    assert (outcome.kind, outcome.is_duplicate) == ("posted", True)
    assert len(srv.posts) == 1 and len(posts_to_statuses(srv)) == 1


def test_a_late_retry_posts_when_no_earlier_status_is_found(srv):
    import time

    wall = SteppedClock(time.time())
    client = client_for(srv, clock=Clock(wall=wall))
    srv.inject("503")
    assert client.post("never arrived", KEY).kind == "retry"
    wall.now += IDEMPOTENCY_WINDOW_SECONDS + 60
    outcome = client.post("never arrived", KEY)
    assert (outcome.kind, outcome.is_duplicate) == ("posted", False)
    assert [status.text for status in srv.posts] == ["never arrived"]


def test_a_late_retry_waits_when_it_cannot_look_for_an_earlier_status(srv, monkeypatch):
    import time

    from mastodon.errors import MastodonNetworkError

    wall = SteppedClock(time.time())
    client = client_for(srv, timeout_seconds=0.5, clock=Clock(wall=wall))
    srv.inject("accept_and_hang")
    assert call_within(5.0, client.post, "maybe posted", KEY).kind == "retry"
    assert srv.wait_for_posts(1, 5)  # stored (late, if busy) before its key is forgotten
    srv.forget_idempotency_keys()
    wall.now += IDEMPOTENCY_WINDOW_SECONDS + 60

    def unreachable(*args, **kwargs):
        raise MastodonNetworkError("Could not complete request: connection refused")

    monkeypatch.setattr(client._mastodon(), "account_statuses", unreachable)
    outcome = client.post("maybe posted", KEY)
    assert (outcome.kind, outcome.needs_user) == ("retry", False)
    assert len(srv.posts) == 1 and len(posts_to_statuses(srv)) == 1


def test_delete_removes_the_status_and_a_gone_status_counts_as_deleted(srv):
    client = client_for(srv)
    post_id = client.post("to be deleted", KEY).post_id
    outcome = client.delete(post_id)
    assert (outcome.kind, outcome.post_id) == ("deleted", post_id)
    assert srv.posts == []
    again = client.delete(post_id)
    assert again.kind == "deleted" and "already" in again.detail


@pytest.mark.parametrize("post_id", ["", "12/../../accounts", "1 2", "../x"])
def test_delete_refuses_an_id_that_could_change_the_path(srv, post_id):
    outcome = client_for(srv).delete(post_id)
    assert outcome.kind == "failed"
    assert srv.requests == []


def test_a_wrong_token_fails_and_needs_the_user_with_a_hint(srv):
    outcome = client_for(srv, token="someone-elses-token-0123456789").post("hi", KEY)
    assert (outcome.kind, outcome.needs_user) == ("failed", True)
    assert "The access token is invalid" in outcome.detail
    assert "Preferences > Development" in outcome.detail and "write:statuses" in outcome.detail
    assert srv.posts == []


def test_a_read_only_token_fails_with_403_and_needs_the_user():
    with MastodonStandin(TOKEN, scopes=("read",)) as srv:
        outcome = client_for(srv).post("hi", KEY)
    assert (outcome.kind, outcome.needs_user) == ("failed", True)
    assert "403" in outcome.detail and "outside the authorized scopes" in outcome.detail
    assert "write:statuses" in outcome.detail


def test_a_refused_text_fails_with_mastodons_words(srv):
    outcome = client_for(srv).post("a" * 501, KEY)
    assert (outcome.kind, outcome.needs_user) == ("failed", False)
    assert "Text character limit of 500 exceeded" in outcome.detail
    assert srv.posts == []


def test_a_429_is_a_retry_after_the_reset_without_sleeping_inside_the_call(srv):
    srv.inject("429", reset_in_seconds=120)
    outcome = call_within(3.0, client_for(srv).post, "too soon", KEY)
    assert (outcome.kind, outcome.is_rate_limited, outcome.needs_user) == ("retry", True, False)
    assert outcome.retry_after_seconds is not None
    assert 100 <= outcome.retry_after_seconds <= 121


def test_the_accounts_own_limit_running_out_is_a_429_retry():
    with MastodonStandin(TOKEN, rate_limit_requests=1) as srv:
        client = client_for(srv)
        assert client.post("first", KEY).kind == "posted"
        outcome = call_within(3.0, client.post, "second", "appliance-0123abcd-8")
    assert outcome.kind == "retry" and outcome.is_rate_limited
    assert outcome.retry_after_seconds is not None and 1 <= outcome.retry_after_seconds <= 301


@pytest.mark.parametrize(
    ("fault", "kind", "needs_user"), [("503", "retry", False), ("401", "failed", True)]
)
def test_each_fault_maps_to_its_outcome(srv, fault, kind, needs_user):
    srv.inject(fault)
    outcome = client_for(srv).post("hello", KEY)
    assert (outcome.kind, outcome.needs_user) == (kind, needs_user)
    assert_no_secret(outcome)


def test_a_hung_request_becomes_a_retry_within_the_deadline(srv):
    srv.inject("hang")
    outcome = call_within(3.0, client_for(srv, timeout_seconds=0.5).post, "into the void", KEY)
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", None)
    assert "in time" in outcome.detail


def test_abort_cuts_off_the_request_under_way_and_refuses_new_ones(srv):
    srv.inject("hang")
    client = client_for(srv, timeout_seconds=60.0)
    results: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: results.put(client.post("stuck", KEY)), daemon=True).start()
    assert wait_until(lambda: srv.open_connections() > 0, 5.0)
    client.abort()
    outcome = results.get(timeout=5.0)
    assert outcome.kind == "retry" and "stopping" in outcome.detail
    assert call_within(3.0, client.post, "after stop", KEY).kind == "retry"


def test_an_unreachable_server_is_a_retry():
    with MastodonStandin(TOKEN) as srv:
        url = srv.url
    outcome = call_within(10.0, MastodonClient(url, TOKEN, 2.0).post, "nobody home", KEY)
    assert (outcome.kind, outcome.needs_user) == ("retry", False)
    assert "reach" in outcome.detail
    assert_no_secret(outcome)


def test_max_characters_comes_from_the_instance_and_is_cached():
    with MastodonStandin(TOKEN, max_characters=1000) as srv:
        client = client_for(srv)
        assert client.max_characters() == 1000
        srv.max_characters = 5000
        assert client.max_characters() == 1000
        assert [path for _, path, _ in srv.requests] == ["/api/v2/instance"]
        assert client.post("b" * 800, KEY).kind == "posted"


def test_max_characters_falls_back_to_the_v1_instance():
    with MastodonStandin(TOKEN, max_characters=700, has_instance_v2=False) as srv:
        assert client_for(srv).max_characters() == 700
        assert [path for _, path, _ in srv.requests] == ["/api/v2/instance", "/api/v1/instance"]


def test_max_characters_is_500_when_the_instance_does_not_say():
    with MastodonStandin(TOKEN, max_characters=None) as srv:
        assert client_for(srv).max_characters() == 500


def test_max_characters_is_500_when_unreachable_and_asks_again_later():
    with MastodonStandin(TOKEN, max_characters=900) as srv:
        url, port = srv.url, int(srv.url.rsplit(":", 1)[1])
    client = MastodonClient(url, TOKEN, 2.0)
    assert call_within(10.0, client.max_characters) == 500
    with MastodonStandin(TOKEN, port=port, max_characters=900):
        assert client.max_characters() == 900


def test_check_account_names_the_account_and_the_server(srv):
    check = client_for(srv).check_account()
    host = srv.url.split("://", 1)[1]
    assert (check.is_ok, check.detail, check.needs_user) == (
        True,
        f"signed in as @standin on {host}",
        False,
    )


def test_check_account_with_a_wrong_token_needs_the_user(srv):
    check = client_for(srv, token="wrong-token-0123456789").check_account()
    assert (check.is_ok, check.needs_user) == (False, True)
    assert "Preferences > Development" in check.detail


def test_find_post_returns_the_id_of_our_status_with_that_text(srv):
    import time

    client = client_for(srv)
    text = "fish & chips <tonight>\n\nsee https://example.com/menu?day=fri"
    post_id = client.post(text, KEY).post_id
    client.post("something else", "appliance-0123abcd-8")
    assert client.find_post(text, time.time() - 60) == post_id
    assert client.find_post("not said", time.time() - 60) == ""
    assert client.find_post(text, time.time() + 3600) == ""  # only statuses since then


def test_find_post_knows_a_remote_mention_that_mastodon_shows_without_its_domain(srv):
    client = client_for(srv)
    text = "thanks @anna@example.social for the tip"
    post_id = client.post(text, KEY).post_id
    assert "@<span>anna</span>" in srv_content(srv, post_id)
    assert client.find_post(text, 0.0) == post_id


def srv_content(srv: MastodonStandin, post_id: str) -> str:
    import requests

    url = f"{srv.url}/api/v1/accounts/{STANDIN_ACCOUNT_ID}/statuses"
    statuses = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).json()
    return next(status["content"] for status in statuses if status["id"] == post_id)


def test_find_post_is_empty_when_mastodon_refuses(srv):
    assert client_for(srv, token="wrong-token-0123456789").find_post("x", 0.0) == ""


def test_mastodon_py_is_imported_only_when_a_request_is_made():
    code = (
        "import sys\n"
        "from appliance.posting.mastodon_client import MastodonClient\n"
        "MastodonClient('https://mastodon.invalid', 'token-0123456789', 5.0)\n"
        "print('mastodon' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"


def test_the_repr_hides_the_token(srv):
    assert TOKEN not in repr(client_for(srv))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("mastodon.social", "https://mastodon.social"),
        ("https://mastodon.social/", "https://mastodon.social"),
        ("https://mastodon.social/@me", "https://mastodon.social"),
        ("HTTP://127.0.0.1:8090", "http://127.0.0.1:8090"),
        ("  https://example.social  ", "https://example.social"),
    ],
)
def test_the_server_url_is_its_scheme_and_host(given, expected):
    assert server_url(given) == expected


def test_retry_after_reads_iso_8601_and_unix_seconds():
    now = 1_800_000_000.0
    iso = "2027-01-15T08:01:40.000Z"  # 1_800_000_100
    assert retry_after_seconds({"X-RateLimit-Reset": iso}, now) == pytest.approx(100.0)
    assert retry_after_seconds({"X-RateLimit-Reset": "1800000030"}, now) == pytest.approx(30.0)
    assert retry_after_seconds({"X-RateLimit-Reset": "2027-01-15T08:00:00Z"}, now) == 1.0
    assert retry_after_seconds({"X-RateLimit-Reset": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None


def test_plain_text_undoes_mastodons_html():
    content = (
        '<p>a &amp; b &lt;c&gt;<br />next line</p><p>see <a href="https://example.com/x">'
        '<span class="invisible">https://</span><span class="ellipsis">example.com</span>'
        '<span class="invisible">/x</span></a></p>'
    )
    assert plain_text(content) == "a & b <c>\nnext line\n\nsee https://example.com/x"


def test_outcome_kinds_are_the_shared_ones(srv):
    assert client_for(srv).post("typed", KEY).kind is Outcome.POSTED


@pytest.mark.parametrize(
    ("status", "kind", "needs_user", "phrase"),
    [
        (500, "retry", False, "trouble"),
        (502, "retry", False, "trouble"),
        (401, "failed", True, "write:statuses"),
        (403, "failed", True, "write:statuses"),
        (422, "failed", False, "refused the post"),
        (404, "failed", True, "api_base_url"),
        (301, "failed", True, "api_base_url"),
        (410, "failed", False, "410"),
    ],
)
def test_each_status_maps_to_its_outcome(status, kind, needs_user, phrase):
    outcome = outcome_for_status(status, "what Mastodon said")
    assert (outcome.kind, outcome.needs_user) == (kind, needs_user)
    assert phrase in outcome.detail and "what Mastodon said" in outcome.detail


def test_a_redirect_is_never_followed_so_the_token_stays(srv):
    with redirecting_to(srv.url) as url:  # to a server that would accept the token
        outcome = call_within(10.0, MastodonClient(url, TOKEN, 5.0).post, "not elsewhere", KEY)
    assert srv.requests == []  # the token never reached the other server
    assert (outcome.kind, outcome.needs_user) == ("failed", True)
    assert "307" in outcome.detail and "api_base_url" in outcome.detail
    assert_no_secret(outcome)
