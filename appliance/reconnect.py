"""When to reconnect the speech link, by cause: a pure policy over close codes."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from appliance.backoff import backoff_seconds

# A session up this long proves the link healthy: only then does backoff reset.
HEALTHY_AFTER_SECONDS = 30.0
# 1008 is a bad key or an account without balance: retrying fast cannot help.
UNAUTHORISED_RETRY_SECONDS = 300.0


@dataclass(frozen=True)
class Verdict:
    """What to do after a session ended or a connection attempt failed."""

    delay_seconds: float
    explanation: str  # for the journal and STATUS=
    is_our_bug: bool = False
    needs_user: bool = False


_MEANINGS = {
    1000: "the server closed the session normally",
    1008: "AssemblyAI refused the key (wrong API key, no balance, or too many sessions)",
    3005: "the server cancelled the session (server-side error)",
    3006: "the server rejected a message we sent as invalid",
    3007: "the server rejected our audio chunk size or rate",
    3008: "the session reached its maximum duration",
    3009: "too many concurrent sessions",
}


def describe_close(code: int | None, reason: str) -> str:
    """A sentence for a close code and its reason."""
    if code is None:
        return reason or "connection lost"
    meaning = _MEANINGS.get(code, f"closed with code {code}")
    return f"{meaning} ({code}{': ' + reason if reason else ''})"


def retry_cap_seconds(
    reconnect_max_seconds: float, backlog_seconds: float, *, is_speech_waiting: bool
) -> float:
    """The longest wait between attempts: shorter while words wait in the backlog.

    Full jitter lets the ceiling double on every failed attempt, so a 10 s outage can
    end with the next try 30 s away — longer than the backlog keeps audio. While
    speech is waiting, retry at least every third of the backlog, so an outage of up
    to two thirds of it loses no word. (A refused key keeps its slow retry.)
    """
    if is_speech_waiting:
        return min(reconnect_max_seconds, backlog_seconds / 3)
    return reconnect_max_seconds


def verdict(
    close_code: int | None,
    reason: str,
    failures: int,
    *,
    cap_seconds: float = 60.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> Verdict:
    """The delay before reconnecting after the `failures`-th failure in a row."""
    text = describe_close(close_code, reason)
    if close_code == 3008:
        return Verdict(0.0, text)
    if close_code == 1008:
        return Verdict(
            max(UNAUTHORISED_RETRY_SECONDS, cap_seconds),
            text + ". Check the key in assemblyai_api_key and the account's balance",
            needs_user=True,
        )
    delay = backoff_seconds(failures, first_seconds=1.0, cap_seconds=cap_seconds, uniform=uniform)
    return Verdict(delay, text, is_our_bug=close_code in (3006, 3007))
