"""The AssemblyAI v3 stand-in, driven over real websocket frames by websocket-client."""

from __future__ import annotations

import json
import math
import os
import queue
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import websocket
from websocket import ABNF

from appliance.tryout.standins import speech_session
from appliance.tryout.standins.speech_server import SpeechStandin
from appliance.tryout.standins.utterances import (
    DetectorSettings,
    SpeechEnded,
    SpeechProgress,
    UtteranceDetector,
    revealed_word_count,
    unformatted_words,
)

KEY = "test-key"
QUERY = "sample_rate=16000&encoding=pcm_s16le&speech_model=universal-streaming-english"
TIMEOUT_SECONDS = 5.0
SCRIPT = ["Mondays are the worst.", "Tweet that."]


def tone(seconds: float, hz: float = 300.0, amplitude: int = 8000) -> bytes:
    n = int(16000 * seconds)
    samples = (int(amplitude * math.sin(2 * math.pi * hz * i / 16000)) for i in range(n))
    return struct.pack(f"<{n}h", *samples)


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(16000 * seconds)


class Client:
    """One websocket-client connection; a reader thread files what arrives in `inbox`."""

    def __init__(self, url: str, *, key: str | None = KEY, query: str = QUERY) -> None:
        header = {"Authorization": key} if key is not None else {}
        self.ws = websocket.create_connection(
            f"{url}?{query}", header=header, timeout=TIMEOUT_SECONDS
        )
        self.ws.settimeout(15)  # longer than any wait below; a hung server still ends
        self.inbox: queue.Queue[tuple[str, object]] = queue.Queue()
        self.is_done = threading.Event()  # a close frame came, or the connection was lost
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except Exception as error:  # the connection was lost without a close frame
                self.is_done.set()
                self.inbox.put(("lost", error))
                return
            if opcode == ABNF.OPCODE_TEXT:
                self.inbox.put(("json", json.loads(data)))
            elif opcode == ABNF.OPCODE_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None
                # websocket-client has echoed the close; end TCP as a polite client does.
                self.ws.shutdown()
                self.is_done.set()
                self.inbox.put(("close", (code, data[2:].decode())))
                return

    def next(self, timeout: float = TIMEOUT_SECONDS) -> tuple[str, object]:
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"nothing arrived within {timeout} s")

    def message(self, timeout: float = TIMEOUT_SECONDS) -> dict:
        kind, value = self.next(timeout)
        assert kind == "json", (kind, value)
        assert isinstance(value, dict)
        return value

    def until_close(self, timeout: float = TIMEOUT_SECONDS) -> tuple[list[dict], tuple]:
        """Messages up to the close frame, and the close (code, reason)."""
        messages: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            kind, value = self.next(max(0.0, deadline - time.monotonic()))
            if kind == "close":
                assert isinstance(value, tuple)
                return messages, value
            assert kind == "json", (kind, value)
            assert isinstance(value, dict)
            messages.append(value)

    def send_audio(self, pcm: bytes, chunk_ms: int = 50, speed: float = 1.0) -> None:
        """Send in chunk_ms chunks, paced at `speed` times real time; stops once closed."""
        size = 32 * chunk_ms
        pcm += bytes(-len(pcm) % size)
        started = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), size)):
            delay = started + index * chunk_ms / 1000 / speed - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.ws.send_binary(pcm[offset : offset + size])
            except (websocket.WebSocketException, OSError):
                return

    def send_json(self, message: dict) -> None:
        self.ws.send(json.dumps(message))

    def close(self) -> None:
        try:
            if self.is_done.is_set():
                self.ws.shutdown()
            else:
                self.ws.close(timeout=1)
        except Exception:
            pass


@pytest.fixture
def make_standin():
    started: list[SpeechStandin] = []
    clients: list[Client] = []

    def make(**options) -> SpeechStandin:
        options.setdefault("api_key", KEY)
        srv = SpeechStandin(**options)
        srv.start()
        started.append(srv)
        return srv

    make.clients = clients  # type: ignore[attr-defined]
    yield make
    for client in clients:
        client.close()
    for srv in started:
        srv.stop()


def connect(make_standin, srv: SpeechStandin, **options) -> Client:
    client = Client(srv.url, **options)
    make_standin.clients.append(client)
    return client


def turns(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] == "Turn"]


def errored(client: Client) -> tuple[int, str]:
    """An error close as the service does it: the Error message, then the same code."""
    error = client.message()
    assert error["type"] == "Error", error
    kind, (code, reason) = client.next()
    assert kind == "close" and code == error["error_code"], (kind, code, error)
    return code, error["error"]


# -- the happy path -------------------------------------------------------------------


def test_turns_follow_the_script_with_partials_first(make_standin):
    srv = make_standin(script=SCRIPT, rate_tolerance_seconds=3.0, turn_style="two_messages")
    client = connect(make_standin, srv, query=QUERY + "&format_turns=true")
    begin = client.message()
    assert begin["type"] == "Begin"
    assert uuid.UUID(begin["id"]).version == 4
    assert abs(begin["expires_at"] - (time.time() + 10800)) < 5

    audio = silence(0.3) + tone(1.2) + silence(1.0) + tone(1.2) + silence(1.0)
    client.send_audio(audio, speed=2.0)
    client.send_json({"type": "Terminate"})
    messages, close = client.until_close()

    assert close == (1000, "")
    assert messages[-1]["type"] == "Termination"
    assert messages[-1]["audio_duration_seconds"] == 5  # 4.7 s, as an integer
    shape = []
    for turn in turns(messages):
        step = (turn["turn_order"], turn["end_of_turn"], turn["turn_is_formatted"])
        if not shape or shape[-1] != step:
            shape.append(step)
    assert shape == [(0, False, False), (0, True, False), (0, True, True)] + [
        (1, False, False),
        (1, True, False),
        (1, True, True),
    ]
    first, second = ([t for t in turns(messages) if t["turn_order"] == n] for n in (0, 1))
    partials = [t["transcript"] for t in first if not t["end_of_turn"]]
    assert partials[0] == "mondays"
    assert all("mondays are the worst".startswith(p) for p in partials)
    assert "mondays are the worst" not in partials
    assert first[-2]["transcript"] == "mondays are the worst"
    assert first[-2]["utterance"] == "mondays are the worst"
    assert first[-1]["transcript"] == "Mondays are the worst."
    assert [w["text"] for w in first[-1]["words"]] == ["Mondays", "are", "the", "worst."]
    assert second[-1]["transcript"] == "Tweet that."
    assert second[-2]["transcript"] == "tweet that"

    words = first[-1]["words"]
    assert set(words[0]) == {"start", "end", "text", "confidence", "word_is_final"}
    assert all(w["word_is_final"] for w in words)
    assert abs(words[0]["start"] - 300) <= 50 and abs(words[-1]["end"] - 1500) <= 100
    assert all(a["end"] <= b["start"] for a, b in zip(words, words[1:], strict=False))
    assert 0.0 <= first[-1]["end_of_turn_confidence"] <= 1.0
    assert not first[0]["words"][-1]["word_is_final"]
    assert abs(second[-1]["words"][0]["start"] - 2500) <= 50

    assert srv.wait_for_closed(TIMEOUT_SECONDS)
    [record] = srv.sessions
    assert record.id == begin["id"]
    assert record.turns_sent == 2 and record.close_code == 1000
    assert record.audio_seconds == pytest.approx(4.7, abs=0.06)
    assert record.closed_at is not None and 0 < record.closed_at - record.opened_at < 10


def test_terminate_finishes_the_utterance_in_progress_unformatted(make_standin):
    srv = make_standin(script=SCRIPT, rate_tolerance_seconds=3.0)
    client = connect(make_standin, srv)  # format_turns defaults to false
    assert client.message()["type"] == "Begin"
    client.send_audio(tone(0.6), speed=2.0)
    client.send_json({"type": "Terminate"})
    messages, close = client.until_close()
    assert close == (1000, "")
    assert [m["type"] for m in messages][-2:] == ["Turn", "Termination"]
    assert not any(t["turn_is_formatted"] for t in turns(messages))
    final = turns(messages)[-1]
    assert final["end_of_turn"] and final["transcript"] == "mondays are the worst"
    termination = messages[-1]
    assert termination["audio_duration_seconds"] == 1
    assert isinstance(termination["session_duration_seconds"], int)


def test_force_endpoint_ends_the_turn_while_sound_goes_on(make_standin):
    srv = make_standin(script=SCRIPT, rate_tolerance_seconds=3.0, turn_style="two_messages")
    client = connect(make_standin, srv, query=QUERY + "&format_turns=true")
    assert client.message()["type"] == "Begin"
    client.send_json({"type": "UpdateConfiguration", "max_turn_silence": 800})
    client.send_audio(tone(0.6), speed=2.0)
    client.send_json({"type": "ForceEndpoint"})
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not (message := client.message(max(0.0, deadline - time.monotonic())))["end_of_turn"]:
        pass
    assert message["transcript"] == "mondays are the worst"
    assert message["end_of_turn_confidence"] == 1.0
    assert client.message()["transcript"] == "Mondays are the worst."


def test_a_reconnect_continues_the_script_then_reports_what_it_heard(make_standin):
    srv = make_standin(script=SCRIPT[:1], rate_tolerance_seconds=3.0, turn_style="two_messages")
    heard = []
    for _ in range(2):
        client = connect(make_standin, srv, query=QUERY + "&format_turns=true")
        assert client.message()["type"] == "Begin"
        client.send_audio(tone(0.8) + silence(0.8), speed=2.0)
        client.send_json({"type": "Terminate"})
        messages, close = client.until_close()
        assert close[0] == 1000
        heard.append([t["transcript"] for t in turns(messages) if t["end_of_turn"]])
    assert heard[0] == ["mondays are the worst", "Mondays are the worst."]
    assert heard[1] == ["stand-in heard 0.8 s of speech", "(stand-in heard 0.8 s of speech)"]


def test_spoken_sentence_is_one_utterance(make_standin, speak):
    srv = make_standin(script=SCRIPT, rate_tolerance_seconds=3.0)
    client = connect(make_standin, srv, query=QUERY + "&format_turns=true")
    assert client.message()["type"] == "Begin"
    client.send_audio(silence(0.2) + speak("Mondays are the worst.", 1.0), speed=2.0)
    client.send_json({"type": "Terminate"})
    messages, _ = client.until_close()
    assert [
        t["transcript"] for t in turns(messages) if t["end_of_turn"] and t["turn_is_formatted"]
    ] == [SCRIPT[0]]


# -- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["wrong-key", f"Bearer {KEY}", None])
def test_a_bad_key_is_closed_with_1008(make_standin, key):
    srv = make_standin()
    client = connect(make_standin, srv, key=key)
    assert errored(client) == (1008, "Unauthorized connection: Invalid API key")
    assert srv.wait_for_sessions(1, TIMEOUT_SECONDS)
    assert srv.sessions[0].close_code == 1008


def test_a_token_in_the_query_stands_for_the_key(make_standin):
    srv = make_standin()
    client = connect(make_standin, srv, key=None, query=f"{QUERY}&token={KEY}")
    assert client.message()["type"] == "Begin"


@pytest.mark.parametrize(
    "query",
    [
        "sample_rate=16000&encoding=pcm_s16le",
        "sample_rate=8000&speech_model=universal-streaming-english",
        "speech_model=universal-streaming-english",
        "sample_rate=16000&encoding=flac&speech_model=universal-streaming-english",
        f"{QUERY}&format_turns=maybe",
        f"{QUERY}&inactivity_timeout=1",
    ],
)
def test_a_bad_query_parameter_sends_an_error_then_closes_3006(make_standin, query):
    srv = make_standin()
    client = connect(make_standin, srv, query=query)
    error = client.message()
    assert error["type"] == "Error" and error["error_code"] == 3006 and error["error"]
    kind, (code, reason) = client.next()
    assert (kind, code) == ("close", 3006) and reason == error["error"]


@pytest.mark.parametrize("chunk_bytes", [320, 1598, 32002])
def test_a_chunk_outside_50_to_1000_ms_is_closed_with_3007(make_standin, chunk_bytes):
    srv = make_standin()
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    client.ws.send_binary(bytes(chunk_bytes))
    assert errored(client) == (3007, "Input duration violation")


def test_chunks_of_50_and_1000_ms_are_accepted(make_standin):
    srv = make_standin(rate_tolerance_seconds=2.0)
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    client.ws.send_binary(bytes(1600))
    client.ws.send_binary(bytes(32000))
    client.send_json({"type": "Terminate"})
    messages, close = client.until_close()
    assert close == (1000, "") and messages[-1]["type"] == "Termination"


def test_audio_much_faster_than_real_time_is_closed_with_3007(make_standin):
    srv = make_standin(rate_tolerance_seconds=1.0)
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    client.send_audio(silence(3.0), speed=100.0)
    assert errored(client) == (3007, "Audio Transmission Rate Exceeded")
    assert srv.wait_for_sessions(1, TIMEOUT_SECONDS)
    assert srv.sessions[0].audio_seconds <= 1.1


@pytest.mark.parametrize("text", ["{not json", '{"type": "Nope"}', "[1, 2]", '{"kind": 1}'])
def test_a_bad_text_message_is_closed_with_3006(make_standin, text):
    srv = make_standin()
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    client.ws.send(text)
    code, _ = errored(client)
    assert code == 3006


def test_an_unknown_path_is_refused_with_404(make_standin):
    srv = make_standin()
    url = srv.url.replace("/v3/ws", "/v2/realtime/ws")
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(url, header={"Authorization": KEY}, timeout=TIMEOUT_SECONDS)
    assert refused.value.status_code == 404


# -- limits and faults ------------------------------------------------------------------


def test_a_session_expires_with_3008(make_standin):
    srv = make_standin(session_max_seconds=1.0)
    started = time.monotonic()
    client = connect(make_standin, srv)
    begin = client.message()
    assert abs(begin["expires_at"] - (time.time() + 1)) <= 1.5
    client.send_audio(silence(0.5))
    messages, close = client.until_close(timeout=3.0)
    # Error 3008, then Termination, then close 3008.
    assert [m["type"] for m in messages[-2:]] == ["Error", "Termination"]
    assert messages[-2]["error_code"] == 3008
    assert close == (3008, "Session Expired: Maximum session duration exceeded")
    assert 0.9 <= time.monotonic() - started < 3.0


def test_close_all_sends_the_given_close_code(make_standin):
    srv = make_standin()
    clients = [connect(make_standin, srv) for _ in range(2)]
    for client in clients:
        assert client.message()["type"] == "Begin"
    srv.close_all(code=3005, reason="server error")
    for client in clients:
        assert errored(client) == (3005, "server error")
    assert [r.close_code for r in srv.sessions] == [3005, 3005]


def test_drop_all_cuts_the_connection_without_a_close_frame(make_standin):
    srv = make_standin()
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    srv.drop_all()
    kind, _ = client.next()
    assert kind == "lost"
    assert srv.wait_for_closed(TIMEOUT_SECONDS)
    assert srv.sessions[0].close_code == 1006
    # The server itself is fine: the next connection is served.
    assert connect(make_standin, srv).message()["type"] == "Begin"


def test_a_failing_session_closes_3005_and_the_server_keeps_serving(make_standin, monkeypatch):
    def explode(self, text, now):
        raise RuntimeError("boom")

    srv = make_standin()
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    monkeypatch.setattr(speech_session.StreamSession, "on_text", explode)
    client.send_json({"type": "Terminate"})
    assert errored(client) == (3005, "Internal stand-in error")
    monkeypatch.undo()
    assert connect(make_standin, srv).message()["type"] == "Begin"


def test_stop_closes_open_sessions_and_returns(make_standin):
    srv = make_standin()
    client = connect(make_standin, srv)
    assert client.message()["type"] == "Begin"
    assert not srv.wait_for_sessions(2, timeout=0.1)
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 3.0
    kind, (code, _) = client.next()
    assert (kind, code) == ("close", 1001)
    srv.stop()  # idempotent


# -- the pure parts ---------------------------------------------------------------------


def frames(*loud: bool) -> list[int]:
    return [
        int(a)
        for flag in loud
        for a in struct.unpack("<800h", tone(0.05) if flag else silence(0.05))
    ]


def test_a_100_ms_click_is_no_utterance_but_150_ms_is():
    detector = UtteranceDetector(DetectorSettings(end_silence_ms=700))
    assert detector.feed(frames(True, True, False)) == []
    assert not detector.is_in_speech
    events = detector.feed(frames(True, True, True))
    assert events == [SpeechProgress(start_ms=150, end_ms=300)]
    events = detector.feed(frames(*[False] * 14))
    assert events[-1] == SpeechEnded(start_ms=150, end_ms=300)
    assert not detector.is_in_speech


def test_transcript_shaping():
    assert unformatted_words("Mondays are the WORST. (Really!)") == [
        "mondays",
        "are",
        "the",
        "worst",
        "really",
    ]
    assert [revealed_word_count(ms, 4) for ms in (0, 299, 300, 900, 5000)] == [1, 1, 2, 3, 3]
    assert revealed_word_count(5000, 1) == 0


# -- command line -----------------------------------------------------------------------


def test_the_command_line_serves_a_script_and_stops_on_sigterm(tmp_path: Path):
    script = tmp_path / "script.txt"
    script.write_text("Hello from the file.\n\n", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "appliance.tryout.standins.speech_main", "--port", "0"]
        + ["--api-key", KEY, "--script", str(script)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 10
        url = None
        while url is None:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            if found := re.search(r"listening on (ws://\S+)", line):
                url = found.group(1)
        client = Client(url, query=QUERY + "&format_turns=true")
        try:
            assert client.message()["type"] == "Begin"
            client.send_audio(tone(0.6) + silence(0.8), speed=1.5)
            client.send_json({"type": "Terminate"})
            messages, close = client.until_close()
            finals = [
                t["transcript"]
                for t in turns(messages)
                if t["end_of_turn"] and t["turn_is_formatted"]
            ]
            assert finals == ["Hello from the file."] and close[0] == 1000
        finally:
            client.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        reader.join(5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    logged = []
    while not lines.empty():
        logged.append(lines.get())
    assert any("turn 0 end formatted" in line for line in logged)
