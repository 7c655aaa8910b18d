"""The microphone boundary: ALSA capture in 200 ms periods, reopened by name when it fails."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import alsaaudio

from appliance import loops
from appliance.core.audio import CHANNELS, SAMPLE_BYTES, SAMPLE_RATE_HZ
from appliance.core.events import MicrophoneState
from appliance.errors import ApplianceError

# 200 ms: each period wakes the capture thread and the speech link once, and that
# wake-up, not the bytes, is what costs CPU: listening took 0.50 CPU-s a minute at
# 50 ms periods, 0.23 at 100 ms, 0.13 at 200 ms (bench/daemon_figures.py, same machine).
# The price is latency: a word reaches the service up to 150 ms later than at 50 ms.
# The link sends each period as two 100 ms messages (the service takes 50-1000 ms).
PERIOD_FRAMES = 3200
PERIOD_BYTES = PERIOD_FRAMES * CHANNELS * SAMPLE_BYTES
# 5 periods = 1 s of buffer. Capture latency does not grow with it (a period is
# handed over as soon as it is full); it only gives a slow consumer on a Pi more
# slack before the driver overruns.
PERIODS_PER_BUFFER = 5

PERIOD_SECONDS = PERIOD_FRAMES / SAMPLE_RATE_HZ
# A live microphone cannot deliver audio ahead of the clock by more than its
# buffer (1 s, after a stall). Far more means the source is not live: the ALSA
# file plugin whose input FIFO closed returns zeros ~500,000 times a second.
AHEAD_LIMIT_SECONDS = 2.0
# Measured over windows this long, so a USB clock slightly faster than ours never adds up.
PACE_WINDOW_SECONDS = 10.0
# Reads that return nothing for this long (a PCM that has stopped) count as a dead stream.
SILENT_LIMIT_SECONDS = 5.0
# After a stream fault, the microphone counts as good again after this much live audio.
STREAM_OK_SECONDS = 1.0
# Opening a device can block inside alsa-lib while holding the GIL (pyalsaaudio calls
# snd_pcm_open without releasing it; read() and close() do release it): a file-plugin FIFO
# without a writer or a wedged driver would freeze every thread. So a child process opens
# it first; only if that finishes within this time is it opened here.
OPEN_TIMEOUT_SECONDS = 5.0
# What the child runs: open the capture PCM as Microphone.open does, close it, exit 0.
# Its own alarm ends it even if the daemon is gone by then (stopped while the child
# waits): SIGALRM's default action kills a process blocked in open(2) too.
_PROBE = (
    "import signal, sys, alsaaudio\n"
    "signal.alarm(int(sys.argv[2]))\n"
    "alsaaudio.PCM(type=alsaaudio.PCM_CAPTURE, mode=alsaaudio.PCM_NORMAL,"
    f" rate={SAMPLE_RATE_HZ}, channels={CHANNELS}, format=alsaaudio.PCM_FORMAT_S16_LE,"
    f" periodsize={PERIOD_FRAMES}, periods={PERIODS_PER_BUFFER}, device=sys.argv[1]).close()\n"
)

PcmFactory = Callable[..., Any]
Probe = Callable[[str, float], None]
log = logging.getLogger(__name__)


class MicrophoneError(ApplianceError):
    """The microphone could not be opened or read; the message says what to do."""

    def __init__(self, device: str, reason: str) -> None:
        self.device = device
        self.reason = reason  # ALSA's words, e.g. "No such device"; stable across retries
        self.is_busy = "busy" in reason.lower()
        super().__init__(f"microphone {device!r}: {reason}; {_advice(reason, self.is_busy)}")

    @classmethod
    def from_alsa(cls, device: str, error: Exception) -> MicrophoneError:
        # pyalsaaudio appends " [device]" to the strerror text; drop it so the
        # reason is the same whichever call failed.
        reason = str(error).removesuffix(f" [{device}]").strip() or type(error).__name__
        return cls(device, reason)


class StreamError(MicrophoneError):
    """The device is open but its audio is not a live stream (too fast, or none at all)."""


def probe_open(device: str, timeout_seconds: float = OPEN_TIMEOUT_SECONDS) -> None:
    """Open and close `device` in a child process; MicrophoneError if that hangs.

    A quick failure is not reported here: the in-process open that follows fails
    the same way, in ALSA's own words.
    """
    try:
        subprocess.run(
            [sys.executable, "-c", _PROBE, device, str(math.ceil(timeout_seconds) + 1)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        raise MicrophoneError(
            device, f"opening the device did not finish within {timeout_seconds:g} s"
        ) from None


def _advice(reason: str, is_busy: bool) -> str:

    if is_busy:
        return "another program holds the sound card (arecord, PulseAudio, PipeWire?); stop it"
    lowered = reason.lower()
    if "no such" in lowered or "unknown" in lowered:
        return "is the microphone plugged in? `appliance devices` lists names for [audio] device"
    if "real time" in lowered or "no audio" in lowered or "did not finish" in lowered:
        return "reopening it; if this stays, replug the microphone or check [audio] device"
    if "16 khz" in lowered:
        return 'use the "plughw:CARD=<name>,DEV=0" form, which converts rate and channels'
    return "see `appliance devices` and check [audio] device"


class Microphone:
    """One open capture PCM that yields whole 200 ms periods of 16 kHz mono S16_LE."""

    def __init__(self, device: str, pcm_factory: PcmFactory = alsaaudio.PCM) -> None:
        self.device = device
        self._pcm_factory = pcm_factory
        self._pcm: Any = None
        self._pending = bytearray()  # a short read's bytes, until a whole chunk is there
        self.overrun_count = 0

    def open(self) -> None:
        try:
            pcm = self._pcm_factory(
                type=alsaaudio.PCM_CAPTURE,
                mode=alsaaudio.PCM_NORMAL,
                rate=SAMPLE_RATE_HZ,
                channels=CHANNELS,
                format=alsaaudio.PCM_FORMAT_S16_LE,
                periodsize=PERIOD_FRAMES,
                periods=PERIODS_PER_BUFFER,
                device=self.device,
            )
        except alsaaudio.ALSAAudioError as error:
            raise MicrophoneError.from_alsa(self.device, error) from error
        try:
            info = pcm.info()
        except alsaaudio.ALSAAudioError as error:
            pcm.close()
            raise MicrophoneError.from_alsa(self.device, error) from error
        # The *_near setters let a hw: device pick other values without an error;
        # the speech service would then hear noise, so refuse. The period size may
        # differ: read() re-chunks.
        chosen = (info.get("rate"), info.get("channels"), info.get("format_name"))
        if chosen != (SAMPLE_RATE_HZ, CHANNELS, "S16_LE"):
            pcm.close()
            rate, channels, sample_format = chosen
            raise MicrophoneError(
                self.device,
                f"the driver chose {rate} Hz, {channels} channel(s), {sample_format}, "
                "not the 16 kHz mono S16_LE the speech service needs",
            )
        self._pcm = pcm
        self._pending.clear()

    def read(self) -> bytes | None:
        """One period; None after an overrun (the audio is lost, and counted).

        Blocks until the driver has a period, i.e. about 200 ms for a real device;
        with the ALSA file plugin on a FIFO, until the writer writes or closes.
        """
        if self._pcm is None:
            raise MicrophoneError(self.device, "not open")
        while len(self._pending) < PERIOD_BYTES:
            try:
                frames, data = self._pcm.read()
            except alsaaudio.ALSAAudioError as error:
                raise MicrophoneError.from_alsa(self.device, error) from error
            if frames < 0:
                # -EPIPE: pyalsaaudio has re-prepared the PCM; the data is not audio.
                # Drop the partial chunk too, so no chunk spans the gap.
                self.overrun_count += 1
                self._pending.clear()
                return None
            if frames == 0:
                return None  # nothing yet; lets the caller look at its stop flag
            if frames == PERIOD_FRAMES and not self._pending:
                return bytes(data)  # the usual case: one whole period, no copying around
            self._pending += data[: frames * CHANNELS * SAMPLE_BYTES]
        chunk = bytes(self._pending[:PERIOD_BYTES])
        del self._pending[:PERIOD_BYTES]
        return chunk

    def close(self) -> None:
        pcm, self._pcm = self._pcm, None
        if pcm is not None:
            pcm.close()

    def __enter__(self) -> Microphone:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class CaptureLoop:
    """Reads the microphone forever in its own thread, reopening it by name on failure."""

    def __init__(
        self,
        device: str,
        on_audio: Callable[[bytes], None],
        emit: Callable[[object], None],
        pcm_factory: PcmFactory = alsaaudio.PCM,
        clock: Callable[[], float] = time.monotonic,
        retry_min_seconds: float = 1.0,
        retry_max_seconds: float = 30.0,
        probe: Probe | None = None,
        open_timeout_seconds: float = OPEN_TIMEOUT_SECONDS,
        wakeup: loops.Wakeup | None = None,
    ) -> None:
        self.device = device
        self._on_audio = on_audio  # must not block for long: it runs on the capture thread
        self._emit = emit
        self._pcm_factory = pcm_factory
        # Only a real ALSA device is probed; a stand-in PCM at the seam cannot hang.
        self._probe = probe or (probe_open if pcm_factory is alsaaudio.PCM else None)
        self.open_timeout_seconds = open_timeout_seconds
        self._clock = clock
        self.retry_min_seconds = retry_min_seconds
        self.retry_max_seconds = retry_max_seconds
        self._last_progress_at = clock()
        self._wakeup = wakeup or loops.Wakeup()  # between attempts to open the device
        self._retry_seconds = retry_min_seconds
        self.frames_read = 0
        self._closed_overrun_count = 0
        self._microphone: Microphone | None = None
        self._failure_reported = ""  # the reason last emitted, so retries stay quiet
        self._stream_fault = False  # the last failure was a dead stream: wait for live audio
        self._is_reading = False

    @property
    def last_progress_at(self) -> float:
        """When the thread last did something; now while it waits to reopen on purpose."""
        return self._clock() if self._wakeup.is_waiting else self._last_progress_at

    @property
    def overrun_count(self) -> int:
        current = self._microphone.overrun_count if self._microphone else 0
        return self._closed_overrun_count + current

    def run(self, stop: threading.Event) -> None:
        """Capture until `stop` is set.

        Returns within about one period (200 ms) of `stop` being set: a read blocks
        only until the driver has a period. The exception is the ALSA file plugin
        on a FIFO (tests, demo mode): a read waits for the writer's next write, and
        with no writer at all the open itself blocks, holding the GIL; the probe in a
        child process turns that into an error after open_timeout_seconds instead of
        a stalled process (RealtimeFeeder holds the write end open so it never comes to it).
        Real hw/plughw devices open non-blocking (alsa-lib's default), so a busy
        card fails at once instead of waiting.
        """
        self._retry_seconds = self.retry_min_seconds
        loops.run_loop(stop, lambda: self._open_and_pump(stop), self._wakeup, "microphone")

    def _open_and_pump(self, stop: threading.Event) -> float:
        """One life of the open device, until it fails or `stop`; returns the seconds to
        wait before opening it again."""
        self._last_progress_at = self._clock()
        microphone = Microphone(self.device, self._pcm_factory)
        try:
            if self._probe is not None:
                self._probe(self.device, self.open_timeout_seconds)
            microphone.open()
            self._microphone = microphone
            if not self._stream_fault:
                self._failure_reported = ""
                self._emit(MicrophoneState(True))
            if self._pump(microphone, stop):
                # Reset only once audio really flowed: a device that opens and
                # then fails at once must still back off.
                self._retry_seconds = self.retry_min_seconds
        except MicrophoneError as error:
            self._report(error)
        finally:
            self._microphone = None
            self._closed_overrun_count += microphone.overrun_count
            microphone.close()
        if stop.is_set():
            return 0.0
        delay = self._retry_seconds
        self._retry_seconds = min(delay * 2, self.retry_max_seconds)
        return delay

    def _pump(self, microphone: Microphone, stop: threading.Event) -> bool:
        """Hand chunks to on_audio until stop; True if live audio flowed."""
        has_read = False
        pace = _Pace(self._clock())
        try:
            while not stop.is_set():
                self._is_reading = True
                try:
                    chunk = microphone.read()
                finally:
                    self._is_reading = False
                now = self._last_progress_at = self._clock()
                if chunk is None:
                    pace.check_silence(self.device, now)
                    continue
                pace.check_chunk(self.device, now)
                if self._stream_fault and pace.live_seconds(now) >= STREAM_OK_SECONDS:
                    self._stream_fault = False
                    self._failure_reported = ""
                    self._emit(MicrophoneState(True))
                has_read = True
                self.frames_read += len(chunk) // (CHANNELS * SAMPLE_BYTES)
                self._on_audio(chunk)
        except StreamError as error:
            self._stream_fault = True
            self._report(error)
            return False  # back off: reopening at once would spin the same way
        except MicrophoneError as error:
            self._report(error)
        return has_read

    def stalled_seconds(self, now: float) -> float:
        """How long the current read has been blocked; 0 when not reading.

        A read that never returns cannot be noticed on this thread: the daemon asks.
        """
        return now - self._last_progress_at if self._is_reading else 0.0

    def _report(self, error: MicrophoneError) -> None:
        # Once per distinct reason: an absent microphone retried every 30 s for a
        # day must not flood the journal or flicker the LEDs.
        if error.reason != self._failure_reported:
            self._failure_reported = error.reason
            log.warning(
                "%s", error, extra={"APPLIANCE_EVENT": "microphone_error", "DEVICE": self.device}
            )
            self._emit(MicrophoneState(False, str(error)))


class _Pace:
    """Whether audio arrives as a live microphone's does: at the clock's pace, and at all."""

    def __init__(self, now: float) -> None:
        self.opened_at = now
        self.window_start = now
        self.audio_seconds = 0.0  # in the current window
        self.last_chunk_at = now

    def check_chunk(self, device: str, now: float) -> None:
        if now - self.window_start >= PACE_WINDOW_SECONDS:
            self.window_start, self.audio_seconds = now, 0.0
        self.audio_seconds += PERIOD_SECONDS
        self.last_chunk_at = now
        if self.audio_seconds - (now - self.window_start) > AHEAD_LIMIT_SECONDS:
            raise StreamError(
                device,
                "audio arrives faster than real time: the capture source stopped delivering",
            )

    def check_silence(self, device: str, now: float) -> None:
        if now - self.last_chunk_at > SILENT_LIMIT_SECONDS:
            raise StreamError(device, f"no audio for {SILENT_LIMIT_SECONDS:g} s")

    def live_seconds(self, now: float) -> float:
        return now - self.opened_at


def list_devices(alsa: ModuleType = alsaaudio) -> str:
    """What `appliance devices` prints: capture PCM names and sound cards by name."""
    lines = ["Capture devices (ALSA PCM names):"]
    try:
        pcm_names = alsa.pcms(alsa.PCM_CAPTURE)
    except alsa.ALSAAudioError as error:
        pcm_names = []
        lines.append(f"  cannot list them: {error}")
    lines += [f"  {name}" for name in pcm_names]
    lines.append("Sound cards:")
    cards = []
    for index in alsa.card_indexes():
        try:
            card_id, long_name = alsa.card_name(index)
        except alsa.ALSAAudioError:
            continue  # unplugged between the two calls
        cards.append((index, card_id, long_name))
    if not cards:
        lines.append("  no sound cards found (is the USB microphone plugged in?)")
    for index, card_id, long_name in cards:
        lines.append(f"  card {index}: {card_id} ({long_name})")
        lines.append(f'    [audio] device = "plughw:CARD={card_id},DEV=0"')
    lines.append(
        "Use the CARD=<name> form: USB card numbers change across reboots, names do not; "
        "plughw converts to the 16 kHz mono the appliance needs."
    )
    return "\n".join(lines) + "\n"
