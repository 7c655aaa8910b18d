"""mastodon_length counts as Mastodon's StatusLengthValidator does."""

from __future__ import annotations

import sys
import time

import pytest

from appliance.core.mastodon_text import (
    DEFAULT_MAX_CHARACTERS,
    URL_LENGTH,
    mastodon_length,
    url_spans,
)


def test_the_default_limit_is_mastodons():
    assert DEFAULT_MAX_CHARACTERS == 500 and URL_LENGTH == 23


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hello", 5),
        ("", 0),
        ("   \n ", 0),  # blank counts nothing
        ("naïve café", 10),
        ("e\u0301", 1),  # e + combining acute: one grapheme
        ("👍🏽", 1),  # emoji with a skin tone
        ("👨‍👩‍👧‍👦", 1),  # a ZWJ family
        ("🇩🇪🇫🇷", 2),  # two flags
        ("日本語", 3),
        ("한국어", 3),
    ],
)
def test_plain_text_counts_graphemes(text, length):
    assert mastodon_length(text) == length


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("https://example.com", 23),
        ("see https://example.com/a/very/long/path/that/goes/on/and/on.html ok", 4 + 23 + 3),
        ("http://a.co", 23),  # shorter links count 23 too
        ("gemini://example.org/x", 23),
        ("ipfs://example.org", 23),
        ("https://example.com.", 24),  # the final full stop is not part of the link
        ("https://example.com/path, and", 23 + 5),
        ("(https://example.com/x)", 25),
        ("https://en.wikipedia.org/wiki/Foo_(bar) x", 25),
        ("https://a.com/?q=1&x=2 y", 25),
        ("https://a.com?", 24),
        ("https://ja.wikipedia.org/wiki/日本語 ok", 26),
        ("two https://a.com https://b.org", 4 + 23 + 1 + 23),
    ],
)
def test_links_with_a_scheme_count_23(text, length):
    assert mastodon_length(text) == length


@pytest.mark.parametrize(
    "text",
    [
        "example.com",  # no scheme: counted as written
        "www.example.com/some/path",
        "xhttps://example.com",  # glued to a word
        "http://localhost:3000/x",  # no known top-level domain
        "https://",
        "ftp://example.com",
    ],
)
def test_other_things_that_look_like_links_count_as_written(text):
    assert mastodon_length(text) == len(text)
    assert url_spans(text) == []


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("hi @anna@example.social", len("hi @anna")),
        ("@anna@example.social!", len("@anna!")),
        ("@Anna.B-c@mastodon.example.org thanks", len("@Anna.B-c thanks")),
        ("hi @anna", len("hi @anna")),  # a local mention counts as written
        ("mail me at anna@example.social", len("mail me at anna@example.social")),
        ("=@anna@example.social", len("=@anna@example.social")),  # not after "="
        ("@anna@example.social://x", len("@anna@example.social://x")),  # followed by ://
        ("@anna@example.socialé", len("@anna")),  # é is a word character: part of the domain
        ("@anna@example.social@x", len("@anna@example.social@x")),  # followed by @
    ],
)
def test_remote_mentions_count_by_their_user(text, length):
    assert mastodon_length(text) == length


def test_a_mention_with_a_huge_domain_counts_as_written():
    text = "@anna@" + "d" * 250 + ".social"
    assert mastodon_length(text) == len(text)


def test_links_and_mentions_together():
    text = "@bob@example.social look https://example.com/a and @carol@x.example"
    assert mastodon_length(text) == len("@bob look ") + 23 + len(" and @carol")


def test_500_characters_of_prose_fit_and_501_do_not():
    assert mastodon_length("a" * 500) <= DEFAULT_MAX_CHARACTERS < mastodon_length("a" * 501)


def test_a_long_link_keeps_a_post_short():
    text = "read " + "https://example.com/" + "x" * 600
    assert mastodon_length(text) == 5 + 23


def test_url_spans_give_each_link_once_left_to_right():
    text = "a https://a.com/x b gemini://b.org c"
    assert [text[start:end] for start, end in url_spans(text)] == [
        "https://a.com/x",
        "gemini://b.org",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "https://" + "a." * 20_000,
        "https://a.com/" + "(" * 20_000,
        "https://a.com/?" + "!" * 20_000,
        "@a@" + "b." * 20_000,
        "https://a.com " * 5_000,
    ],
)
def test_hostile_texts_are_counted_in_linear_time(text):
    started = time.monotonic()
    mastodon_length(text)
    assert time.monotonic() - started < 5.0  # a backtracking scanner takes minutes here


@pytest.mark.parametrize(
    "text",
    [
        "a plain sentence from the desk",
        "see https://example.com/a/b.html, ok",
        "hi @anna@example.social!",
        "👍🏽 naïve e\u0301",
        "https://en.wikipedia.org/wiki/Foo_(bar) x",
    ],
)
def test_ordinary_posts_count_as_mastodon_py_counts_them(text):
    # Mastodon.py's get_status_length follows the web composer's counter; where the two
    # rules part (other schemes, dotted user names) the server's rule is the one kept here.
    mastodon = pytest.importorskip("mastodon")
    assert mastodon_length(text) == mastodon.Mastodon.get_status_length(text)


def test_without_graphemeu_code_points_are_counted_which_never_undercounts(monkeypatch):
    monkeypatch.setitem(sys.modules, "grapheme", None)  # import grapheme raises ImportError
    assert mastodon_length("👍🏽 e\u0301") == 5
    assert mastodon_length("hi https://example.com") == 3 + 23
