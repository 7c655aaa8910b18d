"""Bluesky's length in graphemes and its link facets (UTF-8 byte offsets)."""

from __future__ import annotations

import pytest

from appliance.core.bluesky_text import MAX_GRAPHEMES, fits, grapheme_length, link_facets

FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # man ZWJ woman ZWJ ...
FLAG_DE = "\U0001f1e9\U0001f1ea"  # regional indicators D and E
E_ACUTE = "e\u0301"  # e + combining acute accent
THUMBS_DARK = "\U0001f44d\U0001f3ff"  # thumbs up + skin tone modifier
HINDI_KSSA = "\u0915\u094d\u0937"  # क्ष: a conjunct, one grapheme since Unicode 15.1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("hello", 5),
        (FAMILY, 1),
        (FLAG_DE, 1),
        (FLAG_DE * 3, 3),
        (E_ACUTE, 1),
        ("a\u0301\u0302\u0303", 1),  # several combining marks on one letter
        (THUMBS_DARK, 1),
        ("\r\n", 1),
        (HINDI_KSSA, 1),
        (f"hi {FAMILY} {FLAG_DE}!", 7),
    ],
)
def test_grapheme_length_counts_user_perceived_characters(text: str, expected: int) -> None:
    assert grapheme_length(text) == expected


def test_three_hundred_family_emoji_fit_but_not_one_more() -> None:
    # Each family emoji is 7 code points and 25 UTF-8 bytes: graphemes are what count,
    # until the 3000-byte limit binds.
    assert fits("x" * MAX_GRAPHEMES)
    assert not fits("x" * (MAX_GRAPHEMES + 1))
    assert grapheme_length(FAMILY * 100) == 100
    assert fits(FAMILY * 100)  # 2,500 bytes
    assert not fits(FAMILY * 130)  # 130 graphemes, but 3,250 bytes


def test_no_link_no_facets() -> None:
    assert link_facets("no links here. just words") == []


def test_link_facet_has_utf8_byte_offsets_after_non_ascii_text() -> None:
    text = f"Grüße {FAMILY} see https://example.com/a?b=1 now"
    [facet] = link_facets(text)
    encoded = text.encode("utf-8")
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert encoded[start:end].decode("utf-8") == "https://example.com/a?b=1"
    assert start == len("Grüße ".encode()) + len(FAMILY.encode()) + len(" see ")
    assert start != text.index("https")  # code points and bytes differ here
    assert facet["features"] == [
        {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.com/a?b=1"}
    ]
    assert set(facet) == {"index", "features"}  # as docs.bsky.app's post-richtext shows


def test_link_without_scheme_gets_https_and_each_link_its_own_facet() -> None:
    text = "é example.com/page and http://b.org."
    facets = link_facets(text)
    assert [f["features"][0]["uri"] for f in facets] == [
        "https://example.com/page",
        "http://b.org",
    ]
    encoded = text.encode("utf-8")
    spans = [encoded[f["index"]["byteStart"] : f["index"]["byteEnd"]] for f in facets]
    assert spans == [b"example.com/page", b"http://b.org"]
