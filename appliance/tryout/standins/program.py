"""What the HTTP stand-ins' programs (*_main) share: options, credential files, serving."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from appliance.errors import ConfigError
from appliance.tryout.standins.http_standin import LoopbackStandin

log = logging.getLogger(__name__)
S = TypeVar("S", bound=LoopbackStandin[Any])
# Builds the stand-in from the parsed options and the credentials, in the order named.
Make = Callable[[argparse.Namespace, list[str]], S]


def read_credential(directory: Path, name: str) -> str:
    """The credential file `name` in `directory`, stripped; ConfigError naming the file."""
    path = directory / name
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(str(path), name, f"a readable file ({error.strerror})") from None
    if not value:
        raise ConfigError(str(path), name, "the credential in this file; the file is empty")
    return value


def run_program(
    parser: argparse.ArgumentParser,
    default_port: int,
    credential_names: Sequence[str],
    make: Make[S],
    argv: list[str] | None = None,
    started: Callable[[S], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Parse `argv` (adding --host, --port, --credentials-dir to `parser`), read the
    credentials, and serve until SIGINT or SIGTERM (or `stop`, for tests).

    0 once stopped, 2 for a missing or empty credential file, 1 if it cannot listen;
    `started` sees the stand-in once it listens.
    """
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port, help="0 picks a free port")
    parser.add_argument(
        "--credentials-dir",
        type=Path,
        default=Path("/etc/appliance/credentials"),
        help="holds the files " + ", ".join(credential_names),
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        credentials = [read_credential(args.credentials_dir, name) for name in credential_names]
    except ConfigError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    stop_requested = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals reach it only
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop_requested.set())
    try:
        with make(args, credentials) as standin:
            log.info("%s listening on %s", standin.label, standin.url)
            if started is not None:
                started(standin)
            stop_requested.wait()
            log.info("stopping")
    except OSError as error:
        print(f"{parser.prog}: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0
