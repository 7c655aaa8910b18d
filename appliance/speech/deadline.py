"""A total deadline for one network operation of the speech link, and a prompt stop.

A socket timeout bounds each read, not the operation: a server that drip-feeds its
handshake one byte at a time never trips it. So the operation runs on a helper thread
while the caller waits for it, the deadline, or `stop`; at the deadline (or stop) every
socket the operation opened is shut down, which ends any read or write blocked on it,
and the caller moves on at once. Only a name lookup cannot be cut; its thread is left
to end with the resolver's own timeout (it holds no socket).
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from appliance.errors import ApplianceError

T = TypeVar("T")
# How often the waiting thread looks at `stop`.
POLL_SECONDS = 0.05
_TLS_SCHEMES = ("wss", "https")


class DeadlineExceeded(ApplianceError):
    """The operation did not finish within its total deadline; its sockets were cut."""


class Stopped(ApplianceError):
    """The daemon is stopping; the operation was abandoned and its sockets cut."""


class SocketCutter:
    """The sockets one operation opened; `cut` shuts them all, now and any opened later."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.is_cut = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.is_cut:
                return
        _shut(sock)
        raise DeadlineExceeded("the operation was abandoned")

    def cut(self) -> None:
        with self._lock:
            self.is_cut = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected yet, or already gone
    try:
        sock.close()
    except OSError:
        pass


def run_within(
    work: Callable[[SocketCutter], T],
    *,
    total_seconds: float,
    stop: threading.Event,
    what: str,
    discard: Callable[[T], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """`work(cutter)` within `total_seconds`; raises DeadlineExceeded or Stopped otherwise.

    `discard` closes a result that arrives after the caller gave up on it.
    """
    cutter = SocketCutter()
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def worker() -> None:
        try:
            value = work(cutter)
        except BaseException as error:  # noqa: BLE001 - handed to the caller as it is
            outcome["error"] = error
        else:
            outcome["value"] = value
            if cutter.is_cut:
                discard(value)  # too late: the caller has moved on
        finally:
            done.set()

    threading.Thread(target=worker, name=f"speech-{what}", daemon=True).start()
    deadline = clock() + total_seconds
    while not done.wait(min(POLL_SECONDS, max(0.0, deadline - clock()))):
        if stop.is_set():
            cutter.cut()
            raise Stopped(f"{what}: stopping")
        if clock() >= deadline:
            cutter.cut()
            if done.is_set() and "value" in outcome:
                discard(outcome["value"])
            raise DeadlineExceeded(f"{what} did not finish within {total_seconds:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]  # type: ignore[no-any-return]


def open_socket(url: str, timeout_seconds: float, cutter: SocketCutter) -> socket.socket:
    """A TCP (and, for wss/https, verified TLS) connection to the host of `url`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    is_tls = parts.scheme in _TLS_SCHEMES
    port = parts.port or (443 if is_tls else 80)
    last_error: OSError = OSError(f"{host} has no address")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        cutter.add(sock)
        sock.settimeout(timeout_seconds)
        try:
            sock.connect(address)
        except OSError as error:
            _shut(sock)
            last_error = error
            continue
        if not is_tls:
            return sock
        context = ssl.create_default_context()
        # Handshake after registering: wrapping detaches the plain socket from its fd.
        tls = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        cutter.add(tls)
        tls.do_handshake()
        return tls
    raise last_error
