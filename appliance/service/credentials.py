"""The keys: read from systemd's credentials directory (or [credentials] dir), never logged."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from appliance.core.destinations import Destination
from appliance.errors import ConfigError
from appliance.posting.x_keys import DESTINATION_KEYS
from appliance.service.config import Settings
from appliance.speech.settings import ASSEMBLYAI_KEY

# The key names: ASSEMBLYAI_KEY (speech/settings.py) and each destination's
# (DESTINATION_KEYS, posting/x_keys.py).


# The value systemd passes for a destination's key whose file does not exist: the unit's
# SetCredential= default beside its LoadCredential= (systemd.exec(5): with a default set,
# a file that cannot be read is not fatal; an empty default is rejected). Read as missing.
CREDENTIAL_NOT_SET = "appliance-credential-not-set"


@dataclass(frozen=True)
class Credentials:
    """The keys; repr never shows a value."""

    values: Mapping[str, str] = field(repr=False)
    source: str = ""

    def __getitem__(self, name: str) -> str:
        return self.values[name]

    def secrets(self) -> list[str]:
        """Every value, for the log filter that hides them."""
        return [v for v in self.values.values() if v]


def credentials_dir(settings: Settings, environ: Mapping[str, str]) -> Path:
    """systemd's `$CREDENTIALS_DIRECTORY` when set (LoadCredential=), else [credentials] dir."""
    return Path(environ.get("CREDENTIALS_DIRECTORY") or settings.credentials.dir)


def load_credentials(
    settings: Settings, environ: Mapping[str, str] = os.environ, names: tuple[str, ...] = ()
) -> Credentials:
    """Read the named credential files; a missing or empty one is a ConfigError."""
    directory = credentials_dir(settings, environ)
    values = {}
    for name in names:
        path = directory / name
        try:
            value = path.read_text(encoding="utf-8").strip()
            if value == CREDENTIAL_NOT_SET:
                raise FileNotFoundError(path)
        except FileNotFoundError:
            raise ConfigError(
                str(path), name, "a file holding this key (see README, 'Keys'); it does not exist"
            ) from None
        except OSError as error:
            raise ConfigError(str(path), name, f"a readable file: {error.strerror}") from None
        except UnicodeDecodeError as error:
            raise ConfigError(
                str(path), name, f"the key as UTF-8 text; byte {error.start} is not UTF-8"
            ) from None
        if not value:
            raise ConfigError(str(path), name, "the key in this file; the file is empty")
        if not value.isprintable():
            # A newline or NUL inside a key would corrupt the HTTP headers it goes into.
            raise ConfigError(str(path), name, "the key on one line, without control characters")
        values[name] = value
    return Credentials(values, str(directory))


def needed_credentials(settings: Settings) -> tuple[str, ...]:
    """The keys this configuration needs: each enabled destination's (X's not in dry-run mode)."""
    names = [ASSEMBLYAI_KEY]
    for destination in settings.destinations:
        if destination != Destination.X or not settings.x.dry_run:
            names += DESTINATION_KEYS[destination]
    return tuple(names)
