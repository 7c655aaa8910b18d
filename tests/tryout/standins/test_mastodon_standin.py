"""The Mastodon stand-in speaks Mastodon's REST API: tokens, idempotency, limits, faults."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
import requests

from appliance.tryout.standins.mastodon_main import main
from appliance.tryout.standins.mastodon_server import STANDIN_ACCOUNT_ID, MastodonStandin

TOKEN = "standin-access-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TIMEOUT_SECONDS = 5.0


@pytest.fixture
def srv():
    with MastodonStandin(TOKEN) as standin:
        yield standin


def post(srv: MastodonStandin, text: str, key: str = "", headers: dict | None = None, **kw):
    sent = {**AUTH, **({"Idempotency-Key": key} if key else {}), **(headers or {})}
    return requests.post(
        srv.url + "/api/v1/statuses",
        data={"status": text, **kw},
        headers=sent,
        timeout=TIMEOUT_SECONDS,
    )


def iso_seconds(value: str) -> float:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def test_a_status_is_created_with_its_id_content_and_rate_headers(srv):
    before = time.time()
    response = post(srv, "hello <desk> & you")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    status = response.json()
    assert status["content"] == "<p>hello &lt;desk&gt; &amp; you</p>"
    assert status["id"].isdigit() and status["account"]["id"] == STANDIN_ACCOUNT_ID
    assert iso_seconds(status["created_at"]) >= before - 1
    assert response.headers["X-RateLimit-Limit"] == "300"
    assert response.headers["X-RateLimit-Remaining"] == "299"
    reset = iso_seconds(response.headers["X-RateLimit-Reset"])
    assert before < reset <= time.time() + 300
    assert srv.wait_for_posts(1, timeout=TIMEOUT_SECONDS)
    assert [(s.id, s.text) for s in srv.posts] == [(status["id"], "hello <desk> & you")]


def test_a_json_body_is_accepted_too(srv):
    response = requests.post(
        srv.url + "/api/v1/statuses", json={"status": "as json"}, headers=AUTH, timeout=5
    )
    assert response.status_code == 200
    assert [s.text for s in srv.posts] == ["as json"]


def test_the_same_idempotency_key_returns_the_same_status(srv):
    first = post(srv, "once", key="k-1").json()
    again = post(srv, "once", key="k-1").json()
    other = post(srv, "once", key="k-2").json()
    assert first["id"] == again["id"] != other["id"]
    assert len(srv.posts) == 2


def test_an_idempotency_key_is_forgotten_after_its_time():
    with MastodonStandin(TOKEN, idempotency_seconds=0.2) as srv:
        first = post(srv, "once", key="k-1").json()
        time.sleep(0.3)
        later = post(srv, "once", key="k-1").json()
        assert first["id"] != later["id"] and len(srv.posts) == 2


def test_a_key_whose_status_was_deleted_answers_404(srv):
    status_id = post(srv, "gone soon", key="k-1").json()["id"]
    assert requests.delete(f"{srv.url}/api/v1/statuses/{status_id}", headers=AUTH).ok
    response = post(srv, "gone soon", key="k-1")
    assert (response.status_code, response.json()) == (404, {"error": "Record not found"})


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]
)
def test_a_missing_or_wrong_token_is_401(srv, headers):
    response = requests.post(
        srv.url + "/api/v1/statuses", data={"status": "x"}, headers=headers, timeout=5
    )
    assert (response.status_code, response.json()) == (
        401,
        {"error": "The access token is invalid"},
    )
    assert srv.posts == []


def test_a_read_only_token_may_not_post():
    with MastodonStandin(TOKEN, scopes=("read",)) as srv:
        response = post(srv, "x")
        assert response.status_code == 403
        assert response.json() == {"error": "This action is outside the authorized scopes"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "Validation failed: Text can't be blank"),
        ("  ", "Validation failed: Text can't be blank"),
        ("a" * 501, "Validation failed: Text character limit of 500 exceeded"),
    ],
)
def test_a_blank_or_too_long_text_is_422(srv, text, error):
    response = post(srv, text)
    assert (response.status_code, response.json()) == (422, {"error": error})
    assert srv.posts == []


def test_the_length_is_counted_as_mastodon_counts_it(srv):
    # 470 letters and a 600-character link: 470 + 23 fits in 500.
    text = "a" * 470 + " https://example.com/" + "x" * 580
    assert post(srv, text).status_code == 200


def test_the_limit_follows_the_instance_setting():
    with MastodonStandin(TOKEN, max_characters=10) as srv:
        response = post(srv, "eleven char")
        assert response.json() == {
            "error": "Validation failed: Text character limit of 10 exceeded"
        }


@pytest.mark.parametrize("path", ["/api/v2/instance", "/api/v2/instance/", "/api/v1/instance/"])
def test_the_instance_is_public_and_tells_the_limit(srv, path):
    response = requests.get(srv.url + path, timeout=TIMEOUT_SECONDS)
    assert response.status_code == 200
    assert response.json()["configuration"]["statuses"]["max_characters"] == 500


def test_an_old_server_has_no_v2_instance():
    with MastodonStandin(TOKEN, has_instance_v2=False, max_characters=None) as srv:
        assert requests.get(srv.url + "/api/v2/instance", timeout=5).status_code == 404
        statuses = requests.get(srv.url + "/api/v1/instance", timeout=5).json()
        assert "max_characters" not in statuses["configuration"]["statuses"]


def test_delete_answers_the_status_with_its_text_then_404(srv):
    status_id = post(srv, "to delete").json()["id"]
    url = f"{srv.url}/api/v1/statuses/{status_id}"
    deleted = requests.delete(url, headers=AUTH, timeout=TIMEOUT_SECONDS)
    assert deleted.status_code == 200
    assert (deleted.json()["id"], deleted.json()["text"]) == (status_id, "to delete")
    assert srv.posts == []
    again = requests.delete(url, headers=AUTH, timeout=TIMEOUT_SECONDS)
    assert (again.status_code, again.json()) == (404, {"error": "Record not found"})


def test_verify_credentials_and_the_accounts_statuses_newest_first(srv):
    me = requests.get(
        srv.url + "/api/v1/accounts/verify_credentials", headers=AUTH, timeout=5
    ).json()
    assert (me["id"], me["acct"]) == (STANDIN_ACCOUNT_ID, "standin") and "source" in me
    for index in range(3):
        post(srv, f"status {index}")
    url = f"{srv.url}/api/v1/accounts/{STANDIN_ACCOUNT_ID}/statuses?limit=2"
    statuses = requests.get(url, headers=AUTH, timeout=5).json()
    assert [s["content"] for s in statuses] == ["<p>status 2</p>", "<p>status 1</p>"]


def test_the_accounts_rate_limit_answers_429_with_the_reset(srv):
    with MastodonStandin(TOKEN, rate_limit_requests=2) as limited:
        assert post(limited, "one").status_code == 200
        assert post(limited, "two").headers["X-RateLimit-Remaining"] == "0"
        response = post(limited, "three")
        assert (response.status_code, response.json()) == (429, {"error": "Too many requests"})
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert iso_seconds(response.headers["X-RateLimit-Reset"]) > time.time()
        assert [s.text for s in limited.posts] == ["one", "two"]


def test_an_injected_429_carries_its_reset(srv):
    srv.inject("429", reset_in_seconds=60)
    response = post(srv, "x")
    assert response.status_code == 429
    wait_seconds = iso_seconds(response.headers["X-RateLimit-Reset"]) - time.time()
    assert 50 < wait_seconds <= 60
    assert post(srv, "x").status_code == 200  # one fault, then normal service


@pytest.mark.parametrize(("fault", "status"), [("503", 503), ("401", 401), ("403", 403)])
def test_injected_faults_answer_their_status_and_store_nothing(srv, fault, status):
    srv.inject(fault)
    assert post(srv, "x").status_code == status
    assert srv.posts == []


def test_accept_and_hang_stores_the_status_and_never_answers(srv):
    srv.inject("accept_and_hang")
    with pytest.raises(requests.Timeout):
        post_with_timeout(srv, "kept", 0.5)
    assert srv.wait_for_posts(1, 5)  # it stores once it has checked the request, however late
    assert [s.text for s in srv.posts] == ["kept"]


def post_with_timeout(srv: MastodonStandin, text: str, timeout_seconds: float):
    return requests.post(
        srv.url + "/api/v1/statuses", data={"status": text}, headers=AUTH, timeout=timeout_seconds
    )


def test_a_request_http_server_cannot_handle_is_answered_in_json(srv):
    response = requests.put(srv.url + "/api/v1/statuses/1", headers=AUTH, timeout=5)
    assert response.status_code == 501
    assert "PUT" in response.json()["error"]


def test_an_unknown_route_is_404(srv):
    response = requests.get(srv.url + "/api/v1/timelines/home", headers=AUTH, timeout=5)
    assert response.status_code == 404


def test_main_serves_the_token_in_the_credential_file_until_stopped(tmp_path):
    (tmp_path / "mastodon_access_token").write_text(TOKEN + "\n")
    argv = ["--port", "0", "--max-characters", "42", "--credentials-dir", str(tmp_path)]
    answers: list[tuple[int, int, int]] = []
    stop, result = threading.Event(), []

    def started(standin: MastodonStandin) -> None:
        try:
            instance = requests.get(standin.url + "/api/v2/instance", timeout=TIMEOUT_SECONDS)
            limit = instance.json()["configuration"]["statuses"]["max_characters"]
            answers.append((limit, post(standin, "by hand").status_code, len(standin.posts)))
        finally:
            stop.set()

    runner = threading.Thread(target=lambda: result.append(main(argv, started, stop)))
    runner.start()
    runner.join(TIMEOUT_SECONDS)
    assert not runner.is_alive()
    assert result == [0] and answers == [(42, 200, 1)]


def test_main_without_the_credential_file_names_it(tmp_path, capsys):
    assert main(["--port", "0", "--credentials-dir", str(tmp_path)]) == 2
    assert str(tmp_path / "mastodon_access_token") in capsys.readouterr().err
    (tmp_path / "mastodon_access_token").write_text("\n")
    assert main(["--port", "0", "--credentials-dir", str(tmp_path)]) == 2
    assert "empty" in capsys.readouterr().err


def test_main_on_a_port_in_use_says_it_cannot_listen(srv, tmp_path, capsys):
    (tmp_path / "mastodon_access_token").write_text(TOKEN)
    port = srv.url.rsplit(":", 1)[1]
    assert main(["--port", port, "--credentials-dir", str(tmp_path)]) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
