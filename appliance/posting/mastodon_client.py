"""Posting to Mastodon through Mastodon.py, with every answer turned into an outcome."""

from __future__ import annotations

import datetime
import html
import re
import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import requests

from appliance.clock import Clock
from appliance.core.destinations import Destination
from appliance.core.mastodon_text import DEFAULT_MAX_CHARACTERS
from appliance.posting.outcome import AccountCheck, Outcome, PostOutcome, error_text
from appliance.posting.x_transport import RedirectingSession, RequestAbandoned

# docs.joinmastodon.org/methods/statuses/#create: "Idempotency keys are stored for up to
# 1 hour". A retry later than that with the same key would make a second status, so a
# retry that late first looks for the status among the account's own (find_post).
IDEMPOTENCY_WINDOW_SECONDS = 3600.0
_IDEMPOTENCY_MARGIN_SECONDS = 300.0  # our clock and the server's may differ a little
FIND_POST_LIMIT = 20  # GET /api/v1/accounts/:id/statuses: 20 is its default, 40 its most
FIND_POST_SLACK_SECONDS = 300.0
MIN_RETRY_AFTER_SECONDS = 1.0
_SAFE_ID = re.compile(r"[A-Za-z0-9]+")  # Mastodon's ids are digits; other servers' alphanumeric
TOKEN_HINT = (
    "create an access token under Preferences > Development > New application with the "
    "write:statuses scope (and read:accounts for the account check), and put it in the "
    "mastodon_access_token credential"
)


class MastodonClient:
    """One Mastodon account on one server; Client's shape (appliance/posting/client.py).

    Mastodon.py does the HTTP work: ratelimit_method="throw" (it never sleeps inside a
    call: the daemon schedules retries), version_check_mode="none" (no request before the
    first real one; every call used here exists since Mastodon 1.x or 2.x), and the
    session is x_transport's RedirectingSession, which bounds each whole request by
    `timeout_seconds` (Mastodon.py's request_timeout only bounds each read) and lets
    abort() cut a request off from another thread.
    """

    destination = Destination.MASTODON

    def __init__(
        self,
        api_base_url: str,
        access_token: str,
        timeout_seconds: float,
        clock: Clock = Clock(),  # noqa: B008 - frozen, never changed
    ) -> None:
        self.api_base_url = server_url(api_base_url)
        self._access_token = access_token
        self._timeout_seconds = timeout_seconds
        self._clock = clock
        self._session = RedirectingSession(
            self.api_base_url, timeout_seconds, timeout_seconds, "[mastodon] api_base_url"
        )
        self._answers = threading.local()  # the last answer each thread got, for its headers
        self._session.hooks["response"].append(self._remember)
        self._api: Any = None
        self._account_id = ""
        self._max_characters: int | None = None
        self._first_tries: dict[str, float] = {}  # key -> wall seconds of its first post()

    def __repr__(self) -> str:
        return f"MastodonClient({self.api_base_url!r}, <token hidden>)"

    # ---- the Client protocol -------------------------------------------------------

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        """POST /api/v1/statuses, `key` as its Idempotency-Key: a retry gets the same status.

        Mastodon keeps a key for an hour only; a retry later than that (from the first
        try this run saw, or `tried_since` from the outbox, which a restart keeps) first
        looks for the status among the account's own, and counts it as posted if it is
        there.
        """
        now = self._clock.wall()
        first = self._first_tries.setdefault(key, now)
        if tried_since:
            first = self._first_tries[key] = min(first, tried_since)
        if now - first > IDEMPOTENCY_WINDOW_SECONDS - _IDEMPOTENCY_MARGIN_SECONDS:
            found = self._find(text, first)
            if found is None:
                detail = "Could not check Mastodon for an earlier attempt of this post."
                return PostOutcome(Outcome.RETRY, detail=detail)
            if found:
                self._first_tries.pop(key, None)
                detail = f"Mastodon already has this post as {found} (an earlier attempt)."
                return PostOutcome(Outcome.POSTED, post_id=found, detail=detail, is_duplicate=True)
        outcome = self._post(text, key)
        if outcome.kind != Outcome.RETRY:
            self._first_tries.pop(key, None)
        return outcome

    def _post(self, text: str, key: str) -> PostOutcome:
        try:
            status = self._mastodon().status_post(text, idempotency_key=key)
        except Exception as error:  # the daemon must survive whatever happens here
            return self._redacted(self._outcome_for(error, "post"))
        post_id = str(_field(status, "id") or "")
        if not post_id:
            return PostOutcome(Outcome.RETRY, detail="Mastodon answered without a status id.")
        return PostOutcome(
            Outcome.POSTED, post_id=post_id, detail=f"Posted to Mastodon as {post_id}."
        )

    def delete(self, post_id: str) -> PostOutcome:
        """DELETE /api/v1/statuses/:id; a status Mastodon no longer has counts as deleted."""
        if not _SAFE_ID.fullmatch(post_id):  # also keeps the id from changing the path
            return PostOutcome(Outcome.FAILED, detail=f"{post_id!r} is not a Mastodon status id.")
        try:
            self._mastodon().status_delete(post_id)
        except Exception as error:  # the daemon must survive whatever happens here
            if _status_code(error) == 404:
                detail = f"Mastodon has no status {post_id}: already deleted."
                return PostOutcome(Outcome.DELETED, post_id=post_id, detail=detail)
            return self._redacted(self._outcome_for(error, "delete"))
        detail = f"Deleted status {post_id} from Mastodon."
        return PostOutcome(Outcome.DELETED, post_id=post_id, detail=detail)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        """The id of our own status with `text` made since then (newest first), or ""."""
        return self._find(text, since_unix_seconds) or ""

    def _find(self, text: str, since_unix_seconds: float) -> str | None:
        """Like find_post, but None when Mastodon could not be asked."""
        try:
            api = self._mastodon()
            if not self._account_id:
                self._account_id = str(_field(api.account_verify_credentials(), "id") or "")
            if not self._account_id:
                return None
            statuses = api.account_statuses(
                self._account_id, exclude_replies=True, exclude_reblogs=True, limit=FIND_POST_LIMIT
            )
        except Exception:  # noqa: BLE001 - a failed look-up only means the id stays unknown
            return None
        since = since_unix_seconds - FIND_POST_SLACK_SECONDS
        wanted = _comparable(text)
        for status in statuses or []:
            created = _unix_seconds(_field(status, "created_at"))
            if created is not None and created < since:
                continue
            if _comparable(plain_text(str(_field(status, "content") or ""))) == wanted:
                return str(_field(status, "id") or "")
        return ""

    def check_account(self) -> AccountCheck:
        """GET /api/v1/accounts/verify_credentials: "signed in as @acct on host"."""
        try:
            account = self._mastodon().account_verify_credentials()
        except Exception as error:  # noqa: BLE001 - doctor reports it
            outcome = self._redacted(self._outcome_for(error, "check"))
            return AccountCheck(False, outcome.detail, needs_user=outcome.needs_user)
        self._account_id = str(_field(account, "id") or self._account_id)
        acct = str(_field(account, "acct") or _field(account, "username") or "?")
        host = self.api_base_url.split("://", 1)[-1]
        return AccountCheck(True, f"signed in as @{acct} on {host}")

    def abort(self) -> None:
        """Cut off the request under way and refuse new ones (the daemon is stopping)."""
        self._session.abort()

    # ---- the instance's limit -------------------------------------------------------

    def max_characters(self) -> int:
        """The instance's post limit (GET /api/v2/instance, then /api/v1/instance), cached.

        configuration.statuses.max_characters in both (docs.joinmastodon.org/entities/
        Instance/ and V1_Instance/); DEFAULT_MAX_CHARACTERS when neither answers with it.
        A failed look-up is not cached: the next call asks again.
        """
        if self._max_characters is not None:
            return self._max_characters
        for fetch in ("instance_v2", "instance_v1"):
            try:
                instance = getattr(self._mastodon(), fetch)()
                limit = _field(
                    _field(_field(instance, "configuration"), "statuses"), "max_characters"
                )
            except Exception:  # noqa: BLE001 - the default is right for most servers
                continue
            if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
                self._max_characters = limit
                return limit
        return DEFAULT_MAX_CHARACTERS

    # ---- helpers -----------------------------------------------------------------

    def _mastodon(self) -> Any:
        if self._api is None:
            # Imported here: an X-only daemon and the CLI never load Mastodon.py.
            from mastodon import Mastodon

            self._api = Mastodon(
                access_token=self._access_token,
                api_base_url=self.api_base_url,
                ratelimit_method="throw",
                request_timeout=self._timeout_seconds,
                version_check_mode="none",
                session=self._session,
                user_agent="appliance",
            )
        return self._api

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._answers.last = response

    def _last_headers(self) -> Mapping[str, str]:
        response = getattr(self._answers, "last", None)
        return response.headers if response is not None else {}

    def _outcome_for(self, error: Exception, action: str) -> PostOutcome:
        if isinstance(error, ImportError):
            # Installed once (start-up checks it), broken now: posts wait for the repair.
            detail = (
                f"Mastodon.py is missing ({error}): run scripts/install.sh again with "
                "Mastodon enabled."
            )
            return PostOutcome(Outcome.RETRY, detail=detail, is_fault=True)
        from mastodon import errors

        if isinstance(error, errors.MastodonRatelimitError):
            wait_seconds = retry_after_seconds(self._last_headers(), self._clock.wall())
            return PostOutcome(
                Outcome.RETRY,
                detail="Mastodon is limiting requests (429).",
                retry_after_seconds=wait_seconds,
                is_rate_limited=True,
            )
        if isinstance(error, errors.MastodonAPIError) and _status_code(error) is not None:
            return outcome_for_status(_status_code(error) or 0, _error_text(error), action)
        last = getattr(self._answers, "last", None)
        if isinstance(error, errors.MastodonAPIError) and last is not None and last.is_redirect:
            # Mastodon.py reads a 3xx (never followed) as an answer that is not JSON.
            return outcome_for_status(last.status_code, "a redirect, not followed", action)
        cause = error.__cause__ or error.__context__
        if isinstance(error, RequestAbandoned) or isinstance(cause, RequestAbandoned):
            # Perhaps Mastodon has it: the retry's Idempotency-Key returns that status.
            said = cause if isinstance(cause, RequestAbandoned) else error
            return PostOutcome(Outcome.RETRY, detail=f"Mastodon did not answer in time ({said}).")
        if isinstance(error, errors.MastodonNetworkError):
            name = type(cause).__name__ if cause else type(error).__name__
            if isinstance(cause, requests.Timeout):
                return PostOutcome(
                    Outcome.RETRY, detail=f"Mastodon did not answer in time ({name})."
                )
            text = error_text(cause or error, [self._access_token])
            return PostOutcome(Outcome.RETRY, detail=f"Could not reach Mastodon ({name}: {text}).")
        name = type(error).__name__
        text = error_text(error, [self._access_token], 250)
        detail = f"Unexpected {name} while talking to Mastodon: {text}"
        return PostOutcome(Outcome.RETRY, detail=detail, is_fault=True)

    def _redacted(self, outcome: PostOutcome) -> PostOutcome:
        # No message we build holds the token, but an exception's text might.
        if len(self._access_token) < 8 or self._access_token not in outcome.detail:
            return outcome
        return replace(outcome, detail=outcome.detail.replace(self._access_token, "[redacted]"))


def server_url(api_base_url: str) -> str:
    """`api_base_url` as scheme://host[:port]: Mastodon's API lives at the server's root.

    So "mastodon.social", "https://mastodon.social/" and "https://mastodon.social/@me"
    all mean https://mastodon.social (a path would be sent twice: the transport puts
    every request's whole path after this URL).
    """
    text = api_base_url.strip()
    if "://" not in text:
        text = "https://" + text
    scheme, rest = text.split("://", 1)
    return f"{scheme.lower()}://{rest.split('/', 1)[0]}"


def outcome_for_status(status: int, said: str, action: str = "post") -> PostOutcome:
    """Classify an error answer from Mastodon (any status but 2xx, 429 aside)."""
    said = said or f"HTTP {status}"
    if status >= 500:
        return PostOutcome(Outcome.RETRY, detail=f"Mastodon is having trouble ({status}: {said}).")
    if status == 401:
        detail = f"Mastodon did not accept the access token (401: {said}): {TOKEN_HINT}."
        return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)
    if status == 403:
        # "This action is outside the authorized scopes", or a suspended or unconfirmed account.
        detail = f"Mastodon refused (403: {said}): {TOKEN_HINT}."
        return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)
    if status == 422:
        return PostOutcome(Outcome.FAILED, detail=f"Mastodon refused the {action} (422: {said}).")
    if status == 404 or 300 <= status < 400:
        # A redirect is never followed (the token would go along): the URL must be right.
        detail = f"Mastodon answered {status} ({said}): check [mastodon] api_base_url."
        return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)
    return PostOutcome(Outcome.FAILED, detail=f"Mastodon answered {status} ({said}).")


def retry_after_seconds(headers: Mapping[str, str], now_seconds: float) -> float | None:
    """Seconds until Mastodon lifts a 429, from X-RateLimit-Reset; None if not given.

    docs.joinmastodon.org/api/rate-limits/: "Timestamp when your rate limit will reset",
    an ISO 8601 time such as 2026-11-25T13:00:00.000Z. Some servers (GoToSocial) send
    unix seconds instead: both are read.
    """
    reset = _unix_seconds(headers.get("X-RateLimit-Reset") or headers.get("x-ratelimit-reset"))
    if reset is None:
        return None
    return max(MIN_RETRY_AFTER_SECONDS, reset - now_seconds)


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def plain_text(content: str) -> str:
    """A status's HTML content as the text it was written from (near enough to compare).

    Mastodon renders text as <p> paragraphs with <br /> line breaks and wraps links in
    <a> with the hidden parts of a long URL in <span class="invisible">: dropping the
    tags keeps every character of the link.
    """
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    return html.unescape(_TAG.sub("", text))


_REMOTE_MENTION = re.compile(r"(?<![=/\w])(@\w+(?:[.-]+\w+)*)@\w+(?:[.-]+\w+)*")


def _comparable(text: str) -> list[str]:
    # Mastodon shows a remote mention as "@user" (its domain is in the link only), and
    # spaces and line breaks may differ: compare the words.
    return _REMOTE_MENTION.sub(r"\1", text).split()


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, Mapping) else None


def _status_code(error: Exception) -> int | None:
    # Mastodon.py raises MastodonAPIError('Mastodon API returned error', status, reason, text).
    code = error.args[1] if len(error.args) > 1 else None
    return code if isinstance(code, int) else None


def _error_text(error: Exception) -> str:
    return str(error.args[3])[:300] if len(error.args) > 3 and error.args[3] else ""


def _unix_seconds(value: Any) -> float | None:
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()
