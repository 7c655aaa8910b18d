"""Parsing the v3 server messages."""

import json

from appliance.events import PartialText, SentenceFinished
from appliance.speech_messages import Begin, Malformed, ServerError, Termination, parse_message


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


def test_partials_and_the_formatted_final():
    assert parse_message(turn(transcript="mondays are")) == PartialText("mondays are")
    # Unformatted end of turn: only a partial while formatting is on.
    assert parse_message(turn(transcript="mondays are the worst", end_of_turn=True)) == PartialText(
        "mondays are the worst"
    )
    final = parse_message(
        turn(
            transcript="Mondays are the worst.",
            end_of_turn=True,
            turn_is_formatted=True,
            turn_order=3,
        ),
        session_id="s1",
    )
    assert final == SentenceFinished("Mondays are the worst.", 3, "s1")


def test_errors_unknown_and_malformed():
    assert parse_message('{"type":"Error","error_code":3005,"error":"boom"}') == ServerError(
        "boom (code 3005)"
    )
    assert parse_message('{"error":"legacy"}') == ServerError("legacy")
    assert parse_message('{"type":"SpeechStarted","timestamp":10}') is None
    assert isinstance(parse_message("{not json"), Malformed)
    assert isinstance(parse_message("[1,2]"), Malformed)
    assert isinstance(parse_message('{"type":"Turn","end_of_turn":true}'), Malformed)
    assert isinstance(parse_message('{"type":"Turn","transcript":5}'), Malformed)
    assert isinstance(parse_message("x" * 300_000), Malformed)
