"""A capture stream that ends or stalls (issue 12, item 6), against the real ALSA file plugin.

When the file plugin's input FIFO loses its writer, pcm.read() returns zero-filled
periods as fast as it is called; with no writer at all, opening the PCM blocks in
open(2) while holding the GIL. Both must be noticed, reported and survived.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from appliance import loops
from appliance.core.events import MicrophoneState
from appliance.devices.microphone import PERIOD_BYTES, PERIOD_FRAMES, CaptureLoop
from appliance.service import daemon as daemon_module
from appliance.service.daemon import Parts
from appliance.tryout.sandbox import Sandbox
from appliance.tryout.simulated_mic import (
    RealtimeFeeder,
    device_name,
)
from tests.conftest import wait_until
from tests.devices.test_microphone import (  # simmic_config: the same ALSA file-plugin PCM, autouse
    GOOD_INFO,
    LoopThread,
    Recorder,
    ScriptedPcm,
    chunk,
    simmic_config,  # noqa: F401
    states,
)
from tests.service.service_process import running_service
from tests.speech_audio import tone

WAIT_SECONDS = 15.0


def test_a_closed_input_is_reported_and_the_microphone_reopened_when_it_returns(tmp_path):
    fifo = tmp_path / "mic.fifo"
    os.mkfifo(fifo)
    emitted, audio = Recorder(), Recorder()
    loop = CaptureLoop(device_name("simmic", fifo), audio, emitted, retry_min_seconds=0.05,
                       retry_max_seconds=0.5, open_timeout_seconds=1.0)  # fmt: skip
    first = RealtimeFeeder(fifo)
    first.start()
    with LoopThread(loop):
        emitted.wait_for(lambda items: MicrophoneState(True) in items)
        audio.wait_for(lambda items: len(items) >= 4)
        first.stop()  # the source goes away: reads now return zeros at once
        emitted.wait_for(
            lambda items: any("faster than real time" in s.detail for s in states(items))
        )
        # Reopening finds no writer: the open would block, so it is given up in time.
        emitted.wait_for(lambda items: any("did not finish" in s.detail for s in states(items)))
        chunks_while_gone = len(audio.items)

        with RealtimeFeeder(fifo) as second:  # the source comes back
            second.play(tone(3.0))
            emitted.wait_for(lambda items: states(items)[-1] == MicrophoneState(True))
            audio.wait_for(lambda items: tone(3.0)[:PERIOD_BYTES] in items)
    assert states(emitted.items)[0] == MicrophoneState(True)
    # A handful of zero chunks slipped through before the check tripped, not a flood.
    assert chunks_while_gone < 200


def test_opening_a_device_that_blocks_does_not_freeze_the_process(tmp_path):
    """In a child process: on the old code the GIL stays held and the child never finishes."""
    fifo = tmp_path / "nobody-writes.fifo"
    os.mkfifo(fifo)
    script = textwrap.dedent(
        f"""
        import threading, time
        from appliance.devices.microphone import CaptureLoop
        emitted = []
        loop = CaptureLoop({device_name("simmic", fifo)!r}, lambda chunk: None, emitted.append,
                           retry_min_seconds=0.1, retry_max_seconds=0.2, open_timeout_seconds=0.5)
        stop = threading.Event()
        threading.Thread(target=loop.run, args=(stop,), daemon=True).start()
        beats = 0
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            time.sleep(0.01)
            beats += 1
        print(beats)
        print(emitted[0].detail if emitted else "nothing reported")
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process froze while the capture device was being opened")
    beats, reported = done.stdout.splitlines()[:2]
    assert int(beats) > 50, "the main thread hardly ran"
    assert "did not finish within 0.5 s" in reported
    # The probe the child was waiting on when it exited ends by itself: no stray process.
    assert wait_until(lambda: not _processes_naming(str(fifo)), WAIT_SECONDS)


def _processes_naming(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # ended meanwhile
        if any(text.encode() in word for word in words):
            found.append(cmdline.parent.name)
    return found


def test_audio_far_ahead_of_the_clock_is_a_dead_stream_and_backs_off():
    ticks = itertools.count()
    clock = lambda: next(ticks) * 0.001  # noqa: E731 - 1 ms per look at the clock
    opens: list[int] = []

    def factory(**kwargs):
        opens.append(1)
        return ScriptedPcm([chunk(1)] * 200, GOOD_INFO)

    waits: list[float | None] = []
    stop = threading.Event()

    class RecordingWakeup(loops.Wakeup):
        def wait(self, seconds):
            waits.append(seconds)
            if len(waits) == 3:
                stop.set()

    emitted, audio = Recorder(), Recorder()
    wakeup = RecordingWakeup()
    CaptureLoop("usbmic", audio, emitted, factory, clock=clock, wakeup=wakeup).run(stop)
    assert waits == [1, 2, 4], "each reopen of a dead stream waits longer"
    assert len(opens) == 3 and len(audio.items) < 3 * 60
    shown = states(emitted.items)
    assert shown[0] == MicrophoneState(True)
    assert [s.is_ok for s in shown] == [True, False], "reported once, no flicker on reopen"
    assert "faster than real time" in shown[1].detail


def test_reads_that_return_nothing_for_long_are_a_dead_stream():
    ticks = itertools.count()
    pcm = ScriptedPcm([chunk(1)])  # then (0, b"") for ever
    emitted = Recorder()
    loop = CaptureLoop("usbmic", Recorder(), emitted, lambda **kwargs: pcm,
                       clock=lambda: float(next(ticks)), retry_min_seconds=60)  # fmt: skip
    with LoopThread(loop):
        emitted.wait_for(lambda items: len(states(items)) == 2)
    assert "no audio for 5 s" in states(emitted.items)[1].detail


def test_the_daemon_reports_a_read_that_never_returns(tmp_path, monkeypatch):
    monkeypatch.setattr(daemon_module, "MICROPHONE_SILENT_SECONDS", 0.5)
    release = threading.Event()

    class BlockingPcm:
        def __init__(self, **kwargs):
            self.reads = 0

        def info(self):
            return GOOD_INFO

        def read(self):
            self.reads += 1
            if self.reads > 3:
                release.wait(WAIT_SECONDS)  # a driver that stops delivering
            release.wait(0.05)
            return PERIOD_FRAMES, bytes(PERIOD_BYTES)

        def close(self):
            pass

    box = Sandbox([], directory=tmp_path, device="plughw:CARD=Stuck,DEV=0")
    box.start_standins()
    try:
        daemon = box.start_daemon(Parts(pcm_factory=BlockingPcm))
        assert wait_until(lambda: daemon.state.microphone_ok is False, 10)
        assert "no audio for 0.5 s" in daemon.state.microphone_detail
        release.set()
        assert wait_until(lambda: daemon.state.microphone_ok is True, 10)
    finally:
        release.set()
        box.stop()


def test_sigterm_exits_0_promptly_while_the_capture_read_blocks_for_good(tmp_path):
    """A FIFO whose writer never writes: the capture thread sits in read() for ever."""
    box = Sandbox([], directory=tmp_path, device=device_name("simmic", tmp_path / "mute.fifo"))
    os.mkfifo(tmp_path / "mute.fifo")
    writer = os.open(tmp_path / "mute.fifo", os.O_RDWR)  # a writer that stays silent
    box.start_standins()
    try:
        with running_service(box, tmp_path) as (process, notify):
            assert wait_until(
                lambda: any("no audio for 5 s" in m for m in notify.messages), WAIT_SECONDS
            ), notify.messages
            process.send_signal(signal.SIGTERM)
            assert process.wait(20) == 0
    finally:
        os.close(writer)
        box.stop()
