"""`appliance setup`: asks for the keys without echo and writes one root-only file per key."""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.posting.x_keys import BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN
from appliance.service.config import ASSEMBLYAI_KEY, X_KEYS

_LABELS = (
    "AssemblyAI API key",
    "X API key (consumer key)",
    "X API key secret (consumer secret)",
    "X access token",
    "X access token secret",
    "Bluesky app password (bsky.app: Settings > Privacy and security > App passwords)",
    "Mastodon access token (your instance: Preferences > Development > New application)",
)
_NAMES = (ASSEMBLYAI_KEY, *X_KEYS, BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN)
PROMPTS = dict(zip(_NAMES, _LABELS, strict=True))
FILE_MODE = 0o600  # root alone reads a key; systemd hands it to the service (LoadCredential=)
DIR_MODE = 0o700


@dataclass(frozen=True)
class SetupResult:
    """What setup did, by credential name; never holds a value."""

    written: tuple[str, ...]
    kept: tuple[str, ...]
    missing: tuple[str, ...]


def env_name(name: str) -> str:
    """The environment variable a non-interactive setup reads, e.g. APPLIANCE_X_ACCESS_TOKEN."""
    return "APPLIANCE_" + name.upper()


def write_key(directory: Path, name: str, value: str) -> None:
    """Write one key atomically, mode 0600 from the moment the file exists."""
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    directory.chmod(DIR_MODE)
    partial = directory / f".{name}.partial"
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(value + "\n")
        file.flush()
        os.fsync(file.fileno())
    partial.replace(directory / name)


def has_key(directory: Path, name: str) -> bool:
    try:
        return bool((directory / name).read_text(encoding="utf-8").strip())
    except OSError:
        return False


def setup_keys(
    directory: Path,
    names: tuple[str, ...],
    *,
    interactive: bool,
    environ: Mapping[str, str] = os.environ,
    from_dir: Path | None = None,
    ask: Callable[[str], str] = getpass.getpass,
    say: Callable[[str], None] = print,
) -> SetupResult:
    """Ask for (or read) each key; Enter, or no value, keeps the key already there."""
    written, kept, missing = [], [], []
    for name in names:
        present = has_key(directory, name)
        if interactive:
            hint = " (Enter keeps the current one)" if present else ""
            value = ask(f"{PROMPTS.get(name, name)}{hint}: ").strip()
        else:
            value = environ.get(env_name(name), "").strip()
            if not value and from_dir is not None and (from_dir / name).is_file():
                value = (from_dir / name).read_text(encoding="utf-8").strip()
        if value:
            write_key(directory, name, value)
            written.append(name)
        elif present:
            kept.append(name)
        else:
            missing.append(name)
    for name in written:
        say(f"  wrote {directory / name} (mode 0600)")
    for name in kept:
        say(f"  kept {directory / name}")
    for name in missing:
        say(f"  MISSING {directory / name}: run `sudo appliance setup` to enter it")
    return SetupResult(tuple(written), tuple(kept), tuple(missing))


def all_key_names(dry_run: bool) -> tuple[str, ...]:
    """Every key the configuration needs (X's are not needed in dry-run mode)."""
    return (ASSEMBLYAI_KEY,) + (() if dry_run else X_KEYS)


def run_setup(
    config_arg: str | None,
    environ: Mapping[str, str],
    is_non_interactive: bool,
    from_dir: str | None,
) -> int:
    """The `appliance setup` command: 0 when every needed key is in place, 1 otherwise."""
    from appliance.cli.exits import EX_CONFIG, EX_FAIL, EX_OK
    from appliance.cli.setup_destinations import choose_destinations
    from appliance.errors import ConfigError
    from appliance.service.config import config_path, load_settings
    from appliance.service.credentials import needed_credentials

    path = config_path(config_arg, environ)
    try:
        settings = load_settings(path)
    except ConfigError as error:
        print(f"Configuration error: {error}")
        return EX_CONFIG
    try:
        settings = choose_destinations(
            settings, path, interactive=not is_non_interactive, environ=environ
        )
        directory = Path(settings.credentials.dir)
        print(
            f"Keys go to {directory} (readable by root alone; systemd passes them to the service)."
        )
        result = setup_keys(
            directory,
            needed_credentials(settings),
            interactive=not is_non_interactive,
            environ=environ,
            from_dir=Path(from_dir) if from_dir else None,
        )
    except (ConfigError, ValueError) as error:
        print(f"Not changed: {error}")
        return EX_CONFIG
    except PermissionError as error:
        print(f"Cannot write {error.filename}: run it as root (sudo appliance setup).")
        return EX_FAIL
    except (EOFError, KeyboardInterrupt):
        print("\nStopped; what was entered before this question was written.")
        return EX_FAIL
    return EX_FAIL if result.missing else EX_OK
