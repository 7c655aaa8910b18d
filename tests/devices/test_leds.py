"""The LED patterns as data: complete, distinct, and drawn the way they say."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from appliance.core import Pattern
from appliance.devices.leds import (
    AMBER,
    DIM,
    OFF,
    RGB_CHANNELS,
    SEPARATE_CHANNELS,
    Layout,
    Look,
    describe,
    expectation,
    level_at,
    looks_for,
    pattern_table_markdown,
    rgb_look,
    seconds_until_change,
)

CHANNELS = {Layout.SEPARATE: SEPARATE_CHANNELS, Layout.RGB: RGB_CHANNELS}
EVERY_LOOK = [
    (pattern, layout, name, look)
    for layout in Layout
    for pattern in Pattern
    for name, look in looks_for(pattern, layout).items()
]


def levels_over(looks: dict[str, Look], seconds: float = 6.0, step: float = 0.01):
    """The levels of every channel sampled over `seconds`: a pattern's visible signature."""
    times = [i * step for i in range(int(seconds / step))]
    return tuple(tuple(round(level_at(look, t), 3) for t in times) for look in looks.values())


@pytest.mark.parametrize("layout", list(Layout))
@pytest.mark.parametrize("pattern", list(Pattern))
def test_every_pattern_sets_every_channel_of_both_layouts(pattern, layout):
    looks = looks_for(pattern, layout)
    assert tuple(looks) == CHANNELS[layout]
    assert any(look.kind != "off" for look in looks.values()), "a pattern is never all dark"
    for look in looks.values():
        assert look.kind in ("off", "on", "blink", "pulse")
        assert 0.0 <= look.brightness <= 1.0


@pytest.mark.parametrize("layout", list(Layout))
def test_no_two_patterns_look_the_same(layout):
    seen: dict[tuple, Pattern] = {}
    for pattern in Pattern:
        signature = levels_over(looks_for(pattern, layout))
        assert signature not in seen, f"{pattern} looks like {seen.get(signature)}"
        seen[signature] = pattern


def test_the_suggested_separate_patterns():
    def lit(pattern):
        return {
            name: look for name, look in looks_for(pattern, Layout.SEPARATE).items() if look != OFF
        }

    assert lit(Pattern.LISTENING) == {"green": Look("on", DIM)}
    assert lit(Pattern.HEARING)["green"].brightness > lit(Pattern.LISTENING)["green"].brightness
    assert lit(Pattern.CANDIDATE)["amber"].kind == "pulse"
    assert lit(Pattern.GRACE)["amber"].kind == "blink"
    # Counting down: the blink speeds up in the last second.
    assert lit(Pattern.GRACE_ENDING)["amber"].kind == "blink"
    assert lit(Pattern.GRACE_ENDING)["amber"].on_seconds < lit(Pattern.GRACE)["amber"].on_seconds
    assert set(lit(Pattern.POSTING)) == {"green", "amber"}
    assert set(lit(Pattern.POSTED)) == {"green"}
    assert lit(Pattern.MUTED) == {"red": Look("on", DIM)}
    assert lit(Pattern.REFUSED)["red"].count == 2
    assert set(lit(Pattern.RATE_LIMITED)) == {"red", "amber"}


def test_rgb_patterns_use_one_colour_with_channels_in_step():
    colour, look = rgb_look(Pattern.CANDIDATE)
    assert colour == AMBER and look.kind == "pulse"
    looks = looks_for(Pattern.CANDIDATE, Layout.RGB)
    assert looks["red"].brightness == pytest.approx(AMBER.red * look.brightness)
    assert looks["green"].brightness == pytest.approx(AMBER.green * look.brightness)
    assert looks["blue"] == OFF
    assert looks["red"].period_seconds == looks["green"].period_seconds


def test_rgb_colours_carry_the_meanings():
    assert rgb_look(Pattern.CONNECTING)[0].name == "blue"
    assert rgb_look(Pattern.LISTENING)[0].name == "green"
    assert rgb_look(Pattern.POSTING)[0].name == "white"
    assert rgb_look(Pattern.RATE_LIMITED)[0].name == "magenta"
    assert rgb_look(Pattern.ERROR)[0].name == "red"


@pytest.mark.parametrize("layout", list(Layout))
def test_muted_is_never_dark(layout):
    looks = looks_for(Pattern.MUTED, layout)
    assert min(max(column) for column in zip(*levels_over(looks), strict=True)) > 0


@pytest.mark.parametrize("pattern", [Pattern.POSTED, Pattern.REFUSED])
@pytest.mark.parametrize("layout", list(Layout))
def test_result_flashes_repeat_so_the_led_is_not_left_dark(pattern, layout):
    looks = looks_for(pattern, layout)
    signature = levels_over(looks, seconds=3.0)
    lit_at = [i for i, column in enumerate(zip(*signature, strict=True)) if max(column) > 0]
    assert lit_at[0] == 0
    assert lit_at[-1] * 0.01 > 1.5, "flashes again after the first group"


def test_blink_edges():
    look = Look("blink", 0.8, on_seconds=0.1, off_seconds=0.3)
    assert level_at(look, 0.0) == 0.8
    assert level_at(look, 0.099) == 0.8
    assert level_at(look, 0.101) == 0.0
    assert level_at(look, 0.399) == 0.0
    assert level_at(look, 0.401) == 0.8
    assert seconds_until_change(look, 0.05) == pytest.approx(0.05)
    assert seconds_until_change(look, 0.15) == pytest.approx(0.25)


def test_counted_blink_once_then_dark():
    look = Look("blink", on_seconds=0.1, off_seconds=0.1, count=2)
    assert [level_at(look, t) for t in (0.05, 0.15, 0.25, 0.35, 0.45, 9.0)] == [1, 0, 1, 0, 0, 0]
    assert seconds_until_change(look, 0.45) is None


def test_counted_blink_groups_repeat_after_the_rest():
    look = Look("blink", on_seconds=0.1, off_seconds=0.1, count=2, rest_seconds=0.6)
    # A group is 2 flashes (0.4 s) and 0.6 s of rest: one a second.
    assert [level_at(look, t) for t in (0.05, 0.25, 0.5, 0.95, 1.05, 1.25)] == [1, 1, 0, 0, 1, 1]
    assert seconds_until_change(look, 0.5) == pytest.approx(0.5)


def test_delay_keeps_the_led_dark_first():
    look = Look("blink", on_seconds=0.25, off_seconds=0.25, delay_seconds=0.25)
    assert level_at(look, 0.1) == 0.0
    assert seconds_until_change(look, 0.1) == pytest.approx(0.15)
    assert level_at(look, 0.3) == 1.0


def test_pulse_starts_dark_and_peaks_halfway():
    look = Look("pulse", 0.6, period_seconds=2.0)
    assert level_at(look, 0.0) == pytest.approx(0.0)
    assert level_at(look, 1.0) == pytest.approx(0.6)
    assert level_at(look, 2.0) == pytest.approx(0.0, abs=1e-9)
    assert 0 < level_at(look, 0.5) < 0.6


def test_steady_looks_never_change():
    assert seconds_until_change(Look("on", 0.3), 5.0) is None
    assert seconds_until_change(OFF, 5.0) is None
    assert level_at(OFF, 1.0) == 0.0


@given(
    index=st.integers(min_value=0, max_value=len(EVERY_LOOK) - 1),
    elapsed_seconds=st.floats(min_value=0.0, max_value=30.0),
    fraction=st.floats(min_value=0.0, max_value=0.98),
)
def test_level_holds_until_the_predicted_change(index, elapsed_seconds, fraction):
    _, _, _, look = EVERY_LOOK[index]
    wait = seconds_until_change(look, elapsed_seconds)
    if look.kind == "pulse":
        assert wait is not None and wait > 0
        return
    if wait is None:
        later = elapsed_seconds + 100.0 * (fraction + 0.01)
    else:
        assert wait > 0
        # Within float rounding of an edge, "before" and "after" cannot be told apart.
        assume(wait > 1e-9)
        later = elapsed_seconds + wait * fraction
    assert level_at(look, later) == level_at(look, elapsed_seconds)


@pytest.mark.parametrize("pattern", list(Pattern))
def test_describe_is_one_short_sentence(pattern):
    sentence = describe(pattern)
    assert sentence[0].isupper() and sentence.endswith(".")
    assert len(sentence) < 80


def test_pattern_table_has_a_row_per_pattern():
    lines = pattern_table_markdown().splitlines()
    assert lines[0] == "| Pattern | Separate LEDs | RGB LED | Meaning |"
    assert len(lines) == 2 + len(Pattern)
    for pattern, line in zip(Pattern, lines[2:], strict=True):
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert cells[0] == f"`{pattern.name}`"
        assert cells[3] == describe(pattern)
        assert all(cells)
    assert "green and amber take turns" in pattern_table_markdown()


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="separate, rgb"):
        looks_for(Pattern.LISTENING, "matrix")
    with pytest.raises(ValueError, match="separate, rgb"):
        expectation(Pattern.LISTENING, "rgb")  # the file's spelling, not the enum


def test_the_committed_picture_is_drawn_from_these_patterns():
    import runpy
    from pathlib import Path

    root = Path(__file__).parents[2]
    script = runpy.run_path(str(root / "scripts" / "draw-led-patterns.py"))
    drawn = script["svg"]()
    for pattern in Pattern:
        assert f">{pattern.name}</text>" in drawn
    committed = (root / "docs" / "led-patterns.svg").read_text()
    assert committed == drawn, "run scripts/draw-led-patterns.py and commit docs/"


@pytest.mark.parametrize("layout", list(Layout))
def test_every_pattern_has_words_for_the_selftest(layout):
    words = {expectation(pattern, layout) for pattern in Pattern}
    assert len(words) == len(Pattern)  # each pattern is told apart in words too


def test_the_documented_table_is_the_generated_one():
    from pathlib import Path

    root = next(p for p in Path(__file__).resolve().parents if (p / "pyproject.toml").exists())
    page = (root / "docs" / "leds.md").read_text()
    assert pattern_table_markdown() in page, "paste pattern_table_markdown() into docs/leds.md"
