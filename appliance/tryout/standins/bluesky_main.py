"""python -m appliance.tryout.standins.bluesky_main: the Bluesky stand-in as a program."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable

from appliance.posting.x_keys import BLUESKY_APP_PASSWORD
from appliance.tryout.standins.bluesky_protocol import DEFAULT_PORT, STANDIN_HANDLE
from appliance.tryout.standins.bluesky_server import BlueskyStandin
from appliance.tryout.standins.program import run_program

CREDENTIAL_FILE = BLUESKY_APP_PASSWORD  # as the daemon reads it


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
    parser.add_argument("--handle", default=STANDIN_HANDLE)
    return run_program(
        parser,
        DEFAULT_PORT,
        [CREDENTIAL_FILE],
        lambda args, secrets: BlueskyStandin(secrets[0], args.handle, args.host, args.port),
        argv,
        started,
        stop,
    )


if __name__ == "__main__":
    sys.exit(main())
