"""Parsing the v3 server messages: every field checked, nothing a server sends raises."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.speech.protocol import (
    Begin,
    Malformed,
    ServerError,
    Termination,
    Turn,
    parse_message,
)


def turn(**fields):
    message = {
        "type": "Turn",
        "turn_order": 0,
        "turn_is_formatted": False,
        "end_of_turn": False,
        "transcript": "",
        "end_of_turn_confidence": 0.5,
        "words": [],
        "utterance": "",
    }
    message.update(fields)
    return json.dumps(message)


def test_begin_and_termination():
    assert parse_message('{"type":"Begin","id":"abc","expires_at":1700000000}') == Begin(
        "abc", 1.7e9
    )
    assert parse_message(
        '{"type":"Termination","audio_duration_seconds":7,"session_duration_seconds":8}'
    ) == Termination(7, 8)


def test_a_turn_carries_its_order_flags_and_the_end_of_its_last_word():
    words = [{"start": 100, "end": 400, "text": "Hi"}, {"start": 500, "end": 900, "text": "x"}]
    parsed = parse_message(
        turn(
            transcript="Hi x.", end_of_turn=True, turn_is_formatted=True, turn_order=3, words=words
        )
    )
    assert parsed == Turn(3, "Hi x.", True, True, 900)


def test_error_messages_in_both_shapes():
    assert parse_message('{"type":"Error","error_code":1008,"error":"Invalid API key"}') == (
        ServerError("Invalid API key", 1008)
    )
    assert parse_message('{"error":"legacy"}') == ServerError("legacy")


def test_unknown_types_are_ignored_and_junk_is_malformed():
    assert parse_message('{"type":"SpeechStarted","timestamp":10}') is None
    assert isinstance(parse_message("{not json"), Malformed)
    assert isinstance(parse_message("[1,2]"), Malformed)
    assert isinstance(parse_message('{"type":"Turn","end_of_turn":true}'), Malformed)
    assert isinstance(parse_message('{"type":"Turn","transcript":5}'), Malformed)
    assert isinstance(parse_message("x" * 300_000), Malformed)


def test_poisoned_numbers_never_raise_and_never_lose_the_sentence():
    # 1e400 is infinity to Python's json: int() of it raised OverflowError and killed
    # the receiver. Now the order is left out and the sentence still comes through.
    for poison in ("1e400", "-1", "NaN", '"7"', "1" * 5000, "[[[1]]]", "true", "1.5"):
        text = turn(transcript="Hi.", end_of_turn=True).replace(
            '"turn_order": 0', f'"turn_order": {poison}'
        )
        parsed = parse_message(text)
        assert isinstance(parsed, Turn | Malformed), (poison, parsed)
        if isinstance(parsed, Turn):
            assert parsed.turn_order is None and parsed.transcript == "Hi." and parsed.problem
    for poison in ("1e400", "-5", "NaN", '"10"', "1" * 5000, "{}", "null"):
        words = f'[{{"start": 0, "end": {poison}, "text": "Hi."}}]'
        text = turn(transcript="Hi.", end_of_turn=True).replace('"words": []', f'"words": {words}')
        parsed = parse_message(text)
        assert isinstance(parsed, Turn | Malformed), (poison, parsed)
        if isinstance(parsed, Turn):
            assert parsed.end_ms is None and parsed.transcript == "Hi."
    assert isinstance(parse_message('{"type":"Begin","id":"a","expires_at":1e400}'), Malformed)
    assert isinstance(parse_message('{"type":"Error","error_code":1e400,"error":"x"}'), Malformed)
    assert isinstance(parse_message("[" * 100_000 + "]" * 100_000), Malformed)  # RecursionError
    assert isinstance(parse_message(b"\xff\xfe\x00garbage"), Malformed)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["Turn", "Begin", "Error", "Termination", "Warning"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "turn_order",
                    "end_of_turn",
                    "turn_is_formatted",
                    "transcript",
                    "words",
                    "start",
                    "end",
                    "text",
                    "id",
                    "expires_at",
                    "error",
                    "error_code",
                    "audio_duration_seconds",
                    "session_duration_seconds",
                    "x",
                ]
            ),
            children,
            max_size=8,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(value=json_values)
def test_fuzz_any_json_ish_message_parses_without_raising(value):
    try:
        text = json.dumps(value)
    except ValueError:
        return
    parse_message(text)
    if isinstance(value, dict):
        parse_message(json.dumps({**value, "type": "Turn"}))


@settings(max_examples=400, deadline=None)
@given(data=st.binary(max_size=200) | st.text(max_size=200))
def test_fuzz_any_bytes_parse_without_raising(data):
    parse_message(data)
