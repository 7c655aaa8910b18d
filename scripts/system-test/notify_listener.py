"""Test helper: a systemd NOTIFY_SOCKET listener; prints each sd_notify message (READY=1, ...)."""

from __future__ import annotations

import os
import signal
import socket
import sys

MAX_MESSAGE_BYTES = 4096


def main(path: str) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if os.path.exists(path):
        os.unlink(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(path)
        os.chmod(path, 0o666)
        print(f"listening on {path}", flush=True)
        while True:
            message = listener.recv(MAX_MESSAGE_BYTES).decode("utf-8", "replace")
            # One line per variable: STATUS= texts never hold a newline, READY=1 is its own line.
            print(message.strip(), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
