"""A microphone without hardware: the ALSA file plugin reading a FIFO fed in real time."""

from __future__ import annotations

import array
import collections
import contextlib
import fcntl
import os
import re
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path

from appliance.devices.microphone import PERIOD_BYTES, SAMPLE_RATE_HZ

SYSTEM_ALSA_CONFIG = Path("/usr/share/alsa/alsa.conf")

# How ALSA finds these definitions (measured with alsa-lib 1.2.8, pyalsaaudio 0.11):
# every PCM open (and pcms()) calls snd_config_update(), which reads
# ALSA_CONFIG_PATH from the environment again and re-parses when the list of files
# or a file's mtime changed. So setting os.environ after the first PCM was opened IS
# honoured, PCMs already open keep working, and an edit to a listed file is seen at
# the next open (even within the same second). The catch: the environment is
# process-wide, so switching it drops PCMs defined only in the old file, and setenv
# racing with another thread's open is undefined in C. Hence, for several devices
# in one process, write_parametric_alsa_config(): one file, set once, any number of
# infiles by name (device_name()).


def _pcm_body(infile: str) -> str:
    return (
        "    type file\n"
        '    slave.pcm "null"\n'
        '    file "/dev/null"\n'  # what would be played goes nowhere
        f"    infile {infile}\n"
        '    format "raw"\n'  # S16_LE mono 16 kHz samples, no WAV header
    )


def _quoted(path: Path) -> str:
    text = str(path)
    if '"' in text or "\\" in text:
        raise ValueError(f"ALSA configuration cannot quote this path: {text!r}")
    return f'"{text}"'


def write_alsa_config(dir: Path, pcm_name: str, infile: Path) -> Path:
    """Write a file defining PCM `pcm_name` that captures from `infile`; return its path."""
    config_file = Path(dir) / f"asound-{pcm_name}.conf"
    config_file.write_text(f"pcm.{pcm_name} {{\n{_pcm_body(_quoted(Path(infile)))}}}\n")
    return config_file


def write_parametric_alsa_config(dir: Path, pcm_name: str = "simmic") -> Path:
    """Write a PCM taking its infile as an argument: device_name() spells the device."""
    body = _pcm_body("$INFILE")
    text = (
        f"pcm.{pcm_name} {{\n    @args [ INFILE ]\n    @args.INFILE {{ type string }}\n{body}}}\n"
    )
    config_file = Path(dir) / f"asound-{pcm_name}-parametric.conf"
    config_file.write_text(text)
    return config_file


def device_name(pcm_name: str, infile: Path) -> str:
    """The device string opening a parametric PCM on `infile`, e.g. simmic:/tmp/mic.fifo."""
    text = str(infile)
    # Quote only when ALSA's argument syntax needs it, so the name also sits
    # unescaped in a TOML string or a shell command.
    if re.fullmatch(r"[A-Za-z0-9_./+-]+", text):
        return f"{pcm_name}:{text}"
    return f"{pcm_name}:{_quoted(Path(infile))}"


def alsa_env(config_file: Path) -> dict[str, str]:
    """Environment that adds `config_file` to ALSA's, keeping the system config first."""
    return {"ALSA_CONFIG_PATH": f"{SYSTEM_ALSA_CONFIG}:{config_file}"}


class RealtimeFeeder:
    """Writes a FIFO the way a microphone produces audio: a period every period, never EOF.

    The write end is open from start() to stop(). That matters: the file plugin opens
    its infile with a blocking open(), which waits for a writer, and pyalsaaudio
    holds the GIL through PCM(), so in one process a feeder that opened later would
    deadlock with it. With the write end held, a reader's open returns at once, and
    readers may come and go (CaptureLoop reopening) without ever seeing EOF.

    Every chunk is one write of a whole capture period of the reader (`chunk_bytes`; the
    appliance's PERIOD_BYTES, 6400, by default), written only when the pipe has room for
    all of it: the file plugin returns a short FIFO read as a whole period without
    waiting for the rest (the rest is not audio), so a partial or smaller write would
    corrupt it. (A pipe write is atomic only up to PIPE_BUF, 4096 bytes; a bigger
    non-blocking one may be cut short when the pipe is nearly full, hence the check.)
    Larger ones would let a reader with a smaller period read twice per wake-up, which
    a real microphone, delivering each period when it is full, never does: a reader
    with another period (the benchmark's reference client) gets a feeder of its own size.
    Queued audio waits while no reader has the FIFO open (so a test's speech is
    heard whole); silence is written when nothing is queued and dropped when no one
    reads, as a microphone's would be.
    """

    def __init__(
        self,
        fifo: Path,
        clock: Callable[[], float] = time.monotonic,
        chunk_bytes: int = PERIOD_BYTES,
    ) -> None:
        self.fifo = Path(fifo)
        self.chunk_bytes = chunk_bytes
        self._chunk_seconds = chunk_bytes / (2 * SAMPLE_RATE_HZ)
        self._silence = bytes(chunk_bytes)
        self._clock = clock
        self._queue: collections.deque[bytes] = collections.deque()
        self._played = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._pipe_bytes = 0
        self.chunks_written = 0

    def start(self) -> None:
        if not self.fifo.exists():
            os.mkfifo(self.fifo)
        # A non-blocking write open needs a reader to exist: borrow one for a moment.
        reader = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            self._fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
        finally:
            os.close(reader)
        with contextlib.suppress(OSError, AttributeError):
            # Hold 2 chunks, not 64 KiB: audio nobody reads is late, as a mic's
            # would be lost, rather than piling up seconds of stale silence.
            fcntl.fcntl(self._fd, fcntl.F_SETPIPE_SZ, max(4096, 2 * self.chunk_bytes))
        try:
            self._pipe_bytes = fcntl.fcntl(self._fd, fcntl.F_GETPIPE_SZ)
        except (OSError, AttributeError):
            self._pipe_bytes = 0  # unknown: rely on the write's own all-or-nothing
        self._thread = threading.Thread(target=self._run, name="realtime-feeder", daemon=True)
        self._thread.start()

    def play(self, pcm: bytes) -> None:
        """Queue raw 16 kHz mono S16_LE audio; the last chunk is padded with silence."""
        size = self.chunk_bytes
        chunks = [pcm[i : i + size] for i in range(0, len(pcm), size)]
        if chunks:
            chunks[-1] = chunks[-1].ljust(size, b"\0")
        with self._played:
            self._queue.extend(chunks)

    def wait_until_played(self, timeout: float) -> bool:
        """True once everything queued is in the FIFO; False if `timeout` seconds passed.

        In the FIFO, not yet read: a reader that keeps up is at most two chunks behind.
        """
        with self._played:
            return self._played.wait_for(lambda: not self._queue, timeout)

    def stop(self, timeout_seconds: float = 2.0) -> None:
        """Stop writing and close the write end: readers then see EOF."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_seconds)
        if self._fd >= 0 and (self._thread is None or not self._thread.is_alive()):
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> RealtimeFeeder:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        next_write_at = self._clock()
        while not self._stopping.is_set():
            delay = next_write_at - self._clock()
            if delay > 0 and self._stopping.wait(delay):
                break
            # After a stall (slow machine), restart the schedule rather than
            # bursting to catch up.
            next_write_at = max(next_write_at + self._chunk_seconds, self._clock())
            self._write_one()

    def _queued_bytes(self) -> int:
        """Bytes written and not yet read (FIONREAD works on a pipe's write end too)."""
        count = array.array("i", [0])
        fcntl.ioctl(self._fd, termios.FIONREAD, count)
        return count[0]

    def _write_one(self) -> None:
        with self._played:
            is_queued = bool(self._queue)
            chunk = self._queue[0] if is_queued else self._silence
        if self._pipe_bytes and self._queued_bytes() + len(chunk) > self._pipe_bytes:
            return  # no room for the whole chunk: as a full pipe (only the reader frees room)
        try:
            os.write(self._fd, chunk)
        except BlockingIOError:
            return  # the reader lags by a full pipe: silence is dropped, speech waits
        except BrokenPipeError:
            return  # no reader has the FIFO open right now: likewise
        self.chunks_written += 1
        if is_queued:
            with self._played:
                self._queue.popleft()
                self._played.notify_all()
