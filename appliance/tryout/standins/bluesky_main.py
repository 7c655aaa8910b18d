"""python -m appliance.tryout.standins.bluesky_main: the Bluesky stand-in as a program."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from appliance.tryout.standins.bluesky_protocol import DEFAULT_PORT, STANDIN_HANDLE
from appliance.tryout.standins.bluesky_server import BlueskyStandin, log

CREDENTIAL_FILE = "bluesky_app_password"  # as the daemon reads it


def main(
    argv: list[str] | None = None,
    started: Callable[[BlueskyStandin], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM (or `stop`, for tests); `started` sees the stand-in."""
    parser = argparse.ArgumentParser(
        prog="python -m appliance.tryout.standins.bluesky_main",
        description="Serve a local stand-in of a Bluesky PDS that accepts your app password.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--handle", default=STANDIN_HANDLE)
    parser.add_argument(
        "--credentials-dir",
        type=Path,
        default=Path("/etc/appliance/credentials"),
        help=f"holds the file {CREDENTIAL_FILE}",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    path = args.credentials_dir / CREDENTIAL_FILE
    try:
        app_password = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        print(f"bluesky_server: {path}: cannot read it ({error.strerror})", file=sys.stderr)
        return 2
    if not app_password:
        print(f"bluesky_server: {path}: the file is empty", file=sys.stderr)
        return 2
    stop_requested = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop_requested.set())
    try:
        with BlueskyStandin(app_password, args.handle, args.host, args.port) as standin:
            log.info("Bluesky stand-in for @%s listening on %s", args.handle, standin.url)
            if started is not None:
                started(standin)
            stop_requested.wait()
            log.info("stopping")
    except OSError as error:
        print(f"bluesky_server: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
