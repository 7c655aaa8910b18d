"""Issue 13's figures in one run: the daemon against the tutorial-style reference client.

The reference (bench/reference_client.py), a daemon with a session always open and
a daemon idling in a quiet room (session = "on_speech") run side by side, each with
its own stand-ins and its own real-time ALSA file-plugin microphone, so the three see
the same machine at the same time. Then cold `appliance status|confirm|--help`
against a running daemon, and start -> READY=1, several runs each (medians).

  .venv/bin/python bench/lightness.py [--python OTHER/.venv/bin/python] [--window-seconds 60]

`--python` measures another checkout's daemon and CLI (e.g. the code before a change);
the reference and the stand-ins always come from this checkout.
"""

from __future__ import annotations

import argparse
import array
import math
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.core.audio import SAMPLE_RATE_HZ  # noqa: E402
from appliance.speech.settings import ASSEMBLYAI_KEY  # noqa: E402
from appliance.tryout.sandbox import Sandbox  # noqa: E402
from appliance.tryout.standins.speech_server import SpeechStandin  # noqa: E402
from bench.daemon_figures import (  # noqa: E402
    ChildProcess,
    DaemonProcess,
    _audio_flowing,
    _cpu_seconds,
    _peak_rss_mib,
    _wait,
    wall_seconds,
)
from bench.reference_client import PERIOD_FRAMES as REFERENCE_PERIOD_FRAMES  # noqa: E402
from bench.table import print_table  # noqa: E402

REFERENCE = Path(__file__).resolve().parent / "reference_client.py"
SENTENCE = "The kettle is singing again."
Row = tuple[str, str, str]


def _tone(seconds: float, hz: float = 300.0, amplitude: int = 8000) -> bytes:
    """Loud enough for the speech stand-in to hear an utterance (it detects by energy)."""
    count = int(SAMPLE_RATE_HZ * seconds)
    samples = array.array(
        "h",
        (int(amplitude * math.sin(2 * math.pi * hz * i / SAMPLE_RATE_HZ)) for i in range(count)),
    )
    return samples.tobytes()


class Reference(ChildProcess):
    """bench/reference_client.py as its own process, pointed at a sandbox's stand-ins."""

    def __init__(self, box: Sandbox) -> None:
        self.box = box
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start it; return the seconds from spawn to its first audio at the speech stand-in."""
        sessions_before = len(self.box.speech.sessions)
        started = time.monotonic()
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(REFERENCE),
                "--device",
                str(self.box.device),
                "--speech-url",
                self.box.speech.url,
                "--x-url",
                self.box.x.url,
                "--credentials",
                str(self.box.credentials_dir),
            ],
            cwd=self.box.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _wait(lambda: _audio_flowing(self.box, sessions_before), 30):
            raise RuntimeError("the reference client sent no audio within 30 s")
        return time.monotonic() - started


def _cold_ms(command: Sequence[str], runs: int, cwd: Path) -> list[float]:
    """Wall milliseconds of each of `runs` runs of `command` as a new process."""
    return [wall_seconds(list(command), cwd, 60) * 1000 for _ in range(runs)]


def _posted(box: Sandbox) -> bool:
    """The sentence reached the X stand-in (an unformatted turn has no capitals or stop)."""
    posts = box.x.posts if box.x.wait_for_posts(1, 30) else []
    return bool(posts) and posts[0].text.lower().strip(" .") == SENTENCE.lower().strip(" .")


def _yes(flag: float) -> str:
    return "yes" if flag else "NO: the figures are suspect"


def _vs(value: float, reference: float, unit: str, note: str = "") -> str:
    """A figure with its ratio to the reference's like figure, e.g. "0.42 CPU-s/min (1.05×)"."""
    digits = 0 if unit == "ms" else 1 if unit == "MiB" else 2
    ratio = f"{value / reference:.2f}×" if reference > 0 else "reference 0"
    return f"{value:.{digits}f} {unit} ({ratio}{'; ' + note if note else ''})"


def _cpu_per_minute(pids: Sequence[int], window_seconds: float) -> list[float]:
    before, started = [_cpu_seconds(pid) for pid in pids], time.monotonic()
    time.sleep(window_seconds)
    elapsed = time.monotonic() - started
    return [(_cpu_seconds(pid) - cpu) / elapsed * 60 for pid, cpu in zip(pids, before, strict=True)]


def _median_of(start: Callable[[], float], stop: Callable[[], None], runs: int) -> float:
    samples = []
    for _ in range(runs):
        try:
            samples.append(start())
        finally:
            stop()
    return statistics.median(samples)


def measure(python: str = sys.executable, window_seconds: float = 60.0, runs: int = 7) -> list[Row]:
    """Rows of (measure, value, target); every figure also as a ratio to the reference."""
    with tempfile.TemporaryDirectory(prefix="appliance-lightness-") as tmp_name:
        tmp = Path(tmp_name)
        # Each reader's fake microphone writes the periods it reads, as a real card's
        # driver would hand them over: the reference 50 ms, the daemon its own.
        ref_box = Sandbox(
            [SENTENCE, "Tweet that."],
            directory=tmp / "reference",
            mic_period_bytes=REFERENCE_PERIOD_FRAMES * 2,  # 16-bit mono
        )
        listen_box = Sandbox(
            [], directory=tmp / "listen", settings_overrides={"assemblyai": {"session": "always"}}
        )
        idle_box = Sandbox(
            [], directory=tmp / "idle", settings_overrides={"assemblyai": {"session": "on_speech"}}
        )
        boxes = (ref_box, listen_box, idle_box)
        for box in boxes:
            # The start-up figures open a session per run: more than AssemblyAI's free
            # accounts' 5 new sessions a minute, which the stand-in enforces by default.
            box.speech = SpeechStandin(
                script={ref_box: [SENTENCE, "Tweet that."], listen_box: [SENTENCE]}.get(box, []),
                api_key=box.keys[ASSEMBLYAI_KEY],
                sessions_per_minute=None,
            )
        try:
            for box in boxes:
                box.start_standins()
            figures = _side_by_side(boxes, tmp, python, window_seconds, runs)
            # Start-up, one process at a time: the daemon's READY=1, the reference's first audio.
            ready_s = _ready_median(listen_box, tmp, python, runs)
            reference = Reference(ref_box)
            ref_start_s = _median_of(reference.start, reference.stop, runs)
        finally:
            for box in boxes:
                box.stop()
    f = figures
    ref_cpu, ref_rss, ref_cold_ms = f["ref_cpu"], f["ref_rss"], f["ref_cold_ms"]
    sessions = f"{f['idle_sessions']:.0f} sessions"
    rows: list[Row] = [
        ("reference: CPU while streaming", f"{ref_cpu:.2f} CPU-s/min", ""),
        ("reference: peak RSS (VmHWM), one post", f"{ref_rss:.1f} MiB", ""),
        ("reference: a cold `reference_client.py --help`", f"{ref_cold_ms:.0f} ms", ""),
        ("reference: start → first audio at the server", f"{ref_start_s:.2f} s", ""),
        ("reference: posted the sentence on “tweet that”", _yes(f["ref_posted"]), "yes"),
        ("daemon: posted the sentence on `appliance confirm`", _yes(f["posted"]), "yes"),
        ("CPU listening, session open", _vs(f["listen_cpu"], ref_cpu, "CPU-s/min"), "≤ 1.0×"),
        (
            "CPU idle (on_speech, quiet room)",
            _vs(f["idle_cpu"], ref_cpu, "CPU-s/min", sessions),
            "≤ 0.1 CPU-s/min",
        ),
        (
            "peak RSS (VmHWM), session open, one post",
            _vs(f["listen_rss"], ref_rss, "MiB"),
            "≤ 40 MB",
        ),
        ("peak RSS (VmHWM), idle, no post", _vs(f["idle_rss"], ref_rss, "MiB"), "≤ 40 MB"),
        (
            "cold `appliance status`, daemon running",
            _vs(f["status_ms"], ref_cold_ms, "ms"),
            "≤ 150 ms",
        ),
        (
            "cold `appliance confirm`, daemon running",
            _vs(f["confirm_ms"], ref_cold_ms, "ms"),
            "≤ 150 ms",
        ),
        ("cold `appliance --help`", _vs(f["help_ms"], ref_cold_ms, "ms"), ""),
        ("start → READY=1", _vs(ready_s, ref_start_s, "s"), "≤ 0.3 s"),
    ]
    return rows


def _side_by_side(
    boxes: Sequence[Sandbox], tmp: Path, python: str, window_seconds: float, runs: int
) -> dict[str, float]:
    """The reference, a listening and an idle daemon at once; cold CLI runs against them."""
    ref_box, listen_box, idle_box = boxes
    reference = Reference(ref_box)
    listening = DaemonProcess(listen_box, tmp / "listen", python)
    idle = DaemonProcess(idle_box, tmp / "idle", python)
    f: dict[str, float] = {}
    try:
        listening.warm_up()  # the cache both daemons use
        reference.start()
        listening.start()
        idle.start()
        _wait(lambda: _audio_flowing(listen_box, 0), 10)
        time.sleep(2)  # past start-up's one-off work
        pids = (reference.pid, listening.pid, idle.pid)
        f["ref_cpu"], f["listen_cpu"], f["idle_cpu"] = _cpu_per_minute(pids, window_seconds)
        f["idle_sessions"] = len(idle_box.speech.sessions)
        # Both hear a sentence: the reference confirms it by voice ("tweet that"), the
        # daemon by the first cold `appliance confirm`. Peak RSS is read after both posted.
        ref_box.say(_tone(1.0) + bytes(32000) + _tone(0.6) + bytes(32000))
        listen_box.say(_tone(1.0) + bytes(32000))
        _wait(lambda: listen_box.speech.sessions[-1].turns_sent > 0, 20)
        time.sleep(0.5)  # the daemon takes the turn in as its candidate
        cli = [python, "-m", "appliance"]
        config = ["--config", str(listen_box.config_path)]
        confirm = [*cli, "confirm", *config]
        first_confirm_ms = _cold_ms(confirm, 1, tmp)
        # Wait for the post: a second confirm within the grace period would cancel it.
        f["ref_posted"], f["posted"] = float(_posted(ref_box)), float(_posted(listen_box))
        commands = {
            "confirm_ms": confirm,  # now "nothing to confirm": the same cold round trip
            "status_ms": [*cli, "status", *config],
            "help_ms": [*cli, "--help"],
            "ref_cold_ms": [sys.executable, str(REFERENCE), "--help"],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        samples["confirm_ms"] += first_confirm_ms
        names = list(commands)
        for round_ in range(runs):  # round-robin, each round starting one further on,
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                samples[name] += _cold_ms(commands[name], 1, tmp)  # so all see the same load
        f.update((name, statistics.median(values)) for name, values in samples.items())
        f["ref_rss"], f["listen_rss"], f["idle_rss"] = (_peak_rss_mib(pid) for pid in pids)
    finally:
        for process in (reference, listening, idle):
            process.stop()
    return f


def _ready_median(box: Sandbox, tmp: Path, python: str, runs: int) -> float:
    samples = []
    for run in range(runs):
        notify_dir = tmp / f"ready-{run}"
        notify_dir.mkdir()
        daemon = DaemonProcess(box, notify_dir, python)
        try:
            samples.append(daemon.start())
        finally:
            daemon.stop()
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--python", default=sys.executable, help="the daemon's and CLI's interpreter"
    )
    parser.add_argument("--window-seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=7, help="runs per cold-process figure")
    parser.add_argument(
        "--arm64-root",
        type=Path,
        help="also the cold-process figures in this arm64 root under qemu (see lightness_arm64)",
    )
    parser.add_argument("--arm64-before", type=Path, help="a checkout to compare with there")
    parser.add_argument("--arm64-only", action="store_true", help="only the arm64 figures")
    args = parser.parse_args(argv)
    table = [] if args.arm64_only else measure(args.python, args.window_seconds, args.runs)
    if args.arm64_root:
        from bench import lightness_arm64

        table += lightness_arm64.rows(args.arm64_root, args.arm64_before, min(args.runs, 5))
    print_table(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
