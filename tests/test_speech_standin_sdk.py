"""The stand-in speaks the real protocol: AssemblyAI's own Python SDK streams to it."""

from __future__ import annotations

import threading
import time

import pytest

from appliance.standins.speech_server import SpeechStandin

v3 = pytest.importorskip("assemblyai.streaming.v3")

KEY = "sdk-test-key"
SCRIPT = ["Mondays are the worst.", "Tweet that."]


def test_the_official_sdk_streams_to_the_standin_and_receives_its_turns(speak):
    turns, began, terminated, errors = [], threading.Event(), threading.Event(), []
    with SpeechStandin(script=SCRIPT, api_key=KEY) as standin:
        # The SDK builds "<api_host>/v3/ws" when the host carries a ws:// scheme.
        host = standin.url.removesuffix("/v3/ws")
        client = v3.StreamingClient(v3.StreamingClientOptions(api_key=KEY, api_host=host))
        client.on(v3.StreamingEvents.Begin, lambda _c, _e: began.set())
        client.on(v3.StreamingEvents.Turn, lambda _c, event: turns.append(event))
        client.on(v3.StreamingEvents.Termination, lambda _c, _e: terminated.set())
        client.on(v3.StreamingEvents.Error, lambda _c, error: errors.append(error))
        client.connect(
            v3.StreamingParameters(
                sample_rate=16000,
                encoding=v3.Encoding.pcm_s16le,
                speech_model="universal-streaming-english",
                format_turns=True,
            )
        )
        try:
            assert began.wait(5), errors
            audio = speak(SCRIPT[0]) + speak(SCRIPT[1])
            # The SDK does not pace audio; like a microphone, we hand it 50 ms each 50 ms.
            next_at = time.monotonic()
            for offset in range(0, len(audio), 1600):
                client.stream(audio[offset : offset + 1600].ljust(1600, b"\0"))
                next_at += 0.05
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            client.disconnect(terminate=True)
        assert terminated.wait(5), errors
        assert errors == []
    finals = [t.transcript for t in turns if t.end_of_turn and t.turn_is_formatted]
    assert finals == SCRIPT
    assert any(not t.end_of_turn for t in turns)  # partials came first
    assert standin.sessions[0].close_code == 1000
