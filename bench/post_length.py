"""Measuring X's weighted length: a typical sentence, 100,000 characters, hostile texts.

Each figure is the best of several runs of appliance.x_length.weighted_length (the data
it loads once, emoji and TLDs, is loaded before timing). Run:
.venv/bin/python bench/post_length.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.x_length import weighted_length  # noqa: E402
from bench.table import print_table  # noqa: E402

TEXTS = [
    ("typical sentence with a link", "Coffee first, then https://example.com/news — ☕️ 日本"),
    ("100,000 characters of prose", ("Mondays are the worst. Coffee helps! " * 2800)[:100_000]),
    ("100,000 CJK characters", "日本語のテキスト" * 12_500),
    ('"a." * 1500 (28 s before)', "a." * 1500),
    ('"a." * 5000 (332 s before)', "a." * 5000),
    ('"a." * 50,000', "a." * 50_000),
    ('"a." * 50,000 + "com" (one 100,000-character domain)', "a." * 50_000 + "com"),
    ('"a.com " * 16,666 (16,666 links)', "a.com " * 16_666),
    ('"1" * 100,000', "1" * 100_000),
]


def _best_seconds(text: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        weighted_length(text)
        best = min(best, time.perf_counter() - start)
    return best


def rows() -> list[tuple[str, str, str]]:
    weighted_length("warm up: load the emoji and TLD data example.com 😀")
    table = []
    for name, text in TEXTS:
        runs = 200 if len(text) < 1000 else 5
        seconds = _best_seconds(text, runs)
        value = f"{seconds * 1e6:.0f} µs" if seconds < 1e-3 else f"{seconds * 1e3:.1f} ms"
        target = "< 1 ms" if len(text) < 1000 else "< 250 ms, linear"
        table.append((f"length of {name} ({len(text):,} chars)", value, target))
    return table


if __name__ == "__main__":
    print_table(rows())
