"""X's weighted length of a post (twitter-text configuration v3), measured in linear time."""

# How X counts (twitter-text's parseTweet, config/v3.json, conformance/validate.yml):
#   - the text is NFC-normalised first;
#   - a code point in 0-4351, 8192-8205, 8208-8223 or 8242-8247 weighs 1, any other 2;
#   - an emoji sequence (ZWJ sequence, flag, keycap, skin tone, variation selector)
#     weighs 2 as a whole;
#   - every URL twitter-text's extractor finds weighs 23 (transformedURLLength), with or
#     without a scheme;
#   - 280 is the most X accepts.
# Links are found by appliance/x_length/_links.py, the data comes from _data.py.
#
# Deliberate differences from twitter-text (each marked "Differs:" where it is made):
#   - the TLD list is the Public Suffix List's (current), not twitter-text's 2020 copy;
#   - emoji sequences are Unicode's current set (the emoji package), not twitter-text's
#     Unicode 13 set.

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

# _data and _links (the emoji and TLD tables, the link patterns) load at the first
# measurement, not here: `appliance status` reads the configuration, which names
# MAX_WEIGHTED_LENGTH, and under emulation they were a third of its imports (issue 13).
if TYPE_CHECKING:
    from appliance.x_length._links import url_spans

__all__ = [
    "MAX_WEIGHTED_LENGTH",
    "URL_WEIGHT",
    "fitting_length",
    "normalize",
    "preload",
    "url_spans",
    "weighted_length",
]

MAX_WEIGHTED_LENGTH = 280
_TRIMMED = "".join(map(chr, range(33)))  # what Java's String.trim() removes
URL_WEIGHT = 23  # transformedURLLength
_DEFAULT_WEIGHT = 2
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # weight 1
_LIGHT = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in _LIGHT_RANGES) + "]")


def _emoji_end(text: str, start: int) -> int:
    """The end of the emoji sequence at `start` (two or more code points), or -1."""
    # A single code point weighs what its range says; that is how twitter-text's regex
    # treats them too (© and ® count as emoji only with U+FE0F, which makes two).
    from appliance.x_length._data import load_emoji

    return load_emoji().end(text, start)


def _plain_weight(text: str, start: int, end: int) -> int:
    """The weight of text[start:end] counted code point by code point."""
    return _DEFAULT_WEIGHT * (end - start) - len(_LIGHT.findall(text, start, end))


def _units(text: str) -> Iterator[tuple[int, int, bool]]:
    """(end, weight, is_plain) of each counted unit of NFC `text` in order: a URL, an emoji
    sequence, or a run of other code points (is_plain: each weighs by its range)."""
    from appliance.x_length._data import load_emoji
    from appliance.x_length._links import links

    urls = {link.start: link.start + link.counted for link in links(text)}
    emoji_starts = (match.start() for match in load_emoji().firsts.finditer(text))
    specials = sorted(set(urls).union(emoji_starts))
    position = 0
    for special in specials:
        if special < position:
            continue  # inside a URL or emoji already counted
        if special > position:
            yield special, _plain_weight(text, position, special), True
            position = special
        if special in urls:
            position = urls[special]
            yield position, URL_WEIGHT, False
            continue
        end = _emoji_end(text, special)
        if end > 0:
            position = end
            yield position, _DEFAULT_WEIGHT, False
    if position < len(text):
        yield len(text), _plain_weight(text, position, len(text)), True


def preload() -> None:
    """Load the emoji and TLD data now rather than at the first measurement."""
    from appliance.x_length._data import load_emoji, load_tlds

    load_emoji()
    load_tlds()


def normalize(text: str) -> str:
    """`text` in Unicode NFC, as X measures it."""
    return unicodedata.normalize("NFC", text)


def weighted_length(text: str) -> int:
    """X's weighted length of `text` (NFC-normalised first)."""
    text = normalize(text)
    if not text.strip(_TRIMMED):
        return 0  # twitter-text (Java): a text of spaces and controls alone has no length
    return sum(weight for _, weight, _ in _units(text))


def fitting_length(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> int:
    """How many code points of NFC `text` fit in `limit` weighted length, never splitting
    a URL or an emoji sequence."""
    used = 0
    position = 0
    for end, weight, is_plain in _units(text):
        if used + weight <= limit:
            used += weight
            position = end
            continue
        if is_plain:  # take as many of its code points as still fit
            for index in range(position, end):
                used += _plain_weight(text, index, index + 1)
                if used > limit:
                    return index
        return position
    return position


def __getattr__(name: str) -> Any:
    if name == "url_spans":  # loaded with the link patterns, on first use
        from appliance.x_length._links import url_spans

        globals()["url_spans"] = url_spans  # once found, a plain attribute
        return url_spans
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
