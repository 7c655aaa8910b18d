"""`appliance outbox [list | retry ID | drop ID]`: the outbox, safe while the daemon runs.

A confirmed text has one row per destination, each with its own number: `retry 12`
and `drop 12` act on that destination's row alone (`list --to bluesky` shows one
destination's rows).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from appliance.cli.exits import EX_CONFIG, EX_FAIL, EX_OK, EX_USAGE
from appliance.core.destinations import Destination
from appliance.errors import ConfigError

if TYPE_CHECKING:
    from appliance.posting.outbox import Entry, Outbox

_TEXT_CHARS = 60


def add_parser(commands: argparse._SubParsersAction, config_help: str) -> None:
    outbox = commands.add_parser(
        "outbox", help="list the posts the device sent or will send; retry or drop one"
    )
    outbox.add_argument(
        "action",
        nargs="?",
        default="list",
        choices=["list", "retry", "drop"],
        help="list (default), retry ID (send a failed or waiting post now), drop ID "
        "(never send it)",
    )
    outbox.add_argument("id", nargs="?", type=int, help="the entry's number, from the list")
    outbox.add_argument("--limit", type=int, default=20, help="list this many (default 20)")
    outbox.add_argument(
        "--to",
        choices=[str(d) for d in Destination],
        help="list only this destination's rows (each row has its own ID)",
    )
    outbox.add_argument("--config", help=config_help)


def run(
    action: str,
    entry_id: int | None,
    limit: int,
    config_arg: str | None,
    environ: Mapping[str, str],
    out: TextIO | None = None,
    destination: str | None = None,
) -> int:
    # Here, not at the top: every command's parser is built from this module.
    import sqlite3

    from appliance.posting.outbox import FILE_NAME, Outbox
    from appliance.service.config import config_path, load_settings

    out = out or sys.stdout

    try:
        settings = load_settings(config_path(config_arg, environ))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return EX_CONFIG
    path = Path(settings.state.dir) / FILE_NAME
    if action != "list" and entry_id is None:
        print(f"usage: appliance outbox {action} ID (the number from `appliance outbox`)", file=out)
        return EX_USAGE
    try:
        if not path.exists():  # raises PermissionError in a directory we may not read
            print(f"No outbox at {path} yet: nothing was ever confirmed.", file=out)
            return EX_OK if action == "list" else EX_FAIL
        with Outbox(path) as outbox:
            if action == "list":
                return _list(outbox, limit, out, Destination(destination) if destination else None)
            assert entry_id is not None
            return _change(outbox, action, entry_id, out)
    except (sqlite3.Error, OSError) as error:
        print(f"Cannot open {path}: {error} (run with sudo?)", file=sys.stderr)
        return EX_FAIL


def _list(outbox: Outbox, limit: int, out: TextIO, destination: Destination | None) -> int:
    entries = outbox.entries(limit, destination)
    if not entries:
        print("The outbox is empty.", file=out)
    for entry in entries:
        print(format_entry(entry), file=out)
    return EX_OK


def format_entry(entry: Entry, now: float | None = None) -> str:
    """One line: id, destination, state, when, text, then the post id or the reason."""
    from appliance.posting.outbox import POSTED, WAITING

    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.updated_at))
    text = entry.text if len(entry.text) <= _TEXT_CHARS else entry.text[: _TEXT_CHARS - 1] + "…"
    state = str(entry.state)
    if entry.state == WAITING:
        left = entry.next_attempt_at - (time.time() if now is None else now)
        state = f"waiting ({max(0, left):.0f} s)"
    detail = entry.post_id if entry.state == POSTED else entry.reason
    if entry.state != POSTED and entry.post_id:
        detail = f"{entry.post_id}: {detail}"
    line = f"{entry.id:>5}  {entry.destination:<8}  {state:<16} {when}  “{text}”  {detail}"
    return line.rstrip()


def _change(outbox: Outbox, action: str, entry_id: int, out: TextIO) -> int:
    from appliance.posting.outbox import POSTED
    from appliance.posting.poster import IDLE_POLL_SECONDS

    entry = outbox.get(entry_id)
    if entry is None:
        print(f"No entry {entry_id} in the outbox.", file=out)
        return EX_FAIL
    if action == "retry":
        if not outbox.retry(entry_id):
            print(
                f"Entry {entry_id} is {entry.state}: only failed, waiting or dropped "
                "entries can be retried.",
                file=out,
            )
            return EX_FAIL
        print(
            f"Entry {entry_id} ({entry.destination.label}) is queued again; the running "
            "daemon sends it within "
            f"{IDLE_POLL_SECONDS:.0f} s.",
            file=out,
        )
        return EX_OK
    if not outbox.drop(entry_id):
        where = entry.destination.label
        hint = f" (say “delete that”, or delete it on {where})" if entry.state == POSTED else ""
        print(
            f"Entry {entry_id} is {entry.state}: only queued, waiting or failed entries "
            f"can be dropped{hint}.",
            file=out,
        )
        return EX_FAIL
    print(
        f"Entry {entry_id} is dropped: it will not be posted to {entry.destination.label}.",
        file=out,
    )
    return EX_OK
