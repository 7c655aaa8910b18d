"""Which destinations a configuration enables, their clients, and what each one needs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from appliance.clock import Clock
from appliance.core.destinations import Destination
from appliance.errors import ConfigError
from appliance.service import destinations
from appliance.service.config import settings_from_dict
from appliance.service.credentials import Credentials, needed_credentials
from appliance.service.destinations import DryRunClient, LazyXClient, make_clients

X_KEY_VALUES = {
    name: f"{name}-value-0123456789"
    for name in ("x_consumer_key", "x_consumer_secret", "x_access_token", "x_access_token_secret")
}
BLUESKY = {"enabled": True, "handle": "me.bsky.social"}
MASTODON = {"enabled": True, "api_base_url": "https://mastodon.example"}


def test_an_existing_configuration_posts_to_x_alone():
    settings = settings_from_dict({})
    assert settings.destinations == (Destination.X,)
    assert needed_credentials(settings)[1:] == tuple(X_KEY_VALUES)
    clients = make_clients(settings, Credentials(X_KEY_VALUES), Clock())
    assert list(clients) == [Destination.X] and isinstance(clients[Destination.X], LazyXClient)


def test_dry_run_needs_no_x_keys_and_posts_nothing():
    settings = settings_from_dict({"x": {"dry_run": True}})
    assert needed_credentials(settings) == ("assemblyai_api_key",)
    [client] = make_clients(settings, Credentials({}), Clock()).values()
    assert isinstance(client, DryRunClient) and client.post("hi", "k").kind == "posted"


def test_every_enabled_destination_needs_its_own_credential():
    settings = settings_from_dict(
        {"x": {"enabled": False}, "bluesky": BLUESKY, "mastodon": MASTODON}
    )
    assert settings.destinations == (Destination.BLUESKY, Destination.MASTODON)
    assert needed_credentials(settings) == (
        "assemblyai_api_key",
        "bluesky_app_password",
        "mastodon_access_token",
    )


@pytest.mark.parametrize(
    "document, key",
    [
        ({"x": {"enabled": False}}, "x.enabled"),
        ({"bluesky": {"enabled": True}}, "bluesky.handle"),
        ({"mastodon": {"enabled": True}}, "mastodon.api_base_url"),
        ({"mastodon": {"api_base_url": "mastodon.example"}}, "mastodon.api_base_url"),
        ({"bluesky": {"service_url": "ftp://bsky.social"}}, "bluesky.service_url"),
        ({"bluesky": {"enabled": "yes"}}, "bluesky.enabled"),
    ],
)
def test_a_destination_configured_wrong_names_file_and_key(document, key):
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(document, "/etc/appliance/appliance.toml")
    assert caught.value.key == key and caught.value.path == "/etc/appliance/appliance.toml"


@pytest.mark.parametrize(
    "section, credential, key",
    [
        ({"bluesky": BLUESKY}, "bluesky_app_password", "bluesky.enabled"),
        ({"mastodon": MASTODON}, "mastodon_access_token", "mastodon.enabled"),
    ],
)
def test_a_destination_without_its_sdk_is_a_clear_configuration_error(
    monkeypatch, section, credential, key
):
    # As on 32-bit Raspberry Pi OS, where atproto cannot be installed.
    destination = Destination(key.split(".")[0])
    monkeypatch.setitem(destinations.CLIENT_SDKS, destination, ("no_such_sdk", str(destination)))
    settings = settings_from_dict(section, "/etc/appliance/appliance.toml")
    credentials = Credentials({**X_KEY_VALUES, credential: "secret-0123456789"})
    with pytest.raises(ConfigError, match="no_such_sdk is missing") as caught:
        make_clients(settings, credentials, Clock())
    assert caught.value.key == key and caught.value.path == "/etc/appliance/appliance.toml"


@pytest.mark.parametrize(
    "section, credential",
    [
        ({"bluesky": BLUESKY}, "bluesky_app_password"),
        ({"mastodon": MASTODON}, "mastodon_access_token"),
    ],
)
def test_each_client_is_built_with_the_shared_shape(section, credential):
    settings = settings_from_dict({"x": {"enabled": False}, **section})
    [(destination, client)] = make_clients(
        settings, Credentials({credential: "secret-0123456789"}), Clock()
    ).items()
    assert client.destination == destination


def test_an_x_only_daemon_never_imports_the_other_sdks():
    probe = (
        "import json, sys, appliance.service.daemon, appliance.cli.main;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('atproto', 'mastodon') or m.endswith(('bluesky_client', 'mastodon_client')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []


def test_mastodons_own_limit_is_learnt_on_its_poster_thread_and_reaches_the_core(tmp_path):
    import threading

    from appliance.core import CoreSettings
    from appliance.posting.outbox import Outbox
    from appliance.service.daemon_parts import LengthLimit, make_posters, with_length_limit
    from tests.conftest import wait_until
    from tests.posting.doubles import ScriptedClient

    class SmallInstance(ScriptedClient):
        def max_characters(self) -> int:  # what MastodonClient reads from /api/v2/instance
            self.asked_on = threading.current_thread().name
            return 42

    settings = settings_from_dict({"x": {"enabled": False}, "mastodon": MASTODON})
    client = SmallInstance(destination=Destination.MASTODON)
    events: list[object] = []
    with Outbox(tmp_path / "o.db") as outbox:
        [poster] = make_posters(
            settings, {Destination.MASTODON: client}, outbox, events.append, Clock()
        ).values()
        stop = threading.Event()
        thread = threading.Thread(target=poster.run, args=(stop,), name="poster-mastodon")
        thread.start()
        assert wait_until(lambda: LengthLimit(Destination.MASTODON, 42) in events, 5)
        stop.set()
        thread.join(5)
    assert client.asked_on == "poster-mastodon"  # never the main loop
    core = with_length_limit(CoreSettings(), LengthLimit(Destination.MASTODON, 42))
    assert core.max_lengths == ((Destination.MASTODON, 42),)
