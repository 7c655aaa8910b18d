"""A local stand-in of a Mastodon server's REST API (statuses, instance, account) for one user."""

# Sources, per behaviour (GUESS marks what no source shows):
#   - POST /api/v1/statuses, DELETE /api/v1/statuses/:id, their 200/401/404/422 bodies:
#     docs.joinmastodon.org/methods/statuses/ (#create, #delete).
#   - Idempotency-Key: app/services/post_status_service.rb (mastodon/mastodon):
#     with_idempotency stores "idempotency:status:<account>:<key>" -> status id for
#     3_600 s (redis.setex) and answers a repeat with that status
#     (@account.statuses.find, so a deleted one gives 404 "Record not found").
#   - Length: app/validators/status_length_validator.rb, as appliance/core/mastodon_text.py
#     counts; the 422 text is ActiveRecord's "Validation failed: " + the en locale's
#     statuses.over_character_limit ("character limit of %{max} exceeded") on :text.
#   - GET /api/v2/instance configuration.statuses.max_characters:
#     docs.joinmastodon.org/entities/Instance/; /api/v1/instance has the same
#     configuration block (entities/V1_Instance/). Mastodon.py asks both with a
#     trailing slash ("/api/v2/instance/", mastodon/instance.py): both forms are served.
#   - GET /api/v1/accounts/verify_credentials and /api/v1/accounts/:id/statuses
#     (newest first, limit default 20, at most 40): docs.joinmastodon.org/methods/accounts/.
#   - 401 {"error": "The access token is invalid"} for a missing or wrong token
#     (docs, statuses #create); 403 {"error": "This action is outside the authorized
#     scopes"} for a token without write:statuses (Doorkeeper's answer as Mastodon's API
#     controllers render it; GUESS from public reports, not in the docs).
#   - Rate limits: docs.joinmastodon.org/api/rate-limits/ (300 requests per 5 minutes per
#     account; X-RateLimit-Limit, -Remaining, and -Reset as an ISO 8601 time). Fixed
#     windows aligned to the period and the 429 body {"error": "Too many requests"}:
#     config/initializers/rack_attack.rb and the en locale's errors.429 (GUESS in detail:
#     the microseconds of the reset time).
#   - Status JSON: docs.joinmastodon.org/entities/Status/ (the fields Mastodon.py and the
#     client read; the rest is left out). Ids: Mastodon's snowflake-like ids
#     (lib/mastodon/snowflake.rb: milliseconds << 16 | sequence), as strings.

from __future__ import annotations

import datetime
import html
import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from appliance.core.mastodon_text import DEFAULT_MAX_CHARACTERS, mastodon_length
from appliance.tryout.standins.http_standin import Fault, JsonHandler, LoopbackStandin, read_body
from appliance.tryout.standins.x_protocol import _same

log = logging.getLogger(__name__)

IDEMPOTENCY_SECONDS = 3600.0  # redis.setex(idempotency_key, 3_600, ...)
RATE_LIMIT_REQUESTS = 300  # per account ...
RATE_PERIOD_SECONDS = 300  # ... per 5 minutes
STATUSES_DEFAULT_LIMIT, STATUSES_MAX_LIMIT = 20, 40
STANDIN_ACCOUNT_ID = "109000000000000001"
STANDIN_USERNAME = "standin"
STANDIN_VERSION = "4.3.0"
DRIP_BYTE_INTERVAL_SECONDS = 0.2
# "accept_and_hang" stores the status, then never answers (the answer is lost);
# "drip" stores it and sends the answer a byte at a time; "hang" answers nothing.
FAULT_KINDS = ("503", "429", "401", "403", "hang", "accept_and_hang", "drip")
INVALID_TOKEN = {"error": "The access token is invalid"}
OUTSIDE_SCOPES = {"error": "This action is outside the authorized scopes"}
NOT_FOUND = {"error": "Record not found"}
TOO_MANY_REQUESTS = {"error": "Too many requests"}
UNAVAILABLE = {"error": "Service Unavailable"}  # GUESS: a proxy's answer in front of Mastodon
_Answer = tuple[int, dict[str, Any] | list[Any], dict[str, str]]


@dataclass(frozen=True)
class StandinStatus:
    """A status the stand-in accepted."""

    id: str
    text: str
    received_at: float  # time.time() seconds
    idempotency_key: str = ""


class MastodonStandin(LoopbackStandin[StandinStatus]):
    """One Mastodon account on a real socket, served from a background thread."""

    label = "Mastodon stand-in"
    server_software = "mastodon-standin"
    fault_kinds = FAULT_KINDS
    fault_options = {"429": {"reset_in_seconds"}, "drip": {"byte_interval_seconds"}}

    def __init__(
        self,
        access_token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_characters: int | None = DEFAULT_MAX_CHARACTERS,
        has_instance_v2: bool = True,
        scopes: tuple[str, ...] = ("read", "write"),
        rate_limit_requests: int = RATE_LIMIT_REQUESTS,
        idempotency_seconds: float = IDEMPOTENCY_SECONDS,
    ) -> None:
        """`max_characters` None: the instance answers without a limit (an old server);
        `has_instance_v2` False: GET /api/v2/instance is 404 (before Mastodon 4.0)."""
        super().__init__(host, port)
        self._token = access_token
        self.max_characters = max_characters
        self.has_instance_v2 = has_instance_v2
        self._scopes = scopes
        self._rate_limit = rate_limit_requests
        self._idempotency_seconds = idempotency_seconds
        self._keys: dict[str, tuple[str, float]] = {}  # key -> (status id, stored at)
        self._window: tuple[int, int] = (0, 0)  # (window number, requests in it)
        self._sequence = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, headers

    # ---- what tests and the demo look at ------------------------------------------

    def forget_idempotency_keys(self) -> None:
        """As after the hour Mastodon keeps them: a repeated key makes a new status."""
        with self._lock:
            self._keys.clear()

    def inject(self, kind: str, count: int = 1, **kw: Any) -> None:
        """Answer the next `count` POSTs and DELETEs with a fault.

        "429" takes reset_in_seconds (default 300); "drip" takes byte_interval_seconds.
        """
        self._queue_fault(kind, count, None, kw)

    # ---- request handling (handler threads) --------------------------------------

    def _serve(self, handler: JsonHandler, method: str) -> None:
        body = read_body(handler)
        if body is None:
            return
        path = urlsplit(handler.path).path.rstrip("/") or "/"
        with self._lock:
            self.requests.append((method, path, dict(handler.headers)))
        fault = self._next_fault() if method in ("POST", "DELETE") else None
        self._send(handler, *self._answer(handler, method, body, fault))

    def _answer(
        self, handler: JsonHandler, method: str, body: bytes, fault: Fault | None
    ) -> _Answer:
        target = urlsplit(handler.path)
        path = target.path.rstrip("/") or "/"
        if method == "GET" and path in ("/api/v1/instance", "/api/v2/instance"):
            return self._instance(path, handler.headers.get("Host") or "")  # public
        if fault is not None and fault[0] not in ("accept_and_hang", "drip"):
            return self._fault_answer(*fault)
        if not self._is_authorized(handler):
            return 401, INVALID_TOKEN, {}
        limited = self._count_request()
        if limited is not None:
            return limited
        headers = self._rate_headers()
        if method in ("POST", "DELETE") and not ({"write", "write:statuses"} & set(self._scopes)):
            return 403, OUTSIDE_SCOPES, headers
        status, payload, _ = self._route(method, path, target.query, body, handler)
        status = self._late_fault(handler, fault, status, 200, DRIP_BYTE_INTERVAL_SECONDS)
        return status, payload, headers

    def _route(
        self, method: str, path: str, query: str, body: bytes, handler: JsonHandler
    ) -> _Answer:
        if method == "POST" and path == "/api/v1/statuses":
            key = handler.headers.get("Idempotency-Key") or ""
            return self._create(_form(body, handler.headers.get("Content-Type") or ""), key)
        if method == "DELETE" and path.startswith("/api/v1/statuses/"):
            return self._delete(path.removeprefix("/api/v1/statuses/"))
        if method == "GET" and path == "/api/v1/accounts/verify_credentials":
            return 200, self._account(with_source=True), {}
        if method == "GET" and path == f"/api/v1/accounts/{STANDIN_ACCOUNT_ID}/statuses":
            return self._account_statuses(parse_qs(query))
        return 404, NOT_FOUND, {}

    def _is_authorized(self, handler: JsonHandler) -> bool:
        given = handler.headers.get("Authorization") or ""
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and _same(token.strip(), self._token)

    def _count_request(self) -> _Answer | None:
        window = int(time.time() // RATE_PERIOD_SECONDS)
        with self._lock:
            number, used = self._window
            used = used + 1 if number == window else 1
            self._window = (window, used)
        if used > self._rate_limit:
            return 429, TOO_MANY_REQUESTS, self._rate_headers()
        return None

    def _rate_headers(self, reset_in_seconds: float | None = None) -> dict[str, str]:
        now = time.time()
        with self._lock:
            _, used = self._window
        if reset_in_seconds is None:
            reset = float((int(now // RATE_PERIOD_SECONDS) + 1) * RATE_PERIOD_SECONDS)
            remaining = max(0, self._rate_limit - used)
        else:
            reset, remaining = now + reset_in_seconds, 0
        moment = datetime.datetime.fromtimestamp(reset, datetime.UTC)
        return {
            "X-RateLimit-Limit": str(self._rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        }

    def _fault_answer(self, kind: str, kw: dict[str, Any]) -> _Answer:
        if kind == "429":
            reset_in = float(kw.get("reset_in_seconds", RATE_PERIOD_SECONDS))
            return 429, TOO_MANY_REQUESTS, self._rate_headers(reset_in)
        simple = {"hang": (0, {}), "503": (503, UNAVAILABLE), "401": (401, INVALID_TOKEN)}
        status, payload = simple.get(kind, (403, OUTSIDE_SCOPES))
        return status, payload, {}

    def _instance(self, path: str, host: str) -> _Answer:
        if path == "/api/v2/instance" and not self.has_instance_v2:
            return 404, NOT_FOUND, {}
        statuses: dict[str, Any] = {"max_media_attachments": 4, "characters_reserved_per_url": 23}
        if self.max_characters is not None:
            statuses["max_characters"] = self.max_characters
        common = {"title": "Mastodon stand-in", "version": STANDIN_VERSION}
        common["configuration"] = {"statuses": statuses}  # type: ignore[assignment]
        if path == "/api/v1/instance":
            return 200, {"uri": host, "short_description": "", **common}, {}
        return 200, {"domain": host, "api_versions": {"mastodon": 2}, **common}, {}

    def _create(self, form: dict[str, str] | None, key: str) -> _Answer:
        if form is None:
            return 422, {"error": "Validation failed: the body is not a form or JSON"}, {}
        text = form.get("status", "")
        if not text.strip():
            return 422, {"error": "Validation failed: Text can't be blank"}, {}
        limit = self.max_characters or DEFAULT_MAX_CHARACTERS
        if mastodon_length(text) > limit:
            said = f"Validation failed: Text character limit of {limit} exceeded"
            return 422, {"error": said}, {}
        now = time.time()
        with self._posts_changed:
            if key:
                for old_key, (_, stored_at) in list(self._keys.items()):
                    if now - stored_at >= self._idempotency_seconds:
                        del self._keys[old_key]
                if key in self._keys:
                    earlier = self._posts.get(self._keys[key][0])
                    if earlier is None:
                        return 404, NOT_FOUND, {}
                    log.info("status %s again for its Idempotency-Key", earlier.id)
                    return 200, self._status_json(earlier), {}
            self._sequence += 1
            status_id = str(int(now * 1000) << 16 | self._sequence % 65536)
            status = StandinStatus(status_id, text, now, key)
            self._posts[status_id] = status
            if key:
                self._keys[key] = (status_id, now)
            self._posts_changed.notify_all()
        log.info("status %s: %r", status_id, text)
        return 200, self._status_json(status), {}

    def _delete(self, status_id: str) -> _Answer:
        with self._posts_changed:
            status = self._posts.pop(status_id, None)
            self._posts_changed.notify_all()
        if status is None:
            return 404, NOT_FOUND, {}
        log.info("deleted status %s", status_id)
        return 200, {**self._status_json(status), "text": status.text}, {}

    def _account_statuses(self, query: dict[str, list[str]]) -> _Answer:
        try:
            limit = int(query.get("limit", [str(STATUSES_DEFAULT_LIMIT)])[0])
        except ValueError:
            limit = STATUSES_DEFAULT_LIMIT
        limit = max(1, min(limit, STATUSES_MAX_LIMIT))
        statuses = sorted(self.posts, key=lambda status: int(status.id), reverse=True)[:limit]
        return 200, [self._status_json(status) for status in statuses], {}

    def _account(self, with_source: bool = False) -> dict[str, Any]:
        account: dict[str, Any] = {
            "id": STANDIN_ACCOUNT_ID,
            "username": STANDIN_USERNAME,
            "acct": STANDIN_USERNAME,  # a local account's acct is its username
            "display_name": "Stand-in",
            "locked": False,
            "bot": False,
            "created_at": "2026-01-01T00:00:00.000Z",
            "note": "",
            "url": f"https://mastodon.invalid/@{STANDIN_USERNAME}",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(self._posts),
            "emojis": [],
            "fields": [],
        }
        if with_source:
            account["source"] = {"privacy": "public", "sensitive": False, "note": "", "fields": []}
        return account

    def _status_json(self, status: StandinStatus) -> dict[str, Any]:
        created = datetime.datetime.fromtimestamp(status.received_at, datetime.UTC)
        content = render(status.text)
        return {
            "id": status.id,
            "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": None,
            "uri": f"https://mastodon.invalid/users/{STANDIN_USERNAME}/statuses/{status.id}",
            "url": f"https://mastodon.invalid/@{STANDIN_USERNAME}/{status.id}",
            "content": content,
            "reblog": None,
            "account": self._account(),
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }


# app/lib/text_formatter.rb (link_to_mention): a mention of another server's account
# shows "@user" only, its domain in the link. GUESS: every mention here resolves.
_REMOTE_MENTION = re.compile(r"(?<![=/\w])@(\w+(?:[.-]+\w+)*)@(\w+(?:[.-]+\w+)*)")


def render(text: str) -> str:
    """A status's HTML content as Mastodon renders its text: <p>, <br />, mentions."""

    def mention(match: re.Match[str]) -> str:
        user, domain = match.groups()
        return (
            f'<span class="h-card" translate="no"><a href="https://{domain}/@{user}" '
            f'class="u-url mention">@<span>{user}</span></a></span>'
        )

    escaped = _REMOTE_MENTION.sub(mention, html.escape(text, quote=False))
    return "".join(f"<p>{p.replace(chr(10), '<br />')}</p>" for p in escaped.split("\n\n"))


def _form(body: bytes, content_type: str) -> dict[str, str] | None:
    """The request's parameters: Mastodon.py sends a form, other clients JSON."""
    try:
        if content_type.startswith("application/json"):
            data = json.loads(body or b"{}")
            return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else None
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except (ValueError, UnicodeDecodeError):
        return None
    return {name: values[-1] for name, values in fields.items()}
