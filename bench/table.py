"""The one table format every benchmark prints: Markdown rows of (measure, value, target)."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(rows: Sequence[tuple[str, str, str]]) -> None:
    width = max((len(row[0]) for row in rows), default=len("measure"))
    print(f"| {'measure':<{width}} | value | target |")
    print(f"|{'-' * (width + 2)}|-------|--------|")
    for measure, value, target in rows:
        print(f"| {measure:<{width}} | {value} | {target} |")
