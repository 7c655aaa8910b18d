"""`appliance setup`'s first question: where confirmed sentences go, written to the config file.

It sets `enabled` in [x], [bluesky] and [mastodon] (and Bluesky's handle, Mastodon's
instance) by editing those lines in place: the file's comments and other keys stay.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from appliance.core.destinations import Destination
from appliance.errors import ConfigError
from appliance.service.config import Settings, load_settings

# The non-interactive variables (install.sh --non-interactive passes them on).
DESTINATIONS_VARIABLE = "APPLIANCE_DESTINATIONS"  # e.g. "x,bluesky"; unset: keep, or add
BLUESKY_HANDLE_VARIABLE = "APPLIANCE_BLUESKY_HANDLE"
BLUESKY_SERVICE_URL_VARIABLE = "APPLIANCE_BLUESKY_SERVICE_URL"
MASTODON_URL_VARIABLE = "APPLIANCE_MASTODON_API_BASE_URL"


def parse_destinations(answer: str) -> tuple[Destination, ...]:
    """ "x, bluesky" -> (X, BLUESKY); ValueError naming what is not a destination."""
    names = [word for word in re.split(r"[\s,]+", answer.strip().lower()) if word]
    known = {str(d): d for d in Destination}
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise ValueError(
            f"not a destination: {', '.join(unknown) or '(none)'}; use x, bluesky, mastodon"
        )
    return tuple(d for d in Destination if str(d) in names)


def set_table_values(text: str, table: str, values: Mapping[str, object]) -> str:
    """`text` (TOML) with `key = value` set in [table]: lines replaced, added, or the table
    appended; nothing else changes."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    header = re.compile(rf"^\s*\[{re.escape(table)}\]\s*(#.*)?$")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    rendered = {key: f"{key} = {_toml(value)}\n" for key, value in values.items()}
    if start is None:
        return "".join(lines) + f"\n[{table}]\n" + "".join(rendered.values())
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
        len(lines),
    )
    for key, line in rendered.items():
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        found = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            lines.insert(start + 1, line)
            end += 1
        else:
            lines[found] = line
    return "".join(lines)


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def choose_destinations(
    settings: Settings,
    path: Path,
    *,
    interactive: bool,
    environ: Mapping[str, str] = os.environ,
    ask: Callable[[str], str] = input,
    say: Callable[[str], None] = print,
) -> Settings:
    """Ask (or read from the environment) where posts go; write the changes to `path`.

    Returns the settings now in force; ConfigError (the file restored) if they are wrong."""
    current = settings.destinations
    handle, instance = settings.bluesky.handle, settings.mastodon.api_base_url
    service_url = settings.bluesky.service_url
    if interactive:
        names = ", ".join(str(d) for d in current)
        while True:
            answer = ask(f"Post to (x, bluesky, mastodon; Enter keeps {names}): ").strip()
            try:
                chosen = parse_destinations(answer) if answer else current
                break
            except ValueError as error:
                say(f"  {error}")
        if Destination.BLUESKY in chosen:
            hint = f" (Enter keeps {handle})" if handle else ""
            handle = ask(f"Bluesky handle, e.g. me.bsky.social{hint}: ").strip() or handle
        if Destination.MASTODON in chosen:
            hint = f" (Enter keeps {instance})" if instance else ""
            asked = ask(f"Mastodon instance, e.g. https://mastodon.social{hint}: ").strip()
            instance = asked or instance
    else:
        handle = environ.get(BLUESKY_HANDLE_VARIABLE, "").strip() or handle
        service_url = environ.get(BLUESKY_SERVICE_URL_VARIABLE, "").strip() or service_url
        instance = environ.get(MASTODON_URL_VARIABLE, "").strip() or instance
        if environ.get(DESTINATIONS_VARIABLE, "").strip():
            chosen = parse_destinations(environ[DESTINATIONS_VARIABLE])
        else:  # a destination's variables enable it; nothing is disabled
            added = {Destination.BLUESKY: environ.get(BLUESKY_HANDLE_VARIABLE)}
            added[Destination.MASTODON] = environ.get(MASTODON_URL_VARIABLE)
            chosen = tuple(d for d in Destination if d in current or added.get(d))
    changes: dict[str, dict[str, object]] = {
        str(d): {"enabled": d in chosen} for d in Destination if (d in chosen) != (d in current)
    }
    if (handle, service_url) != (settings.bluesky.handle, settings.bluesky.service_url):
        changes.setdefault("bluesky", {}).update(handle=handle, service_url=service_url)
    if instance != settings.mastodon.api_base_url:
        changes.setdefault("mastodon", {})["api_base_url"] = instance
    if not changes:
        return settings
    return _write_changes(path, changes, say)


def _write_changes(
    path: Path, changes: Mapping[str, Mapping[str, object]], say: Callable[[str], None]
) -> Settings:
    original = path.read_text(encoding="utf-8")
    text = original
    for table, values in changes.items():
        text = set_table_values(text, table, values)
    _replace(path, text)
    try:
        settings = load_settings(path)
    except ConfigError:
        _replace(path, original)  # the file as it was: the daemon keeps working
        raise
    say(f"  wrote {path}: posting to {', '.join(d.label for d in settings.destinations)}")
    return settings


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` atomically, keeping the file's mode."""
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(partial, path.stat().st_mode & 0o7777)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
