"""When to reconnect the speech link, by cause: a pure policy from what the service said to a wait.

`classify` is the only place that reads AssemblyAI's close codes, error codes and messages
(docs/service-behaviour.md gives the source of each); everything after it, the core
included, works with the link-level `LinkCause`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from appliance.core.backoff import backoff_seconds
from appliance.core.events import LinkCause
from appliance.speech.settings import ASSEMBLYAI_KEY

# A session up this long proves the link healthy: only then does backoff reset.
HEALTHY_AFTER_SECONDS = 30.0
# A refused key or an account without balance: retrying fast cannot help.
UNAUTHORISED_RETRY_SECONDS = 300.0
# One quick retry for a refused key: a refusal in the wild has been transient.
QUICK_RETRY_SECONDS = (1.0, 3.0)
# The new-sessions-per-minute limit counts over a minute: sooner cannot succeed.
SESSION_LIMIT_RETRY_SECONDS = (60.0, 75.0)

# The session is over because it reached its maximum duration: not a failure at all.
EXPIRED = "expired"

_CODE_MEANINGS = {
    1000: "the server closed the session",
    1008: "refused",
    3005: "the server cancelled the session (server-side error)",
    3006: "the server rejected a message we sent as invalid",
    3007: "the server rejected our audio chunk size or rate",
    3008: "the session reached its maximum duration",
    3009: "too many concurrent sessions",
}
_BALANCE_WORDS = ("balance", "insufficient", "funds", "credit", "paid-only", "payment")


def classify(
    close_code: int | None, message: str = "", *, http_status: int | None = None
) -> LinkCause | str:
    """What ended a session or an attempt: a LinkCause, or EXPIRED.

    `message` is the Error frame's text when one came (the close reason is cut at 123
    bytes and may only say "See Error message for details"), else the close reason.
    1008 has several causes, told apart only by the message.
    """
    text = message.lower()
    if close_code in (3008, 4008):  # 4008: the v2-era code the old SDK still maps
        return EXPIRED
    if "too many concurrent sessions" in text or close_code in (3009, 4102) or http_status == 429:
        return LinkCause.TOO_MANY_SESSIONS
    if close_code in (1008, 4001, 4002, 4003) or http_status in (401, 402, 403):
        if "incorrect padding" in text:
            return LinkCause.TRANSIENT_REFUSAL
        if close_code in (4002, 4003) or http_status == 402:
            return LinkCause.NO_BALANCE
        if any(word in text for word in _BALANCE_WORDS):
            return LinkCause.NO_BALANCE
        return LinkCause.KEY_REFUSED
    if close_code in (3006, 3007):
        return LinkCause.OUR_BUG
    if close_code is None and http_status is None:
        return LinkCause.DROPPED
    return LinkCause.SERVER_ERROR


def describe_close(code: int | None, reason: str) -> str:
    """A sentence for a close code and its reason."""
    if code is None:
        return reason or "connection lost"
    meaning = _CODE_MEANINGS.get(code, f"closed with code {code}")
    return f"{meaning} ({code}{': ' + reason if reason else ''})"


@dataclass(frozen=True)
class Verdict:
    """What to do after a session ended or a connection attempt failed."""

    delay_seconds: float
    explanation: str  # for the journal and STATUS=
    cause: LinkCause | None = None  # None: expiry, not an outage (no LinkDown, no alarm)
    is_our_bug: bool = False
    needs_user: bool = False


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


def cause_streak(previous: LinkCause | str | None, cause: LinkCause | str, streak: int) -> int:
    """How many failures in a row had this same cause (1 for the first)."""
    return streak + 1 if previous == cause else 1


def verdict(
    cause: LinkCause | str,
    detail: str,
    failures: int,
    *,
    streak: int = 1,
    cap_seconds: float = 60.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> Verdict:
    """The wait before reconnecting after the `failures`-th failure in a row.

    `streak` counts the failures in a row with this same cause.
    """
    if cause == EXPIRED:
        return Verdict(0.0, f"{detail}; continuing in a new session")
    assert isinstance(cause, LinkCause)
    if cause is LinkCause.KEY_REFUSED:
        slow = max(UNAUTHORISED_RETRY_SECONDS, cap_seconds)
        delay = uniform(*QUICK_RETRY_SECONDS) if streak <= 1 else slow
        text = f"{detail}. Check the key in {ASSEMBLYAI_KEY}"
        return Verdict(delay, text, cause, needs_user=True)
    if cause is LinkCause.NO_BALANCE:
        delay = max(UNAUTHORISED_RETRY_SECONDS, cap_seconds)
        text = f"{detail}. Add funds to the AssemblyAI account (its billing page)"
        return Verdict(delay, text, cause, needs_user=True)
    if cause is LinkCause.TOO_MANY_SESSIONS:
        text = f"{detail}. The account's session limit is reached: waiting for it to pass"
        return Verdict(uniform(*SESSION_LIMIT_RETRY_SECONDS), text, cause)
    delay = backoff_seconds(failures, first_seconds=1.0, cap_seconds=cap_seconds, uniform=uniform)
    if cause is LinkCause.TRANSIENT_REFUSAL:
        detail = f"{detail} (a refusal a retry usually fixes)"
    return Verdict(delay, detail, cause, is_our_bug=cause is LinkCause.OUR_BUG)
