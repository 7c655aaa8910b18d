"""The text that goes to X: cleaned, and measured and shortened the way X counts length."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from appliance import x_length
from appliance.x_length import MAX_WEIGHTED_LENGTH

ELLIPSIS = "…"


class OverLength(enum.StrEnum):
    """What to do with a text X would count as over 280: [x] over_length's values."""

    SHORTEN = "shorten"
    REFUSE = "refuse"


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
