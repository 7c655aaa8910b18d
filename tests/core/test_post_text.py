"""Post text: X's weighted length, cleaning, and the over-length rule."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.core.post_text import (
    ELLIPSIS,
    MAX_WEIGHTED_LENGTH,
    OverLength,
    clean,
    prepare,
    shorten,
    weighted_length,
)


@pytest.mark.parametrize(
    "text, weight",
    [
        ("hello", 5),
        ("a" * 280, 280),
        ("日本語", 6),  # CJK weighs 2
        ("😀", 2),  # so does an emoji
        ("👨\u200d👩\u200d👧", 2),  # a ZWJ family is one emoji
        ("e\u0301", 1),  # NFC: one code point
        ("see https://example.com/a/very/long/path/indeed/yes", 4 + 23),  # any URL is 23
        ("x.com", 23),
        ("“quotes” – dash", 15),  # quotes and dashes (8208-8223) weigh 1 ...
        ("…", 2),  # ... the ellipsis (8230) weighs 2
    ],
)
def test_weighted_length_counts_like_x(text, weight):
    assert weighted_length(text) == weight


def test_clean_normalises_and_drops_control_characters():
    assert clean("  e\u0301\x00te\tis\nhere\u200b!  ") == "éte is here!"
    assert clean("👨\u200d👩\u200d👧") == "👨\u200d👩\u200d👧"  # joiners kept


def test_a_text_that_fits_is_kept():
    prepared = prepare("Mondays are the worst.")
    assert (prepared.text, prepared.shortened, prepared.refused) == (
        "Mondays are the worst.",
        False,
        "",
    )


def test_a_long_text_is_cut_at_a_word_with_an_ellipsis():
    words = " ".join(f"word{i}" for i in range(80))
    prepared = prepare(words)
    assert prepared.shortened and prepared.text.endswith("word40" + ELLIPSIS)
    assert weighted_length(prepared.text) <= MAX_WEIGHTED_LENGTH
    assert words.startswith(prepared.text.removesuffix(ELLIPSIS))


def test_cjk_is_shortened_by_weight_not_by_characters():
    text = "日本語のテキスト" * 30  # 240 characters, weight 480
    short = shorten(text)
    assert weighted_length(short) <= MAX_WEIGHTED_LENGTH
    assert len(short) > 130  # nearly all of the 140 that fit


def test_refuse_mode_posts_nothing_and_says_why():
    prepared = prepare("日本" * 100, OverLength.REFUSE)
    assert prepared.text == "" and "400" in prepared.refused and "280" in prepared.refused


def test_an_empty_text_is_refused():
    assert prepare(" \x00 ").refused


def test_a_text_of_joiners_and_selectors_alone_is_empty():
    assert clean("\u200d \ufe0f\u200b") == ""
    prepared = prepare("\u200d\u200d")
    assert prepared.empty and prepared.refused and prepared.text == ""
    assert not prepare("👍\ufe0f").refused  # beside an emoji they stay


@given(st.text(min_size=1, max_size=400))
def test_prepared_text_always_fits_and_is_clean(text):
    prepared = prepare(text)
    if prepared.refused:
        assert clean(text) == ""
        return
    assert weighted_length(prepared.text) <= MAX_WEIGHTED_LENGTH
    assert clean(prepared.text) == prepared.text or prepared.shortened


def test_a_link_is_kept_whole_or_left_out_when_shortening():
    words = " ".join(["word"] * 50)  # 249 characters
    kept = prepare(words + " example.com/path and then some more words " * 5)
    assert kept.shortened and "example.com/path" in kept.text
    assert weighted_length(kept.text) <= MAX_WEIGHTED_LENGTH
    # 269 characters, then a link that weighs 23: it cannot fit, so it is not cut in two.
    dropped = prepare(words + " words words" + " https://example.com/a/long/path more")
    assert dropped.shortened and "example" not in dropped.text
    assert weighted_length(dropped.text) <= MAX_WEIGHTED_LENGTH


@pytest.mark.timeout(20)
def test_measuring_a_hostile_sentence_is_quick_enough_for_the_main_loop():
    # "a." * 1500 used to freeze the whole process for 28 s. Bounded by the test's
    # timeout, not by a figure.
    prepared = prepare("a." * 5000)
    assert prepared.shortened and weighted_length(prepared.text) <= MAX_WEIGHTED_LENGTH
