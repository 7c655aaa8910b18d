"""The text that goes out: cleaned, and measured and shortened the way each destination counts."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from appliance import x_length
from appliance.core import lengths
from appliance.core.destinations import Destination, OverLength
from appliance.x_length import MAX_WEIGHTED_LENGTH

ELLIPSIS = "…"


# Control characters (Cc) and invisible format characters (Cf) except the joiners that
# emoji sequences need; spoken text has no use for either.
_KEEP_FORMAT = {"\u200d", "\ufe0f", "\ufe0e"}
_SPACES = re.compile(r"\s+")


def weighted_length(text: str) -> int:
    """X's weighted length of `text` (280 is the most X accepts)."""
    return x_length.weighted_length(text)


def clean(text: str) -> str:
    """NFC-normalised, without control characters, single-spaced, stripped."""
    text = unicodedata.normalize("NFC", text)
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char.isspace():
            kept.append(" ")  # a newline or tab between words still separates them
        elif category not in ("Cc", "Cf") or char in _KEEP_FORMAT:
            kept.append(char)
    text = _SPACES.sub(" ", "".join(kept)).strip()
    if all(char in _KEEP_FORMAT or char == " " for char in text):
        return ""  # joiners and variation selectors alone show nothing
    return text


@dataclass(frozen=True)
class Prepared:
    """A confirmed text made ready for X, or the reason it cannot go."""

    text: str  # "" when refused
    weighted_length: int
    shortened: bool = False
    refused: str = ""  # why nothing will be posted
    empty: bool = False  # refused because nothing visible is left, not for its length


def prepare(text: str, over_length: OverLength = OverLength.SHORTEN) -> Prepared:
    """Clean `text`; if X would refuse it as too long, shorten it or refuse it."""
    text = clean(text)
    if not text:
        return Prepared("", 0, refused="nothing visible is left to post", empty=True)
    weight = weighted_length(text)
    if weight <= MAX_WEIGHTED_LENGTH:
        return Prepared(text, weight)
    if over_length is OverLength.REFUSE:
        return Prepared(
            "",
            weight,
            refused=f"it is {weight} characters the way X counts them; X takes "
            f"{MAX_WEIGHTED_LENGTH}",
        )
    short = shorten(text)
    return Prepared(short, weighted_length(short), shortened=True)


def shorten(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> str:
    """`text` cut at a word boundary, with an ellipsis, to at most `limit` weighted length."""
    budget = limit - weighted_length(ELLIPSIS)
    text = x_length.normalize(text)
    # Where X's count reaches the budget. The prefix, measured on its own, can count
    # differently (a link cut short is a new text to X), so step back until it fits too.
    end = x_length.fitting_length(text, budget)
    while end > 0 and weighted_length(text[:end]) > budget:
        end -= 1
    cut = text[:end]
    if end < len(text) and not text[end].isspace():
        # Inside a word: go back to the last space, unless the first word alone is too long.
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    cut = cut.rstrip(" ,;:.-–—")
    return cut + ELLIPSIS


def shorten_measured(text: str, limit: int, measure: Callable[[str], int]) -> str:
    """`text` cut at a word boundary, with an ellipsis, to at most `limit` by `measure`.

    For destinations other than X (whose own count has `shorten`): the longest prefix
    that fits, found by halving, then stepped back to a space."""
    budget = limit - measure(ELLIPSIS)
    low, high = 0, len(text)
    while low < high:  # the largest end with measure(text[:end]) <= budget
        middle = (low + high + 1) // 2
        if measure(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    cut = text[:low]
    if low < len(text) and not text[low].isspace():
        space = cut.rfind(" ")
        if space > 0:
            cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + ELLIPSIS


@dataclass(frozen=True)
class PreparedEverywhere:
    """A confirmed text made ready for every enabled destination, or why it cannot go."""

    texts: tuple[tuple[Destination, str], ...]  # () when refused
    shortened: tuple[tuple[Destination, int], ...] = ()  # (destination, its new length)
    refused: str = ""
    empty: bool = False

    @property
    def text(self) -> str:
        """The first destination's text (X's when X is enabled): for messages and status."""
        return self.texts[0][1] if self.texts else ""


def prepare_everywhere(
    text: str,
    over_length: OverLength,
    destinations: tuple[Destination, ...],
    max_lengths: tuple[tuple[Destination, int], ...] = (),
) -> PreparedEverywhere:
    """Clean `text` and fit it to each destination's limit: refuse it if it is too long
    for any of them (saying which), or shorten it for each one it is too long for."""
    cleaned = clean(text)
    if not cleaned:
        return PreparedEverywhere((), refused="nothing visible is left to post", empty=True)
    texts: list[tuple[Destination, str]] = []
    shortened: list[tuple[Destination, int]] = []
    too_long: list[str] = []
    for destination in destinations:
        rule = lengths.RULES[destination]
        limit = lengths.max_length(destination, max_lengths)
        length = rule.measure(cleaned)
        if length <= limit:
            texts.append((destination, cleaned))
        elif over_length is OverLength.REFUSE:
            if destination == Destination.X and len(destinations) == 1:
                too_long.append(f"it is {length} {rule.unit}; X takes {limit}")
            else:
                label = destination.label
                too_long.append(f"for {label} it is {length} {rule.unit}; {label} takes {limit}")
        else:
            if destination == Destination.X:
                short = shorten(cleaned, limit)
            else:
                short = shorten_measured(cleaned, limit, rule.measure)
            texts.append((destination, short))
            shortened.append((destination, rule.measure(short)))
    if too_long:
        return PreparedEverywhere((), refused="; ".join(too_long))
    return PreparedEverywhere(tuple(texts), tuple(shortened))
