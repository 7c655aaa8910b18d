"""Posting to X through tweepy, with every answer turned into an outcome the daemon acts on."""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import requests
import tweepy

from appliance.core import x_links
from appliance.core.destinations import Destination
from appliance.posting.outcome import (
    SHORTEST_REDACTED_CHARS,
    AccountCheck,
    Outcome,
    PostOutcome,
    error_text,
)
from appliance.posting.x_keys import X_KEYS
from appliance.posting.x_transport import RedirectingSession, RequestAbandoned

MIN_RETRY_AFTER_SECONDS = 1.0
FIND_POST_MAX_RESULTS = 5  # the least GET /2/users/:id/tweets accepts
FIND_POST_SLACK_SECONDS = 300.0
_KEYS_HINT = (
    f"check the four X keys ({', '.join(X_KEYS)}); if they look right, regenerate the "
    "access token and secret in the X developer portal"
)
OUT_OF_CREDITS = "X account out of credits"
_CREDITS_HINT = "add credits in the X Developer Console; waiting posts then go out by themselves"
_PERMISSION_HINT = (
    'the app probably lacks "Read and write" permission: enable it under the app\'s '
    "User authentication settings in the X developer portal, then regenerate the access "
    "token and secret (a token made before the change stays read-only)"
)


@dataclass(frozen=True)
class XCredentials:
    """The app's and the user's OAuth 1.0a keys; repr never shows them."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    @classmethod
    def from_files(cls, credentials: Mapping[str, str]) -> XCredentials:
        """The four keys from the credential files' contents, by file name."""
        return cls(*(credentials[name] for name in X_KEYS))

    def __repr__(self) -> str:
        return "XCredentials(<hidden>)"


def make_client(api_url: str, credentials: XCredentials, timeout_seconds: float) -> tweepy.Client:
    """A tweepy client for `api_url` (X itself or the stand-in) that never sleeps on 429.

    `timeout_seconds` bounds each whole request to X, answer included.
    """
    client = tweepy.Client(
        consumer_key=credentials.consumer_key,
        consumer_secret=credentials.consumer_secret,
        access_token=credentials.access_token,
        access_token_secret=credentials.access_token_secret,
        wait_on_rate_limit=False,  # tweepy would sleep inside the call; the daemon schedules
    )
    client.session = RedirectingSession(api_url, timeout_seconds, timeout_seconds)
    return client


def rate_limit_wait_seconds(headers: Mapping[str, str], now_seconds: float) -> float | None:
    """Seconds until X lifts a 429, from its unix-seconds reset headers; None if not given."""
    resets = [_unix_seconds(headers.get("x-rate-limit-reset"))]
    # X sends the 24-hour reset on every answer; it only binds once that limit is used up.
    if str(headers.get("x-user-limit-24hour-remaining", "0")).strip() == "0":
        resets.append(_unix_seconds(headers.get("x-user-limit-24hour-reset")))
    known = [reset for reset in resets if reset is not None]
    if not known:
        return None
    return max(MIN_RETRY_AFTER_SECONDS, max(known) - now_seconds)


def outcome_for_status(
    status: int, headers: Mapping[str, str], messages: list[str], now_seconds: float
) -> PostOutcome:
    """Classify an error answer from X (any status but 2xx)."""
    said = "; ".join(messages) or f"HTTP {status}"
    if status == 429:
        wait_seconds = rate_limit_wait_seconds(headers, now_seconds)
        detail = f"X is limiting posts (429: {said})."
        return PostOutcome(
            Outcome.RETRY, detail=detail, retry_after_seconds=wait_seconds, is_rate_limited=True
        )
    if status >= 500:
        return PostOutcome(Outcome.RETRY, detail=f"X is having trouble ({status}: {said}).")
    if status == 402:
        # Pay-per-use: the post itself is fine and goes out once credits are added.
        detail = f"{OUT_OF_CREDITS} (402: {said}): {_CREDITS_HINT}."
        return PostOutcome(Outcome.RETRY, detail=detail, is_out_of_credits=True)
    if status == 401:
        detail = f"X did not accept the keys (401: {said}): {_KEYS_HINT}."
        return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)
    if status == 403 and any("duplicate" in message.lower() for message in messages):
        detail = f"X already has a post with this text (403: {said})."
        return PostOutcome(Outcome.FAILED, detail=detail, is_duplicate=True)
    if status == 403:
        detail = f"X refused to post (403: {said}): {_PERMISSION_HINT}."
        return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)
    if status == 400:
        return PostOutcome(Outcome.FAILED, detail=f"X rejected the post (400: {said}).")
    # Any other 4xx (404, 405, ...) means the request went somewhere X's API is not.
    detail = f"X answered {status} ({said}): check [x] api_url."
    return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)


class XPoster:
    """Posts and deletes through a tweepy client; every answer becomes a PostOutcome."""

    destination = Destination.X

    def __init__(self, client: tweepy.Client, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock  # unix seconds, as X's reset headers are
        keys = [client.consumer_key, client.consumer_secret]
        keys += [client.access_token, client.access_token_secret]
        self._secrets = [k for k in keys if k and len(k) >= SHORTEST_REDACTED_CHARS]
        self._user_id = ""  # looked up once, when first needed

    def abort(self) -> None:
        """Cut off the request under way, and refuse new ones (the daemon is stopping)."""
        session = getattr(self._client, "session", None)
        if isinstance(session, RedirectingSession):
            session.abort()

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        """The id of our own post with `text`, made since then; "" if not found.

        For a post X took but whose answer was lost (X then says "duplicate" and gives
        no id). It reads X twice at most, each billed per resource returned: the user
        once per run (GET /2/users/me) and at most FIND_POST_MAX_RESULTS of our posts.
        """
        try:
            if not self._user_id:
                me = self._client.get_me(user_auth=True)
                self._user_id = str(getattr(getattr(me, "data", None), "id", "") or "")
            if not self._user_id:
                return ""
            # X's clock may be behind ours; the doctor allows this much skew.
            since = since_unix_seconds - FIND_POST_SLACK_SECONDS
            response = self._client.get_users_tweets(
                self._user_id,
                max_results=FIND_POST_MAX_RESULTS,
                start_time=datetime.datetime.fromtimestamp(since, datetime.UTC),
                exclude=["replies", "retweets"],
                user_auth=True,
            )
        except Exception:  # noqa: BLE001 - a failed look-up only means the id stays unknown
            return ""
        for post in getattr(response, "data", None) or []:  # newest first
            if x_links.same_post_text(text, str(getattr(post, "text", ""))):
                return str(getattr(post, "id", ""))
        return ""

    def check_account(self) -> AccountCheck:
        """GET /2/users/me: the keys work (doctor has its own, more detailed X check)."""
        try:
            me = self._client.get_me(user_auth=True)
        except Exception as error:  # noqa: BLE001 - every answer becomes a check result
            outcome = self._redacted(self._outcome_for(error))
            return AccountCheck(False, outcome.detail, outcome.needs_user)
        username = getattr(getattr(me, "data", None), "username", "?")
        return AccountCheck(True, f"signed in as @{username}")

    def post(self, text: str, key: str = "", tried_since: float = 0.0) -> PostOutcome:
        # X has no idempotency key: a retry after a lost answer meets X's "duplicate"
        # refusal instead, which the poster counts as posted (`key` is unused).
        try:
            response = self._client.create_tweet(text=text, user_auth=True)
        except Exception as error:  # the daemon must survive whatever happens here
            return self._redacted(self._outcome_for(error))
        post_id = str((getattr(response, "data", None) or {}).get("id", ""))
        if not post_id:
            # Probably posted: the retry then meets "duplicate", which the caller counts as posted.
            return PostOutcome(Outcome.RETRY, detail="X answered without a post id.")
        return PostOutcome(Outcome.POSTED, post_id=post_id, detail=f"Posted to X as {post_id}.")

    def delete(self, post_id: str) -> PostOutcome:
        if not post_id.isdigit():  # also keeps the id from changing the request path
            return PostOutcome(Outcome.FAILED, detail=f"{post_id!r} is not an X post id.")
        try:
            response = self._client.delete_tweet(post_id, user_auth=True)
        except tweepy.NotFound:
            return PostOutcome(Outcome.FAILED, detail=f"X has no post {post_id}; already deleted?")
        except Exception as error:  # the daemon must survive whatever happens here
            return self._redacted(self._outcome_for(error))
        if (getattr(response, "data", None) or {}).get("deleted"):
            return PostOutcome(
                Outcome.DELETED, post_id=post_id, detail=f"Deleted post {post_id} from X."
            )
        return PostOutcome(
            Outcome.FAILED, post_id=post_id, detail=f"X did not delete post {post_id}."
        )

    def _outcome_for(self, error: Exception) -> PostOutcome:
        if isinstance(error, tweepy.HTTPException) and hasattr(error.response, "status_code"):
            response = error.response
            return outcome_for_status(
                response.status_code, response.headers, error.api_messages, self._clock()
            )
        name = type(error).__name__
        if isinstance(error, RequestAbandoned):
            # Perhaps X has it already: the retry then meets "duplicate" (counted as posted).
            return PostOutcome(Outcome.RETRY, detail=f"X did not answer in time ({error}).")
        if isinstance(error, requests.Timeout):
            return PostOutcome(Outcome.RETRY, detail=f"X did not answer in time ({name}).")
        if isinstance(error, requests.RequestException):
            return PostOutcome(
                Outcome.RETRY, detail=f"Could not reach X ({name}: {self._said(error)})."
            )
        detail = f"Unexpected {name} while talking to X: {self._said(error, 250)}"
        return PostOutcome(Outcome.RETRY, detail=detail, is_fault=True)

    def _said(self, error: BaseException, limit_chars: int = 200) -> str:
        return error_text(error, self._secrets, limit_chars)

    def _redacted(self, outcome: PostOutcome) -> PostOutcome:
        # Belt and braces: no message we build holds a key, but an exception's text might.
        detail = outcome.detail
        for secret in self._secrets:
            detail = detail.replace(secret, "[redacted]")
        return outcome if detail == outcome.detail else replace(outcome, detail=detail)


def _unix_seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
