"""Bluesky's text rules: a post's length in graphemes, and its links as rich-text facets."""

# Sources:
#   - lexicons/app/bsky/feed/post.json (bluesky-social/atproto): the record's "text" has
#     maxGraphemes 300 and maxLength 3000 (UTF-8 bytes); "facets" annotate it.
#   - lexicons/app/bsky/richtext/facet.json: a facet's index is a byteSlice with byteStart
#     (inclusive) and byteEnd (exclusive), counted in the UTF-8 encoding of the text; a
#     link feature is {"$type": "app.bsky.richtext.facet#link", "uri": ...}.
#   - docs.bsky.app/docs/advanced-guides/post-richtext: a link is a facet the client
#     sends ({"index": {"byteStart", "byteEnd"}, "features": [{"$type": ...#link, "uri"}]}),
#     start inclusive, end exclusive; without it the link shows as plain text.

from __future__ import annotations

from typing import Any

from appliance.x_length import url_spans

MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
LINK_FEATURE_TYPE = "app.bsky.richtext.facet#link"
_SCHEMES = ("http://", "https://")


def grapheme_length(text: str) -> int:
    """How many user-perceived characters (extended grapheme clusters, UAX #29) `text` has.

    A family emoji made of four people joined by ZWJ, a flag (two regional indicators)
    and "e" with a combining accent each count once, as Bluesky counts them.
    """
    # Imported here: an X-only daemon never counts graphemes (half a MiB of tables).
    import grapheme

    return int(grapheme.length(text))


def text_bytes(text: str) -> int:
    """The UTF-8 length of `text`, which the lexicon also limits (MAX_TEXT_BYTES)."""
    return len(text.encode("utf-8"))


def fits(text: str) -> bool:
    """True if Bluesky accepts `text` as a post's text (graphemes and bytes)."""
    return grapheme_length(text) <= MAX_GRAPHEMES and text_bytes(text) <= MAX_TEXT_BYTES


def link_facets(text: str) -> list[dict[str, Any]]:
    """One app.bsky.richtext.facet per link in `text`, with UTF-8 byte offsets, in order.

    Links are found as X finds them (appliance/x_length), so "example.com/page" without
    a scheme is a link too; its facet's uri then gets "https://" in front, as the
    Bluesky app does for such links.
    """
    facets = []
    for start, end in url_spans(text):
        link = text[start:end]
        uri = link if link.lower().startswith(_SCHEMES) else "https://" + link
        byte_start = text_bytes(text[:start])
        facets.append(
            {
                "index": {"byteStart": byte_start, "byteEnd": byte_start + text_bytes(link)},
                "features": [{"$type": LINK_FEATURE_TYPE, "uri": uri}],
            }
        )
    return facets
