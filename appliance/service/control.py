"""The control socket: one JSON line in, one JSON line out, over a UNIX stream socket."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance import loops
from appliance.errors import ApplianceError

log = logging.getLogger(__name__)

COMMANDS = ("status", "confirm", "cancel", "mute", "unmute")
# A request is a short JSON line; anything longer is a mistake or an attack.
MAX_REQUEST_BYTES = 1024
# Slow clients each hold a thread until their timeout: few are enough for one person.
MAX_CLIENTS = 4
SOCKET_MODE = 0o660  # the service user and the group (e.g. "appliance") may talk to it
# After accept() fails unexpectedly (out of file descriptors...), try again this much later.
ACCEPT_RETRY_SECONDS = 1.0
JOIN_TIMEOUT_SECONDS = 2.0

Handler = Callable[[str], dict[str, Any]]


class ControlError(ApplianceError):
    """The control socket could not be opened, or the daemon could not be reached."""


@dataclass
class ControlCall:
    """A command on its way to the daemon's main loop, and the reply it fills in."""

    command: str
    done: threading.Event = field(default_factory=threading.Event)
    reply: dict[str, Any] = field(default_factory=dict)


class ControlServer:
    """Answers commands on a UNIX socket; `handle(command)` returns the reply's fields."""

    def __init__(
        self,
        path: Path,
        handle: Handler,
        *,
        request_timeout_seconds: float = 2.0,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
        on_stopped: Callable[[], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self._clock = clock  # monotonic seconds: a request's deadline
        self._on_stopped = on_stopped  # told when the accepting thread ends, for whatever reason
        self._handle = handle
        self._timeout_seconds = request_timeout_seconds
        self._max_bytes = max_request_bytes
        self._slots = threading.BoundedSemaphore(max_clients)
        self._stopping = threading.Event()
        self._wakeup = loops.Wakeup()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind (replacing a stale socket file), set mode 0660 and start serving."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.path)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.bind(str(self.path))
            # Before listen(): nobody can connect while the mode is still the umask's.
            os.chmod(self.path, SOCKET_MODE)
            server.listen(MAX_CLIENTS)
        except OSError as error:
            server.close()
            raise ControlError(f"cannot open the control socket {self.path}: {error}") from error
        self._socket = server
        self._thread = threading.Thread(target=self._accept, name="control", daemon=True)
        self._thread.start()

    def is_serving(self) -> bool:
        """True while the accepting thread runs (the daemon restarts a server that died)."""
        return self._thread is not None and self._thread.is_alive()

    def close(self) -> None:
        self._stopping.set()
        self._wakeup.wake()
        if self._socket is not None and self.is_serving():
            # Ends the accept() it blocks in (Linux: EINVAL), so it sees the stop at once.
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT_SECONDS)
        if self._socket is not None:
            self._socket.close()
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _accept(self) -> None:
        try:
            loops.run_loop(
                self._stopping, self._accept_one, self._wakeup, "control", watch_stop=False
            )
        finally:
            if self._on_stopped is not None:
                self._on_stopped()

    def _accept_one(self) -> float:
        """Block until a client connects and hand it to a thread of its own; return the
        seconds until the next accept()."""
        assert self._socket is not None
        try:
            conn, _ = self._socket.accept()
        except OSError:
            if self._stopping.is_set():
                return 0.0
            log.exception("The control socket failed to accept; retrying")
            return ACCEPT_RETRY_SECONDS
        if not self._slots.acquire(blocking=False):
            with conn:
                _send(conn, _error("busy: too many clients at once; try again"))
            return 0.0
        threading.Thread(
            target=self._serve, args=(conn,), name="control-client", daemon=True
        ).start()
        return 0.0

    def _serve(self, conn: socket.socket) -> None:
        try:
            with conn:
                deadline = self._clock() + self._timeout_seconds
                line, problem = self._read_line(conn, deadline)
                reply = _error(problem) if problem else self._answer(line)
                conn.settimeout(self._timeout_seconds)
                _send(conn, reply)
        except OSError:
            pass  # the client went away; nothing to tell it
        finally:
            self._slots.release()

    def _read_line(self, conn: socket.socket, deadline: float) -> tuple[bytes, str]:
        """The request line, or "" and why there is none."""
        buffer = b""
        while b"\n" not in buffer:
            left = deadline - self._clock()
            if left <= 0:
                return b"", f"timed out: send one JSON line within {self._timeout_seconds:g} s"
            conn.settimeout(left)
            try:
                data = conn.recv(self._max_bytes + 1 - len(buffer))
            except TimeoutError:
                continue
            if not data:
                break  # the client closed its side; a final line without "\n" is fine
            buffer += data
            if len(buffer) > self._max_bytes:
                return b"", f"request too long: at most {self._max_bytes} bytes"
        return buffer.split(b"\n", 1)[0], ""

    def _answer(self, line: bytes) -> dict[str, Any]:
        command, problem = parse_request(line)
        if problem:
            return _error(problem)
        try:
            return self._handle(command)
        except Exception as error:  # a bug here must not kill the socket thread
            log.exception("The control command %r failed", command)
            return _error(f"{command} failed: {error}")


def parse_request(line: bytes) -> tuple[str, str]:
    """The command a request line names, or "" and what is wrong with it (any bytes)."""
    try:
        request = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        # RecursionError: 1 KiB of "[" nests deeper than json's C parser allows.
        return "", 'not JSON: send {"command": "status"} and a newline'
    if not isinstance(request, dict) or set(request) != {"command"}:
        return "", 'expected an object with one key, "command"'
    command = request["command"]
    if not isinstance(command, str) or command not in COMMANDS:
        shown = repr(command) if len(repr(command)) <= 40 else repr(command)[:37] + "..."
        return "", f"unknown command {shown}; expected one of {', '.join(COMMANDS)}"
    return command, ""


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def _send(conn: socket.socket, reply: dict[str, Any]) -> None:
    conn.sendall(json.dumps(reply, ensure_ascii=False).encode() + b"\n")


def _remove_stale(path: Path) -> None:
    """Remove a socket file left by a daemon that died; refuse if one still answers."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise ControlError(f"{path} exists and is not a socket; not replacing it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.5)
        probe.connect(str(path))
    except OSError:
        path.unlink()  # nobody listens: stale
        return
    finally:
        probe.close()
    raise ControlError(f"another daemon is already serving {path}")


def request(path: Path, command: str, timeout_seconds: float = 10.0) -> dict[str, Any]:
    """Send one command to the daemon and return its reply; ControlError if unreachable."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with client:
        client.settimeout(timeout_seconds)
        try:
            client.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise ControlError(
                f"the daemon is not running (nothing answers at {path}); "
                "start it with `systemctl start appliance`"
            ) from None
        except PermissionError:
            raise ControlError(
                f"permission denied on {path}: run as root or as a member of the socket's group"
            ) from None
        except OSError as error:
            raise ControlError(f"cannot reach the daemon at {path}: {error}") from None
        try:
            client.sendall(json.dumps({"command": command}).encode() + b"\n")
            reply = b""
            while not reply.endswith(b"\n"):
                data = client.recv(65536)
                if not data:
                    break
                reply += data
        except OSError as error:
            raise ControlError(f"the daemon did not answer ({error})") from None
    try:
        answer = json.loads(reply)
    except ValueError:
        raise ControlError(f"the daemon sent something that is not JSON: {reply[:80]!r}") from None
    if not isinstance(answer, dict):
        raise ControlError(f"the daemon sent an unexpected reply: {answer!r}")
    return answer


def run_command(command: str, socket_path: Path, *, as_json: bool = False) -> int:
    """`appliance status|confirm|cancel|mute|unmute`: print the reply; 0 if it was ok."""
    try:
        reply = request(socket_path, command)
    except ControlError as error:
        print(f"appliance {command}: {error}", file=sys.stderr)
        return 1
    is_ok = bool(reply.get("ok"))
    if as_json:
        print(json.dumps(reply, ensure_ascii=False, indent=2))
    elif not is_ok:
        print(f"appliance {command}: {reply.get('error') or reply.get('message')}", file=sys.stderr)
    elif command == "status":
        print(format_status(reply), end="")
    else:
        print(reply.get("message") or reply.get("status", "done"))
    return 0 if is_ok else 1


def format_status(reply: dict[str, Any]) -> str:
    """`appliance status` as text, one fact a line."""
    candidate = reply.get("candidate")
    link = reply.get("link") or {}
    microphone = reply.get("microphone") or {}
    outbox = reply.get("outbox") or {}
    mic_ok = microphone.get("is_ok")
    mic = {True: "ok", False: f"missing: {microphone.get('detail', '')}", None: "not open yet"}
    lines = [
        f"Status:     {reply.get('status', '')}",
        f"LED:        {reply.get('led', '')}",
        f"Muted:      {'yes' if reply.get('is_muted') else 'no'}",
        "Candidate:  "
        + (
            f"“{candidate['text']}” ({candidate['seconds_left']:.0f} s left)"
            if candidate
            else "none"
        ),
        f"Speech:     {link.get('state', '')}"
        + (f" ({link['detail']})" if link.get("detail") else ""),
        f"Microphone: {mic.get(mic_ok, str(mic_ok))}",
        "Outbox:     "
        + (", ".join(f"{count} {name}" for name, count in outbox.items()) or "empty"),
    ]
    for status in reply.get("destinations") or []:  # each one's problem, none hiding another
        trouble = status.get("needs_user") or status.get("problem")
        if trouble:
            lines.append(f"{str(status.get('destination', '')).capitalize() + ':':<12}{trouble}")
    if reply.get("last_post_id"):
        lines.append(f"Last post:  {reply['last_post_id']}")
    return "\n".join(lines) + "\n"
