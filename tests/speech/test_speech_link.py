"""The speech link against the project's v3 stand-in, over real websocket frames."""

import math
import struct
import threading
import time

import pytest

from appliance.core.events import LinkCause, LinkDown, LinkUp, PartialText, SentenceFinished
from appliance.speech.link import SpeechLink
from appliance.tryout.standins.speech_server import SpeechStandin
from tests.conftest import wait_until

CHUNK_SECONDS = 0.05
KEY = "test-key-123456"


def tone(seconds, hz=300.0, amplitude=8000):
    n = int(16000 * seconds)
    return struct.pack(
        f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * hz * i / 16000)) for i in range(n))
    )


def silence(seconds):
    return b"\0\0" * int(16000 * seconds)


class Recorder:
    """Collects events; waits for a condition with a timeout."""

    def __init__(self):
        self.events = []
        self.changed = threading.Condition()

    def __call__(self, event):
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def of(self, kind):
        with self.changed:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate, timeout):
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self), timeout)


class Feeder:
    """Plays audio into the link in real time, 50 ms at a time, silence when idle."""

    def __init__(self, link):
        self.link, self.pending, self.stop = link, bytearray(), threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def play(self, pcm):
        with self.lock:
            self.pending += pcm

    def _run(self):
        size, next_at = int(16000 * CHUNK_SECONDS) * 2, time.monotonic()
        while not self.stop.is_set():
            with self.lock:
                chunk = bytes(self.pending[:size]) or silence(CHUNK_SECONDS)
                del self.pending[:size]
            self.link.send_audio(chunk.ljust(size, b"\0"))
            next_at += CHUNK_SECONDS
            self.stop.wait(max(0, next_at - time.monotonic()))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(2)


@pytest.fixture
def standin():
    srv = SpeechStandin(
        script=["Mondays are the worst.", "Tweet that.", "Third sentence."], api_key=KEY
    )
    srv.start()
    yield srv
    srv.stop()


def start_link(url, recorder, key=KEY, **options):
    options.setdefault("speech_model", "universal-streaming-english")
    link = SpeechLink(url=url, api_key=key, emit=recorder, **options)
    stop = threading.Event()
    thread = threading.Thread(target=link.run, args=(stop,), daemon=True)
    thread.start()
    return link, stop, thread


def sentences(recorder):
    return [e.text for e in recorder.of(SentenceFinished)]


def test_sentences_arrive_formatted_with_partials_first(standin):
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder)
    try:
        assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
        with Feeder(link) as feeder:
            feeder.play(tone(1.2) + silence(1.2) + tone(0.8) + silence(1.2))
            assert recorder.wait_for(lambda r: len(r.of(SentenceFinished)) >= 2, 10)
        assert sentences(recorder) == ["Mondays are the worst.", "Tweet that."]
        first_final = recorder.events.index(recorder.of(SentenceFinished)[0])
        assert any(isinstance(e, PartialText) for e in recorder.events[:first_final])
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
    # Shutdown sent Terminate and waited for Termination: the session closed normally
    # (the stand-in's own thread records the close a moment after the link returns).
    assert wait_until(lambda: standin.sessions[-1].close_code is not None, 5)
    assert standin.sessions[-1].close_code == 1000


def test_reconnects_after_the_server_drops_the_connection(standin):
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder)
    try:
        assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
        with Feeder(link) as feeder:
            standin.drop_all()
            assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
            assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 10)
            feeder.play(tone(1.0) + silence(1.2))
            assert recorder.wait_for(lambda r: r.of(SentenceFinished), 10)
        assert sentences(recorder) == ["Mondays are the worst."]
        assert len(standin.sessions) == 2
    finally:
        stop.set()
        thread.join(10)


def test_close_code_3005_backs_off_and_reconnects(standin):
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder)
    try:
        assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
        standin.close_all(code=3005, reason="server error")
        assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
        down = recorder.of(LinkDown)[0]
        assert down.close_code == 3005 and "3005" in down.reason
        assert recorder.wait_for(lambda r: len(r.of(LinkUp)) >= 2, 10)
    finally:
        stop.set()
        thread.join(10)


def test_a_wrong_key_gets_one_quick_retry_then_the_slow_schedule(standin):
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder, key="wrong-key")
    try:
        assert recorder.wait_for(lambda r: len(r.of(LinkDown)) >= 2, 10)
        first, second = recorder.of(LinkDown)[:2]
        assert first.close_code == second.close_code == 1008
        assert first.cause is second.cause is LinkCause.KEY_REFUSED
        assert first.retry_in_seconds <= 3  # one quick retry: a refusal can be a blip
        assert second.retry_in_seconds >= 60
        assert "assemblyai_api_key" in second.reason
        time.sleep(1.5)  # a storm would have opened more sessions by now
        assert len(standin.sessions) == 2
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_no_server_means_retrying_not_exiting():
    recorder = Recorder()
    # A port nobody listens on: the connection is refused.
    link, stop, thread = start_link("ws://127.0.0.1:9/v3/ws", recorder)
    try:
        assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
        assert "cannot connect" in recorder.of(LinkDown)[0].reason
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_audio_is_kept_not_sent_while_the_link_is_down():
    recorder = Recorder()
    link = SpeechLink(
        url="ws://127.0.0.1:9/v3/ws",
        api_key=KEY,
        speech_model="universal-streaming-english",
        emit=recorder,
    )
    link.send_audio(silence(0.05))
    assert len(link.backlog) == 1 and link.chunks_sent == 0 and link.chunks_dropped == 0
