"""`appliance standin x` (or python -m of this module): the X stand-in as a program."""

from __future__ import annotations

import argparse
import sys

from appliance.posting.x_keys import X_KEYS
from appliance.tryout.standins.program import run_program
from appliance.tryout.standins.x_protocol import DEFAULT_PORT
from appliance.tryout.standins.x_server import XStandin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.tryout.standins.x_main",
        description="Serve a local stand-in of X's API that accepts posts signed with your keys.",
    )
    return run_program(
        parser,
        DEFAULT_PORT,
        X_KEYS,
        lambda args, keys: XStandin(keys[0], keys[1], keys[2], keys[3], args.host, args.port),
        argv,
    )


if __name__ == "__main__":
    sys.exit(main())
