"""Shared fixtures: spoken audio (espeak-ng) cached for the whole run, and the sandbox."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.speech_audio import silence, speech_pcm

AUDIO_CACHE = Path(__file__).parent.parent / ".cache" / "test-audio"


@pytest.fixture(autouse=True)
def _same_environment_for_every_test():
    """Put back the environment a test changed (a sandbox points ALSA at its own, soon
    deleted, configuration): the tests run in parallel workers, and which tests follow
    which in one worker's process changes from run to run."""
    saved = os.environ.copy()
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def speak():
    """speak(text) -> the sentence as 16 kHz mono S16_LE, with a pause after it."""

    def _speak(text: str, pause_seconds: float = 1.5) -> bytes:
        return speech_pcm(text, AUDIO_CACHE) + silence(pause_seconds)

    return _speak


def wait_until(predicate, timeout_seconds: float, interval_seconds: float = 0.05) -> bool:
    """Poll `predicate` until it is true or the timeout passes."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_seconds)
    return bool(predicate())


def probe_report(code: str, timeout_seconds: float = 100) -> dict:
    """Run `code` in a fresh interpreter; what its last output line says, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_seconds
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


class SteppedClock:
    """Seconds that only the test moves on (`clock.now += 60`): a Clock's monotonic or wall."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@contextlib.contextmanager
def refusing_url() -> Iterator[str]:
    """http://127.0.0.1:<port> of a port bound but not listening: connecting is refused.
    While it is held, no server of another test worker can be given the port (as a
    stopped server's, or a probed and closed one's, can)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture
def stop_event():
    event = threading.Event()
    yield event
    event.set()
