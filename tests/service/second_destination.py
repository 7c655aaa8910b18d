"""The daemon with Bluesky played by a second X stand-in (the real XPoster, relabelled).

Until the Bluesky client is merged, this is how the per-destination machinery runs
end to end: in-process (`clients_with_bluesky_as_x`) or as `appliance run` in a
subprocess (`python -m tests.service.second_destination CONFIG URL`), for kill -9.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping

from appliance.core.destinations import Destination
from appliance.posting.x_client import XCredentials, XPoster, make_client
from appliance.posting.x_keys import X_KEYS
from appliance.service import daemon as daemon_module
from appliance.service import destinations
from appliance.tryout.standins.x_server import XStandin
from tests.posting.doubles import Relabelled

BLUESKY_SECTION = {"enabled": True, "handle": "tester.bsky.social"}


def second_x_standin(keys: Mapping[str, str]) -> XStandin:
    """A started X stand-in taking the sandbox's X keys: Bluesky's stand-in for now."""
    standin = XStandin(**{name.removeprefix("x_"): keys[name] for name in X_KEYS})
    standin.start()
    return standin


def clients_with_bluesky_as_x(second_x_url: str) -> Callable[..., dict]:
    """make_clients, but Bluesky's client is an XPoster against `second_x_url`."""

    def make_clients(settings, credentials, clock):  # type: ignore[no-untyped-def]
        clients = {}
        for destination in settings.destinations:
            if destination == Destination.BLUESKY:
                keys = XCredentials.from_files(credentials.values)
                client = make_client(second_x_url, keys, settings.bluesky.request_timeout_seconds)
                clients[destination] = Relabelled(XPoster(client, clock.wall), destination)
            else:
                clients[destination] = destinations._x_client(settings, credentials, clock)  # noqa: SLF001
        return clients

    return make_clients


if __name__ == "__main__":
    config, url = sys.argv[1], sys.argv[2]
    daemon_module.make_clients = clients_with_bluesky_as_x(url)  # type: ignore[assignment]
    from appliance.cli.main import main

    sys.exit(main(["run", "--config", config]))
