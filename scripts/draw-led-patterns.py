#!/usr/bin/env python3
"""Draw every LED pattern of both layouts over time, from appliance.devices.leds, as one SVG.

Usage: .venv/bin/python scripts/draw-led-patterns.py [docs/led-patterns.svg]
"""

from __future__ import annotations

import sys
import textwrap
from html import escape
from pathlib import Path

from appliance.core import Pattern
from appliance.devices.leds import Layout, describe, expectation, level_at, looks_for

SECONDS = 4.0  # long enough for two cycles of the slowest blink
STEP_SECONDS = 0.02
PIXELS_PER_SECOND = 80
STRIP_HEIGHT, GAP = 12, 3
NAME_WIDTH, LEFT = 220, 10
LAYOUT_GAP = 40
ROW_PADDING = 14
CHANNEL_RGB = {
    "green": (40, 200, 60),
    "amber": (255, 160, 0),
    "red": (230, 30, 30),
    "blue": (40, 90, 255),
}


def _runs(levels: list[float]) -> list[tuple[int, int, float]]:
    """(first sample, sample count, level) of each stretch at one level."""
    runs: list[tuple[int, int, float]] = []
    for index, level in enumerate(levels):
        if runs and runs[-1][2] == level:
            first, count, _ = runs[-1]
            runs[-1] = (first, count + 1, level)
        else:
            runs.append((index, 1, level))
    return runs


def _samples(look) -> list[float]:
    count = round(SECONDS / STEP_SECONDS)
    return [round(level_at(look, i * STEP_SECONDS), 2) for i in range(count)]


def _strip(x: float, y: float, colour_at) -> list[str]:
    """One horizontal strip; `colour_at(i)` gives (r, g, b, opacity) of sample i."""
    out = [
        f'<rect x="{x}" y="{y}" width="{SECONDS * PIXELS_PER_SECOND}" '
        f'height="{STRIP_HEIGHT}" fill="#111"/>'
    ]
    count = round(SECONDS / STEP_SECONDS)
    colours = [colour_at(i) for i in range(count)]
    for first, length, colour in _runs(colours):  # type: ignore[arg-type]
        r, g, b, opacity = colour
        if opacity <= 0:
            continue
        out.append(
            f'<rect x="{x + first * STEP_SECONDS * PIXELS_PER_SECOND:.1f}" y="{y}" '
            f'width="{length * STEP_SECONDS * PIXELS_PER_SECOND:.1f}" height="{STRIP_HEIGHT}" '
            f'fill="rgb({r},{g},{b})" fill-opacity="{opacity:.2f}"/>'
        )
    # An outline, so a white light still shows where the strip ends on a white page.
    out.append(
        f'<rect x="{x}" y="{y}" width="{SECONDS * PIXELS_PER_SECOND}" height="{STRIP_HEIGHT}" '
        'fill="none" stroke="#888" stroke-width="0.5"/>'
    )
    return out


def _separate(x: float, y: float, pattern: Pattern) -> list[str]:
    out = []
    for row, (name, look) in enumerate(looks_for(pattern, Layout.SEPARATE).items()):
        levels = _samples(look)
        r, g, b = CHANNEL_RGB[name]
        out += _strip(
            x,
            y + row * (STRIP_HEIGHT + GAP),
            lambda i, r=r, g=g, b=b, levels=levels: (r, g, b, levels[i]),
        )
    return out


def _rgb(x: float, y: float, pattern: Pattern) -> list[str]:
    looks = looks_for(pattern, Layout.RGB)
    levels = {name: _samples(look) for name, look in looks.items()}

    def colour_at(i: int) -> tuple[int, int, int, float]:
        channel = [levels[name][i] for name in ("red", "green", "blue")]
        peak = max(channel)
        if peak <= 0:
            return (0, 0, 0, 0.0)
        # Hue from the channel ratios, brightness as opacity over the dark background.
        r, g, b = (round(255 * level / peak) for level in channel)
        return (r, g, b, peak)

    return _strip(x, y + STRIP_HEIGHT + GAP, colour_at)


def svg() -> str:
    strip_width = SECONDS * PIXELS_PER_SECOND
    row_height = 3 * STRIP_HEIGHT + 2 * GAP + ROW_PADDING + 12
    top = 50
    width = LEFT + NAME_WIDTH + len(Layout) * (strip_width + LAYOUT_GAP)
    height = top + len(Pattern) * row_height + 10
    columns = {
        Layout.SEPARATE: LEFT + NAME_WIDTH,
        Layout.RGB: LEFT + NAME_WIDTH + strip_width + LAYOUT_GAP,
    }
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f'<rect width="{width:.0f}" height="{height}" fill="#fff"/>',
        f'<text x="{LEFT}" y="18" font-size="14" font-weight="bold">LED patterns '
        f"(first {SECONDS:g} s of each; generated from appliance/devices/leds.py)</text>",
    ]
    for layout, x in columns.items():
        title = "Separate LEDs (green, amber, red)" if layout is Layout.SEPARATE else "One RGB LED"
        out.append(f'<text x="{x}" y="40" font-weight="bold">{title}</text>')
    for index, pattern in enumerate(Pattern):
        y = top + index * row_height
        out.append(f'<text x="{LEFT}" y="{y + 12}" font-weight="bold">{pattern.name}</text>')
        for line_index, line in enumerate(textwrap.wrap(describe(pattern), 40)[:3]):
            out.append(
                f'<text x="{LEFT}" y="{y + 25 + 11 * line_index}" font-size="9" fill="#555">'
                f"{escape(line)}</text>"
            )
        out += _separate(columns[Layout.SEPARATE], y, pattern)
        out += _rgb(columns[Layout.RGB], y, pattern)
        for layout, x in columns.items():
            words = escape(expectation(pattern, layout))
            out.append(
                f'<text x="{x}" y="{y + 3 * STRIP_HEIGHT + 2 * GAP + 11}" font-size="9" '
                f'fill="#333">{words}</text>'
            )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).parent.parent / "docs" / "led-patterns.svg"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(svg())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
