"""The X client: real tweepy against the real stand-in, every answer classified."""

from __future__ import annotations

import dataclasses
import http.server
import inspect
import queue
import textwrap
import threading
import time

import pytest
import requests
import requests.adapters
import tweepy

from appliance.core.x_links import same_post_text
from appliance.posting.outcome import PostOutcome
from appliance.posting.x_client import (
    XCredentials,
    XPoster,
    make_client,
    outcome_for_status,
    rate_limit_wait_seconds,
)
from appliance.posting.x_transport import RedirectingSession, UnredirectedRequest
from appliance.tryout.standins.x_server import XStandin
from tests.conftest import refusing_url, wait_until

CREDENTIALS = XCredentials(
    consumer_key="ClientConsumerKey01234567",
    consumer_secret="client-consumer-secret-ABCDEFGHIJ0123456789",
    access_token="1-ClientAccessToken0123456789",
    access_token_secret="client-token-secret-KLMNOPQRSTU987654321",
)
SECRETS = dataclasses.astuple(CREDENTIALS)
TIMEOUT_SECONDS = 5.0


@pytest.fixture
def srv():
    with XStandin(**dataclasses.asdict(CREDENTIALS)) as standin:
        yield standin


def poster_for(
    srv: XStandin, credentials: XCredentials = CREDENTIALS, timeout_seconds: float = 5.0, **kw
) -> XPoster:
    return XPoster(make_client(srv.url, credentials, timeout_seconds), **kw)


def call_within(seconds: float, function, *args):
    """Run `function` in a thread so that a test which hangs fails instead of hanging."""
    results: queue.Queue = queue.Queue()

    def run() -> None:
        try:
            results.put((True, function(*args)))
        except Exception as error:
            results.put((False, error))

    threading.Thread(target=run, daemon=True).start()
    try:
        succeeded, value = results.get(timeout=seconds)
    except queue.Empty:
        pytest.fail(f"still waiting after {seconds} s")
    if not succeeded:
        raise value
    return value


def assert_no_secret(outcome: PostOutcome) -> None:
    for secret in SECRETS:
        assert secret not in outcome.detail and secret not in repr(outcome)


def test_a_post_arrives_with_its_text_and_id(srv):
    outcome = poster_for(srv).post("hello from the desk")
    assert outcome.kind == "posted", outcome.detail
    assert srv.wait_for_posts(1, timeout=TIMEOUT_SECONDS)
    [stored] = srv.posts
    assert (outcome.post_id, stored.text) == (stored.id, "hello from the desk")
    assert_no_secret(outcome)


def test_wrong_consumer_secret_fails_and_needs_the_user(srv):
    wrong = dataclasses.replace(CREDENTIALS, consumer_secret="wrong-consumer-secret-000000000000")
    outcome = poster_for(srv, wrong).post("hello")
    assert (outcome.kind, outcome.needs_user, outcome.is_duplicate) == ("failed", True, False)
    assert "x_consumer_secret" in outcome.detail and "regenerate" in outcome.detail
    assert srv.posts == []
    assert_no_secret(outcome)
    assert "wrong-consumer-secret" not in outcome.detail


@pytest.mark.parametrize(
    "fault, kind, needs_user, phrase",
    [
        ("503", "retry", False, "503"),
        ("401", "failed", True, "regenerate the access token"),
        ("403", "failed", True, '"Read and write"'),
    ],
)
def test_each_fault_maps_to_its_outcome(srv, fault, kind, needs_user, phrase):
    srv.inject(fault)
    outcome = poster_for(srv).post("faulty")
    assert (outcome.kind, outcome.needs_user, outcome.is_duplicate) == (kind, needs_user, False)
    assert outcome.retry_after_seconds is None
    assert phrase in outcome.detail
    assert_no_secret(outcome)
    assert poster_for(srv).post("faulty").kind == "posted"  # the fault was for one POST


def test_429_retry_after_matches_the_window_reset(srv):
    now_seconds = time.time()
    srv.inject("429", reset_in_seconds=120)
    outcome = poster_for(srv, clock=lambda: now_seconds).post("limited")
    assert outcome.kind == "retry" and not outcome.needs_user
    assert 120 <= outcome.retry_after_seconds <= 122
    assert_no_secret(outcome)


def test_429_retry_after_uses_the_later_24_hour_reset(srv):
    now_seconds = time.time()
    srv.inject("429", reset_in_seconds=3600, user_24h=True)
    outcome = poster_for(srv, clock=lambda: now_seconds).post("limited")
    assert outcome.kind == "retry"
    assert 3600 <= outcome.retry_after_seconds <= 3602


def test_429_retry_after_is_at_least_one_second(srv):
    srv.inject("429", reset_in_seconds=0)
    assert poster_for(srv).post("limited").retry_after_seconds == 1.0


def test_rate_limit_wait_reads_only_the_limits_that_bind():
    now = 1_000_000.0
    assert rate_limit_wait_seconds({}, now) is None
    window = {"x-rate-limit-reset": "1000060"}
    assert rate_limit_wait_seconds(window, now) == 60
    roomy_day = {**window, "x-user-limit-24hour-reset": "1050000"}
    roomy_day["x-user-limit-24hour-remaining"] = "5"
    assert rate_limit_wait_seconds(roomy_day, now) == 60
    spent_day = {**roomy_day, "x-user-limit-24hour-remaining": "0"}
    assert rate_limit_wait_seconds(spent_day, now) == 50_000
    earlier_day = {**window, "x-user-limit-24hour-reset": "1000010"}
    assert rate_limit_wait_seconds(earlier_day, now) == 60
    assert rate_limit_wait_seconds({"x-rate-limit-reset": "soon"}, now) is None


def test_a_hung_request_becomes_a_retry_within_the_timeout(srv):
    srv.inject("hang")
    poster = poster_for(srv, timeout_seconds=0.5)
    outcome = call_within(3.0, poster.post, "into the void")
    assert (outcome.kind, outcome.retry_after_seconds) == ("retry", None)
    assert "in time" in outcome.detail
    assert_no_secret(outcome)


def test_an_unreachable_server_is_a_retry():
    with refusing_url() as url:
        client = make_client(url, CREDENTIALS, 2.0)
        outcome = XPoster(client).post("anyone there?")
    assert (outcome.kind, outcome.needs_user) == ("retry", False)
    assert "ConnectionError" in outcome.detail
    assert_no_secret(outcome)


def test_a_duplicate_is_flagged_not_needing_the_user(srv):
    poster = poster_for(srv)
    assert poster.post("only once").kind == "posted"
    outcome = poster.post("only once")
    assert (outcome.kind, outcome.is_duplicate, outcome.needs_user) == ("failed", True, False)
    assert len(srv.posts) == 1


def test_a_rejected_text_fails_with_xs_detail(srv):
    outcome = poster_for(srv).post("a" * 281)
    assert (outcome.kind, outcome.needs_user) == ("failed", False)
    assert "too long" in outcome.detail


def test_delete_removes_the_post(srv):
    poster = poster_for(srv)
    post_id = poster.post("regret").post_id
    outcome = poster.delete(post_id)
    assert (outcome.kind, outcome.post_id) == ("deleted", post_id)  # not "posted"
    assert srv.posts == []
    again = poster.delete(post_id)
    assert again.kind == "failed" and "no post" in again.detail
    assert poster.delete("../users/me").kind == "failed"


def test_unexpected_errors_are_retries_with_the_class_name_and_no_secret(srv):
    client = make_client(srv.url, CREDENTIALS, 5.0)

    def explode(**_kw):
        raise RuntimeError(f"boom with {CREDENTIALS.access_token_secret}")

    client.create_tweet = explode
    outcome = XPoster(client).post("x")
    assert outcome.kind == "retry"
    assert "RuntimeError" in outcome.detail and "[redacted]" in outcome.detail
    assert_no_secret(outcome)


@pytest.mark.parametrize("filler_chars", [0, 190, 240, 249, 260])
def test_a_key_across_the_detail_length_cut_is_not_shown_even_in_part(srv, filler_chars):
    """The text is redacted before it is cut: cut first, a key straddling the cut
    would leave its first characters on the status line."""
    client = make_client(srv.url, CREDENTIALS, 5.0)
    secret = CREDENTIALS.access_token_secret

    def explode(**_kw):
        raise RuntimeError("x" * filler_chars + secret + " and more")

    client.create_tweet = explode
    outcome = XPoster(client).post("x")
    assert secret[:6] not in outcome.detail
    assert_no_secret(outcome)


def test_other_client_errors_point_at_the_api_url():
    outcome = outcome_for_status(404, {}, ["Not Found"], 0.0)
    assert (outcome.kind, outcome.needs_user) == ("failed", True)
    assert "api_url" in outcome.detail


def test_credentials_repr_hides_every_value():
    for text in (repr(CREDENTIALS), str(CREDENTIALS), repr([CREDENTIALS])):
        assert not any(secret in text for secret in SECRETS)


def test_session_sends_every_host_to_the_api_url_and_adds_a_timeout(srv):
    session = RedirectingSession(srv.url + "/", 0.5)
    sent = []
    session.hooks["response"].append(lambda response, **kw: sent.append(response.url))
    for url in (
        "https://api.twitter.com/2/users/me",  # tweepy 4.17
        "https://api.x.com/2/users/me",  # what X documents
        "http://127.0.0.1:1/2/users/me",  # any other host a tweepy might use
    ):
        assert session.get(url).status_code == 401  # reached the stand-in, unsigned
    assert sent == [srv.url + "/2/users/me"] * 3
    srv.inject("hang")
    with pytest.raises(requests.Timeout):
        call_within(3.0, lambda: session.post("https://api.twitter.com/2/tweets", json={}))


def test_the_transport_refuses_anything_outside_the_api_url(srv):
    session = RedirectingSession(srv.url, 2.0)
    for url in ("https://api.x.com/2/tweets", "https://api.twitter.com/2/tweets"):
        prepared = requests.Request("POST", url, json={"text": "x"}).prepare()
        with pytest.raises(UnredirectedRequest):
            session.send(prepared)  # as a followed redirect would be sent


class _Recorder(requests.adapters.BaseAdapter):
    """A transport that records every URL it is given and sends nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def send(self, request, *args, **kwargs):
        self.urls.append(request.url)
        raise requests.ConnectionError(f"recorded, not sent: {request.url}")

    def close(self) -> None:
        pass


@pytest.fixture
def tweepy_on_api_x_com(monkeypatch):
    """tweepy's own request method, with the host X documents in place of api.twitter.com."""
    source = textwrap.dedent(inspect.getsource(tweepy.client.BaseClient.request))
    assert '"https://api.twitter.com"' in source  # tweepy still hard-codes it here
    namespace: dict = {}
    patched = source.replace("https://api.twitter.com", "https://api.x.com")
    exec(patched, vars(tweepy.client), namespace)
    monkeypatch.setattr(tweepy.client.BaseClient, "request", namespace["request"])


@pytest.mark.parametrize("host", ["api.twitter.com", "api.x.com"])
def test_a_signed_post_reaches_only_the_standin_whatever_host_tweepy_uses(srv, request, host):
    if host == "api.x.com":
        request.getfixturevalue("tweepy_on_api_x_com")
    client = make_client(srv.url, CREDENTIALS, 5.0)
    recorder = _Recorder()
    for prefix in ("https://", "https://api.x.com", "https://api.twitter.com"):
        client.session.mount(prefix, recorder)
    outcome = XPoster(client).post(f"via {host}")
    assert outcome.kind == "posted", outcome.detail
    assert [post.text for post in srv.posts] == [f"via {host}"]
    assert recorder.urls == []


def test_a_drip_fed_answer_is_abandoned_at_the_total_deadline(srv):
    # Every read gets a byte in time, so only a deadline on the whole request ends it.
    srv.inject("drip", byte_interval_seconds=0.05)
    poster = poster_for(srv, timeout_seconds=1.0)
    outcome = call_within(10.0, poster.post, "slowly answered")
    assert (outcome.kind, outcome.needs_user) == ("retry", False)
    assert "in time" in outcome.detail
    # The stand-in took the post before dripping: the retry meets "duplicate".
    again = poster.post("slowly answered")
    assert again.is_duplicate


def test_abort_cuts_off_the_request_under_way_and_refuses_new_ones(srv):
    srv.inject("hang")
    poster = poster_for(srv, timeout_seconds=60.0)
    results: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: results.put(poster.post("stuck")), daemon=True).start()
    assert wait_until(lambda: srv.open_connections() > 0, 5.0)
    poster.abort()
    outcome = results.get(timeout=5.0)
    assert outcome.kind == "retry" and "stopping" in outcome.detail
    assert call_within(3.0, poster.post, "after stop").kind == "retry"


def test_spent_credits_keep_the_post_for_later(srv):
    srv.spend_credits()
    poster = poster_for(srv)
    outcome = poster.post("costly words")
    assert (outcome.kind, outcome.is_out_of_credits, outcome.needs_user) == ("retry", True, False)
    assert outcome.retry_after_seconds is None  # the normal schedule, capped by the config
    assert "X account out of credits" in outcome.detail and "api_url" not in outcome.detail
    assert srv.posts == []
    srv.add_credits()
    assert poster.post("costly words").kind == "posted"


def test_a_402_from_x_is_classified_as_out_of_credits():
    messages = ["Your enrolled account [1] does not have any credits to fulfill this request."]
    outcome = outcome_for_status(402, {}, messages, 0.0)
    assert (outcome.kind, outcome.is_out_of_credits) == ("retry", True)


def test_find_post_returns_the_id_of_our_post_with_that_text(srv):
    since = time.time()
    poster = poster_for(srv)
    older = poster.post("said before").post_id
    posted = poster.post("fish & chips <3 example.com").post_id
    assert poster.find_post("fish & chips <3 example.com", since) == posted
    assert poster.find_post("said before", since) == older
    assert poster.find_post("never said", since) == ""
    assert poster.find_post("said before", time.time() + 3600) == ""  # outside the window


def test_find_post_is_empty_when_x_refuses(srv):
    wrong = dataclasses.replace(CREDENTIALS, access_token_secret="wrong-token-secret-00000000000")
    assert poster_for(srv).post("mine").kind == "posted"
    assert poster_for(srv, wrong).find_post("mine", 0.0) == ""


class _Redirector(http.server.BaseHTTPRequestHandler):
    """A misconfigured proxy that sends every request on to the real X."""

    def do_POST(self) -> None:
        self.send_response(307)
        self.send_header("Location", "https://api.x.com/2/tweets")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_a_redirect_to_the_real_x_is_never_followed():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = make_client(f"http://127.0.0.1:{server.server_address[1]}", CREDENTIALS, 5.0)
        recorder = _Recorder()
        client.session.mount("https://", recorder)
        outcome = XPoster(client).post("not for the real X")
    finally:
        server.shutdown()
        server.server_close()
    assert recorder.urls == []
    assert (outcome.kind, outcome.needs_user) == ("failed", True) and "api_url" in outcome.detail


def test_x_text_of_a_post_matches_ours_despite_entities_and_t_co_links():
    ours = "Fish & chips <3 at example.com today"
    assert same_post_text(ours, "Fish &amp; chips &lt;3 at https://t.co/AbC123xyz today")
    assert not same_post_text(ours, "Fish &amp; chips &lt;3 at https://t.co/AbC123xyz")
    assert not same_post_text(ours, "Fish and chips <3 at https://t.co/AbC123xyz today")
