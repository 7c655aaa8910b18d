"""The poster thread: sends outbox entries to X, one at a time, never blocking speech."""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance.core.backoff import backoff_seconds
from appliance.core.events import DeleteResult, PostResult, PostStatus
from appliance.loops import Wakeup
from appliance.posting.outbox import Entry, Outbox
from appliance.posting.outcome import Outcome, PostOutcome

log = logging.getLogger(__name__)

# When nothing is due, look again at least this often (an entry added by
# `appliance outbox retry` from another process has no wake-up call).
IDLE_POLL_SECONDS = 5.0
DELETE_ATTEMPTS = 5  # a "delete that" is retried this often on network errors and 5xx


@dataclass
class _Delete:
    post_id: str
    attempts: int = 0
    due_at: float = 0.0  # unix seconds


class Poster:
    """Takes due entries from the outbox and sends them with `send`; deletes with `delete`."""

    def __init__(
        self,
        outbox: Outbox,
        send: Callable[[str], PostOutcome],
        emit: Callable[[object], None],
        *,
        delete: Callable[[str], PostOutcome] | None = None,
        find_post: Callable[[str, float], str] | None = None,
        abort: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        retry_first_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
    ) -> None:
        self._outbox = outbox
        self._send = send
        self._delete = delete
        # (text, since unix seconds) -> X's id of our post with that text, or "".
        self._find_post = find_post
        self._abort = abort  # cuts off a request under way, so that a stop is prompt
        self._emit = emit
        self._clock = clock
        self._retry_first_seconds = retry_first_seconds
        self._retry_max_seconds = retry_max_seconds
        self._wakeup = Wakeup()
        self._deletes: collections.deque[_Delete] = collections.deque()
        self.last_progress_at = time.monotonic()

    def wake(self) -> None:
        """Something was added: look at the outbox now."""
        self._wakeup.wake()

    def request_delete(self, post_id: str) -> None:
        """Delete `post_id` from X (on the poster thread; the caller never waits)."""
        self._deletes.append(_Delete(post_id))
        self._wakeup.wake()

    def run(self, stop: threading.Event) -> None:
        # On stop, a request to X under way is cut off (only another thread can end it).
        self._wakeup.stop_with(stop, "poster", also=self._abort)
        self.recover()
        while not stop.is_set():
            self.last_progress_at = time.monotonic()
            if self.delete_due() or self.send_next():
                continue
            self._wait(stop)

    def recover(self) -> None:
        """After a crash or power cut: entries caught in 'sending' are sent again."""
        recovered = self._outbox.recover()
        if recovered:
            log.warning(
                "%d post(s) were being sent when the daemon stopped; sending them again",
                recovered,
                extra={"APPLIANCE_EVENT": "outbox_recovered"},
            )

    def send_next(self) -> bool:
        """Send the oldest due entry, if any; True if one was handled."""
        entry = self._outbox.next_due()
        if entry is None:
            return False
        if self._outbox.mark_sending(entry.id):  # False: dropped by `appliance outbox drop`
            self._send_entry(entry)
        return True

    def delete_due(self) -> bool:
        """Carry out one due "delete that", if any; True if one was handled."""
        now = self._clock()
        for request in list(self._deletes):
            if request.due_at <= now:
                self._deletes.remove(request)
                self._delete_post(request)
                return True
        return False

    def _wait(self, stop: threading.Event) -> None:
        due = [d.due_at for d in self._deletes]
        waiting = self._outbox.next_attempt_at()
        if waiting is not None:
            due.append(waiting)
        timeout = IDLE_POLL_SECONDS if not due else min(due) - self._clock()
        self._wakeup.wait(max(0.05, min(IDLE_POLL_SECONDS, timeout)))

    def _send_entry(self, entry: Entry) -> None:
        outcome = self._send(entry.text)
        attempts = entry.attempts + 1
        if outcome.kind == Outcome.POSTED:
            self._posted(entry, outcome.post_id, "")
        elif outcome.is_duplicate and (attempts > 1 or entry.reason):
            # An earlier attempt reached X but its answer was lost: it is posted. X's
            # answer has no id, so look the post up: "delete that" needs it.
            post_id = outcome.post_id
            if not post_id and self._find_post is not None:
                post_id = self._find_post(entry.text, entry.created_at)
            self._posted(entry, post_id, "X already had it (earlier attempt)")
        elif outcome.kind == Outcome.RETRY:
            self._retry_later(entry, attempts, outcome)
        else:
            self._outbox.mark_failed(entry.id, outcome.detail)
            log.error(
                "Post %d failed: %s",
                entry.id,
                outcome.detail,
                extra={"APPLIANCE_EVENT": "post_failed", "OUTBOX_ID": entry.id},
            )
            self._emit(
                PostResult(entry.id, PostStatus.FAILED, "", outcome.detail, outcome.needs_user)
            )

    def _posted(self, entry: Entry, post_id: str, note: str) -> None:
        self._outbox.mark_posted(entry.id, post_id, note)
        log.info(
            "Posted “%s” as %s",
            entry.text,
            post_id or "(id unknown)",
            extra={"APPLIANCE_EVENT": "posted", "POST_ID": post_id, "OUTBOX_ID": entry.id},
        )
        self._emit(PostResult(entry.id, PostStatus.POSTED, post_id))

    def _retry_later(self, entry: Entry, attempts: int, outcome: PostOutcome) -> None:
        delay = self._delay(attempts, outcome)
        self._outbox.mark_waiting(entry.id, self._clock() + delay, outcome.detail)
        detail = f"{outcome.detail}; retrying in {delay:.0f} s"
        event = "x_out_of_credits" if outcome.is_out_of_credits else "post_retrying"
        log.warning(
            "Post %d not sent yet: %s",
            entry.id,
            detail,
            extra={"APPLIANCE_EVENT": event, "OUTBOX_ID": entry.id},
        )
        self._emit(
            PostResult(
                entry.id,
                PostStatus.RETRYING,
                "",
                detail,
                is_rate_limited=outcome.is_rate_limited,
                is_out_of_credits=outcome.is_out_of_credits,
            )
        )

    def _delay(self, attempts: int, outcome: PostOutcome) -> float:
        if outcome.retry_after_seconds is not None:
            return outcome.retry_after_seconds  # X's own reset time (429)
        return max(
            1.0,
            backoff_seconds(
                attempts,
                first_seconds=self._retry_first_seconds,
                cap_seconds=self._retry_max_seconds,
            ),
        )

    def _delete_post(self, request: _Delete) -> None:
        if self._delete is None:
            outcome = PostOutcome(Outcome.FAILED, detail="deleting is not possible in this mode")
        else:
            outcome = self._delete(request.post_id)
        request.attempts += 1
        if outcome.kind == Outcome.RETRY and request.attempts < DELETE_ATTEMPTS:
            request.due_at = self._clock() + self._delay(request.attempts, outcome)
            self._deletes.append(request)
            log.warning(
                "Deleting post %s: %s; trying again",
                request.post_id,
                outcome.detail,
                extra={"APPLIANCE_EVENT": "delete_retrying", "POST_ID": request.post_id},
            )
            return
        is_deleted = outcome.kind == Outcome.DELETED
        if is_deleted:
            self._outbox.mark_deleted(request.post_id)
        self._emit(DeleteResult(request.post_id, is_deleted, outcome.detail))
