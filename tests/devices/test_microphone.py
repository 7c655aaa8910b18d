"""The microphone boundary against real ALSA (file plugin) and, for faults, its PCM seam."""

from __future__ import annotations

import os
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import alsaaudio
import pytest

from appliance import loops
from appliance.core.events import MicrophoneState
from appliance.devices.microphone import (
    PERIOD_BYTES,
    PERIOD_FRAMES,
    PERIOD_SECONDS,
    CaptureLoop,
    Microphone,
    MicrophoneError,
    list_devices,
)
from appliance.tryout.simulated_mic import (
    RealtimeFeeder,
    alsa_env,
    device_name,
    write_alsa_config,
    write_parametric_alsa_config,
)
from tests.speech_audio import silence, speech_pcm, tone

WAIT_SECONDS = 10.0  # upper bound for any wait; tests normally finish far sooner
T = TypeVar("T")


@pytest.fixture(scope="module", autouse=True)
def simmic_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One parametric PCM for the whole module: each test names its own infile."""
    config_file = write_parametric_alsa_config(tmp_path_factory.mktemp("alsa"))
    saved = os.environ.get("ALSA_CONFIG_PATH")
    os.environ.update(alsa_env(config_file))
    yield config_file
    if saved is None:
        os.environ.pop("ALSA_CONFIG_PATH", None)
    else:
        os.environ["ALSA_CONFIG_PATH"] = saved


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return speech_pcm("Post this to my timeline, please.", tmp_path_factory.mktemp("speech"))


def run_with_timeout(function: Callable[[], T], seconds: float = WAIT_SECONDS) -> T:
    """Run a call that may block in ALSA; fail the test instead of hanging it."""
    result: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function())
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if errors:
        raise errors[0]
    return result[0]


class Recorder:
    """Collects what a CaptureLoop emits or hands over, and waits for it."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = threading.Condition()

    def __call__(self, item: object) -> None:
        with self._changed:
            self.items.append(item)
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[list[object]], bool]) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.items), WAIT_SECONDS), self.items


class LoopThread:
    """A CaptureLoop running in its thread, stopped and joined on exit."""

    def __init__(self, loop: CaptureLoop) -> None:
        self.loop = loop
        self.stop = threading.Event()
        self.thread = threading.Thread(target=loop.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> LoopThread:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(WAIT_SECONDS)
        assert not self.thread.is_alive()


def states(items: list[object]) -> list[MicrophoneState]:
    return [item for item in items if isinstance(item, MicrophoneState)]


GOOD_INFO = {"rate": 16000, "channels": 1, "format_name": "S16_LE"}


class ScriptedPcm:
    """A PCM at the seam whose reads follow a script of (frames, data) or exceptions."""

    def __init__(
        self,
        script: Sequence[tuple[int, bytes] | BaseException],
        info: dict[str, object] | None = None,
    ) -> None:
        self.script = list(script)
        self._info = info or GOOD_INFO
        self.is_closed = False
        self.drained = threading.Event()

    def info(self) -> dict[str, object]:
        return self._info

    def read(self) -> tuple[int, bytes]:
        if not self.script:
            self.drained.set()
            time.sleep(0.001)
            return 0, b""
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def close(self) -> None:
        self.is_closed = True


def chunk(byte: int) -> tuple[int, bytes]:
    return PERIOD_FRAMES, bytes([byte]) * PERIOD_BYTES


def read_audio(microphone: Microphone, chunk_count: int) -> bytes:
    """`chunk_count` chunks joined, each checked to be a whole 50 ms period."""
    chunks = [microphone.read() for _ in range(chunk_count)]
    assert [len(c) if c is not None else None for c in chunks] == [PERIOD_BYTES] * chunk_count
    return b"".join(c for c in chunks if c is not None)


# ---- Microphone on real ALSA --------------------------------------------------------


def test_regular_file_gives_whole_periods_equal_to_the_file(tmp_path: Path, speech: bytes) -> None:
    content = speech[: len(speech) // PERIOD_BYTES * PERIOD_BYTES]
    assert len(content) >= 10 * PERIOD_BYTES and any(content)
    infile = tmp_path / "speech.raw"
    infile.write_bytes(content)
    with Microphone(device_name("simmic", infile)) as microphone:
        heard = read_audio(microphone, len(content) // PERIOD_BYTES)
    assert heard == content


def test_named_pcm_config_is_honoured_after_another_pcm_was_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    infile = tmp_path / "tone.raw"
    infile.write_bytes(tone(PERIOD_SECONDS))
    with Microphone(device_name("simmic", infile)) as microphone:
        assert microphone.read() == tone(PERIOD_SECONDS)[:PERIOD_BYTES]
    # alsa-lib re-reads ALSA_CONFIG_PATH at every open, so a later change counts.
    config_file = write_alsa_config(tmp_path, "testmic", infile)
    for name, value in alsa_env(config_file).items():
        monkeypatch.setenv(name, value)
    assert "testmic" in alsaaudio.pcms(alsaaudio.PCM_CAPTURE)
    with Microphone("testmic") as microphone:
        assert microphone.read() == tone(PERIOD_SECONDS)[:PERIOD_BYTES]


def test_fifo_fed_in_real_time_paces_reads_and_carries_speech_intact(
    tmp_path: Path, speech: bytes
) -> None:
    fifo = tmp_path / "mic.fifo"
    with RealtimeFeeder(fifo) as feeder:
        microphone = Microphone(device_name("simmic", fifo))
        microphone.open()  # returns at once: the feeder holds the write end already
        try:
            started_at = time.monotonic()
            run_with_timeout(lambda: read_audio(microphone, 20))
            assert time.monotonic() - started_at > 0.5  # 1 s of audio, not at file speed

            feeder.play(speech)

            def read_speech() -> bytes:
                first = read_audio(microphone, 1)
                while not any(first):
                    first = read_audio(microphone, 1)
                return first + read_audio(microphone, (len(speech) - 1) // PERIOD_BYTES)

            heard = run_with_timeout(read_speech, 5 + len(speech) / 32000)
            assert feeder.wait_until_played(WAIT_SECONDS)
        finally:
            microphone.close()
    padded = speech.ljust(len(heard), b"\0")
    # Speech may begin with exact zeros that were taken for the silence before it.
    assert padded.lstrip(b"\0") == heard.lstrip(b"\0")


def test_missing_card_raises_an_error_naming_the_device() -> None:
    with pytest.raises(MicrophoneError) as raised:
        Microphone("plughw:CARD=Nope,DEV=0").open()
    assert "plughw:CARD=Nope,DEV=0" in str(raised.value)
    assert "plugged in" in str(raised.value)
    assert raised.value.reason == "No such device"
    assert not raised.value.is_busy


def test_missing_infile_raises(tmp_path: Path) -> None:
    with pytest.raises(MicrophoneError, match="No such file"):
        Microphone(device_name("simmic", tmp_path / "absent.raw")).open()


# ---- Microphone faults at the seam -------------------------------------------------


def test_busy_device_is_flagged_and_explained() -> None:
    def busy(**kwargs: object) -> ScriptedPcm:
        raise alsaaudio.ALSAAudioError(f"Device or resource busy [{kwargs['device']}]")

    with pytest.raises(MicrophoneError) as raised:
        Microphone("plughw:CARD=Mic,DEV=0", busy).open()
    assert raised.value.is_busy
    assert "another program" in str(raised.value)


def test_a_driver_that_chose_another_rate_is_refused_and_closed() -> None:
    pcm = ScriptedPcm([], info={"rate": 48000, "channels": 2, "format_name": "S16_LE"})
    with pytest.raises(MicrophoneError, match="48000 Hz"):
        Microphone("hw:1,0", lambda **kwargs: pcm).open()
    assert pcm.is_closed


def test_short_reads_are_joined_into_whole_chunks() -> None:
    audio = (bytes(range(256)) * 128)[: 4 * PERIOD_BYTES]  # 4 chunks, read 600 bytes at a time
    script = [(300, audio[i : i + 600]) for i in range(0, len(audio), 600)]
    with Microphone("x", lambda **kwargs: ScriptedPcm(script)) as microphone:
        assert read_audio(microphone, 4) == audio


def test_an_overrun_is_dropped_and_counted() -> None:
    script = [chunk(1), (-32, b""), chunk(2)]
    with Microphone("x", lambda **kwargs: ScriptedPcm(script)) as microphone:
        assert [microphone.read() for _ in range(3)] == [chunk(1)[1], None, chunk(2)[1]]
    assert microphone.overrun_count == 1


# ---- CaptureLoop --------------------------------------------------------------------


class AppearingDevice:
    """The PCM seam for a USB microphone plugged in later: fails, then real ALSA."""

    def __init__(self, real_device: str) -> None:
        self.real_device = real_device
        self.is_plugged = threading.Event()
        self.open_count = 0

    def __call__(self, **kwargs: object) -> object:
        self.open_count += 1
        if not self.is_plugged.is_set():
            raise alsaaudio.ALSAAudioError(f"No such device [{kwargs['device']}]")
        return alsaaudio.PCM(**{**kwargs, "device": self.real_device})


def test_capture_loop_waits_for_a_missing_microphone_then_delivers_audio(tmp_path: Path) -> None:
    fifo = tmp_path / "mic.fifo"
    seam = AppearingDevice(device_name("simmic", fifo))
    emitted, audio = Recorder(), Recorder()
    loop = CaptureLoop("plughw:CARD=Mic,DEV=0", audio, emitted, seam, retry_min_seconds=0.01,
                       retry_max_seconds=0.02)  # fmt: skip
    with RealtimeFeeder(fifo) as feeder, LoopThread(loop):
        deadline = time.monotonic() + WAIT_SECONDS
        while seam.open_count < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert seam.open_count >= 5
        assert states(emitted.items) == [MicrophoneState(False, emitted.items[0].detail)]
        assert "plughw:CARD=Mic,DEV=0" in emitted.items[0].detail

        seam.is_plugged.set()
        feeder.play(tone(0.2))
        emitted.wait_for(lambda items: MicrophoneState(True) in items)
        audio.wait_for(lambda items: tone(0.2)[:PERIOD_BYTES] in items)
    assert states(emitted.items)[1:] == [MicrophoneState(True)]
    assert {len(chunk) for chunk in audio.items} == {PERIOD_BYTES}
    assert loop.frames_read == len(audio.items) * PERIOD_FRAMES


def test_capture_loop_drops_and_counts_an_overrun() -> None:
    pcm = ScriptedPcm([chunk(1), (-32, b""), chunk(2)])
    emitted, audio = Recorder(), Recorder()
    with LoopThread(CaptureLoop("x", audio, emitted, lambda **kwargs: pcm)) as running:
        assert pcm.drained.wait(WAIT_SECONDS)
    assert audio.items == [chunk(1)[1], chunk(2)[1]]
    assert running.loop.overrun_count == 1
    assert emitted.items == [MicrophoneState(True)]


def test_capture_loop_reopens_a_microphone_unplugged_mid_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "mic.fifo"
    real_device = device_name("simmic", fifo)
    opened: list[object] = []

    class UnplugOnce:
        """Wraps the real PCM; its fifth read fails as an unplugged USB device does."""

        def __init__(self, pcm: alsaaudio.PCM, fail_after_reads: int | None) -> None:
            self.pcm, self.reads_left = pcm, fail_after_reads

        def read(self) -> tuple[int, bytes]:
            if self.reads_left == 0:
                raise alsaaudio.ALSAAudioError("No such device [usbmic]")
            if self.reads_left is not None:
                self.reads_left -= 1
            return self.pcm.read()

        def info(self) -> dict[str, object]:
            return self.pcm.info()

        def close(self) -> None:
            self.pcm.close()

    def seam(**kwargs: object) -> UnplugOnce:
        pcm = UnplugOnce(alsaaudio.PCM(**{**kwargs, "device": real_device}),
                         4 if not opened else None)  # fmt: skip
        opened.append(pcm)
        return pcm

    emitted, audio = Recorder(), Recorder()
    loop = CaptureLoop("usbmic", audio, emitted, seam, retry_min_seconds=0.01)
    with RealtimeFeeder(fifo), LoopThread(loop):
        audio.wait_for(lambda items: len(items) >= 8)
    shown = states(emitted.items)
    assert shown[0] == MicrophoneState(True) and shown[2] == MicrophoneState(True)
    assert not shown[1].is_ok and "usbmic" in shown[1].detail
    assert len(opened) >= 2


def test_capture_loop_backs_off_exponentially_up_to_the_cap() -> None:
    waits: list[float | None] = []
    stop = threading.Event()

    class RecordingWakeup(loops.Wakeup):
        def wait(self, seconds: float | None) -> None:
            waits.append(seconds)
            if len(waits) == 8:
                stop.set()

    def absent(**kwargs: object) -> object:
        raise alsaaudio.ALSAAudioError("No such device [usbmic]")

    emitted = Recorder()
    CaptureLoop("usbmic", Recorder(), emitted, absent, wakeup=RecordingWakeup()).run(stop)
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]
    assert len(emitted.items) == 1


def test_a_new_failure_reason_is_reported_again() -> None:
    errors = iter(["Device or resource busy", "Device or resource busy", "No such device"])

    def failing(**kwargs: object) -> object:
        raise alsaaudio.ALSAAudioError(next(errors, "No such device"))

    emitted = Recorder()
    loop = CaptureLoop("usbmic", Recorder(), emitted, failing, retry_min_seconds=0.001)
    with LoopThread(loop):
        emitted.wait_for(lambda items: len(items) == 2)
        time.sleep(0.05)  # more retries, which must stay quiet
    assert ["busy" in state.detail for state in states(emitted.items)] == [True, False]


def test_stop_returns_promptly_while_reading_and_while_backing_off(tmp_path: Path) -> None:
    fifo = tmp_path / "mic.fifo"
    audio = Recorder()
    reading = LoopThread(CaptureLoop(device_name("simmic", fifo), audio, Recorder()))
    with RealtimeFeeder(fifo):
        reading.thread.start()
        audio.wait_for(lambda items: len(items) >= 2)
        reading.stop.set()
        reading.thread.join(1.0)
        assert not reading.thread.is_alive()

    backing_off = LoopThread(CaptureLoop(device_name("simmic", tmp_path / "none"), Recorder(),
                                         Recorder(), retry_min_seconds=60))  # fmt: skip
    backing_off.thread.start()
    time.sleep(0.05)
    backing_off.stop.set()
    backing_off.thread.join(1.0)
    assert not backing_off.thread.is_alive()


def test_last_progress_at_follows_reads_and_retries() -> None:
    ticks = iter(range(1, 1000))
    pcm = ScriptedPcm([chunk(1), chunk(2)])
    loop = CaptureLoop("x", Recorder(), Recorder(), lambda **kwargs: pcm, clock=lambda: next(ticks))
    assert loop.last_progress_at == 1
    with LoopThread(loop):
        assert pcm.drained.wait(WAIT_SECONDS)
    assert loop.last_progress_at >= 4  # one retry attempt, then two reads at least


# ---- simulated microphone and device listing ---------------------------------------


def test_feeder_keeps_queued_audio_until_a_reader_comes(tmp_path: Path) -> None:
    feeder = RealtimeFeeder(tmp_path / "mic.fifo")
    feeder.start()
    feeder.play(silence(0.1))
    assert not feeder.wait_until_played(0.2)
    started_at = time.monotonic()
    feeder.stop()
    assert time.monotonic() - started_at < 1.0


def test_list_devices_on_a_machine_without_cards() -> None:
    text = list_devices()
    assert "Capture devices" in text and "null" in text
    assert "no sound cards found" in text


def test_list_devices_recommends_the_card_name_form() -> None:
    fake_alsa = types.ModuleType("fake_alsa")
    fake_alsa.PCM_CAPTURE = alsaaudio.PCM_CAPTURE  # type: ignore[attr-defined]
    fake_alsa.ALSAAudioError = alsaaudio.ALSAAudioError  # type: ignore[attr-defined]
    fake_alsa.pcms = lambda kind: ["default", "sysdefault:CARD=Device"]  # type: ignore[attr-defined]
    fake_alsa.card_indexes = lambda: [1]  # type: ignore[attr-defined]
    fake_alsa.card_name = lambda index: ("Device", "USB PnP Sound Device")  # type: ignore[attr-defined]
    text = list_devices(fake_alsa)
    assert "card 1: Device (USB PnP Sound Device)" in text
    assert 'device = "plughw:CARD=Device,DEV=0"' in text
    assert "no sound cards" not in text


def test_device_names_open_paths_that_need_quoting_too(tmp_path: Path) -> None:
    plain, spaced = tmp_path / "plain.raw", tmp_path / "with space, comma.raw"
    for infile in (plain, spaced):
        infile.write_bytes(tone(PERIOD_SECONDS))
        with Microphone(device_name("simmic", infile)) as microphone:
            assert microphone.read() == tone(PERIOD_SECONDS)
    assert '"' not in device_name("simmic", plain)
