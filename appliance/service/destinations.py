"""Each enabled destination's client, built from the settings: the one place they are made.

Bluesky's and Mastodon's clients (and their SDKs, atproto and Mastodon.py) are imported
only when that destination is enabled: an X-only daemon, and the CLI, never load them.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Callable

from appliance.clock import Clock
from appliance.core.destinations import Destination
from appliance.errors import ConfigError
from appliance.posting.client import Client
from appliance.posting.outcome import AccountCheck, Outcome, PostOutcome, error_text
from appliance.posting.x_keys import BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN
from appliance.service.config import Settings
from appliance.service.credentials import Credentials

log = logging.getLogger(__name__)

# The SDK each of the other clients needs, and the pyproject extra that installs it. A
# venv without it (atproto has no 32-bit ARM wheels: see install.sh) says so at start-up,
# as a configuration error, rather than on the first post.
CLIENT_SDKS = {
    Destination.BLUESKY: ("atproto", "bluesky"),
    Destination.MASTODON: ("mastodon", "mastodon"),
}


class DryRunClient:
    """[x] dry_run: logs what it would post; every post and delete succeeds."""

    def __init__(self, destination: Destination = Destination.X) -> None:
        self.destination = destination
        self._counter = iter(range(1, 1 << 62))

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        post_id = f"dry-run-{os.getpid()}-{next(self._counter)}"
        log.info("Dry run: would post %r", text, extra={"APPLIANCE_EVENT": "dry_run"})
        return PostOutcome(Outcome.POSTED, post_id=post_id)

    def delete(self, post_id: str) -> PostOutcome:
        log.info("Dry run: would delete %s", post_id, extra={"APPLIANCE_EVENT": "dry_run"})
        return PostOutcome(Outcome.DELETED, post_id=post_id)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        return ""

    def check_account(self) -> AccountCheck:
        return AccountCheck(True, "dry run: nothing is posted")

    def abort(self) -> None:
        pass


def make_clients(
    settings: Settings, credentials: Credentials, clock: Clock
) -> dict[Destination, Client]:
    """One client per enabled destination; ConfigError if one's SDK is not installed."""
    return {d: make_client_for(d, settings, credentials, clock) for d in settings.destinations}


def make_client_for(
    destination: Destination, settings: Settings, credentials: Credentials, clock: Clock
) -> Client:
    """The destination's client (doctor checks one at a time)."""
    makers: dict[Destination, Callable[[Settings, Credentials, Clock], Client]] = {
        Destination.X: _x_client,
        Destination.BLUESKY: _bluesky_client,
        Destination.MASTODON: _mastodon_client,
    }
    return makers[destination](settings, credentials, clock)


def _x_client(settings: Settings, credentials: Credentials, clock: Clock) -> Client:
    if settings.x.dry_run:
        return DryRunClient(Destination.X)
    return LazyXClient(settings, credentials, clock)


class LazyXClient:
    """X's client, built on the poster thread's first use of it.

    tweepy, requests and oauthlib are about 45 of the 160 ms the daemon spends on
    imports on the benchmark machine (more on a Pi): loaded here, they come after
    READY=1 instead of before it (issue 13). Building the client checks nothing (the
    keys were read before), so no start-up error moves. If building fails (tweepy
    broken or missing, its constructor's surprise), nothing was sent: each call says so
    as X's problem, retried later (a failed build is tried again then).
    """

    destination = Destination.X

    def __init__(self, settings: Settings, credentials: Credentials, clock: Clock) -> None:
        self._settings = settings.x
        self._credentials = credentials
        self._clock = clock
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._problem = ""  # why the last build failed, logged once

    def _built(self) -> Client | PostOutcome:
        """The client, or why it cannot be built (a RETRY: nothing was sent)."""
        with self._lock:
            if self._client is None:
                try:
                    self._client = self._build()
                except Exception as error:  # noqa: BLE001 - said as X's problem, retried
                    return self._build_failed(error)
                self._problem = ""
            return self._client

    def _build(self) -> Client:
        from appliance.posting.x_client import XCredentials, XPoster, make_client

        client = make_client(
            self._settings.api_url,
            XCredentials.from_files(self._credentials.values),
            self._settings.request_timeout_seconds,
        )
        return XPoster(client, clock=self._clock.wall)

    def _build_failed(self, error: Exception) -> PostOutcome:
        said = f"{type(error).__name__}: {error_text(error, self._credentials.secrets())}"
        detail = (
            f"X's client could not be set up ({said}); if this stays, run "
            "scripts/install.sh again to repair the installation"
        )
        if detail != self._problem:  # once per distinct problem: it is tried on every retry
            self._problem = detail
            # The poster logs the fault itself once, as an error (client_fault); here only
            # its traceback, for whoever turns debug logging on.
            log.debug(
                "%s",
                detail,
                exc_info=True,
                extra={"APPLIANCE_EVENT": "client_setup_failed", "DESTINATION": self.destination},
            )
        return PostOutcome(Outcome.RETRY, detail=detail + ".", is_fault=True)

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        client = self._built()
        return client if isinstance(client, PostOutcome) else client.post(text, key, tried_since)

    def delete(self, post_id: str) -> PostOutcome:
        client = self._built()
        return client if isinstance(client, PostOutcome) else client.delete(post_id)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        client = self._built()
        return "" if isinstance(client, PostOutcome) else client.find_post(text, since_unix_seconds)

    def check_account(self) -> AccountCheck:
        client = self._built()
        if isinstance(client, PostOutcome):
            return AccountCheck(False, client.detail)
        return client.check_account()

    def abort(self) -> None:
        client = self._client  # never built: no request to cut off
        if client is not None:
            client.abort()


def _bluesky_client(settings: Settings, credentials: Credentials, clock: Clock) -> Client:
    require_sdk(Destination.BLUESKY, settings.path)
    from appliance.posting.bluesky_client import BlueskyClient

    bluesky = settings.bluesky
    client: Client = BlueskyClient(
        bluesky.service_url,
        bluesky.handle,
        credentials[BLUESKY_APP_PASSWORD],
        bluesky.request_timeout_seconds,
        clock=clock,
    )
    return client


def _mastodon_client(settings: Settings, credentials: Credentials, clock: Clock) -> Client:
    require_sdk(Destination.MASTODON, settings.path)
    from appliance.posting.mastodon_client import MastodonClient

    mastodon = settings.mastodon
    client: Client = MastodonClient(
        mastodon.api_base_url,
        credentials[MASTODON_ACCESS_TOKEN],
        mastodon.request_timeout_seconds,
        clock=clock,
    )
    return client


def has_sdk(destination: Destination) -> bool:
    """Whether this venv has the SDK the (Bluesky or Mastodon) client needs."""
    return importlib.util.find_spec(CLIENT_SDKS[destination][0]) is not None


def require_sdk(destination: Destination, config_path: str) -> None:
    """ConfigError, naming [destination] enabled, when this venv lacks the client's SDK."""
    module_name, extra = CLIENT_SDKS[destination]
    if not has_sdk(destination):
        raise ConfigError(
            config_path,
            f"{destination}.enabled",
            f"false, or the {extra!r} extra installed ({module_name} is missing): run "
            "scripts/install.sh again with it enabled (it installs the enabled destinations' "
            "extras, and says so when this machine cannot have one)",
        )


def limit_reader(client: Client) -> Callable[[], int] | None:
    """How to learn a destination's own length limit over the network (Mastodon's
    instance limit), or None when it is fixed."""
    reader = getattr(client, "max_characters", None)
    return reader if callable(reader) else None
