"""A speech server that drip-feeds, stalls or poisons: the link never hangs, never dies,
never holds a huge frame in memory, and always stops promptly."""

from __future__ import annotations

import json
import signal
import struct
import threading
import tracemalloc

import pytest
import websocket
from hypothesis import given, settings
from hypothesis import strategies as st
from websocket import ABNF

from appliance.core.events import (
    LinkCause,
    LinkDown,
    LinkIdle,
    LinkUp,
    PartialText,
    SentenceFinished,
)
from appliance.speech.frames import BoundedFrameBuffer, FrameTooLarge, StreamUnusable
from appliance.speech.receiver import SessionReceiver
from appliance.tryout.sandbox import Sandbox
from tests.service.service_process import running_service
from tests.speech import test_speech_faults as faults
from tests.speech.test_speech_faults import SENTENCES
from tests.speech.test_speech_link import Feeder, Recorder, start_link
from tests.speech.test_speech_messages import json_values

make_standin, link_with = faults.make_standin, faults.link_with  # the same fixtures

# systemd/appliance.service: TimeoutStopSec=15. The link must be well inside it.
STOP_WITHIN_SECONDS = 5.0


def test_a_drip_fed_handshake_is_abandoned_retried_and_recovers(make_standin, link_with):
    standin = make_standin()
    standin.drip_handshake(seconds_per_byte=0.2, for_seconds=4.0)  # ~150 bytes: ~30 s
    link, recorder, feeder = link_with(standin, session="always", connect_timeout_seconds=1.5)
    assert recorder.wait_for(lambda r: r.of(LinkDown), 5), recorder.events
    down = recorder.of(LinkDown)[0]
    assert down.cause is LinkCause.DROPPED and "within 2 s" in down.reason
    # Once the server is healthy again, the next attempt on the schedule succeeds.
    assert recorder.wait_for(lambda r: r.of(LinkUp), 20), recorder.events


def test_stop_is_prompt_in_the_middle_of_a_drip_fed_handshake(make_standin):
    standin = make_standin()
    standin.drip_handshake(seconds_per_byte=0.5, for_seconds=600.0)
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder, connect_timeout_seconds=60.0)
    threading.Event().wait(1.0)  # the handshake is under way, one byte at a time
    stop.set()
    thread.join(STOP_WITHIN_SECONDS)
    assert not thread.is_alive()
    assert recorder.of(LinkUp) == []


def test_a_drip_fed_token_request_is_abandoned_and_stop_is_prompt(make_standin):
    standin = make_standin()
    standin.drip_handshake(seconds_per_byte=0.5, for_seconds=600.0)
    recorder = Recorder()
    link, stop, thread = start_link(
        standin.url, recorder, session="on_speech", connect_timeout_seconds=1.0
    )
    try:
        assert recorder.wait_for(lambda r: r.of(LinkDown), 5)
        down = recorder.of(LinkDown)[0]
        assert down.cause is LinkCause.DROPPED and "token request" in down.reason
        assert standin.sessions == [] and recorder.of(LinkIdle) == []
    finally:
        stop.set()
        thread.join(STOP_WITHIN_SECONDS)
    assert not thread.is_alive()


def test_stop_is_prompt_when_the_server_stalls_mid_session(make_standin, link_with, speak):
    standin = make_standin()
    recorder = Recorder()
    link, stop, thread = start_link(standin.url, recorder, session="always")
    with Feeder(link) as feeder:
        assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
        feeder.play(speak(SENTENCES[0]))
        standin.stall_all()  # reads nothing, answers nothing: our sends pile up
        threading.Event().wait(1.0)
        stop.set()
        thread.join(STOP_WITHIN_SECONDS + 5.0)  # terminate_timeout (5 s) is part of it
    assert not thread.is_alive()


def test_poisoned_numbers_in_a_turn_do_not_deafen_the_device(make_standin, link_with, speak):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    for poison in ("1e400", "-1e400", "NaN", '"3"', "1" * 5000, "[[[[]]]]"):
        word = f'{{"start":0,"end":{poison},"text":"x"}}'
        standin.inject(
            f'{{"type":"Turn","turn_order":{poison},"end_of_turn":true,'
            f'"turn_is_formatted":true,"transcript":"","words":[{word}]}}'
        )
    feeder.play(speak(SENTENCES[0]))
    assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20), recorder.events
    assert [e.text for e in recorder.of(SentenceFinished)] == SENTENCES[:1]
    assert recorder.of(LinkDown) == [] and len(standin.sessions) == 1


class _Pipe:
    """recv(n) over a frame header followed by a payload made on the fly (never held)."""

    def __init__(self, header: bytes, payload_bytes: int, then: bytes) -> None:
        self.header, self.left, self.then = header, payload_bytes, then

    def __call__(self, size: int) -> bytes:
        if self.header:
            piece, self.header = self.header[:size], self.header[size:]
            return piece
        if self.left:
            n = min(size, self.left)
            self.left -= n
            return b"x" * n
        piece, self.then = self.then[:size], self.then[size:]
        return piece


def text_frame(payload: bytes) -> bytes:
    return ABNF.create_frame(payload, ABNF.OPCODE_TEXT).format()[:2] + payload


def test_a_100_mib_frame_is_skipped_from_its_header_without_holding_it():
    length = 100 * 1024 * 1024
    header = struct.pack("!BBQ", 0x81, 127, length)  # FIN + text, 64-bit length, unmasked
    after = ABNF(1, 0, 0, 0, ABNF.OPCODE_TEXT, 0, b'{"type":"Begin","id":"a"}').format()
    frames = BoundedFrameBuffer(_Pipe(header, length, after), True, 256 * 1024)
    tracemalloc.start()
    try:
        try:
            frames.recv_frame()
            raise AssertionError("an oversized frame must not be returned")
        except FrameTooLarge as skipped:
            assert skipped.length_bytes == length
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes < 4 * 1024 * 1024  # pieces of 64 KiB, never the whole frame
    # The stream is still in step: the next frame reads whole.
    assert json.loads(frames.recv_frame().data)["type"] == "Begin"


def test_an_oversized_frame_from_the_server_is_dropped_and_the_session_goes_on(
    make_standin, link_with, speak, caplog
):
    standin = make_standin()
    link, recorder, feeder = link_with(standin, session="always")
    assert recorder.wait_for(lambda r: r.of(LinkUp), 5)
    standin.inject("y" * (3 * 1024 * 1024))
    feeder.play(speak(SENTENCES[0]))
    assert recorder.wait_for(lambda r: r.of(SentenceFinished), 20), recorder.events
    assert recorder.of(LinkDown) == [] and len(standin.sessions) == 1
    # Refused from its header (never read whole), with one log line.
    skipped = [r for r in caplog.records if "was skipped" in r.getMessage()]
    assert len(skipped) == 1 and "3145728 bytes" in skipped[0].getMessage()


class _FakeSocket:
    """What the receiver reads: the given (opcode, data) frames, then a lost connection."""

    def __init__(self, frames) -> None:
        self.frames = list(frames)

    def recv_data_frame(self, control_frame: bool):
        if not self.frames:
            raise websocket.WebSocketConnectionClosedException("gone")
        opcode, data = self.frames.pop(0)
        return opcode, ABNF(1, 0, 0, 0, opcode, 0, data)


frames = st.lists(
    st.one_of(
        json_values.map(lambda v: (ABNF.OPCODE_TEXT, json.dumps(v).encode())),
        st.binary(max_size=64).map(lambda b: (ABNF.OPCODE_TEXT, b)),
        st.binary(max_size=8).map(lambda b: (ABNF.OPCODE_CLOSE, b)),
        st.binary(max_size=8).map(lambda b: (ABNF.OPCODE_BINARY, b)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(frames=frames, sends_copy=st.booleans())
def test_fuzz_the_receiver_never_dies_and_emits_only_text_events(frames, sends_copy):
    emitted: list[object] = []
    receiver = SessionReceiver(_FakeSocket(frames), emitted.append, sends_formatted_copy=sends_copy)
    for _ in range(len(frames) + 1):
        receiver.receive_one()  # raises nothing, whatever came
    receiver.deliver_due()
    receiver.finish()
    assert receiver.ended.is_set()
    assert all(isinstance(e, PartialText | SentenceFinished) for e in emitted)


@pytest.mark.parametrize("session", ["on_speech", "always"])  # token request / handshake
def test_sigterm_stops_the_daemon_promptly_while_the_server_drip_feeds(tmp_path, session):
    box = Sandbox(
        ["Mondays are the worst."], settings_overrides={"assemblyai": {"session": session}}
    )
    box.start_standins()
    box.speech.drip_handshake(seconds_per_byte=0.5, for_seconds=600.0)
    try:
        with running_service(box, tmp_path) as (process, notify):
            threading.Event().wait(2.0)  # well into the drip-fed answer
            process.send_signal(signal.SIGTERM)
            # systemd/appliance.service: TimeoutStopSec=15; the stop must be well inside it.
            assert process.wait(STOP_WITHIN_SECONDS + 3.0) == 0
            messages = list(notify.messages)
    finally:
        box.stop()
    assert any(m.startswith("STATUS=Connecting") for m in messages), messages


class _Bytes:
    """recv(n) over fixed bytes; then the connection is gone."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self, size: int) -> bytes:
        if not self.data:
            raise websocket.WebSocketConnectionClosedException("gone")
        piece, self.data = self.data[:size], self.data[size:]
        return piece


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=300))
def test_fuzz_the_frame_reader_raises_only_what_the_receiver_handles(data):
    frames = BoundedFrameBuffer(_Bytes(data), False, 64)
    for _ in range(50):
        try:
            frames.recv_frame()
        except FrameTooLarge:
            continue
        except (websocket.WebSocketException, StreamUnusable):
            return
