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
