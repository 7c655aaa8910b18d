"""What the speech stand-in keeps of each session, and the slow socket of its drip fault."""

from __future__ import annotations

import queue
import socket
import threading
from dataclasses import dataclass

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


@dataclass
class LiveSession:
    """What another thread may ask of a session's thread, and what it last reported."""

    record: SessionRecord
    faults: queue.SimpleQueue[tuple[str, int, str]]


def truncate_reason(reason: str) -> str:
    return reason.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


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
