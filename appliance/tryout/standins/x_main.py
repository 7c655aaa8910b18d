"""`appliance standin x` (or python -m of this module): the X stand-in as a program."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from appliance.errors import ConfigError
from appliance.posting.x_keys import X_KEYS
from appliance.tryout.standins.x_protocol import DEFAULT_PORT
from appliance.tryout.standins.x_server import XStandin, log


def _read_credentials(directory: Path) -> list[str]:
    values = []
    for name in X_KEYS:
        path = directory / name
        try:
            value = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(str(path), name, f"a readable file ({error.strerror})") from None
        if not value:
            raise ConfigError(str(path), name, "the key in this file; the file is empty")
        values.append(value)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.tryout.standins.x_main",
        description="Serve a local stand-in of X's API that accepts posts signed with your keys.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--credentials-dir",
        type=Path,
        default=Path("/etc/appliance/credentials"),
        help="holds the files " + ", ".join(X_KEYS),
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    try:
        key, secret, token, token_secret = _read_credentials(args.credentials_dir)
    except ConfigError as error:
        print(f"x_server: {error}", file=sys.stderr)
        return 2
    stop_requested = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop_requested.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        standin = XStandin(key, secret, token, token_secret, args.host, args.port)
        with standin:
            log.info("X stand-in listening on %s", standin.url)
            stop_requested.wait()
            log.info("stopping")
    except OSError as error:
        print(f"x_server: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
