"""The microphone boundary: ALSA capture in 50 ms chunks, reopened by name when it fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import alsaaudio

from appliance.errors import ApplianceError
from appliance.events import MicrophoneState

SAMPLE_RATE_HZ = 16000
CHANNELS = 1
SAMPLE_BYTES = 2  # S16_LE
PERIOD_FRAMES = 800  # 50 ms: the speech service takes 50-1000 ms of audio per message
PERIOD_BYTES = PERIOD_FRAMES * CHANNELS * SAMPLE_BYTES
# 10 periods = 500 ms of buffer. Capture latency does not grow with it (a period is
# handed over as soon as it is full); it only gives a slow consumer on a Pi more
# slack before the driver overruns.
PERIODS_PER_BUFFER = 10

PcmFactory = Callable[..., Any]


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


def _advice(reason: str, is_busy: bool) -> str:
    if is_busy:
        return "another program holds the sound card (arecord, PulseAudio, PipeWire?); stop it"
    lowered = reason.lower()
    if "no such" in lowered or "unknown" in lowered:
        return "is the microphone plugged in? `appliance devices` lists names for [audio] device"
    if "16 khz" in lowered:
        return 'use the "plughw:CARD=<name>,DEV=0" form, which converts rate and channels'
    return "see `appliance devices` and check [audio] device"


class Microphone:
    """One open capture PCM that yields whole 50 ms chunks of 16 kHz mono S16_LE."""

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
        """One 50 ms chunk; None after an overrun (the audio is lost, and counted).

        Blocks until the driver has a period, i.e. about 50 ms for a real device;
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
    ) -> None:
        self.device = device
        self._on_audio = on_audio  # must not block for long: it runs on the capture thread
        self._emit = emit
        self._pcm_factory = pcm_factory
        self._clock = clock
        self.retry_min_seconds = retry_min_seconds
        self.retry_max_seconds = retry_max_seconds
        self.last_progress_at = clock()
        self.frames_read = 0
        self._closed_overrun_count = 0
        self._microphone: Microphone | None = None
        self._failure_reported = ""  # the reason last emitted, so retries stay quiet

    @property
    def overrun_count(self) -> int:
        current = self._microphone.overrun_count if self._microphone else 0
        return self._closed_overrun_count + current

    def run(self, stop: threading.Event) -> None:
        """Capture until `stop` is set.

        Returns within about one period (50 ms) of `stop` being set: a read blocks
        only until the driver has a period. The exception is the ALSA file plugin
        on a FIFO (tests, demo mode): a read waits for the writer's next write, and
        with no writer at all the open itself blocks, holding the GIL, so the whole
        process stalls; RealtimeFeeder holds the write end open to prevent that.
        Real hw/plughw devices open non-blocking (alsa-lib's default), so a busy
        card fails at once instead of waiting.
        """
        retry_seconds = self.retry_min_seconds
        while not stop.is_set():
            self.last_progress_at = self._clock()
            microphone = Microphone(self.device, self._pcm_factory)
            try:
                microphone.open()
                self._microphone = microphone
                self._failure_reported = ""
                self._emit(MicrophoneState(True))
                if self._pump(microphone, stop):
                    # Reset only once audio really flowed: a device that opens and
                    # then fails at once must still back off.
                    retry_seconds = self.retry_min_seconds
            except MicrophoneError as error:
                self._report(error)
            finally:
                self._microphone = None
                self._closed_overrun_count += microphone.overrun_count
                microphone.close()
            if stop.is_set():
                break
            stop.wait(retry_seconds)
            retry_seconds = min(retry_seconds * 2, self.retry_max_seconds)

    def _pump(self, microphone: Microphone, stop: threading.Event) -> bool:
        """Hand chunks to on_audio until stop; True if at least one chunk was read."""
        has_read = False
        try:
            while not stop.is_set():
                chunk = microphone.read()
                self.last_progress_at = self._clock()
                if chunk is None:
                    continue
                has_read = True
                self.frames_read += len(chunk) // (CHANNELS * SAMPLE_BYTES)
                self._on_audio(chunk)
        except MicrophoneError as error:
            self._report(error)
        return has_read

    def _report(self, error: MicrophoneError) -> None:
        # Once per distinct reason: an absent microphone retried every 30 s for a
        # day must not flood the journal or flicker the LEDs.
        if error.reason != self._failure_reported:
            self._failure_reported = error.reason
            self._emit(MicrophoneState(False, str(error)))


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
