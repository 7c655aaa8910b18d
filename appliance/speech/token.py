"""Check an AssemblyAI key without opening a billed session: ask for a temporary token.

`GET /v3/token?expires_in_seconds=60` on the streaming host, with the key in the
Authorization header (AssemblyAI's temporary-token docs; the official SDK's
`create_temporary_token`). A token is free; a session, even an empty one, is billed and
counts against the new-sessions-per-minute limit. `appliance doctor` and the daemon's
start-up check both use this, under one total deadline.
"""

from __future__ import annotations

import enum
import http.client
import json
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from appliance.core.events import LinkCause
from appliance.speech.deadline import (
    DeadlineExceeded,
    SocketCutter,
    Stopped,
    open_socket,
    run_within,
)
from appliance.speech.reconnect import classify

MAX_BODY_BYTES = 64 * 1024
_HTTP_SCHEMES = {"wss": "https", "https": "https", "ws": "http", "http": "http"}


def token_url(streaming_url: str, expires_in_seconds: int = 60) -> str:
    """Where AssemblyAI issues temporary tokens, on the host of the streaming URL."""
    parts = urlsplit(streaming_url)
    scheme = _HTTP_SCHEMES[parts.scheme]
    return f"{scheme}://{parts.netloc}/v3/token?expires_in_seconds={expires_in_seconds}"


class KeyOutcome(enum.StrEnum):
    """What a token request showed about the key."""

    ACCEPTED = "accepted"  # a token was issued
    REFUSED = "refused"  # with a cause: the key, the balance, or the server
    NO_ENDPOINT = "no_endpoint"  # a local stand-in without the token endpoint
    UNREACHABLE = "unreachable"  # no answer in time


@dataclass(frozen=True)
class KeyCheck:
    """What the token request showed: accepted, refused (with a cause), or no answer."""

    outcome: KeyOutcome
    detail: str
    cause: LinkCause | None = None  # why not accepted (for the reconnect policy)
    http_status: int | None = None


def check_key(
    streaming_url: str,
    key: str,
    *,
    total_seconds: float,
    stop: threading.Event | None = None,
) -> KeyCheck:
    """Ask for a 60-second token; never raises for what the network or server does."""
    url = token_url(streaming_url)
    try:
        status, body = run_within(
            lambda cutter: _get(url, key, total_seconds, cutter),
            total_seconds=total_seconds,
            stop=stop or threading.Event(),
            what="token request",
        )
    except Stopped:
        return KeyCheck(KeyOutcome.UNREACHABLE, "stopping", LinkCause.DROPPED)
    except (OSError, http.client.HTTPException, DeadlineExceeded) as error:
        detail = f"no answer from {url}: {error or type(error).__name__}"
        return KeyCheck(KeyOutcome.UNREACHABLE, detail, LinkCause.DROPPED)
    message = _error_text(body)
    if status == 200:
        if message is None and _has_token(body):
            return KeyCheck(KeyOutcome.ACCEPTED, "accepted (a temporary token was issued)")
        return KeyCheck(KeyOutcome.REFUSED, f"{url} sent no token", LinkCause.SERVER_ERROR, status)
    if status == 404 and url.startswith("http://"):
        # A local stand-in without the endpoint: a session will check the key instead.
        return KeyCheck(KeyOutcome.NO_ENDPOINT, "the stand-in has no token endpoint", None, status)
    cause = classify(None, message or "", http_status=status)
    if not isinstance(cause, LinkCause):
        cause = LinkCause.SERVER_ERROR
    detail = f"AssemblyAI answered {status} to the token request: {message or 'no reason given'}"
    return KeyCheck(KeyOutcome.REFUSED, detail, cause, status)


def _get(url: str, key: str, timeout_seconds: float, cutter: SocketCutter) -> tuple[int, bytes]:
    parts = urlsplit(url)
    sock = open_socket(url, timeout_seconds, cutter)
    with sock:
        request = (
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Authorization: {key}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode("latin-1"))
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, response.read(MAX_BODY_BYTES)


def _has_token(body: bytes) -> bool:
    try:
        answer = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return False
    return (
        isinstance(answer, dict) and isinstance(answer.get("token"), str) and bool(answer["token"])
    )


def _error_text(body: bytes) -> str | None:
    """The `error` (or `detail`) the service put in its JSON answer, if any."""
    try:
        answer = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return body[:200].decode("utf-8", "replace").strip() or None
    if isinstance(answer, dict):
        for field in ("error", "detail"):
            if isinstance(answer.get(field), str):
                return str(answer[field])[:200]
    return None
