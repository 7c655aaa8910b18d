"""Each enabled destination's client, built from the settings: the one place they are made.

Bluesky's and Mastodon's clients (and their SDKs, atproto and Mastodon.py) are imported
only when that destination is enabled: an X-only daemon, and the CLI, never load them.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from types import ModuleType

from appliance.clock import Clock
from appliance.core.destinations import Destination
from appliance.errors import ConfigError
from appliance.posting.client import Client
from appliance.posting.outcome import AccountCheck, Outcome, PostOutcome
from appliance.posting.x_client import XCredentials, XPoster, make_client
from appliance.posting.x_keys import BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN
from appliance.service.config import Settings
from appliance.service.credentials import Credentials

log = logging.getLogger(__name__)

# The modules the Bluesky and Mastodon branches add, and the pyproject extra that
# installs each one's SDK. A build without the module says so as a configuration error.
CLIENT_MODULES = {
    Destination.BLUESKY: ("appliance.posting.bluesky_client", "bluesky"),
    Destination.MASTODON: ("appliance.posting.mastodon_client", "mastodon"),
}


class DryRunClient:
    """[x] dry_run: logs what it would post; every post and delete succeeds."""

    def __init__(self, destination: Destination = Destination.X) -> None:
        self.destination = destination
        self._counter = iter(range(1, 1 << 62))

    def post(self, text: str, key: str) -> PostOutcome:
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
    """One client per enabled destination; ConfigError if one cannot be had in this build."""
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
    client = make_client(
        settings.x.api_url,
        XCredentials.from_files(credentials.values),
        settings.x.request_timeout_seconds,
    )
    return XPoster(client, clock=clock.wall)


def _bluesky_client(settings: Settings, credentials: Credentials, clock: Clock) -> Client:
    # MERGE (issue 15, branch bluesky): nothing to switch here; this works as soon as
    # appliance/posting/bluesky_client.py exists with BlueskyClient(service_url, handle,
    # app_password, timeout_seconds, clock=Clock()).
    module = load_client_module(Destination.BLUESKY, settings.path)
    bluesky = settings.bluesky
    client: Client = module.BlueskyClient(
        bluesky.service_url,
        bluesky.handle,
        credentials[BLUESKY_APP_PASSWORD],
        bluesky.request_timeout_seconds,
        clock=clock,
    )
    return client


def _mastodon_client(settings: Settings, credentials: Credentials, clock: Clock) -> Client:
    # MERGE (issue 15, branch mastodon): nothing to switch here; this works as soon as
    # appliance/posting/mastodon_client.py exists with MastodonClient(api_base_url,
    # access_token, timeout_seconds, clock=Clock()) and max_characters().
    module = load_client_module(Destination.MASTODON, settings.path)
    mastodon = settings.mastodon
    client: Client = module.MastodonClient(
        mastodon.api_base_url,
        credentials[MASTODON_ACCESS_TOKEN],
        mastodon.request_timeout_seconds,
        clock=clock,
    )
    return client


def load_client_module(destination: Destination, config_path: str) -> ModuleType:
    """The destination's client module; ConfigError when this build or venv lacks it."""
    module_name, extra = CLIENT_MODULES[destination]
    key = f"{destination}.enabled"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            raise ConfigError(
                config_path, key, f"false: {destination.label} is not available in this build"
            ) from None
        # The SDK is missing (e.g. atproto on 32-bit Raspberry Pi OS, see install.sh).
        raise ConfigError(
            config_path,
            key,
            f"false, or the {extra!r} extra installed ({error.name} is missing): run "
            "scripts/install.sh again with it enabled (it installs the enabled destinations' "
            "extras)",
        ) from None


def limit_reader(client: Client) -> Callable[[], int] | None:
    """How to learn a destination's own length limit over the network (Mastodon's
    instance limit), or None when it is fixed."""
    reader = getattr(client, "max_characters", None)
    return reader if callable(reader) else None
