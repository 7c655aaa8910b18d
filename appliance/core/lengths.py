"""How each destination measures a text, and how long it may be: the one registry of both.

X counts its weighted length (280; CJK and emoji double, links 23), Bluesky counts
graphemes (300), Mastodon counts characters with every link as 23 and `@user@domain`
as `@user`, up to the instance's own limit (500 unless the instance says otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from appliance.core import bluesky_text, mastodon_text
from appliance.core.destinations import Destination
from appliance.x_length import MAX_WEIGHTED_LENGTH, weighted_length


@dataclass(frozen=True)
class LengthRule:
    """One destination's count and limit."""

    measure: Callable[[str], int]
    default_max: int
    unit: str  # for messages: "it is 312 {unit}"


RULES: dict[Destination, LengthRule] = {
    Destination.X: LengthRule(
        weighted_length, MAX_WEIGHTED_LENGTH, "characters the way X counts them"
    ),
    Destination.BLUESKY: LengthRule(
        bluesky_text.grapheme_length,
        bluesky_text.MAX_GRAPHEMES,
        "graphemes",
    ),
    Destination.MASTODON: LengthRule(
        mastodon_text.mastodon_length,
        mastodon_text.DEFAULT_MAX_CHARACTERS,
        "characters the way Mastodon counts them",
    ),
}


def measure(destination: Destination, text: str) -> int:
    return RULES[destination].measure(text)


def max_length(
    destination: Destination, overrides: tuple[tuple[Destination, int], ...] = ()
) -> int:
    """The destination's limit: an override (Mastodon's instance limit), else its default."""
    return dict(overrides).get(destination, RULES[destination].default_max)
