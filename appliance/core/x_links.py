"""What X counts as a link in a post, what a post with one costs, and matching a post's text."""

from __future__ import annotations

from appliance.x_length import normalize, url_spans

# X's pay-per-use prices (docs.x.com/x-api/getting-started/pricing, 2026): a post
# ("Content: Create") and a post with a URL ("Content: Create (with URL)").
POST_PRICE_USD = 0.015
LINK_POST_PRICE_USD = 0.20
_LINK = "\x00link\x00"  # stands for any link when comparing texts (X rewrites them to t.co)


def has_link(text: str) -> bool:
    """True if `text` contains a link: X then charges LINK_POST_PRICE_USD for the post."""
    return bool(url_spans(normalize(text)))


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
    # Imported here: only finding a post after a lost answer compares texts, and html's
    # entity tables are half a MiB of the daemon's memory (issue 13).
    import html

    return _comparable(ours) == _comparable(html.unescape(theirs))


def _comparable(text: str) -> list[str]:
    text = normalize(text)
    pieces: list[str] = []
    cursor = 0
    for start, end in url_spans(text):
        pieces += [text[cursor:start], f" {_LINK} "]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces).split()
