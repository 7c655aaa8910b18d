"""The link's pure decisions: session gate, opens-per-minute limit, catch-up, backoff."""

from __future__ import annotations

import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from appliance.core.events import LinkCause
from appliance.speech.backlog import Backlog, chunks_to_keep
from appliance.speech.gate import (
    Decision,
    GateSettings,
    GateState,
    Session,
    decide,
    next_open_at,
    on_voice,
)
from appliance.speech.reconnect import classify, verdict
from appliance.speech.settings import AssemblyAISettings

ON_SPEECH = GateSettings(
    mode=Session.ON_SPEECH, idle_close_seconds=20.0, rotate_after_seconds=100.0
)
ALWAYS = GateSettings(mode=Session.ALWAYS, rotate_after_seconds=100.0)


def test_on_speech_opens_on_speech_and_closes_after_the_idle_time():
    state = GateState()
    assert decide(state, None, 0.0, ON_SPEECH) is Decision.KEEP  # silence: no session
    state = on_voice(state, False, 1.0)
    assert decide(state, None, 1.0, ON_SPEECH) is Decision.KEEP
    state = on_voice(state, True, 2.0)
    assert decide(state, None, 2.0, ON_SPEECH) is Decision.OPEN
    assert decide(state, 0.5, 21.9, ON_SPEECH) is Decision.KEEP
    assert decide(state, 20.0, 22.0, ON_SPEECH) is Decision.CLOSE


def test_always_keeps_a_session_but_muted_never_does():
    assert decide(GateState(), None, 0.0, ALWAYS) is Decision.OPEN
    muted = GateState(is_muted=True)
    assert decide(muted, None, 0.0, ALWAYS) is Decision.KEEP
    assert decide(muted, 5.0, 0.0, ALWAYS) is Decision.CLOSE
    assert on_voice(muted, True, 1.0) == muted  # speech while muted opens nothing


def test_rotation_waits_for_a_pause():
    speaking = on_voice(GateState(), True, 1000.0)
    assert decide(speaking, 150.0, 1000.5, ALWAYS) is Decision.KEEP  # mid-sentence: not now
    assert decide(speaking, 150.0, 1001.5, ALWAYS) is Decision.ROTATE
    assert decide(GateState(), 99.0, 0.0, ALWAYS) is Decision.KEEP


def test_opens_per_minute_are_limited():
    assert next_open_at([], 0.0, 4) == 0.0
    assert next_open_at([0.0, 1.0, 2.0], 3.0, 4) == 3.0
    assert next_open_at([0.0, 1.0, 2.0, 3.0], 4.0, 4) == 60.0
    assert next_open_at([0.0, 1.0, 2.0, 3.0], 61.0, 4) == 61.0


@example(gaps=[0.3384249320227222, 0.14908404843203685, 1.0, 0, 0, 0, 0, 0, 1.0], limit=6)
@given(st.lists(st.floats(0, 1), max_size=30), st.integers(1, 6))
def test_a_loop_that_obeys_the_limiter_never_exceeds_it(gaps, limit):
    opens, now = [], 0.0
    for gap in gaps:
        now = next_open_at(opens, now + gap, limit)
        opens.append(now)
    for t in opens:
        assert sum(1 for u in opens if t <= u < t + 60.0) <= limit


def test_backoff_with_a_fake_clock_stays_within_its_bounds():
    rng = random.Random(7)
    clock, delays = 0.0, []
    for failures in range(1, 12):
        cause = classify(3005, "")
        decision = verdict(cause, "", failures, cap_seconds=60.0, uniform=rng.uniform)
        assert 0.0 <= decision.delay_seconds <= min(60.0, 2 ** (failures - 1))
        delays.append(decision.delay_seconds)
        clock += decision.delay_seconds
    assert delays[0] <= 1.0  # the first retry comes within a second
    assert max(delays) <= 60.0


def test_a_1008_retries_slowly_so_an_hour_holds_few_attempts():
    clock, attempts = 0.0, 0
    cause = classify(1008, "Invalid API key")
    assert cause is LinkCause.KEY_REFUSED
    while clock < 3600.0:
        attempts += 1
        clock += verdict(cause, "Invalid API key", attempts, streak=attempts).delay_seconds
    assert attempts <= 14  # one quick retry, then one every 5 minutes


def test_catch_up_keeps_speech_and_enough_silence_to_end_turns():
    s, q = True, False
    flags = [q] * 30 + [s] * 5 + [q] * 30 + [s] * 3 + [q] * 30
    keep = chunks_to_keep(flags, keep_after=16, keep_before=6)
    kept = [f for f, k in zip(flags, keep, strict=True) if k]
    assert kept == [q] * 6 + [s] * 5 + [q] * 22 + [s] * 3 + [q] * 22


@given(st.lists(st.booleans(), max_size=200), st.integers(0, 20), st.integers(0, 10))
def test_catch_up_never_drops_speech(flags, after, before):
    keep = chunks_to_keep(flags, after, before)
    assert all(k for f, k in zip(flags, keep, strict=True) if f)


def test_a_silence_already_sent_counts_towards_ending_the_turn():
    flags = [False] * 40
    assert sum(chunks_to_keep(flags, 16, 6, silence_sent=None)) == 6
    assert sum(chunks_to_keep(flags, 16, 6, silence_sent=10)) == 12
    assert sum(chunks_to_keep(flags, 16, 6, silence_sent=16)) == 6


def test_the_backlog_is_bounded_and_counts_lost_speech():
    backlog = Backlog(max_chunks=3)
    for index in range(5):
        backlog.push(bytes([index]), is_speech=True)
    assert len(backlog) == 3 and backlog.chunks_overflowed == 2
    backlog.retain(1)  # pre-roll only: trimming is not counted as lost speech
    assert len(backlog) == 1 and backlog.chunks_overflowed == 2
    assert backlog.take(0.1) == (bytes([4]), True)
    assert backlog.take(0.01) is None


def test_the_gate_holds_the_session_enum_and_refuses_other_spellings():
    assert GateSettings(mode="always").mode is Session.ALWAYS  # as the file spells it
    assert AssemblyAISettings(session="on_speech").session is Session.ON_SPEECH
    with pytest.raises(ValueError):
        GateSettings(mode="sometimes")
