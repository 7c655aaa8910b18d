"""What X counts as a link in a post, what a post with one costs, and matching a post's text."""

from __future__ import annotations

import html
import unicodedata

from twitter_text.extract_urls import extract_urls  # X's own rules for bare domains

# X's pay-per-use prices (docs.x.com/x-api/getting-started/pricing, 2026): a post
# ("Content: Create") and a post with a URL ("Content: Create (with URL)").
POST_PRICE_USD = 0.015
LINK_POST_PRICE_USD = 0.20
# twitter-text's URL pattern slows down steeply on long dotted words ("a.a.a..."), so it
# is only ever given one host name, which DNS caps at 253 characters; 64 is plenty for
# anything spoken, and keeps a check to milliseconds.
_LONGEST_HOST_CHARS = 64
_TRAILING = ".,;:!?…\"'”’)]}"
_LINK = "\x00link\x00"  # stands for any link when comparing texts (X rewrites them to t.co)


def is_link(word: str) -> bool:
    """True if X would see `word` (one whitespace-free word) as a URL."""
    word = word.strip(_TRAILING).lstrip("(\"'“‘[{")
    lowered = word.lower()
    if "://" in lowered or lowered.startswith("www."):
        return True
    host = lowered.split("/", 1)[0]
    if "." not in host.strip(".") or len(host) > _LONGEST_HOST_CHARS:
        return False
    return bool(extract_urls(host))


def has_link(text: str) -> bool:
    """True if `text` contains a link: X then charges LINK_POST_PRICE_USD for the post."""
    return any(is_link(word) for word in text.split())


def link_cost_note() -> str:
    """One sentence on what a post with a link costs on X."""
    ratio = LINK_POST_PRICE_USD / POST_PRICE_USD
    return (
        f"It contains a link: X charges about {ratio:.0f}× more for it "
        f"(${LINK_POST_PRICE_USD:.2f} instead of ${POST_PRICE_USD:.3f})."
    )


def same_post_text(ours: str, theirs: str) -> bool:
    """True if X's text of a post (`theirs`) is the text we sent (`ours`).

    X's answers escape &, < and > as HTML entities and replace every link with a
    t.co link, so both are undone before comparing.
    """
    return _comparable(ours) == _comparable(html.unescape(theirs))


def _comparable(text: str) -> list[str]:
    words = unicodedata.normalize("NFC", text).split()
    return [_LINK if is_link(word) else word for word in words]
