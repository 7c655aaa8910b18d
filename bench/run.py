"""The benchmark suite: one command, one table. Run: .venv/bin/python bench/run.py"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.table import print_table  # noqa: E402

# Each module offers rows() -> [(measure, value, target)]; a missing one is reported.
SECTIONS = [
    ("bench.posting", "posting (grace period off)"),
    ("bench.daemon_figures", "the daemon as a process"),
    ("bench.speech_cost", "speech sessions and cost"),
    ("bench.post_length", "X's weighted length"),
    ("bench.lightness", "against the tutorial-style reference client (issue 13)"),
]


def machine() -> str:
    model = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith(("model name", "Model")):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({model or 'unknown CPU'}), "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="run only the sections whose module name contains this")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str]] = []
    for module_name, title in SECTIONS:
        if args.only and args.only not in module_name:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            rows.append((f"({title})", f"not measured: {error}", ""))
            continue
        measure = getattr(module, "rows", None) or module.measure
        rows.extend(measure())
    print(f"Measured on: {machine()}\n")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
