"""X's API v2 as the stand-in speaks it: limits, error bodies, OAuth 1.0a checking."""

from __future__ import annotations

import hmac
import secrets
import string
import threading
import time
from dataclasses import dataclass
from typing import Any

from oauthlib.oauth1 import RequestValidator

from appliance.core import post_text

MAX_POST_WEIGHT = 280
TIMESTAMP_LIFETIME_SECONDS = 600
RATE_LIMIT_POSTS = 100  # X's documented per-user limit for POST /2/tweets ...
RATE_WINDOW_SECONDS = 15 * 60  # ... per 15-minute window
USER_24H_LIMIT_POSTS = 17  # what X's free tier reports in x-user-limit-24hour-limit
# "accept_and_hang" stores the post, then never answers: the answer is lost, as when
# the network drops after X has the post. "drip" stores it too, then sends the answer
# one byte at a time (a slow or hostile network path). "402": the credits are spent.
FAULT_KINDS = ("503", "429", "401", "403", "402", "hang", "accept_and_hang", "drip")
DRIP_BYTE_INTERVAL_SECONDS = 0.2
STANDIN_USER_ID = "1"  # GET /2/users/me's answer; every post is this user's
USER_POSTS_MIN_RESULTS, USER_POSTS_MAX_RESULTS = 5, 100  # GET /2/users/:id/tweets max_results
DEFAULT_PORT = 8089
_TWITTER_EPOCH_MS = 1288834974657  # X's snowflake ids count milliseconds from here
_Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, extra headers


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status}


UNAUTHORIZED = _problem(401, "Unauthorized", "Unauthorized")
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
DUPLICATE = _problem(403, "Forbidden", DUPLICATE_DETAIL)
_PERMISSIONS_DETAIL = (  # what X answers an app without "Read and write" permission
    "Your client app is not configured with the appropriate oauth1 app permissions"
    " for this endpoint."
)
_PERMISSIONS_TYPE = "https://api.twitter.com/2/problems/oauth1-permissions"
NOT_PERMITTED = _problem(403, "Forbidden", _PERMISSIONS_DETAIL, _PERMISSIONS_TYPE)
UNAVAILABLE = _problem(503, "Service Unavailable", "Service Unavailable")
TOO_MANY_REQUESTS = _problem(429, "Too Many Requests", "Too Many Requests")
# X's answer once an account's pay-per-use credits are spent. Not in X's docs; public
# reports quote HTTP 402 with this title, detail and type, and a 402 to POST /2/tweets
# with a 185-byte JSON body, which is this body, compact, with a 19-digit account id.
# Some reports (other endpoints) add an "account_id" field. UNCONFIRMED beyond that.
STANDIN_ACCOUNT_ID = 1000000000000000001
CREDITS_DEPLETED: dict[str, Any] = {
    "title": "CreditsDepleted",
    "detail": f"Your enrolled account [{STANDIN_ACCOUNT_ID}] does not have any credits to"
    " fulfill this request.",
    "type": "https://api.twitter.com/2/problems/credits",
}


@dataclass(frozen=True)
class StandinPost:
    """A post the stand-in accepted."""

    id: str
    text: str
    received_at: float  # time.time() seconds


def weighted_length(text: str) -> int:
    """X's weighted length (twitter-text v3 rules: CJK and emoji 2, any URL 23)."""
    return post_text.weighted_length(text)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


class _Validator(RequestValidator):
    """Knows one app and one user, and remembers nonces so that a replayed request fails."""

    enforce_ssl = False  # the stand-in speaks plain HTTP on loopback
    client_key_length = (1, 200)  # oauthlib's default 20-30 refuses real X keys (25-50)
    access_token_length = (1, 200)
    nonce_length = (1, 200)
    safe_characters = frozenset(string.ascii_letters + string.digits + "-_")
    timestamp_lifetime = TIMESTAMP_LIFETIME_SECONDS
    dummy_client = "dummy-client"
    dummy_access_token = "dummy-access-token"

    def __init__(self, keys: tuple[str, str, str, str]) -> None:
        super().__init__()
        self.consumer_key, self._consumer_secret, self.access_token, self._token_secret = keys
        # A random secret for unknown keys: nobody can sign with it, yet checking costs the same.
        self._dummy_secret = secrets.token_hex(16)
        self._lock = threading.Lock()
        self._seen_nonces: dict[tuple[str, str, str], int] = {}

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return _same(client_key, self.consumer_key)

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self._consumer_secret if _same(client_key, self.consumer_key) else self._dummy_secret

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self._token_secret if _same(token, self.access_token) else self._dummy_secret

    def validate_timestamp_and_nonce(
        self, client_key: str, timestamp: str, nonce: str, request: Any, **kwargs: Any
    ) -> bool:
        now_seconds = time.time()
        if now_seconds - int(timestamp) > TIMESTAMP_LIFETIME_SECONDS:
            return False
        key = (client_key, timestamp, nonce)
        with self._lock:
            # Older nonces fail the timestamp check anyway: forgetting them bounds memory.
            for old_key, old_timestamp in list(self._seen_nonces.items()):
                if now_seconds - old_timestamp > TIMESTAMP_LIFETIME_SECONDS:
                    del self._seen_nonces[old_key]
            if key in self._seen_nonces:
                return False
            self._seen_nonces[key] = int(timestamp)
        return True
