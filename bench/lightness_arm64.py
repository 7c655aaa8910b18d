"""Issue 13's cold-process figures under arm64 emulation (qemu-user), as ratios only.

Emulation is 10-50 times slower than this machine and not evenly so, so only ratios
mean anything (shared/recipes: arm64-under-qemu). It needs an arm64 Debian root with
the appliance installed by scripts/install.sh, as `KEEP=1 sudo scripts/arm64-test.sh`
leaves one (its rootfs under /var/tmp/appliance-arm64-test.*), and root, for chroot.
The daemon does not run here (a full emulated run takes minutes per figure): a
control socket on the host, inside the root, answers `status` and `confirm` as the
daemon would, and importing the daemon's module stands in for start -> READY=1.

  sudo .venv/bin/python bench/lightness.py --arm64-root ROOTFS [--arm64-before SRC]

`--arm64-before` measures another checkout's package (its appliance/ directory goes
first on the emulated interpreter's path) against the same reference in the same run.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import subprocess
from collections.abc import Iterator
from pathlib import Path

from appliance.service.control import ControlServer
from bench.daemon_figures import wall_seconds

REFERENCE = Path(__file__).resolve().parent / "reference_client.py"
VENV_PYTHON = "/opt/appliance/venv/bin/python"
WORK = "/run/appliance-bench"  # inside the root
Row = tuple[str, str, str]


@contextlib.contextmanager
def _mounted(root: Path) -> Iterator[None]:
    """/proc and /dev bound into the root while the figures run, unmounted after."""
    mounted = []
    try:
        for path in ("/proc", "/dev"):
            target = root / path.lstrip("/")
            if subprocess.run(["mountpoint", "-q", str(target)]).returncode != 0:
                subprocess.run(["mount", "--bind", path, str(target)], check=True)
                mounted.append(target)
        yield
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", str(target)], check=False)


def _in_root(root: Path, argv: list[str], pythonpath: str | None) -> list[str]:
    env = ["PATH=/usr/bin:/bin", "HOME=/root", "LANG=C.UTF-8"]
    if pythonpath:
        env.append(f"PYTHONPATH={pythonpath}")
    return ["chroot", str(root), "env", "-i", *env, *argv]


def _answer(command: str) -> dict[str, object]:
    if command == "status":
        return {"ok": True, "status": "Listening", "led": "listening", "is_muted": False}
    return {"ok": False, "error": "Nothing to post: no sentence is waiting."}


def rows(root: Path, before_src: Path | None = None, runs: int = 5) -> list[Row]:
    """Median cold wall time of each command in the root, over the reference's."""
    if not Path(root, VENV_PYTHON.lstrip("/")).exists():
        return [("(arm64)", f"not measured: no {VENV_PYTHON} in {root}", "")]
    work = Path(root, WORK.lstrip("/"))
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(REFERENCE, work / "reference_client.py")
    (work / "appliance.toml").write_text(f'[control]\nsocket = "{WORK}/control.sock"\n')
    versions: dict[str, str | None] = {"after": None}
    if before_src is not None:
        shutil.rmtree(work / "before", ignore_errors=True)
        shutil.copytree(
            Path(before_src) / "appliance",
            work / "before" / "appliance",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        versions = {"before": f"{WORK}/before", "after": None}
    config = ["--config", f"{WORK}/appliance.toml"]
    commands = {
        "reference": [VENV_PYTHON, f"{WORK}/reference_client.py", "--help"],
        "`appliance --help`": [VENV_PYTHON, "-m", "appliance", "--help"],
        "`appliance status`": [VENV_PYTHON, "-m", "appliance", "status", *config],
        "`appliance confirm`": [VENV_PYTHON, "-m", "appliance", "confirm", *config],
        "importing the daemon": [VENV_PYTHON, "-c", "import appliance.service.daemon"],
    }
    samples: dict[tuple[str, str], list[float]] = {}
    with _mounted(root), ControlServer(work / "control.sock", _answer):
        for round_ in range(runs + 1):  # the first round writes the .pyc files: not counted
            for version, pythonpath in versions.items():
                for name, argv in commands.items():
                    if name == "reference" and version == "before":
                        continue  # one reference for both
                    seconds = wall_seconds(_in_root(root, argv, pythonpath))
                    if round_:
                        samples.setdefault((version, name), []).append(seconds)
    reference = statistics.median(samples[("after", "reference")])
    table: list[Row] = []
    for name in list(commands)[1:]:
        ratios = {
            version: statistics.median(samples[(version, name)]) / reference for version in versions
        }
        value = f"{ratios['after']:.2f}× the reference"
        if "before" in ratios:
            value += f" (before: {ratios['before']:.2f}×)"
        table.append((f"arm64 (qemu): cold {name}", value, ""))
    table.append(("arm64 (qemu): the reference, a cold `--help`", "1.00× (by definition)", ""))
    return table
