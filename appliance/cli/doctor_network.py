"""The doctor's network checks: DNS and TLS to the configured hosts, and whether the keys work.

Every request goes only where the configuration points ([assemblyai] url, [x] api_url,
[bluesky] service_url, [mastodon] api_base_url), and only to enabled destinations.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from appliance.cli.checks import Check, Status
from appliance.core.destinations import Destination
from appliance.core.events import LinkCause
from appliance.errors import ConfigError
from appliance.service.config import ASSEMBLYAI_KEY, Settings
from appliance.service.credentials import Credentials
from appliance.speech.token import KeyOutcome, check_key, token_url

__all__ = ["check_keys", "reach_services", "token_url"]

TIMEOUT_SECONDS = 10.0
_SECURE = {"wss": "https", "https": "https", "ws": "http", "http": "http"}
_KEY_FIX = "sudo appliance setup (copy the key again), then sudo systemctl restart appliance"
_CREDITS_FIX = "add credits in the X Developer Console; kept posts then go out by themselves"


def _targets(settings: Settings) -> list[tuple[str, str]]:
    targets = [("AssemblyAI", settings.assemblyai.url)]
    if settings.x.enabled and not settings.x.dry_run:
        targets.append(("X", settings.x.api_url))
    if settings.bluesky.enabled:
        targets.append(("Bluesky", settings.bluesky.service_url))
    if settings.mastodon.enabled:
        targets.append(("Mastodon", settings.mastodon.api_base_url))
    return targets


def reach(service: str, url: str) -> tuple[Check, str, float | None]:
    """DNS, then a TLS (or, for a local stand-in, plain) HEAD /; the Date header if sent."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    is_tls = _SECURE[parts.scheme] == "https"
    port = parts.port or (443 if is_tls else 80)
    name = f"reach {service}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = {str(info[4][0]) for info in infos}
    except OSError as error:
        fix = "check the network connection and /etc/resolv.conf (ping -c1 " + host + ")"
        return Check(name, Status.FAIL, f"cannot resolve {host}: {error}", fix), host, None
    connection: http.client.HTTPConnection
    if is_tls:
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(
            host, port, timeout=TIMEOUT_SECONDS, context=context
        )
    else:
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_SECONDS)
    date_seconds = None
    try:
        connection.request("HEAD", "/")
        response = connection.getresponse()
        date_header = response.getheader("Date")
        if date_header:
            date_seconds = parsedate_to_datetime(date_header).timestamp()
    except ssl.SSLCertVerificationError as error:
        fix = "a wrong clock makes valid certificates look invalid: check `date`; else the network"
        detail = f"TLS to {host}:{port} failed: {error.verify_message}"
        return Check(name, Status.FAIL, detail, fix), host, None
    except (OSError, http.client.HTTPException) as error:
        fix = f"check that {host}:{port} is reachable from here (firewall, proxy)"
        detail = f"{host}:{port} ({', '.join(sorted(addresses))}) unreachable: {error}"
        return Check(name, Status.FAIL, detail, fix), host, None
    finally:
        connection.close()
    how = "TLS certificate valid" if is_tls else f"plain {parts.scheme}://, a local stand-in?"
    return Check(name, Status.OK, f"{host}:{port} resolves and answers ({how})"), host, date_seconds


def reach_services(settings: Settings) -> Iterator[tuple[Check, str, float | None]]:
    for service, url in _targets(settings):
        yield reach(service, url)


def check_assemblyai_key(settings: Settings, key: str) -> Check:
    """The daemon's own start-up check (a temporary token: no billed session)."""
    name = "AssemblyAI key"
    answer = check_key(settings.assemblyai.url, key, total_seconds=TIMEOUT_SECONDS)
    if answer.outcome is KeyOutcome.ACCEPTED:
        return Check(name, Status.OK, answer.detail)
    if answer.outcome is KeyOutcome.NO_ENDPOINT:
        detail = "the stand-in has no token endpoint; the daemon's connection checks the key"
        return Check(name, Status.SKIP, detail)
    if answer.outcome is KeyOutcome.UNREACHABLE:
        return Check(name, Status.FAIL, answer.detail, "check the network")
    if answer.cause is LinkCause.KEY_REFUSED:
        return Check(
            name, Status.FAIL, f"AssemblyAI refused the key ({answer.http_status})", _KEY_FIX
        )
    if answer.cause is LinkCause.NO_BALANCE:
        fix = "add funds on the AssemblyAI billing page; the key itself is fine"
        return Check(name, Status.FAIL, answer.detail, fix)
    return Check(name, Status.FAIL, answer.detail, "check [assemblyai] url, or try again later")


def check_x_keys(settings: Settings, credentials: Credentials) -> Check:
    import requests
    import tweepy

    from appliance.posting.x_client import OUT_OF_CREDITS, XCredentials, make_client

    name = "X keys"
    keys = XCredentials.from_files(credentials.values)
    client = make_client(settings.x.api_url, keys, settings.x.request_timeout_seconds)
    try:
        response = client.get_me(user_auth=True)
    except tweepy.Unauthorized:
        detail = "X refused the keys (401); a wrong clock also causes this"
        return Check(name, Status.FAIL, detail, _KEY_FIX)
    except tweepy.HTTPException as error:
        status = getattr(error.response, "status_code", "?")
        if status == 402:  # pay-per-use: the keys were accepted, the credits are spent
            detail = f"{OUT_OF_CREDITS} (402): the keys work, but X refuses every request"
            return Check(name, Status.FAIL, detail, _CREDITS_FIX)
        return Check(name, Status.FAIL, f"X answered {status} to GET /2/users/me", _KEY_FIX)
    except requests.RequestException as error:
        return Check(
            name, Status.FAIL, f"no answer from {settings.x.api_url}: {type(error).__name__}"
        )
    username = getattr(getattr(response, "data", None), "username", "?")
    return Check(name, Status.OK, f"accepted: posting as @{username}")


def check_account(settings: Settings, credentials: Credentials, destination: Destination) -> Check:
    """Bluesky's or Mastodon's credentials, through its client's read-only check."""
    from appliance.clock import Clock
    from appliance.service.destinations import make_client_for

    name = f"{destination.label} credentials"
    try:
        client = make_client_for(destination, settings, credentials, Clock())
    except ConfigError as error:
        return Check(name, Status.FAIL, str(error), "set it in the configuration, or install it")
    try:
        answer = client.check_account()
    finally:
        client.abort()
    if answer.is_ok:
        return Check(name, Status.OK, answer.detail)
    fix = _KEY_FIX if answer.needs_user else f"check the network and [{destination}]"
    return Check(name, Status.FAIL, answer.detail, fix)


def check_keys(settings: Settings, credentials: Credentials | None) -> list[Check]:
    names = ["AssemblyAI key"] + [_key_check_name(d) for d in settings.destinations]
    if credentials is None:
        return [Check(name, Status.SKIP, "the credentials check failed") for name in names]
    checks = [check_assemblyai_key(settings, credentials[ASSEMBLYAI_KEY])]
    for destination in settings.destinations:
        if destination != Destination.X:
            checks.append(check_account(settings, credentials, destination))
        elif settings.x.dry_run:
            checks.append(Check("X keys", Status.SKIP, "[x] dry_run = true: X keys are not used"))
        else:
            checks.append(check_x_keys(settings, credentials))
    return checks


def _key_check_name(destination: Destination) -> str:
    return "X keys" if destination == Destination.X else f"{destination.label} credentials"
