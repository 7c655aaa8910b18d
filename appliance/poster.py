"""The poster thread: sends outbox entries to X, one at a time, never blocking speech."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from appliance.backoff import backoff_seconds
from appliance.events import PostResult
from appliance.outbox import Entry, Outbox
from appliance.x_client import PostOutcome

log = logging.getLogger(__name__)

# When nothing is due, look again at least this often (an entry added by
# `appliance outbox retry` from another process has no wake-up call).
IDLE_POLL_SECONDS = 5.0


class Poster:
    """Takes due entries from the outbox and sends them with `send`."""

    def __init__(
        self,
        outbox: Outbox,
        send: Callable[[str], PostOutcome],
        emit: Callable[[object], None],
        *,
        clock: Callable[[], float] = time.time,
        retry_first_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
    ) -> None:
        self._outbox = outbox
        self._send = send
        self._emit = emit
        self._clock = clock
        self._retry_first_seconds = retry_first_seconds
        self._retry_max_seconds = retry_max_seconds
        self._wake = threading.Event()
        self.last_progress_at = time.monotonic()

    def wake(self) -> None:
        """Something was added: look at the outbox now."""
        self._wake.set()

    def run(self, stop: threading.Event) -> None:
        recovered = self._outbox.recover()
        if recovered:
            log.warning(
                "%d post(s) were being sent when the daemon stopped; sending them again",
                recovered,
                extra={"APPLIANCE_EVENT": "outbox_recovered"},
            )
        while not stop.is_set():
            self.last_progress_at = time.monotonic()
            entry = self._outbox.next_due()
            if entry is None:
                self._wait(stop)
                continue
            self._send_entry(entry)

    def _wait(self, stop: threading.Event) -> None:
        due = self._outbox.next_attempt_at()
        timeout = IDLE_POLL_SECONDS if due is None else due - self._clock()
        timeout = max(0.05, min(IDLE_POLL_SECONDS, timeout))
        self._wake.wait(timeout)
        self._wake.clear()

    def _send_entry(self, entry: Entry) -> None:
        self._outbox.mark_sending(entry.id)
        outcome = self._send(entry.text)
        attempts = entry.attempts + 1
        if outcome.kind == "posted":
            self._posted(entry, outcome.post_id, "")
        elif outcome.is_duplicate and (attempts > 1 or entry.reason):
            # An earlier attempt reached X but its answer was lost: it is posted.
            self._posted(entry, outcome.post_id, "X already had it (earlier attempt)")
        elif outcome.kind == "retry":
            self._retry_later(entry, attempts, outcome)
        else:
            self._outbox.mark_failed(entry.id, outcome.detail)
            log.error(
                "Post %d failed: %s",
                entry.id,
                outcome.detail,
                extra={"APPLIANCE_EVENT": "post_failed", "OUTBOX_ID": entry.id},
            )
            self._emit(PostResult(entry.id, "failed", "", outcome.detail, outcome.needs_user))

    def _posted(self, entry: Entry, post_id: str, note: str) -> None:
        self._outbox.mark_posted(entry.id, post_id, note)
        log.info(
            "Posted “%s” as %s",
            entry.text,
            post_id or "(id unknown)",
            extra={"APPLIANCE_EVENT": "posted", "POST_ID": post_id, "OUTBOX_ID": entry.id},
        )
        self._emit(PostResult(entry.id, "posted", post_id))

    def _retry_later(self, entry: Entry, attempts: int, outcome: PostOutcome) -> None:
        if outcome.retry_after_seconds is not None:
            delay = outcome.retry_after_seconds
        else:
            delay = max(
                1.0,
                backoff_seconds(
                    attempts,
                    first_seconds=self._retry_first_seconds,
                    cap_seconds=self._retry_max_seconds,
                ),
            )
        self._outbox.mark_waiting(entry.id, self._clock() + delay, outcome.detail)
        detail = f"{outcome.detail}; retrying in {delay:.0f} s"
        log.warning(
            "Post %d not sent yet: %s",
            entry.id,
            detail,
            extra={"APPLIANCE_EVENT": "post_retrying", "OUTBOX_ID": entry.id},
        )
        self._emit(
            PostResult(entry.id, "retrying", "", detail, is_rate_limited=outcome.is_rate_limited)
        )
