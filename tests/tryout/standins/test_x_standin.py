"""The X stand-in speaks X's protocol: real OAuth 1.0a checks, X's answers, injected faults."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from requests_oauthlib import OAuth1

from appliance.clock import Clock
from appliance.tryout.standins.x_main import main
from appliance.tryout.standins.x_protocol import weighted_length
from appliance.tryout.standins.x_server import XStandin
from tests.conftest import SteppedClock, wait_until

KEYS = {
    "consumer_key": "StandinConsumerKey0123456",
    "consumer_secret": "standin-consumer-secret-ABCDEFGHIJ0123456789",
    "access_token": "1-StandinAccessToken0123456789",
    "access_token_secret": "standin-token-secret-KLMNOPQRSTU987654321",
}
TIMEOUT_SECONDS = 5.0


def oauth(**overrides: str) -> OAuth1:
    keys = {**KEYS, **overrides}
    return OAuth1(
        keys["consumer_key"],
        keys["consumer_secret"],
        keys["access_token"],
        keys["access_token_secret"],
        timestamp=overrides.get("timestamp"),
        nonce=overrides.get("nonce"),
    )


def post(srv: XStandin, body: object, auth: OAuth1 | None = None) -> requests.Response:
    return requests.post(
        srv.url + "/2/tweets", json=body, auth=auth or oauth(), timeout=TIMEOUT_SECONDS
    )


@pytest.fixture
def srv():
    with XStandin(**KEYS) as standin:
        yield standin


def test_a_signed_post_is_created_and_listed(srv):
    before = time.time()
    response = post(srv, {"text": "hello desk"})
    assert response.status_code == 201
    assert response.headers["Content-Type"].startswith("application/json")
    data = response.json()["data"]
    assert data["text"] == "hello desk" and data["id"].isdigit()
    assert int(response.headers["x-rate-limit-limit"]) == 100
    assert int(response.headers["x-rate-limit-remaining"]) == 99
    assert int(response.headers["x-rate-limit-reset"]) > before
    assert srv.wait_for_posts(1, timeout=TIMEOUT_SECONDS)
    [stored] = srv.posts
    assert (stored.id, stored.text) == (data["id"], "hello desk")
    assert before <= stored.received_at <= time.time()


def test_wait_for_posts_times_out_when_nothing_arrives(srv):
    started = time.monotonic()
    assert not srv.wait_for_posts(1, timeout=0.2)
    assert time.monotonic() - started < TIMEOUT_SECONDS


@pytest.mark.parametrize(
    "auth",
    [
        None,
        oauth(consumer_secret="not-the-consumer-secret-0000000000"),
        oauth(access_token_secret="not-the-token-secret-00000000000000"),
        oauth(consumer_key="SomeOtherConsumerKey12345"),
        oauth(access_token="2-SomeoneElsesAccessToken0123"),
    ],
    ids=["unsigned", "consumer-secret", "token-secret", "consumer-key", "access-token"],
)
def test_bad_or_missing_signature_is_401(srv, auth):
    response = requests.post(
        srv.url + "/2/tweets", json={"text": "x"}, auth=auth, timeout=TIMEOUT_SECONDS
    )
    assert response.status_code == 401
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert srv.posts == []


@pytest.mark.parametrize("header", ["OAuth garbage", "Bearer some-app-token", "OAuth "])
def test_a_malformed_authorization_header_is_401(srv, header):
    response = requests.post(
        srv.url + "/2/tweets",
        json={"text": "x"},
        headers={"Authorization": header},
        timeout=TIMEOUT_SECONDS,
    )
    assert response.status_code == 401


def test_a_signature_over_another_url_is_401(srv):
    # What unpatched tweepy sends: signed for api.twitter.com, yet delivered here.
    request = requests.Request(
        "POST", "https://api.twitter.com/2/tweets", json={"text": "x"}, auth=oauth()
    ).prepare()
    request.prepare_url(srv.url + "/2/tweets", None)
    with requests.Session() as session:
        assert session.send(request, timeout=TIMEOUT_SECONDS).status_code == 401


def test_a_replayed_request_is_rejected(srv):
    request = requests.Request(
        "POST", srv.url + "/2/tweets", json={"text": "once"}, auth=oauth()
    ).prepare()
    with requests.Session() as session:
        assert session.send(request, timeout=TIMEOUT_SECONDS).status_code == 201
        assert session.send(request, timeout=TIMEOUT_SECONDS).status_code == 401
    assert [p.text for p in srv.posts] == ["once"]


def test_a_reused_nonce_is_rejected_even_when_freshly_signed(srv):
    # A nonce is unique per timestamp (RFC 5849 section 3.3): the replay reuses both, or
    # a second between the two posts would make it a new request.
    nonce, timestamp = "fixed-nonce-0123456789", str(int(time.time()))
    assert post(srv, {"text": "first"}, oauth(nonce=nonce, timestamp=timestamp)).status_code == 201
    second = post(srv, {"text": "second"}, oauth(nonce=nonce, timestamp=timestamp))
    assert second.status_code == 401


def test_an_old_timestamp_is_rejected(srv):
    stale = str(int(time.time()) - 700)
    assert post(srv, {"text": "late"}, oauth(timestamp=stale)).status_code == 401
    recent = str(int(time.time()) - 60)
    assert post(srv, {"text": "on time"}, oauth(timestamp=recent)).status_code == 201


@pytest.mark.parametrize(
    "body", [{}, {"text": ""}, {"text": "   "}, {"text": 5}, ["text"], {"text": "a" * 281}]
)
def test_missing_empty_or_too_long_text_is_400_with_a_detail(srv, body):
    response = post(srv, body)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert srv.posts == []


def test_length_is_weighted_like_x():
    # Only URLs are not shortened to 23 here (the stand-in counts them as typed).
    assert weighted_length("a" * 280) == 280
    assert weighted_length("😀") == 2 and weighted_length("日本") == 4
    assert weighted_length("e\u0301") == 1  # NFC makes one code point of it


def test_limit_is_280_weighted(srv):
    assert post(srv, {"text": "a" * 280}).status_code == 201
    assert post(srv, {"text": "😀" * 140}).status_code == 201
    assert post(srv, {"text": "😀" * 141}).status_code == 400


def test_the_same_text_twice_is_403_duplicate(srv):
    assert post(srv, {"text": "say it once"}).status_code == 201
    response = post(srv, {"text": "say it once"})
    assert response.status_code == 403
    assert response.json() == {
        "title": "Forbidden",
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "status": 403,
    }
    assert len(srv.posts) == 1


def test_delete_removes_a_post_and_404s_an_unknown_one(srv):
    post_id = post(srv, {"text": "oops"}).json()["data"]["id"]
    url = f"{srv.url}/2/tweets/{post_id}"
    response = requests.delete(url, auth=oauth(), timeout=TIMEOUT_SECONDS)
    assert (response.status_code, response.json()) == (200, {"data": {"deleted": True}})
    assert srv.posts == []
    assert requests.delete(url, auth=oauth(), timeout=TIMEOUT_SECONDS).status_code == 404
    assert requests.delete(url, timeout=TIMEOUT_SECONDS).status_code == 401


def test_users_me(srv):
    response = requests.get(srv.url + "/2/users/me", auth=oauth(), timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200
    assert response.json() == {"data": {"id": "1", "name": "Stand-in", "username": "standin"}}


def test_unknown_routes_answer_json(srv):
    response = requests.get(srv.url + "/nowhere", auth=oauth(), timeout=TIMEOUT_SECONDS)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    response = requests.put(srv.url + "/2/tweets", timeout=TIMEOUT_SECONDS)
    assert response.status_code == 501 and response.json()["status"] == 501


@pytest.mark.parametrize("kind, status", [("503", 503), ("401", 401), ("403", 403)])
def test_injected_faults_answer_the_next_posts_only(srv, kind, status):
    srv.inject(kind, count=2)
    me = requests.get(srv.url + "/2/users/me", auth=oauth(), timeout=TIMEOUT_SECONDS)
    assert me.status_code == 200  # faults are for POSTs
    assert post(srv, {"text": "one"}).status_code == status
    response = post(srv, {"text": "two"})
    assert response.status_code == status
    assert response.json()["status"] == status
    if kind == "403":
        assert "duplicate" not in response.json()["detail"]
    assert post(srv, {"text": "three"}).status_code == 201
    assert [p.text for p in srv.posts] == ["three"]


def test_injected_429_names_the_window_reset(srv):
    srv.inject("429", reset_in_seconds=120)
    before = time.time()
    response = post(srv, {"text": "limited"})
    assert response.status_code == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert before + 120 <= int(response.headers["x-rate-limit-reset"]) <= time.time() + 121
    assert "x-user-limit-24hour-reset" not in response.headers


def test_injected_429_can_be_the_24_hour_user_limit(srv):
    srv.inject("429", reset_in_seconds=3600, user_24h=True)
    before = time.time()
    response = post(srv, {"text": "limited"})
    assert response.status_code == 429
    assert response.headers["x-user-limit-24hour-remaining"] == "0"
    assert before + 3600 <= int(response.headers["x-user-limit-24hour-reset"]) <= before + 3602
    assert response.headers["x-rate-limit-remaining"] != "0"


def test_hang_holds_the_request_and_stop_releases_it():
    srv = XStandin(**KEYS)
    srv.start()
    try:
        srv.inject("hang")
        with pytest.raises(requests.Timeout):
            requests.post(srv.url + "/2/tweets", json={"text": "x"}, auth=oauth(), timeout=0.5)
        srv.inject("hang")
        errors: queue.Queue[BaseException | None] = queue.Queue()

        def hung_client() -> None:
            try:
                requests.post(srv.url + "/2/tweets", json={"text": "y"}, auth=oauth(), timeout=30)
                errors.put(None)
            except requests.RequestException as error:
                errors.put(error)

        threading.Thread(target=hung_client, daemon=True).start()
        # The request reached the stand-in (and met the hang) before it stops.
        assert wait_until(lambda: srv.faults_left() == 0, TIMEOUT_SECONDS)
    finally:
        started = time.monotonic()
        srv.stop()
    assert time.monotonic() - started < TIMEOUT_SECONDS
    assert isinstance(errors.get(timeout=TIMEOUT_SECONDS), requests.ConnectionError)
    assert srv.posts == []


# ---- command line ----------------------------------------------------------------


def write_keys(directory: Path) -> None:
    for name, value in KEYS.items():
        (directory / f"x_{name}").write_text(value + "\n")


def test_cli_serves_logs_posts_without_secrets_and_stops_on_sigterm(tmp_path):
    write_keys(tmp_path)
    command = [sys.executable, "-u", "-m", "appliance.tryout.standins.x_main"]
    command += ["--port", "0", "--credentials-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stderr])
    reader.start()
    try:
        first = lines.get(timeout=10)
        assert "listening on http://127.0.0.1:" in first
        url = first.rsplit(" ", 1)[1].strip()
        response = requests.post(
            url + "/2/tweets", json={"text": "from the cli"}, auth=oauth(), timeout=TIMEOUT_SECONDS
        )
        assert response.status_code == 201
        assert "from the cli" in lines.get(timeout=TIMEOUT_SECONDS)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=TIMEOUT_SECONDS)
    output = first + "".join(lines.get_nowait() for _ in range(lines.qsize()))
    assert "stopping" in output
    assert not any(secret in output for secret in KEYS.values())


def test_cli_names_a_missing_key_file(tmp_path, capsys):
    write_keys(tmp_path)
    (tmp_path / "x_access_token_secret").unlink()
    assert main(["--port", "0", "--credentials-dir", str(tmp_path)]) == 2
    assert str(tmp_path / "x_access_token_secret") in capsys.readouterr().err


def test_a_fault_for_a_while_answers_every_post_until_it_ends():
    monotonic = SteppedClock(1000.0)  # however long the posts take: the test says when
    with XStandin(**KEYS, clock=Clock(monotonic=monotonic)) as srv:
        srv.inject("503", for_seconds=1.0)
        assert [post(srv, {"text": f"try {n}"}).status_code for n in range(3)] == [503] * 3
        monotonic.now += 0.9
        assert post(srv, {"text": "still"}).status_code == 503
        monotonic.now += 0.1
        assert post(srv, {"text": "back"}).status_code == 201
        assert [p.text for p in srv.posts] == ["back"]


def test_accept_and_hang_stores_the_post_and_never_answers(srv):
    srv.inject("accept_and_hang")
    with pytest.raises(requests.Timeout):
        requests.post(srv.url + "/2/tweets", json={"text": "lost"}, auth=oauth(), timeout=0.5)
    # The client gave up after 0.5 s, whether or not a busy stand-in had stored it yet.
    assert srv.wait_for_posts(1, TIMEOUT_SECONDS)
    assert [p.text for p in srv.posts] == ["lost"]
    retry = post(srv, {"text": "lost"})
    assert retry.status_code == 403 and "duplicate" in retry.json()["detail"]


def test_urls_count_23_like_x(srv):
    long_url = "https://example.com/" + "a" * 300
    assert weighted_length(long_url) == 23
    assert post(srv, {"text": "read " + long_url}).status_code == 201


def user_posts(srv: XStandin, query: str, auth: OAuth1 | None = None) -> requests.Response:
    url = f"{srv.url}/2/users/1/tweets?{query}"
    return requests.get(url, auth=auth or oauth(), timeout=TIMEOUT_SECONDS)


def test_spent_credits_answer_402_to_every_signed_request_until_added(srv):
    srv.spend_credits()
    refused = post(srv, {"text": "no credits"})
    assert refused.status_code == 402
    body = refused.json()
    assert body["title"] == "CreditsDepleted" and "does not have any credits" in body["detail"]
    assert user_posts(srv, "max_results=5").status_code == 402
    me = requests.get(srv.url + "/2/users/me", auth=oauth(), timeout=TIMEOUT_SECONDS)
    assert me.status_code == 402
    assert (
        post(
            srv, {"text": "x"}, auth=oauth(consumer_secret="wrong-secret-000000000000")
        ).status_code
        == 401
    )
    assert srv.posts == []
    srv.add_credits()
    assert post(srv, {"text": "no credits"}).status_code == 201


def test_a_drip_fed_answer_comes_one_byte_at_a_time(srv):
    srv.inject("drip", byte_interval_seconds=0.01)
    started = time.monotonic()
    response = post(srv, {"text": "slowly"})
    assert response.status_code == 201 and response.json()["data"]["text"] == "slowly"
    # Hundreds of bytes, each after a pause: the whole answer takes far longer than one read.
    assert time.monotonic() - started > 1.0
    assert [p.text for p in srv.posts] == ["slowly"]


def test_user_posts_lists_ours_newest_first_and_checks_the_signature(srv):
    for text in ("first", "fish & chips", "third"):
        assert post(srv, {"text": text}).status_code == 201
    answer = user_posts(srv, "max_results=5&exclude=replies,retweets")
    assert answer.status_code == 200
    body = answer.json()
    assert [p["text"] for p in body["data"]] == ["third", "fish &amp; chips", "first"]
    assert body["meta"]["result_count"] == 3 and body["meta"]["newest_id"] == body["data"][0]["id"]
    assert (
        user_posts(
            srv, "max_results=5", auth=oauth(access_token_secret="wrong-0000000000")
        ).status_code
        == 401
    )
    assert user_posts(srv, "max_results=4").status_code == 400  # X's least is 5
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    assert user_posts(srv, f"max_results=5&start_time={later}").json() == {
        "meta": {"result_count": 0}
    }
