"""Reconnect policy: the service's codes and messages -> a link cause -> a wait (pure)."""

import pytest

from appliance.core.backoff import backoff_seconds
from appliance.core.events import LinkCause
from appliance.speech.reconnect import (
    EXPIRED,
    SESSION_LIMIT_RETRY_SECONDS,
    UNAUTHORISED_RETRY_SECONDS,
    cause_streak,
    classify,
    retry_cap_seconds,
    verdict,
)


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


@pytest.mark.parametrize(
    ("code", "message", "status", "cause"),
    [
        # 1008 has several causes, told apart only by the message.
        (1008, "Unauthorized connection: Invalid API key", None, LinkCause.KEY_REFUSED),
        (
            1008,
            "Unauthorized Connection: Missing Authorization header",
            None,
            LinkCause.KEY_REFUSED,
        ),
        (1008, "Unauthorized connection: Insufficient account balance", None, LinkCause.NO_BALANCE),
        (
            1008,
            "Unauthorized connection: Too many concurrent sessions",
            None,
            LinkCause.TOO_MANY_SESSIONS,
        ),
        (1008, "Incorrect padding", None, LinkCause.TRANSIENT_REFUSAL),
        (
            3009,
            "Unauthorized Connection: Too many concurrent sessions",
            None,
            LinkCause.TOO_MANY_SESSIONS,
        ),
        (3005, "Session Cancelled: An error occurred", None, LinkCause.SERVER_ERROR),
        (3006, "Invalid JSON: x", None, LinkCause.OUR_BUG),
        (3007, "Audio Transmission Rate Exceeded", None, LinkCause.OUR_BUG),
        (4999, "", None, LinkCause.SERVER_ERROR),
        (None, "connection lost", None, LinkCause.DROPPED),
        (None, "", 401, LinkCause.KEY_REFUSED),
        (None, "", 429, LinkCause.TOO_MANY_SESSIONS),
        (None, "", 503, LinkCause.SERVER_ERROR),
        (3008, "Session Expired: Maximum session duration exceeded", None, EXPIRED),
    ],
)
def test_classify_by_code_and_message(code, message, status, cause):
    assert classify(code, message, http_status=status) == cause


def test_session_expiry_reconnects_at_once_and_is_no_outage():
    decision = verdict(EXPIRED, "the session reached its maximum duration", 5, uniform=top)
    assert decision.delay_seconds == 0 and decision.cause is None


def test_a_refused_key_gets_one_quick_retry_then_the_slow_schedule():
    first = verdict(LinkCause.KEY_REFUSED, "Invalid API key", 1, streak=1, uniform=top)
    assert first.delay_seconds <= 3 and first.needs_user
    assert "assemblyai_api_key" in first.explanation
    second = verdict(LinkCause.KEY_REFUSED, "Invalid API key", 2, streak=2, uniform=top)
    assert second.delay_seconds >= UNAUTHORISED_RETRY_SECONDS


def test_each_cause_has_its_own_wait():
    no_balance = verdict(LinkCause.NO_BALANCE, "balance", 1, uniform=top)
    assert no_balance.delay_seconds >= UNAUTHORISED_RETRY_SECONDS and no_balance.needs_user
    assert "funds" in no_balance.explanation
    limited = verdict(LinkCause.TOO_MANY_SESSIONS, "too many", 1, uniform=top)
    assert limited.delay_seconds == SESSION_LIMIT_RETRY_SECONDS[1] and not limited.needs_user
    blip = verdict(LinkCause.TRANSIENT_REFUSAL, "Incorrect padding", 1, uniform=top)
    assert blip.delay_seconds == 1 and not blip.needs_user


@pytest.mark.parametrize("cause", [LinkCause.OUR_BUG])
def test_our_own_bugs_are_flagged(cause):
    assert verdict(cause, "", 1, uniform=top).is_our_bug


@pytest.mark.parametrize("cause", [LinkCause.DROPPED, LinkCause.SERVER_ERROR])
def test_other_causes_back_off(cause):
    decision = verdict(cause, "", 3, cap_seconds=60, uniform=top)
    assert decision.delay_seconds == 4 and not decision.is_our_bug and not decision.needs_user


def test_the_streak_counts_the_same_cause_in_a_row():
    assert cause_streak(None, LinkCause.KEY_REFUSED, 0) == 1
    assert cause_streak(LinkCause.KEY_REFUSED, LinkCause.KEY_REFUSED, 1) == 2
    assert cause_streak(LinkCause.DROPPED, LinkCause.KEY_REFUSED, 5) == 1


def test_retries_come_sooner_while_words_wait_in_the_backlog():
    # 30 s of backlog: at most 10 s between attempts, so a 10-20 s outage loses nothing.
    assert retry_cap_seconds(60, 30, is_speech_waiting=True) == 10
    assert retry_cap_seconds(60, 30, is_speech_waiting=False) == 60
    assert retry_cap_seconds(5, 30, is_speech_waiting=True) == 5
    waiting = retry_cap_seconds(60, 30, is_speech_waiting=True)
    many = verdict(LinkCause.DROPPED, "", 10, cap_seconds=waiting, uniform=top)
    assert many.delay_seconds == 10
    # A refused key is still not retried fast, words waiting or not.
    refused = verdict(LinkCause.KEY_REFUSED, "", 2, streak=2, cap_seconds=waiting, uniform=top)
    assert refused.delay_seconds >= 300
