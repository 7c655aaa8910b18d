"""The one shape every destination's client has, as the poster thread and doctor use it."""

from __future__ import annotations

from typing import Protocol

from appliance.core.destinations import Destination
from appliance.posting.outcome import AccountCheck, PostOutcome


class Client(Protocol):
    """One destination's API. Every call returns within the client's total deadline."""

    destination: Destination

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        """Publish `text`.

        `tried_since`: 0 for a row never sent; else the earliest an earlier attempt may
        have reached the destination (unix seconds, from the outbox, so it survives a
        restart). Mastodon needs it: it forgets an Idempotency-Key after an hour.

        `key` is the same for one outbox entry across every retry and restart; a
        destination that can make a retry safe with it must (Mastodon's Idempotency-Key
        header, a Bluesky record key derived from it). An answer that says the post
        already exists is POSTED with `is_duplicate`.
        """
        ...

    def delete(self, post_id: str) -> PostOutcome:
        """Delete our post `post_id` (DELETED, RETRY or FAILED); gone already counts as DELETED."""
        ...

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        """The id of our own recent post with exactly `text`, or "" (after a lost answer)."""
        ...

    def check_account(self) -> AccountCheck:
        """A read-only call that proves reach and credentials (doctor, start-up)."""
        ...

    def abort(self) -> None:
        """Cut off a request under way (called from another thread, so that a stop is prompt)."""
        ...
