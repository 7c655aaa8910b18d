"""Where a confirmed sentence can be posted: X, Bluesky and Mastodon, each on its own."""

from __future__ import annotations

import enum


class Destination(enum.StrEnum):
    """One place to post; the value is the config section's and the outbox's name for it."""

    X = "x"
    BLUESKY = "bluesky"
    MASTODON = "mastodon"

    @property
    def label(self) -> str:
        """The name people know it by, for logs, status lines and the CLI."""
        return _LABELS[self]


_LABELS = {Destination.X: "X", Destination.BLUESKY: "Bluesky", Destination.MASTODON: "Mastodon"}


class OverLength(enum.StrEnum):
    """What to do with a text over a destination's limit: the `over_length` setting's
    values. It lives here, not beside the text rules, so that reading the settings (as
    `appliance status` does) loads none of them."""

    SHORTEN = "shorten"
    REFUSE = "refuse"
