"""The Bluesky client, with the real atproto SDK, against the local PDS stand-in."""

from __future__ import annotations

import contextlib
import http.server
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from appliance.core.destinations import Destination
from appliance.posting.bluesky_client import (
    BlueskyClient,
    outcome_for_answer,
    rate_limit_wait_seconds,
    record_key,
)
from appliance.posting.outcome import Outcome
from appliance.tryout.standins.bluesky_server import BlueskyStandin
from tests.conftest import refusing_url, wait_until

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
HANDLE = "standin.bsky.social"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")  # SDK's TID_RE


@pytest.fixture
def srv():
    with BlueskyStandin(APP_PASSWORD, handle=HANDLE) as standin:
        yield standin


# Generous (a sign-in, a post and a check share it): a loaded machine must not hit it by accident;
# the tests of the deadline itself pass their own.
def client_for(srv, password: str = APP_PASSWORD, timeout_seconds: float = 20.0, **kw):
    return BlueskyClient(srv.url, HANDLE, password, timeout_seconds, **kw)


def in_thread(function, *args) -> queue.Queue:
    results: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: results.put(function(*args)), daemon=True).start()
    return results


def assert_no_secret(outcome) -> None:
    assert APP_PASSWORD not in outcome.detail


def test_a_post_with_a_link_lands_with_its_facet_and_its_derived_record_key(srv):
    client = client_for(srv)
    assert client.destination is Destination.BLUESKY
    text = "Grüße 👨‍👩‍👧 see example.com/x now"
    outcome = client.post(text, "appliance-0123abcd-7")
    assert outcome.kind is Outcome.POSTED and not outcome.is_duplicate
    [post] = srv.posts
    assert post.text == text
    assert outcome.post_id == post.uri == f"at://{srv.did}/app.bsky.feed.post/{post.rkey}"
    assert post.rkey == record_key("appliance-0123abcd-7")
    [facet] = post.facets
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert text.encode()[start:end] == b"example.com/x"
    assert facet["features"][0]["uri"] == "https://example.com/x"
    assert post.created_at.endswith("Z")


def test_langs_are_sent_when_configured(srv):
    client_for(srv, langs=["de"]).post("Hallo", "k-1")
    assert srv.posts[0].langs == ["de"]


def test_delete_removes_the_post_and_a_second_delete_still_counts_as_deleted(srv):
    client = client_for(srv)
    posted = client.post("to be deleted", "k-1")
    deleted = client.delete(posted.post_id)
    assert (deleted.kind, deleted.post_id) == (Outcome.DELETED, posted.post_id)
    assert srv.posts == []
    assert client.delete(posted.post_id).kind is Outcome.DELETED


def test_delete_refuses_what_is_not_a_post_uri(srv):
    outcome = client_for(srv).delete("https://bsky.app/profile/x/post/3k")
    assert outcome.kind is Outcome.FAILED and "not a Bluesky post uri" in outcome.detail
    assert srv.requests == []


def test_an_expired_token_is_refreshed_and_the_post_goes_out(srv):
    client = client_for(srv)
    assert client.post("first", "k-1").kind is Outcome.POSTED
    srv.expire_access_tokens()
    assert client.post("second", "k-2").kind is Outcome.POSTED
    assert [p.text for p in srv.posts] == ["first", "second"]
    assert srv.requests.count("com.atproto.server.createSession") == 1
    assert srv.requests.count("com.atproto.server.refreshSession") == 1


def test_an_injected_expired_token_answer_is_refreshed_too(srv):
    client = client_for(srv)
    srv.inject("expired_token")
    assert client.post("words", "k-1").kind is Outcome.POSTED
    assert "com.atproto.server.refreshSession" in srv.requests


def test_loading_the_sdk_does_not_count_against_the_deadline(srv, monkeypatch):
    client = client_for(srv, timeout_seconds=1.0)
    load = client._sdk_client

    def slow_first_load():
        if client._sdk is None:
            time.sleep(1.5)  # the SDK's first import, on a slow or busy machine
        return load()

    monkeypatch.setattr(client, "_sdk_client", slow_first_load)
    assert client.post("words", "k-1").kind is Outcome.POSTED


def test_429_is_retry_after_the_reset_the_headers_name(srv):
    srv.inject("429", reset_in_seconds=600)
    started = time.time()
    outcome = client_for(srv).post("limited", "k-1")
    took_seconds = time.time() - started  # the SDK's first call: seconds, on a busy machine
    assert outcome.kind is Outcome.RETRY and outcome.is_rate_limited
    assert not outcome.needs_user
    # The reset is 600 s after the request; the client counts from when the answer came.
    assert 600 - took_seconds <= outcome.retry_after_seconds <= 602
    assert srv.posts == []


def test_rate_limit_wait_reads_unix_seconds_and_falls_back():
    assert rate_limit_wait_seconds({"ratelimit-reset": "1800000100"}, 1_800_000_000.0) == 100
    assert rate_limit_wait_seconds({"ratelimit-reset": "1800000000"}, 1_800_000_500.0) == 1.0
    assert rate_limit_wait_seconds({"retry-after": "30"}, 0.0) == 30
    assert rate_limit_wait_seconds({}, 0.0) is None


def test_a_bad_app_password_needs_the_user_with_a_hint(srv):
    outcome = client_for(srv, password="wrong-password-1234").post("words", "k-1")
    assert (outcome.kind, outcome.needs_user) == (Outcome.FAILED, True)
    assert "App passwords" in outcome.detail and "Invalid identifier or password" in outcome.detail
    assert "wrong-password-1234" not in outcome.detail
    assert srv.posts == []
    check = client_for(srv, password="wrong-password-1234").check_account()
    assert (check.is_ok, check.needs_user) == (False, True)


def test_no_handle_or_password_fails_without_a_request(srv):
    outcome = BlueskyClient(srv.url, "", APP_PASSWORD, 5.0).post("words", "k-1")
    assert (outcome.kind, outcome.needs_user) == (Outcome.FAILED, True)
    assert srv.requests == []


def test_check_account_signs_in_and_names_the_handle(srv):
    check = client_for(srv).check_account()
    assert check.is_ok and check.detail == f"signed in as @{HANDLE}"


def test_a_retry_after_a_lost_answer_makes_exactly_one_post(srv):
    srv.inject("accept_and_hang")
    client = client_for(srv, timeout_seconds=1.0)
    lost = client.post("only once", "appliance-0123abcd-9")
    assert lost.kind is Outcome.RETRY and "did not answer in time" in lost.detail
    assert srv.wait_for_posts(1, 5)  # Bluesky has it (a busy stand-in stores it late)
    assert len(srv.posts) == 1  # ... and we do not know
    retried = client.post("only once", "appliance-0123abcd-9")
    assert (retried.kind, retried.is_duplicate) == (Outcome.POSTED, True)
    assert retried.post_id == srv.posts[0].uri
    assert len(srv.posts) == 1
    # A fresh client (a restart) with the same key finds the same record.
    again = client_for(srv).post("only once", "appliance-0123abcd-9")
    assert (again.is_duplicate, again.post_id) == (True, retried.post_id)
    assert len(srv.posts) == 1


def test_find_post_finds_a_post_whose_answer_was_lost_and_nothing_else(srv):
    # The poster asks when "delete that" came while the request was under way.
    client = client_for(srv, timeout_seconds=1.0)
    assert client.find_post("never sent", 0.0) == ""
    srv.inject("accept_and_hang")
    assert client.post("regretted", "appliance-0123abcd-10").kind is Outcome.RETRY
    assert srv.wait_for_posts(1, 5)  # stored, however late a busy stand-in got to it
    assert client.find_post("regretted", 0.0) == srv.posts[0].uri
    assert client.find_post("something else", 0.0) == ""


def test_a_server_error_without_the_record_is_retried_later(srv):
    srv.inject("500")
    client = client_for(srv)
    outcome = client.post("words", "k-1")
    assert outcome.kind is Outcome.RETRY and not outcome.is_duplicate
    assert "InternalServerError" in outcome.detail
    assert client.post("words", "k-1").kind is Outcome.POSTED
    assert len(srv.posts) == 1


def test_a_refused_post_fails_with_bluesky_s_message(srv):
    outcome = client_for(srv).post("x" * 301, "k-1")
    assert outcome.kind is Outcome.FAILED and not outcome.needs_user
    assert "300 graphemes" in outcome.detail
    assert srv.posts == []


@pytest.mark.parametrize("fault", ["hang", "drip"])
def test_a_hung_or_dripping_answer_ends_at_the_deadline(srv, fault):
    extra = {"byte_interval_seconds": 0.2} if fault == "drip" else {}
    srv.inject(fault, **extra)
    results = in_thread(client_for(srv, timeout_seconds=1.0).post, "slow", "k-1")
    outcome = results.get(timeout=10.0)
    assert outcome.kind is Outcome.RETRY and "did not answer in time" in outcome.detail


def test_abort_cuts_off_the_call_under_way_and_refuses_new_ones(srv):
    srv.inject("hang")
    client = client_for(srv, timeout_seconds=60.0)
    results = in_thread(client.post, "stuck", "k-1")
    assert wait_until(lambda: "com.atproto.repo.createRecord" in srv.requests, 5.0)
    client.abort()
    outcome = results.get(timeout=5.0)
    assert outcome.kind is Outcome.RETRY and "stopping" in outcome.detail
    after = in_thread(client.post, "after stop", "k-2").get(timeout=5.0)
    assert after.kind is Outcome.RETRY and "stopping" in after.detail


def test_an_unreachable_service_is_retry():
    with refusing_url() as url:
        # A generous deadline, not the point here: a cold SDK import counts against it.
        outcome = BlueskyClient(url, HANDLE, APP_PASSWORD, 30.0).post("words", "k-1")
    assert outcome.kind is Outcome.RETRY and "Could not reach Bluesky" in outcome.detail


def test_a_wrong_service_url_needs_the_user(srv):
    outcome = outcome_for_answer(404, "", "", {}, 0.0)
    assert (outcome.kind, outcome.needs_user) == (Outcome.FAILED, True)
    assert "service_url" in outcome.detail


def test_record_keys_are_tids_the_same_for_a_key_and_different_between_keys():
    keys = [f"appliance-0123abcd-{n}" for n in range(200)]
    rkeys = [record_key(key) for key in keys]
    assert all(TID.match(rkey) for rkey in rkeys)
    assert rkeys == [record_key(key) for key in keys]
    assert len(set(rkeys)) == len(keys)


def test_importing_the_client_does_not_import_the_sdk():
    code = (
        "import sys, appliance.posting.bluesky_client\n"
        "loaded = [m for m in ('atproto', 'atproto_client', 'httpx') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


class _Redirector(http.server.BaseHTTPRequestHandler):
    """A misconfigured proxy that sends every request, body and all, to `server.elsewhere`."""

    server: Any

    def _redirect(self) -> None:
        self.send_response(307)  # 307 keeps the method and the body
        self.send_header("Location", self.server.elsewhere + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_DELETE = _redirect

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def redirecting_to(elsewhere: str) -> Iterator[str]:
    """The URL of a server on loopback that redirects every request to `elsewhere`."""
    server: Any = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    server.elsewhere = elsewhere
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_redirect_is_never_followed_so_the_app_password_stays(srv):
    with redirecting_to(srv.url) as url:  # to a server that would accept the password
        outcome = BlueskyClient(url, HANDLE, APP_PASSWORD, 5.0).post("not elsewhere", "k-1")
    assert srv.requests == []  # the password never reached the other server
    assert outcome.kind is Outcome.FAILED and outcome.needs_user
    assert "307" in outcome.detail and "service_url" in outcome.detail
    assert_no_secret(outcome)
