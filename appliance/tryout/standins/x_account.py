"""The X stand-in's one account: its posts, its 15-minute post window, its credits, its routes."""

from __future__ import annotations

import datetime
import html
import json
import logging
import math
import threading
import time
from collections import deque
from urllib.parse import parse_qs, urlsplit

from appliance.tryout.standins.x_protocol import (
    _TWITTER_EPOCH_MS,
    DUPLICATE,
    MAX_POST_WEIGHT,
    RATE_LIMIT_POSTS,
    RATE_WINDOW_SECONDS,
    STANDIN_USER_ID,
    TOO_MANY_REQUESTS,
    USER_POSTS_MAX_RESULTS,
    USER_POSTS_MIN_RESULTS,
    StandinPost,
    _Answer,
    _problem,
    weighted_length,
)

log = logging.getLogger(__name__)


class XAccount:
    """What X holds for one user, answering signed requests; thread-safe, no sockets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts_changed = threading.Condition(self._lock)
        self._posts: dict[str, StandinPost] = {}
        self._window_post_times: deque[float] = deque()  # accepted in the last 15 minutes
        self._sequence = 0
        self.is_out_of_credits = False  # every signed request answers 402 while set

    @property
    def posts(self) -> list[StandinPost]:
        """The posts now on the account, oldest first (deleted ones are gone)."""
        with self._lock:
            return list(self._posts.values())

    def wait_for_posts(self, n: int, timeout: float) -> bool:
        with self._posts_changed:
            return self._posts_changed.wait_for(lambda: len(self._posts) >= n, timeout)

    def window_headers(self, now_seconds: float) -> dict[str, str]:
        """The x-rate-limit-* headers of the 15-minute post window at `now_seconds`."""
        with self._lock:
            return self._window_headers(now_seconds)

    def route(self, method: str, target: str, body: bytes) -> _Answer:
        """The answer to a signed request for `target` (path and query)."""
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
