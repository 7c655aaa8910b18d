"""How each destination measures a text, and how long it may be: the one registry of both.

X counts its weighted length (280; CJK and emoji double, links 23), Bluesky counts
graphemes (300), Mastodon counts characters with every link as 23 and `@user@domain`
as `@user`, up to the instance's own limit (500 unless the instance says otherwise).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from appliance.core.destinations import Destination
from appliance.x_length import MAX_WEIGHTED_LENGTH, weighted_length


@dataclass(frozen=True)
class LengthRule:
    """One destination's count and limit."""

    measure: Callable[[str], int]
    default_max: int
    unit: str  # for messages: "it is 312 {unit}"


def _text_module(name: str) -> Any:
    """core/<name>.py of the Bluesky or Mastodon branch, or None before it is merged."""
    module = f"appliance.core.{name}"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module:
            raise  # the module is there but cannot load: say so, never count wrongly
        return None


def _placeholder_length(text: str) -> int:
    # TODO(issue 15 merge): only until core/bluesky_text.py and core/mastodon_text.py
    # are merged (code points: never fewer than Bluesky's graphemes).
    return len(text)


# TODO(issue 15 merge): once both modules are merged, import them plainly here and
# drop _text_module and _placeholder_length; the rules below already use them when
# present, so nothing else in the core changes.
_bluesky_text = _text_module("bluesky_text")
_mastodon_text = _text_module("mastodon_text")
RULES: dict[Destination, LengthRule] = {
    Destination.X: LengthRule(
        weighted_length, MAX_WEIGHTED_LENGTH, "characters the way X counts them"
    ),
    Destination.BLUESKY: LengthRule(
        _bluesky_text.grapheme_length if _bluesky_text else _placeholder_length,
        _bluesky_text.MAX_GRAPHEMES if _bluesky_text else 300,
        "graphemes",
    ),
    Destination.MASTODON: LengthRule(
        _mastodon_text.mastodon_length if _mastodon_text else _placeholder_length,
        _mastodon_text.DEFAULT_MAX_CHARACTERS if _mastodon_text else 500,
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
