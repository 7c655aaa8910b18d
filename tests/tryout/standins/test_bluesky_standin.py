"""The Bluesky stand-in speaks a PDS's XRPC: sessions, post records, its errors and faults."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from appliance.tryout.standins.bluesky_main import main
from appliance.tryout.standins.bluesky_protocol import TID_PATTERN
from appliance.tryout.standins.bluesky_server import BlueskyStandin

APP_PASSWORD = "abcd-efgh-ijkl-mnop"
TIMEOUT_SECONDS = 5.0


@pytest.fixture
def srv():
    with BlueskyStandin(APP_PASSWORD) as standin:
        yield standin


def xrpc(srv, nsid: str, body: dict | None = None, token: str = "", **params) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{srv.url}/xrpc/{nsid}"
    if body is None:
        return requests.get(url, params=params, headers=headers, timeout=TIMEOUT_SECONDS)
    return requests.post(url, json=body, headers=headers, timeout=TIMEOUT_SECONDS)


def sign_in(srv) -> dict:
    answer = xrpc(
        srv,
        "com.atproto.server.createSession",
        {"identifier": srv.handle, "password": APP_PASSWORD},
    )
    assert answer.status_code == 200
    return answer.json()


def record(text: str = "hello") -> dict:
    return {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-01-01T00:00:00.000Z"}


def create(srv, session: dict, text: str = "hello", **extra) -> requests.Response:
    body = {"repo": session["did"], "collection": "app.bsky.feed.post", "record": record(text)}
    return xrpc(srv, "com.atproto.repo.createRecord", {**body, **extra}, session["accessJwt"])


def test_create_session_answers_tokens_and_a_wrong_password_401(srv):
    session = sign_in(srv)
    assert session["handle"] == srv.handle and session["did"] == srv.did
    assert session["accessJwt"].count(".") == 2 and "didDoc" not in session
    wrong = xrpc(
        srv, "com.atproto.server.createSession", {"identifier": srv.handle, "password": "nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": "AuthenticationRequired",
        "message": "Invalid identifier or password",
    }


def test_a_post_record_is_stored_under_a_tid_and_read_back(srv):
    session = sign_in(srv)
    answer = create(srv, session)
    assert answer.status_code == 200
    uri = answer.json()["uri"]
    rkey = uri.rsplit("/", 1)[1]
    assert TID_PATTERN.fullmatch(rkey) and answer.json()["cid"].startswith("bafyrei")
    assert answer.headers["RateLimit-Remaining"] == str(5000 - 3)
    read = xrpc(
        srv, "com.atproto.repo.getRecord", repo=srv.did, collection="app.bsky.feed.post", rkey=rkey
    )
    assert read.json()["value"]["text"] == "hello" and read.json()["uri"] == uri
    assert [post.uri for post in srv.posts] == [uri]


def test_an_existing_rkey_is_refused_as_a_real_pds_does(srv):
    session = sign_in(srv)
    assert create(srv, session, rkey="3kabcdefghijk").status_code == 200
    again = create(srv, session, "other words", rkey="3kabcdefghijk")
    assert again.status_code == 500
    assert again.json() == {"error": "InternalServerError", "message": "Internal Server Error"}
    assert [post.text for post in srv.posts] == ["hello"]


def test_writes_need_a_good_access_token(srv):
    session = sign_in(srv)
    body = {"repo": srv.did, "collection": "app.bsky.feed.post", "record": record()}
    missing = xrpc(srv, "com.atproto.repo.createRecord", body)
    assert (missing.status_code, missing.json()["error"]) == (401, "AuthenticationRequired")
    wrong = xrpc(srv, "com.atproto.repo.createRecord", body, session["refreshJwt"])
    assert (wrong.status_code, wrong.json()["error"]) == (400, "InvalidToken")
    srv.expire_access_tokens()
    expired = create(srv, session)
    assert (expired.status_code, expired.json()) == (
        400,
        {"error": "ExpiredToken", "message": "Token has expired"},
    )
    assert srv.posts == []


def test_refresh_session_gives_new_tokens_and_retires_the_old_refresh_token(srv):
    session = sign_in(srv)
    srv.expire_access_tokens()
    fresh = xrpc(srv, "com.atproto.server.refreshSession", {}, session["refreshJwt"])
    assert fresh.status_code == 200
    assert create(srv, fresh.json()).status_code == 200
    reused = xrpc(srv, "com.atproto.server.refreshSession", {}, session["refreshJwt"])
    assert (reused.status_code, reused.json()["error"]) == (400, "InvalidToken")


def test_get_session_names_the_account(srv):
    session = sign_in(srv)
    answer = xrpc(srv, "com.atproto.server.getSession", token=session["accessJwt"])
    assert answer.json()["handle"] == srv.handle


def test_a_post_over_300_graphemes_is_invalid(srv):
    session = sign_in(srv)
    assert create(srv, session, "👍🏽" * 300).status_code == 200  # 300 graphemes, 2,400 bytes
    too_long = create(srv, session, "x" * 301)
    assert too_long.status_code == 400 and too_long.json()["error"] == "InvalidRequest"
    assert "300 graphemes" in too_long.json()["message"]


def test_delete_removes_the_record_and_is_no_error_when_gone(srv):
    session = sign_in(srv)
    rkey = create(srv, session).json()["uri"].rsplit("/", 1)[1]
    body = {"repo": srv.did, "collection": "app.bsky.feed.post", "rkey": rkey}
    for _ in range(2):
        answer = xrpc(srv, "com.atproto.repo.deleteRecord", body, session["accessJwt"])
        assert answer.status_code == 200
    assert srv.posts == []


def test_an_unknown_method_is_501(srv):
    answer = xrpc(srv, "app.bsky.feed.getTimeline")
    assert (answer.status_code, answer.json()["error"]) == (501, "MethodNotImplemented")


def test_injected_429_carries_the_four_rate_limit_headers(srv):
    session = sign_in(srv)
    before = time.time()
    srv.inject("429", reset_in_seconds=120)
    answer = create(srv, session)
    assert (answer.status_code, answer.json()["error"]) == (429, "RateLimitExceeded")
    assert before + 120 <= int(answer.headers["RateLimit-Reset"]) <= before + 122
    assert answer.headers["RateLimit-Remaining"] == "0"
    assert answer.headers["RateLimit-Limit"] == "5000"
    assert answer.headers["RateLimit-Policy"] == "5000;w=3600"
    assert create(srv, session).status_code == 200  # one fault, one answer


def test_faults_answer_only_the_method_they_name(srv):
    srv.inject("503", nsid="com.atproto.server.createSession")
    refused = xrpc(
        srv,
        "com.atproto.server.createSession",
        {"identifier": srv.handle, "password": APP_PASSWORD},
    )
    assert refused.status_code == 503
    session = sign_in(srv)
    srv.inject("500")
    assert create(srv, session).status_code == 500
    assert create(srv, session).status_code == 200


def test_accept_and_hang_stores_the_post_but_never_answers(srv):
    session = sign_in(srv)
    srv.inject("accept_and_hang")
    with pytest.raises(requests.Timeout):
        body = {"repo": srv.did, "collection": "app.bsky.feed.post", "record": record()}
        requests.post(
            f"{srv.url}/xrpc/com.atproto.repo.createRecord",
            json=body,
            headers={"Authorization": f"Bearer {session['accessJwt']}"},
            timeout=0.5,
        )
    assert srv.wait_for_posts(1, 5)  # it stores once it has checked the request, however late
    assert len(srv.posts) == 1


def test_main_serves_until_stopped(tmp_path, monkeypatch):
    (tmp_path / "bluesky_app_password").write_text(APP_PASSWORD + "\n")
    started = threading.Event()
    urls: list[str] = []

    def announce(standin: BlueskyStandin) -> None:
        urls.append(standin.url)
        started.set()

    stop = threading.Event()
    result: list[int] = []
    runner = threading.Thread(
        target=lambda: result.append(
            main(["--port", "0", "--credentials-dir", str(tmp_path)], started=announce, stop=stop)
        ),
        daemon=True,
    )
    runner.start()
    assert started.wait(TIMEOUT_SECONDS)
    answer = requests.post(
        urls[0] + "/xrpc/com.atproto.server.createSession",
        json={"identifier": "standin.bsky.social", "password": APP_PASSWORD},
        timeout=TIMEOUT_SECONDS,
    )
    assert answer.status_code == 200
    stop.set()
    runner.join(TIMEOUT_SECONDS)
    assert result == [0]


def test_main_without_the_credential_file_says_which(tmp_path, capsys):
    assert main(["--credentials-dir", str(tmp_path)]) == 2
    assert "bluesky_app_password" in capsys.readouterr().err
