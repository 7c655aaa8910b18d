"""The stand-in speaks the real protocol: AssemblyAI's own Python SDK streams to it."""

from __future__ import annotations

import threading
import time

import pytest

from appliance.tryout.standins.speech_server import SpeechStandin
from appliance.tryout.standins.speech_session import REFUSALS

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


# -- the documented behaviours the stand-in adds, as the official SDK sees them ----------


def sdk_session(standin, key=KEY, speech_model="universal-streaming-english", **params):
    """Connect the SDK; returns (client, turns, errors, began)."""
    turns, errors, began = [], [], threading.Event()
    host = standin.url.removesuffix("/v3/ws")
    client = v3.StreamingClient(v3.StreamingClientOptions(api_key=key, api_host=host))
    client.on(v3.StreamingEvents.Begin, lambda _c, _e: began.set())
    client.on(v3.StreamingEvents.Turn, lambda _c, event: turns.append(event))
    client.on(v3.StreamingEvents.Error, lambda _c, error: errors.append(error))
    client.connect(
        v3.StreamingParameters(
            sample_rate=16000, encoding=v3.Encoding.pcm_s16le, speech_model=speech_model, **params
        )
    )
    return client, turns, errors, began


def stream(client, audio):
    next_at = time.monotonic()
    for offset in range(0, len(audio), 1600):
        client.stream(audio[offset : offset + 1600].ljust(1600, b"\0"))
        next_at += 0.05
        time.sleep(max(0.0, next_at - time.monotonic()))


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_the_sdk_receives_each_1008_refusal_as_an_error_with_its_message(refusal):
    with SpeechStandin(api_key=KEY) as standin:
        standin.refuse_sessions(refusal)
        client, _, errors, began = sdk_session(standin)
        try:
            deadline = time.monotonic() + 5
            while not errors and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            client.disconnect(terminate=False)
    assert not began.is_set()
    assert [(e.code, str(e)) for e in errors][:1] == [(1008, REFUSALS[refusal])]


# The SDK closes 1000 as soon as it reads the Error. The stand-in's Error, Termination and
# close go out in one write, as the service's arrive, so however slowly it answers (each
# message 0.2 s late) that close cannot cross the 3008.
@pytest.mark.parametrize("reply_delay_seconds", [0.0, 0.2])
def test_the_sdk_sees_expiry_as_error_3008(reply_delay_seconds):
    with SpeechStandin(api_key=KEY, session_max_seconds=1.0) as standin:
        client, _, errors, began = sdk_session(standin)
        try:
            assert began.wait(5)
            standin.set_reply_delay(reply_delay_seconds)
            stream(client, bytes(32000 * 2))
        finally:
            client.disconnect(terminate=False)
        assert standin.wait_for_closed(10)
        assert standin.sessions[0].close_code == 3008
    assert [e.code for e in errors][:1] == [3008]


@pytest.mark.parametrize(
    ("style", "is_formatted", "finals"),
    [
        ("single_formatted", True, SCRIPT),
        ("unformatted_only", False, ["mondays are the worst", "tweet that"]),
    ],
)
def test_the_sdk_gets_one_end_of_turn_per_turn_in_each_style(speak, style, is_formatted, finals):
    with SpeechStandin(script=SCRIPT, api_key=KEY, turn_style=style) as standin:
        client, turns, errors, began = sdk_session(standin, format_turns=True)
        try:
            assert began.wait(5), errors
            stream(client, speak(SCRIPT[0]) + speak(SCRIPT[1]))
        finally:
            client.disconnect(terminate=True)
    ends = [t for t in turns if t.end_of_turn]
    assert [t.transcript for t in ends] == finals  # one end-of-turn message per turn
    assert all(t.turn_is_formatted is is_formatted for t in ends)
    assert errors == []
