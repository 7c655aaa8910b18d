"""Figures of the daemon as its own process: start to READY=1, CPU, peak RSS, recovery after a drop.

The daemon runs as `appliance run` against the stand-ins, with the ALSA file-plugin
microphone fed in real time, so its CPU and memory are its own.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appliance.service.config import AssemblyAISettings  # noqa: E402
from appliance.tryout.sandbox import Sandbox, write_config  # noqa: E402
from bench.table import print_table  # noqa: E402

CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
UNIT_FILE = Path(__file__).resolve().parent.parent / "systemd" / "appliance.service"
# The unit's %C (systemd's cache root, /var/cache) for the benchmark's daemons: kept
# between runs, as the device keeps its cache directory (.cache/ is not committed).
CACHE_ROOT = Path(__file__).resolve().parent.parent / ".cache" / "bench"


def unit_environment(unit_file: Path = UNIT_FILE, cache_root: Path = CACHE_ROOT) -> dict[str, str]:
    """The unit's Environment= assignments, so the benchmark runs the daemon as it ships.

    Only the plain form (KEY=VALUE words, optionally in double quotes) that the unit
    uses, and of systemd's specifiers only %C, which becomes `cache_root`.
    """
    environment = {}
    for line in unit_file.read_text().splitlines():
        if line.startswith("Environment="):
            for word in shlex.split(line.removeprefix("Environment=")):
                key, _, value = word.partition("=")
                environment[key] = value.replace("%C", str(cache_root))
    return environment


def daemon_environment(**extra: str) -> dict[str, str]:
    """This process's environment with the unit's on top, as systemd would start the daemon."""
    env = dict(os.environ, **unit_environment(), **extra)
    # systemd does not pass on this shell's settings; this one would keep the daemon
    # from writing the bytecode cache the unit gives it, so every start would compile.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_SECOND  # utime + stime


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wall_seconds(argv: list[str], cwd: Path | None = None, timeout_seconds: float = 300) -> float:
    """Wall seconds of one run of `argv`, output discarded.

    Not subprocess.run(timeout=...): with a timeout it polls for the exit in steps of
    up to 50 ms (CPython's Popen._wait), which rounded every figure to 14 + 50k ms.
    A blocking wait, and a timer that kills a run that hangs.
    """
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killer = threading.Timer(timeout_seconds, process.kill)
    killer.start()
    try:
        process.wait()
    finally:
        killer.cancel()
    return time.perf_counter() - started


class ChildProcess:
    """A process the benchmark started: its pid while it runs, and a polite stop."""

    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
                raise RuntimeError(f"{self.process.args} did not stop within 20 s") from None


class DaemonProcess(ChildProcess):
    """`appliance run` in a sandbox, with a notify socket of our own to see READY=1."""

    def __init__(self, box: Sandbox, tmp: Path, python: str = sys.executable) -> None:
        self.box = box
        self.python = python  # another checkout's venv measures that checkout
        self.notify_path = tmp / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.notify.settimeout(0.1)
        self.process: subprocess.Popen[bytes] | None = None
        self.messages: list[str] = []

    def warm_up(self) -> None:
        """Fill the daemon's bytecode cache, as its first start and first post on a device do.

        `appliance run --check` imports what `run` will, the X client included; then the
        package's other modules (the core's posting rules, ...) and the mock pin factory.
        Without this, the first daemon measured would compile, and count the compiler's
        memory.
        """
        write_config(self.box.config_path, **self.box.sections())
        check = [self.python, "-m", "appliance", "run", "--check"]
        compile_rest = "import appliance, compileall, gpiozero.pins.mock\n"
        compile_rest += "compileall.compile_dir(appliance.__path__[0], quiet=1)"
        for command in (
            [*check, "--config", str(self.box.config_path)],
            [self.python, "-c", compile_rest],
        ):
            subprocess.run(
                command,
                env=daemon_environment(),
                cwd=self.box.dir,
                stdout=subprocess.DEVNULL,
                check=True,
                timeout=300,
            )

    def start(self) -> float:
        """Start it; return the seconds from spawn to READY=1."""
        write_config(self.box.config_path, **self.box.sections())
        env = daemon_environment(NOTIFY_SOCKET=str(self.notify_path))
        started = time.monotonic()
        self.process = subprocess.Popen(
            [self.python, "-m", "appliance", "run", "--config", str(self.box.config_path)],
            env=env,
            cwd=self.box.dir,  # not a checkout: `-m` would import the appliance found there
            stdout=subprocess.DEVNULL,
            stderr=(self.box.dir / "daemon.log").open("ab"),  # read it when a run goes wrong
        )
        while time.monotonic() - started < 30:
            if "READY=1" in self._receive():
                ready_seconds = time.monotonic() - started
                # Keep reading, as systemd does: once the socket's buffer is full of
                # STATUS= lines, the daemon's next notification would block it.
                threading.Thread(target=self._drain, name="notify-drain", daemon=True).start()
                return ready_seconds
        raise RuntimeError("the daemon did not send READY=1 within 30 s")

    def _drain(self) -> None:
        while self.notify.fileno() >= 0:
            self._receive()

    def _receive(self) -> list[str]:
        try:
            message = self.notify.recv(4096).decode()
        except (TimeoutError, OSError):  # OSError: closed by stop()
            return []
        lines = message.splitlines()
        self.messages.extend(lines)
        return lines

    def stop(self) -> None:
        super().stop()
        self.notify.close()


def _wait(predicate, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _audio_flowing(box: Sandbox, session_index: int) -> bool:
    sessions = box.speech.sessions
    return len(sessions) > session_index and sessions[session_index].audio_seconds > 0


def measure(window_seconds: float = 30.0) -> list[tuple[str, str, str]]:
    """Rows of (measure, value, target)."""
    rows = []
    session_key = "session" if "session" in AssemblyAISettings.__dataclass_fields__ else None
    with tempfile.TemporaryDirectory(prefix="appliance-bench-") as tmp_name:
        tmp = Path(tmp_name)
        always = {"assemblyai": {"session": "always"}} if session_key else {}
        box = Sandbox([], directory=tmp / "always", settings_overrides=always)
        daemon = DaemonProcess(box, tmp)
        try:
            box.start_standins()
            daemon.warm_up()
            ready_seconds = daemon.start()
            rows.append(("start to READY=1", f"{ready_seconds:.2f} s", "< 1.5 s"))
            _wait(lambda: _audio_flowing(box, 0), 10)
            cpu_before, wall_before = _cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(window_seconds)
            cpu = (_cpu_seconds(daemon.pid) - cpu_before) / (time.monotonic() - wall_before)
            rows.append(
                (
                    "CPU listening, session open",
                    f"{cpu * 60:.2f} CPU-s per audio minute ({cpu * 100:.1f}% of a core)",
                    "< 2% of a core",
                )
            )
            box.speech.drop_all()
            dropped_at = time.monotonic()
            if _wait(lambda: _audio_flowing(box, 1), 60):
                recovery = time.monotonic() - dropped_at
                rows.append(("speech server drop → audio flows again", f"{recovery:.2f} s", ""))
            else:
                rows.append(("speech server drop → audio flows again", "no recovery in 60 s", ""))
            rows.append(
                ("peak RSS of the daemon", f"{_peak_rss_mib(daemon.pid):.1f} MiB", "< 60 MB")
            )
        finally:
            daemon.stop()
            box.stop()
        if session_key:
            rows.append(_idle_cpu(tmp, window_seconds))
    return rows


def _idle_cpu(tmp: Path, window_seconds: float) -> tuple[str, str, str]:
    box = Sandbox(
        [], directory=tmp / "idle", settings_overrides={"assemblyai": {"session": "on_speech"}}
    )
    daemon = DaemonProcess(box, tmp / "idle")
    try:
        box.start_standins()
        daemon.start()
        time.sleep(2)
        cpu_before, wall_before = _cpu_seconds(daemon.pid), time.monotonic()
        time.sleep(window_seconds)
        cpu = (_cpu_seconds(daemon.pid) - cpu_before) / (time.monotonic() - wall_before)
        sessions = len(box.speech.sessions)
    finally:
        daemon.stop()
        box.stop()
    return (
        "CPU idle, no session (on_speech, silence)",
        f"{cpu * 60:.2f} CPU-s per audio minute ({cpu * 100:.1f}% of a core; {sessions} sessions)",
        "",
    )


if __name__ == "__main__":
    print_table(measure())
