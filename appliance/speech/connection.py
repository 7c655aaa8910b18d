"""Opening one speech session under one total deadline: TCP, TLS, handshake, then Begin
(or the Error message that came instead); and closing it again."""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket

from appliance.speech.deadline import (
    DeadlineExceeded,
    SocketCutter,
    Stopped,
    open_socket,
    run_within,
)
from appliance.speech.frames import bound_frames
from appliance.speech.protocol import MAX_MESSAGE_BYTES
from appliance.speech.receiver import SessionReceiver
from appliance.speech.settings import RECEIVE_TIMEOUT_SECONDS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotOpened:
    """Why no session came of an attempt."""

    close_code: int | None
    reason: str  # the service's Error message, else the close reason, else what we saw
    http_status: int | None = None  # the handshake was answered with this instead


def open_session(
    url: str,
    *,
    api_key: str,
    connect: Callable[..., Any],
    timeout_seconds: float,
    stop: threading.Event,
    receiver: Callable[[Any], SessionReceiver],
    on_upgraded: Callable[[], None],
) -> tuple[Any, SessionReceiver] | NotOpened:
    """A websocket with its receiver after Begin, or why not. Never takes longer than
    `timeout_seconds` in all (a server that drip-feeds never trips a per-read timeout),
    and returns at once when `stop` is set."""
    host = urllib.parse.urlsplit(url).netloc

    def attempt(cutter: SocketCutter) -> tuple[Any, SessionReceiver]:
        sock = open_socket(url, timeout_seconds, cutter)
        ws = connect(
            url, header=[f"Authorization: {api_key}"], timeout=timeout_seconds, socket=sock
        )
        on_upgraded()  # a new session to the service, refused or not
        bound_frames(ws, MAX_MESSAGE_BYTES)
        ws.settimeout(RECEIVE_TIMEOUT_SECONDS)
        session = receiver(ws)
        # Begin, or an Error message (a refused key...) and the close that follows it.
        while not session.ended.is_set() and not session.session_id and session.error is None:
            session.receive_one()
        return ws, session

    try:
        ws, session = run_within(
            attempt,
            total_seconds=timeout_seconds,
            stop=stop,
            what="connection",
            discard=lambda opened: close_quietly(opened[0]),
        )
    except Stopped:
        return NotOpened(None, "stopping")
    except DeadlineExceeded:
        return NotOpened(None, f"{host} did not open a session within {timeout_seconds:.0f} s")
    except websocket.WebSocketBadStatusException as error:
        return NotOpened(None, f"the server answered HTTP {error.status_code}", error.status_code)
    except (OSError, websocket.WebSocketException) as error:
        return NotOpened(None, f"cannot connect to {host}: {error}")
    if not session.session_id:  # an Error before Begin: a refused key, no balance...
        close_quietly(ws, polite=False)
        return NotOpened(
            session.ending_code, session.ending_message or "the server closed before Begin"
        )
    return ws, session


def close_quietly(ws: Any, *, polite: bool = True) -> None:
    """Close with a close handshake (bounded), or just cut when the server already closed.

    (A second handshake after the server's close only makes websocket-client log an
    ERROR "close status: 1008" into the journal.)
    """
    try:
        if polite:
            ws.close(timeout=1)
        else:
            ws.shutdown()
    except Exception:  # noqa: BLE001 - the socket may already be gone
        pass


def terminate(ws: Any, session: SessionReceiver, timeout_seconds: float) -> None:
    """Ask the server to finish (so the last words arrive and billing stops), bounded."""
    try:
        ws.send(json.dumps({"type": "Terminate"}))
    except (OSError, websocket.WebSocketException):
        return
    if not session.ended.wait(timeout_seconds):
        log.warning("No Termination from the speech service within %.0f s", timeout_seconds)
