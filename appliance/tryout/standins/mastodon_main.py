"""python -m appliance.tryout.standins.mastodon_main: the Mastodon stand-in as a program."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable

from appliance.core.mastodon_text import DEFAULT_MAX_CHARACTERS
from appliance.posting.x_keys import MASTODON_ACCESS_TOKEN
from appliance.tryout.standins.mastodon_server import MastodonStandin
from appliance.tryout.standins.program import run_program

CREDENTIAL_FILE = MASTODON_ACCESS_TOKEN  # as the daemon reads it
DEFAULT_PORT = 8091  # next to the X (8089) and Bluesky (8090) stand-ins


def main(
    argv: list[str] | None = None,
    started: Callable[[MastodonStandin], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM (or `stop`, for tests); `started` sees the stand-in."""
    parser = argparse.ArgumentParser(
        prog="python -m appliance.tryout.standins.mastodon_main",
        description="Serve a local stand-in of a Mastodon server that accepts your token.",
    )
    parser.add_argument(
        "--max-characters",
        type=int,
        default=DEFAULT_MAX_CHARACTERS,
        help="the status length the instance announces (default %(default)s)",
    )
    return run_program(
        parser,
        DEFAULT_PORT,
        [CREDENTIAL_FILE],
        lambda args, secrets: MastodonStandin(
            secrets[0], args.host, args.port, max_characters=args.max_characters
        ),
        argv,
        started,
        stop,
    )


if __name__ == "__main__":
    sys.exit(main())
