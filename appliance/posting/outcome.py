"""What became of one request to a destination, in the terms the poster's retry logic needs."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

SHORTEST_REDACTED_CHARS = 8  # real keys are 25-50 characters; shorter ones would mangle prose


class Outcome(enum.StrEnum):
    """What the destination did with one request."""

    POSTED = "posted"
    DELETED = "deleted"  # delete(): the destination confirmed the deletion
    RETRY = "retry"  # worth trying again later
    FAILED = "failed"  # retrying cannot help


@dataclass(frozen=True)
class PostOutcome:
    """One request's result: posted with an id, retry later, or failed with a reason."""

    kind: Outcome
    post_id: str = ""
    detail: str = ""  # a sentence for the log and the panel; never holds a key
    retry_after_seconds: float | None = None  # the service's own reset (429); None: back off
    needs_user: bool = False  # bad keys or missing write permission: retrying cannot help
    is_duplicate: bool = False  # the destination already has this post (an earlier attempt)
    is_rate_limited: bool = False  # 429: the destination limits how often we may post
    is_out_of_credits: bool = False  # X's 402: the account's pay-per-use credits are spent
    # Something no answer explains broke (an SDK's surprise, a broken install): retried,
    # and shown as a fault, not as a slow network.
    is_fault: bool = False


@dataclass(frozen=True)
class AccountCheck:
    """Doctor's answer for one destination: can we reach it, and do the credentials work?"""

    is_ok: bool
    detail: str  # e.g. "signed in as @me.bsky.social"; or what is wrong and how to fix it
    needs_user: bool = False  # credentials refused: the user must fix them


def error_text(error: BaseException, secrets: Iterable[str], limit_chars: int = 200) -> str:
    """An exception's text for a status line or the journal: each secret redacted first,
    then cut to `limit_chars` (cut first, a key across the cut would show in part)."""
    said = str(error)
    for secret in secrets:
        if secret and len(secret) >= SHORTEST_REDACTED_CHARS:
            said = said.replace(secret, "[redacted]")
    return said[:limit_chars]
