"""What a session keeps to replay after a drop: speech until it is confirmed, little silence."""

from __future__ import annotations

from appliance.speech.replay import Replay
from appliance.speech.settings import REPLAY_MAX_SECONDS

CHUNK_MS = 50


def send(replay: Replay, flags: list[bool], start_ms: int = 0) -> int:
    end_ms = start_ms
    for index, is_speech in enumerate(flags):
        end_ms += CHUNK_MS
        replay.sent(end_ms, (bytes([index % 256]), is_speech))
        replay.trim(confirmed_end_ms=0)
    return end_ms


def test_a_quiet_room_keeps_only_the_last_moments_of_silence():
    replay = Replay(quiet_chunks=20)
    send(replay, [False] * 600)  # 30 s of silence
    assert len(replay) == 20


def test_unconfirmed_speech_and_the_silence_before_it_are_all_replayed():
    replay = Replay(quiet_chunks=20)
    end_ms = send(replay, [False] * 100)
    send(replay, [True] * 40 + [False] * 100, start_ms=end_ms)
    unfinished = replay.unfinished(confirmed_end_ms=0)
    assert len(unfinished) == 20 + 40 + 100
    assert [s for _, s in unfinished].count(True) == 40


def test_confirmed_words_and_audio_past_the_limit_are_let_go():
    replay = Replay(quiet_chunks=20)
    send(replay, [True] * int(2 * REPLAY_MAX_SECONDS * 1000 / CHUNK_MS))
    assert len(replay) * CHUNK_MS / 1000 == REPLAY_MAX_SECONDS
    last_ms = int(2 * REPLAY_MAX_SECONDS * 1000)
    replay.trim(confirmed_end_ms=last_ms - 1000)
    assert replay.unfinished(confirmed_end_ms=last_ms - 1000) == replay.unfinished(0)
    assert len(replay) == (1000 - 200) // CHUNK_MS  # the confirm margin is 200 ms
