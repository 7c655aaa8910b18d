"""Posting to Bluesky through the atproto SDK, exactly once per outbox entry, as outcomes."""

# The SDK (the "bluesky" extra) is imported only when a call is made, so that the X-only
# daemon and the CLI never load it (it cannot be installed on armv7 without a Rust build).
#
# Exactly once: a post's record key (rkey) is derived from the outbox entry's key, so a
# retry after a lost answer asks for the same record again. A PDS refuses to create a
# record that exists; Bluesky's today answers 500 InternalServerError (atproto issues
# 3718, indigo 873; atproto pull request 4728 would name the error), so after any error
# answer to createRecord the client asks com.atproto.repo.getRecord whether our record is
# there: if so, it was posted (is_duplicate), with its at:// uri as the id.

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from appliance.clock import Clock
from appliance.core.bluesky_text import link_facets
from appliance.core.destinations import Destination
from appliance.errors import ApplianceError
from appliance.posting.bluesky_record_key import record_key
from appliance.posting.bluesky_transport import tracking_transport
from appliance.posting.deadline import DeadlineGuard, RequestCutOff
from appliance.posting.outcome import (
    SHORTEST_REDACTED_CHARS,
    AccountCheck,
    Outcome,
    PostOutcome,
    error_text,
)

POST_COLLECTION = "app.bsky.feed.post"
MIN_RETRY_AFTER_SECONDS = 1.0
_POST_URI = re.compile(r"at://(did:[a-z]+:[A-Za-z0-9._:%-]+)/app\.bsky\.feed\.post/([a-z2-7]{13})")
_APP_PASSWORD_HINT = (
    "check [bluesky] handle and the bluesky_app_password credential; create an app "
    "password in Bluesky under Settings > Privacy and security > App passwords"
)
_AUTH_ERRORS = ("AuthenticationRequired", "InvalidToken", "AuthMissing")
_DEFAULT_CLOCK = Clock()
T = TypeVar("T")


class SignInRefused(ApplianceError):
    """createSession refused the handle and app password (the user must fix them)."""


class SignInLimited(ApplianceError):
    """createSession answered 429 (docs.bsky.app/docs/advanced-guides/rate-limits: 30 per 5
    minutes and 300 a day per handle; bsky-docs issue 183: 100 a day at the entryway)."""

    def __init__(self, detail: str, wait_seconds: float | None) -> None:
        super().__init__(detail)
        self.wait_seconds = wait_seconds


def rate_limit_wait_seconds(headers: Mapping[str, str], now_unix_seconds: float) -> float | None:
    """Seconds until Bluesky lifts a 429; None if its headers do not say.

    `ratelimit-reset` is unix seconds: the atproto SDK reads it so
    (RateLimitExceededError.reset_at), and docs.bsky.app/docs/advanced-guides/rate-limits
    names the RateLimit-* headers. A small value would be the IETF draft's delta-seconds.
    """
    for name in ("ratelimit-reset", "retry-after"):
        try:
            value = float(headers.get(name, ""))
        except ValueError:
            continue
        if name == "ratelimit-reset" and value > 1_000_000_000:
            value -= now_unix_seconds
        return max(MIN_RETRY_AFTER_SECONDS, value)
    return None


def outcome_for_answer(
    status: int, name: str, message: str, headers: Mapping[str, str], now_unix_seconds: float
) -> PostOutcome:
    """Classify an XRPC error answer (`name` is its "error", `message` its "message")."""
    said = f"{status} {name}: {message}".strip().rstrip(":") if name else f"HTTP {status}"
    if status == 429:
        return PostOutcome(
            Outcome.RETRY,
            detail=f"Bluesky is limiting posts ({said}).",
            retry_after_seconds=rate_limit_wait_seconds(headers, now_unix_seconds),
            is_rate_limited=True,
        )
    if status >= 500 or status in (408, 409):
        return PostOutcome(Outcome.RETRY, detail=f"Bluesky is having trouble ({said}).")
    if status in (401, 403) or name in _AUTH_ERRORS or name == "ExpiredToken":
        detail = f"Bluesky refused the session ({said}): {_APP_PASSWORD_HINT}."
        return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)
    if status == 400:
        return PostOutcome(Outcome.FAILED, detail=f"Bluesky refused the post ({said}).")
    detail = f"Bluesky answered {said}: check [bluesky] service_url."
    return PostOutcome(Outcome.FAILED, detail=detail, needs_user=True)


class BlueskyClient:
    """One Bluesky account, signed in with an app password; implements posting.client.Client."""

    destination = Destination.BLUESKY

    def __init__(
        self,
        service_url: str,
        handle: str,
        app_password: str,
        timeout_seconds: float,
        clock: Clock = _DEFAULT_CLOCK,
        langs: Sequence[str] = (),
    ) -> None:
        self._service_url = service_url.rstrip("/")
        self._handle = handle.strip().removeprefix("@")
        self._app_password = app_password.strip()
        self._clock = clock
        self._langs = list(langs)
        self._guard = DeadlineGuard(timeout_seconds, "bluesky-deadline")
        self._sdk: Any = None  # the atproto_client.Client, made on first use
        self._session: Any = None  # the SDK's Session (did, handle, tokens) once signed in
        # text -> record key of a post() that got no answer in this run (for find_post)
        self._unanswered: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"BlueskyClient({self._service_url!r}, {self._handle!r}, <hidden>)"

    # ---- the Client protocol --------------------------------------------------------

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        rkey = record_key(key)
        outcome = self._outcome(lambda: self._post(text, rkey))
        if outcome.kind is Outcome.RETRY:
            self._unanswered[text] = rkey
        else:
            self._unanswered.pop(text, None)
        return outcome

    def delete(self, post_id: str) -> PostOutcome:
        match = _POST_URI.fullmatch(post_id)
        if match is None:  # also keeps the id out of the request's other fields
            return PostOutcome(Outcome.FAILED, detail=f"{post_id!r} is not a Bluesky post uri.")
        return self._outcome(lambda: self._delete(post_id, match.group(1), match.group(2)))

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        """The uri of a post of `text` whose answer was lost in this run, if Bluesky has it.

        The poster asks when "delete that" came while the request was under way and will
        not send it again; a retry of post() finds its record by the record key itself.
        """
        rkey = self._unanswered.get(text)
        if rkey is None or self._session is None:
            return ""
        try:
            return self._guard.run(lambda: self._existing_post(rkey))
        except Exception:  # noqa: BLE001 - no answer: unsure, as before the look-up
            return ""

    def check_account(self) -> AccountCheck:
        outcome = self._outcome(self._check)
        if outcome.kind is Outcome.POSTED:
            return AccountCheck(True, outcome.detail)
        return AccountCheck(False, outcome.detail, needs_user=outcome.needs_user)

    def abort(self) -> None:
        """Cut off the call under way, and refuse new ones (the daemon is stopping)."""
        self._guard.abort()

    # ---- the work, inside the deadline ------------------------------------------------

    def _post(self, text: str, rkey: str) -> PostOutcome:
        from atproto_client import models

        record: dict[str, Any] = {"$type": POST_COLLECTION, "text": text}
        record["createdAt"] = _iso_time(self._clock.wall())
        facets = link_facets(text)
        if facets:
            record["facets"] = facets
        if self._langs:
            record["langs"] = self._langs

        def create() -> Any:
            data = models.ComAtprotoRepoCreateRecord.Data(
                repo=self._session.did, collection=POST_COLLECTION, rkey=rkey, record=record
            )
            return self._sdk.com.atproto.repo.create_record(data)

        try:
            response = self._authorized(create)
        except Exception as error:
            status = _answer(error)[0]
            if status is None or status in (401, 429) or self._session is None:
                raise  # no answer, or one that says nothing about the record
            uri = self._existing_post(rkey)
            if not uri:
                raise
            detail = f"Bluesky already has this post as {uri} (an earlier answer was lost)."
            return PostOutcome(Outcome.POSTED, post_id=uri, detail=detail, is_duplicate=True)
        uri = str(response.uri)
        return PostOutcome(Outcome.POSTED, post_id=uri, detail=f"Posted to Bluesky as {uri}.")

    def _delete(self, uri: str, repo: str, rkey: str) -> PostOutcome:
        from atproto_client import models

        data = models.ComAtprotoRepoDeleteRecord.Data(
            repo=repo, collection=POST_COLLECTION, rkey=rkey
        )
        # A record already gone is no error to deleteRecord: the answer is the same.
        self._authorized(lambda: self._sdk.com.atproto.repo.delete_record(data))
        return PostOutcome(Outcome.DELETED, post_id=uri, detail=f"Deleted {uri} from Bluesky.")

    def _check(self) -> PostOutcome:
        session = self._authorized(lambda: self._sdk.com.atproto.server.get_session())
        return PostOutcome(Outcome.POSTED, detail=f"signed in as @{session.handle}")

    def _existing_post(self, rkey: str) -> str:
        """The uri of our post with `rkey` if Bluesky has it, else "" (also if unsure)."""
        from atproto_client import models

        params = models.ComAtprotoRepoGetRecord.Params(
            repo=self._session.did, collection=POST_COLLECTION, rkey=rkey
        )
        try:
            return str(self._sdk.com.atproto.repo.get_record(params).uri)
        except Exception:  # noqa: BLE001 - not found, or no answer: the first error stands
            return ""

    def _authorized(self, call: Callable[[], T]) -> T:
        """`call()` with a session: signs in first if needed, and once more if it expired."""
        if self._session is None:
            self._sign_in()
        try:
            return call()
        except Exception as error:
            status, name, _, _ = _answer(error)
            if name == "ExpiredToken":
                self._refresh()
            elif status == 401 or (status == 400 and name in _AUTH_ERRORS):
                self._sign_in()
            else:
                raise
        return call()

    def _sign_in(self) -> None:
        from atproto_client.exceptions import BadRequestError, UnauthorizedError
        from atproto_client.exceptions import RateLimitExceededError as Limited

        if not self._handle or not self._app_password:
            raise SignInRefused(f"no Bluesky handle or app password: {_APP_PASSWORD_HINT}.")
        sdk = self._sdk_client()
        try:  # com.atproto.server.createSession
            sdk.login(self._handle, self._app_password, fetch_bsky_profile=False)
        except (UnauthorizedError, BadRequestError) as error:
            said = _said(error)
            detail = (
                f"Bluesky refused to sign in as @{self._handle} ({said}): {_APP_PASSWORD_HINT}."
            )
            raise SignInRefused(detail) from error
        except Limited as error:  # a restart signs in again: one looping could hit this
            wait_seconds = rate_limit_wait_seconds(_answer(error)[3], self._clock.wall())
            said = f"Bluesky is limiting sign-ins as @{self._handle} ({_said(error)})"
            raise SignInLimited(f"{said}; the post waits for the reset", wait_seconds) from error

    def _refresh(self) -> None:
        """com.atproto.server.refreshSession with the refresh token; sign in if it is refused."""
        from atproto_client import Session
        from atproto_client.exceptions import BadRequestError, UnauthorizedError

        old = self._session
        try:
            fresh = self._sdk.com.atproto.server.refresh_session(
                headers={"Authorization": f"Bearer {old.refresh_jwt}"},
                ignore_session_check=True,  # the SDK's own refresh passes it too
            )
        except (UnauthorizedError, BadRequestError):
            self._sign_in()  # the refresh token expired or was revoked too
            return
        session = Session(fresh.handle, fresh.did, fresh.access_jwt, fresh.refresh_jwt)
        session.pds_endpoint = old.pds_endpoint
        self._sdk.login(session_string=session.export(), fetch_bsky_profile=False)

    def _sdk_client(self) -> Any:
        if self._sdk is None:
            import httpx
            from atproto_client import Client
            from atproto_client.request import Request

            timeout = httpx.Timeout(self._guard.total_seconds)
            request = Request(timeout=timeout, transport=tracking_transport(self._guard.tracker))
            sdk = Client(base_url=self._service_url, request=request)
            sdk.on_session_change(self._remember_session)
            self._sdk = sdk
        return self._sdk

    def _remember_session(self, event: Any, session: Any) -> None:
        self._session = session  # created, refreshed or imported: the SDK's own copy

    # ---- answers into outcomes ----------------------------------------------------------

    def _outcome(self, work: Callable[[], PostOutcome]) -> PostOutcome:
        try:
            # The SDK is loaded before the deadline starts: its first import takes seconds
            # on a slow or busy machine, which is no answer of Bluesky's to cut off.
            self._sdk_client()
            outcome = self._guard.run(work)
        except RequestCutOff as error:
            outcome = PostOutcome(
                Outcome.RETRY, detail=f"Bluesky did not answer in time ({error})."
            )
        except SignInRefused as error:
            outcome = PostOutcome(Outcome.FAILED, detail=str(error), needs_user=True)
        except SignInLimited as error:
            outcome = PostOutcome(
                Outcome.RETRY,
                detail=f"{error}.",
                retry_after_seconds=error.wait_seconds,
                is_rate_limited=True,
            )
        except ImportError as error:
            detail = f"The Bluesky support is broken ({error}): run scripts/install.sh again."
            outcome = PostOutcome(Outcome.RETRY, detail=detail, is_fault=True)
        except Exception as error:  # the daemon must survive whatever happens here
            outcome = self._outcome_for(error)
        return self._redacted(outcome)

    def _outcome_for(self, error: Exception) -> PostOutcome:
        status, name, message, headers = _answer(error)
        if status is not None:
            return outcome_for_answer(status, name, message, headers, self._clock.wall())
        kind = type(error).__name__
        if "Timeout" in kind:
            return PostOutcome(Outcome.RETRY, detail=f"Bluesky did not answer in time ({kind}).")
        if kind == "NetworkError" or isinstance(error, OSError):
            cause = error.__cause__ or error
            said = f"{type(cause).__name__}: {error_text(cause, self._secrets())}"
            return PostOutcome(Outcome.RETRY, detail=f"Could not reach Bluesky ({said}).")
        detail = (
            f"Unexpected {kind} while talking to Bluesky: {error_text(error, self._secrets(), 250)}"
        )
        return PostOutcome(Outcome.RETRY, detail=detail, is_fault=True)

    def _secrets(self) -> list[str]:
        secrets = [self._app_password]
        if self._session is not None:
            secrets += [self._session.access_jwt, self._session.refresh_jwt]
        return secrets

    def _redacted(self, outcome: PostOutcome) -> PostOutcome:
        # Belt and braces: no message we build holds a secret, but an exception's text might.
        detail = outcome.detail
        for secret in self._secrets():
            if secret and len(secret) >= SHORTEST_REDACTED_CHARS:
                detail = detail.replace(secret, "[redacted]")
        return outcome if detail == outcome.detail else replace(outcome, detail=detail)


def _answer(error: BaseException) -> tuple[int | None, str, str, Mapping[str, str]]:
    """(status, XRPC error name, message, headers) of an SDK error that carries an answer."""
    response = getattr(error, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(status, int):
        return None, "", "", {}
    content = getattr(response, "content", None)
    if isinstance(content, dict):
        name, message = content.get("error"), content.get("message")
    else:
        name, message = getattr(content, "error", ""), getattr(content, "message", "")
    headers = getattr(response, "headers", None) or {}
    return status, str(name or ""), str(message or "")[:200], headers


def _said(error: BaseException) -> str:
    status, name, message, _ = _answer(error)
    if status is None:
        return type(error).__name__
    return f"{status} {name}: {message}".strip().rstrip(":")


def _iso_time(unix_seconds: float) -> str:
    """A record's createdAt: ISO 8601 in UTC with milliseconds, as the Bluesky app writes it."""
    moment = datetime.datetime.fromtimestamp(unix_seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
