"""The project's exception base and the configuration error."""

from __future__ import annotations


class ApplianceError(Exception):
    """Base of every error the appliance raises on purpose."""


class ConfigError(ApplianceError):
    """A configuration problem: names the file, the key and what was expected."""

    def __init__(self, path: str, key: str, expected: str) -> None:
        self.path = path
        self.key = key
        self.expected = expected
        super().__init__(f"{path}: {key}: {expected}")


class StorageError(ApplianceError):
    """The outbox cannot be written (disk full, read-only, immutable): space or a fix helps.

    Not a configuration error: the daemon exits with EX_TEMPFAIL so systemd restarts it,
    and it works again once the disk has room.
    """


class DaemonFailed(ApplianceError):
    """The main loop failed; the daemon stopped in order so that systemd restarts it."""
