"""Reconnect policy by close code, and capped full-jitter backoff."""

import pytest

from appliance.backoff import backoff_seconds
from appliance.reconnect import UNAUTHORISED_RETRY_SECONDS, retry_cap_seconds, verdict


def top(low, high):
    return high


@pytest.mark.parametrize(
    ("failures", "ceiling"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (50, 60)]
)
def test_backoff_ceiling_doubles_to_the_cap(failures, ceiling):
    assert backoff_seconds(failures, cap_seconds=60, uniform=top) == ceiling
    assert backoff_seconds(failures, cap_seconds=60, uniform=lambda a, b: a) == 0


def test_backoff_is_jittered_within_bounds():
    delays = [backoff_seconds(5, cap_seconds=60) for _ in range(200)]
    assert all(0 <= d <= 16 for d in delays)
    assert len(set(delays)) > 100


def test_session_expiry_reconnects_at_once():
    assert verdict(3008, "", 5, uniform=top).delay_seconds == 0


def test_unauthorised_is_not_a_blip():
    decision = verdict(1008, "Invalid API key", 1, uniform=top)
    assert decision.delay_seconds >= UNAUTHORISED_RETRY_SECONDS
    assert decision.needs_user and "assemblyai_api_key" in decision.explanation


@pytest.mark.parametrize("code", [3006, 3007])
def test_our_own_bugs_are_flagged(code):
    assert verdict(code, "", 1, uniform=top).is_our_bug


@pytest.mark.parametrize("code", [None, 3005, 3009, 4999])
def test_other_causes_back_off(code):
    decision = verdict(code, "", 3, cap_seconds=60, uniform=top)
    assert decision.delay_seconds == 4 and not decision.is_our_bug and not decision.needs_user


def test_retries_come_sooner_while_words_wait_in_the_backlog():
    # 30 s of backlog: at most 10 s between attempts, so a 10-20 s outage loses nothing.
    assert retry_cap_seconds(60, 30, is_speech_waiting=True) == 10
    assert retry_cap_seconds(60, 30, is_speech_waiting=False) == 60
    assert retry_cap_seconds(5, 30, is_speech_waiting=True) == 5
    many_failures = 10
    waiting = retry_cap_seconds(60, 30, is_speech_waiting=True)
    assert verdict(None, "", many_failures, cap_seconds=waiting, uniform=top).delay_seconds == 10
    # A refused key is still not retried fast, words waiting or not.
    assert verdict(1008, "", 1, cap_seconds=waiting, uniform=top).delay_seconds >= 300
