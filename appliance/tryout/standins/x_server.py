"""A local stand-in of X's API v2 (post, delete, me) that checks real OAuth 1.0a signatures."""

from __future__ import annotations

import datetime
import html
import json
import logging
import math
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oauthlib.oauth1 import SignatureOnlyEndpoint

from appliance.tryout.standins.loopback import JsonHandler, LoopbackStandin
from appliance.tryout.standins.x_protocol import (  # noqa: F401 - re-exported
    _TWITTER_EPOCH_MS,
    CREDENTIAL_FILES,
    CREDITS_DEPLETED,
    DEFAULT_PORT,
    DRIP_BYTE_INTERVAL_SECONDS,
    DUPLICATE,
    DUPLICATE_DETAIL,
    FAULT_KINDS,
    MAX_POST_WEIGHT,
    NOT_PERMITTED,
    RATE_LIMIT_POSTS,
    RATE_WINDOW_SECONDS,
    STANDIN_USER_ID,
    TIMESTAMP_LIFETIME_SECONDS,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    UNAVAILABLE,
    USER_24H_LIMIT_POSTS,
    USER_POSTS_MAX_RESULTS,
    USER_POSTS_MIN_RESULTS,
    StandinPost,
    _Answer,
    _problem,
    _same,
    _Validator,
    weighted_length,
)

log = logging.getLogger(__name__)


class _Handler(JsonHandler):
    server_version = "x-standin"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server answers malformed requests in HTML; X answers everything in JSON.
        self.close_connection = True
        phrase = self.responses.get(code, ("Error",))[0]
        self.send_json(code, _problem(code, phrase, message or phrase), {"Connection": "close"})


class XStandin(LoopbackStandin[StandinPost]):
    """X's API v2 for one app and one user, on a real socket, served from a background thread."""

    label = "X stand-in"
    handler_class = _Handler
    fault_kinds = FAULT_KINDS
    fault_options = {
        "429": {"reset_in_seconds", "user_24h"},
        "drip": {"byte_interval_seconds"},
    }

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        access_token: str,
        access_token_secret: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        keys = (consumer_key, consumer_secret, access_token, access_token_secret)
        self._validator = _Validator(keys)
        self._endpoint = SignatureOnlyEndpoint(self._validator)
        super().__init__(host, port)
        self._window_post_times: deque[float] = deque()  # accepted in the last 15 minutes
        self._credits_spent = False
        self._sequence = 0

    # ---- what tests and the CLI look at ------------------------------------------

    def spend_credits(self) -> None:
        """The account's credits are spent: every signed request answers 402 until added."""
        with self._lock:
            self._credits_spent = True

    def add_credits(self) -> None:
        with self._lock:
            self._credits_spent = False

    def inject(
        self, kind: str, count: int = 1, *, for_seconds: float | None = None, **kw: Any
    ) -> None:
        """Answer the next `count` POSTs (or every POST for `for_seconds`) with a fault.

        "429" takes reset_in_seconds (default 900) and user_24h (the 24-hour user limit
        rather than the 15-minute window); "hang" reads the request and never answers;
        "drip" takes byte_interval_seconds.
        """
        self._queue_fault(kind, count, for_seconds, kw)

    # ---- request handling (handler threads) --------------------------------------

    def _serve(self, handler: JsonHandler, method: str) -> None:
        body = self._read_body(handler)
        if body is None:
            return
        fault = self._next_fault() if method == "POST" else None
        if fault is not None and fault[0] not in ("accept_and_hang", "drip"):
            status, payload, headers = self._fault_answer(*fault)
        elif not self._is_signed(handler, method, body):
            status, payload, headers = 401, UNAUTHORIZED, {}
        elif self._credits_spent:
            status, payload, headers = 402, CREDITS_DEPLETED, {}
        else:
            status, payload, headers = self._route(method, handler.path, body)
            drip_seconds = DRIP_BYTE_INTERVAL_SECONDS
            status = self._late_fault(handler, fault, status, 201, drip_seconds)
        self._send(handler, status, payload, headers)

    def _is_signed(self, handler: JsonHandler, method: str, body: bytes) -> bool:
        # Verify against the URL the client reached (and so signed), not api.twitter.com.
        host = handler.headers.get("Host") or "{}:{}".format(*handler.server.server_address[:2])
        uri = f"http://{host}{handler.path}"
        try:
            valid, request = self._endpoint.validate_request(
                uri, method, body.decode("utf-8", "replace"), dict(handler.headers)
            )
        except ValueError:  # oauthlib's answer to a malformed Authorization header
            return False
        # SignatureOnlyEndpoint never checks the token itself, only its secret.
        return valid and _same(request.resource_owner_key, self._validator.access_token)

    def _fault_answer(self, kind: str, kw: dict[str, Any]) -> _Answer:
        if kind != "429":
            simple = {"hang": (0, {}), "503": (503, UNAVAILABLE), "401": (401, UNAUTHORIZED)}
            simple["402"] = (402, CREDITS_DEPLETED)
            status, payload = simple.get(kind, (403, NOT_PERMITTED))
            return status, payload, {}
        reset = str(math.ceil(time.time() + float(kw.get("reset_in_seconds", 900))))
        if not kw.get("user_24h", False):
            limit = {"limit": str(RATE_LIMIT_POSTS), "remaining": "0", "reset": reset}
            return 429, TOO_MANY_REQUESTS, {f"x-rate-limit-{k}": v for k, v in limit.items()}
        # The 24-hour user limit: the 15-minute window still has room.
        with self._lock:
            headers = self._window_headers(time.time())
        limit = {"limit": str(USER_24H_LIMIT_POSTS), "remaining": "0", "reset": reset}
        headers.update({f"x-user-limit-24hour-{k}": v for k, v in limit.items()})
        return 429, TOO_MANY_REQUESTS, headers

    def _route(self, method: str, target: str, body: bytes) -> _Answer:
        path, query = urlsplit(target).path, parse_qs(urlsplit(target).query)
        if method == "POST" and path == "/2/tweets":
            return self._create_post(body)
        if method == "DELETE" and path.startswith("/2/tweets/"):
            return self._delete_post(path.removeprefix("/2/tweets/"))
        if method == "GET" and path == "/2/users/me":
            user = {"id": STANDIN_USER_ID, "name": "Stand-in", "username": "standin"}
            return 200, {"data": user}, {}
        parts = path.split("/")
        if method == "GET" and len(parts) == 5 and parts[1:3] == ["2", "users"]:
            if parts[4] == "tweets" and parts[3].isdigit():
                return self._user_posts(parts[3], query)
        return 404, _problem(404, "Not Found", f"No route {method} {path}."), {}

    def _user_posts(self, user_id: str, query: dict[str, list[str]]) -> _Answer:
        # GET /2/users/:id/tweets (docs.x.com/x-api/posts/timelines): newest first,
        # max_results 5..100 (default 10), start_time in ISO 8601, exclude ignored (the
        # stand-in has neither replies nor reposts).
        try:
            count = int(query.get("max_results", ["10"])[0])
            start = query.get("start_time", [""])[0]
            since = datetime.datetime.fromisoformat(start).timestamp() if start else 0.0
        except ValueError:
            count, since = -1, 0.0
        if not USER_POSTS_MIN_RESULTS <= count <= USER_POSTS_MAX_RESULTS:
            detail = "One or more parameters to your request was invalid."
            invalid = "https://api.twitter.com/2/problems/invalid-request"
            return 400, _problem(400, "Invalid Request", detail, invalid), {}
        with self._lock:
            posts = [post for post in self._posts.values() if post.received_at >= since]
        if user_id != STANDIN_USER_ID:
            posts = []
        posts = sorted(posts, key=lambda post: int(post.id), reverse=True)[:count]
        if not posts:
            return 200, {"meta": {"result_count": 0}}, {}
        # X's answers escape &, < and > in a post's text (seen in public reports).
        data = [
            {"id": p.id, "text": html.escape(p.text, quote=False), "edit_history_tweet_ids": [p.id]}
            for p in posts
        ]
        meta = {"result_count": len(data), "newest_id": posts[0].id, "oldest_id": posts[-1].id}
        return 200, {"data": data, "meta": meta}, {}

    def _create_post(self, body: bytes) -> _Answer:
        try:
            text = json.loads(body).get("text")
        except (ValueError, AttributeError):
            return 400, _problem(400, "Invalid Request", "The body is not a JSON object."), {}
        if not isinstance(text, str) or not text.strip():
            return 400, _problem(400, "Invalid Request", "The text field must not be empty."), {}
        weight = weighted_length(text)
        if weight > MAX_POST_WEIGHT:
            detail = f"Your Tweet text is too long: weighted length {weight} > {MAX_POST_WEIGHT}."
            return 400, _problem(400, "Invalid Request", detail), {}
        now_seconds = time.time()
        with self._posts_changed:
            headers = self._window_headers(now_seconds)
            if headers["x-rate-limit-remaining"] == "0":
                return 429, TOO_MANY_REQUESTS, headers
            if any(post.text == text for post in self._posts.values()):
                return 403, DUPLICATE, headers
            self._window_post_times.append(now_seconds)
            self._sequence += 1
            milliseconds = int(now_seconds * 1000) - _TWITTER_EPOCH_MS
            post = StandinPost(str(milliseconds << 22 | self._sequence % 4096), text, now_seconds)
            self._posts[post.id] = post
            self._posts_changed.notify_all()
            headers = self._window_headers(now_seconds)
        log.info("post %s: %r", post.id, text)
        return 201, {"data": {"id": post.id, "text": text}}, headers

    def _delete_post(self, post_id: str) -> _Answer:
        with self._posts_changed:
            post = self._posts.pop(post_id, None)
            self._posts_changed.notify_all()
        if post is None:
            detail = f"Could not find tweet with id: [{post_id}]."
            return 404, _problem(404, "Not Found Error", detail), {}
        log.info("deleted post %s", post_id)
        return 200, {"data": {"deleted": True}}, {}

    def _window_headers(self, now_seconds: float) -> dict[str, str]:
        # Call with the lock held. A sliding 15-minute window over accepted posts.
        times = self._window_post_times
        while times and times[0] <= now_seconds - RATE_WINDOW_SECONDS:
            times.popleft()
        reset = (times[0] if times else now_seconds) + RATE_WINDOW_SECONDS
        return {
            "x-rate-limit-limit": str(RATE_LIMIT_POSTS),
            "x-rate-limit-remaining": str(max(0, RATE_LIMIT_POSTS - len(times))),
            "x-rate-limit-reset": str(math.ceil(reset)),
        }
