"""The speech stand-in's session records and its socket-level moves: close, stall, drip."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from appliance.tryout.standins.speech_session import MAX_CLOSE_REASON_BYTES


@dataclass(frozen=True)
class SessionRecord:
    """One websocket session as the stand-in saw it; billed time is closed_at - opened_at."""

    id: str
    opened_at: float
    """Unix seconds when the upgrade completed."""
    closed_at: float | None
    """Unix seconds when the connection ended; None while it is open."""
    audio_seconds: float
    """Audio accepted, in seconds at 16 kHz."""
    close_code: int | None
    """The code of the close that ended it (ours or the client's); 1006 if cut; None if open."""
    close_reason: str
    turns_sent: int
    """Turns finished (end_of_turn sent), not Turn messages."""
    query: str = ""
    """The connection's query string, as the client sent it."""
    is_stalled: bool = False
    """It reads and answers nothing more (the stall fault has taken hold)."""


@dataclass
class LiveSession:
    """What another thread may ask of a session's thread, and what it last reported."""

    record: SessionRecord
    faults: queue.SimpleQueue[tuple[str, int, str]]


def truncate_reason(reason: str) -> str:
    return reason.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


def send_then_close(
    ws: ServerConnection, messages: Sequence[dict[str, object]], code: int, reason: str
) -> None:
    """Send the messages and the close in one write.

    A guess about the real service: AssemblyAI's docs give the close codes (3008 on
    session expiry) but not how its last frames are timed; sent back to back, they
    reach a client together, which is what this imitates.

    A client may close as soon as it reads the Error (the official SDK closes 1000 on
    it): sent one frame at a time, a slow moment between them let that close cross ours,
    and a session the stand-in expired ended as the client's 1000, not 3008. Raises
    ConnectionClosed if the client's close came first.
    """
    try:
        # send_context holds the connection's lock, so its reader cannot take in (and
        # answer) the client's close between these frames; it writes them on exit and
        # then waits for the closing handshake, as ws.close() does.
        with ws.send_context():
            for message in messages:
                ws.protocol.send_text(json.dumps(message).encode())
            ws.protocol.send_close(code, reason)
    except ConnectionClosed:
        sent = ws.protocol.close_sent
        if sent is None or sent.code != code:
            raise
        # Ours went out; only the handshake after it failed, which ws.close() ignores too.


def stop_reading(ws: ServerConnection) -> None:
    """Read nothing more, so no pong goes out: the stall fault's half-open connection."""

    def swallow(data: bytes | bytearray) -> None:
        pass  # unread, unanswered: as if the peer had vanished

    # websockets answers pings in its reader thread: its input goes nowhere now,
    # (without blocking that thread, which holds the connection's lock meanwhile).
    ws.protocol.receive_data = swallow  # type: ignore[method-assign]


class DripSocket:
    """A socket whose sendall() writes one byte at a time, slowly: a drip-fed answer."""

    def __init__(self, sock: socket.socket, seconds_per_byte: float, stop: threading.Event):
        self._sock = sock
        self._seconds_per_byte = seconds_per_byte
        self._stop = stop

    def sendall(self, data: bytes) -> None:
        for index in range(len(data)):
            if self._stop.wait(self._seconds_per_byte):
                raise OSError("stand-in stopping")
            self._sock.sendall(data[index : index + 1])

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)
