"""A poster thread: sends one destination's outbox rows, one at a time, never blocking speech.

The daemon runs one per enabled destination; each works only its own rows, so a hang,
an outage, a 429 or a refusal on one never holds up or repeats another.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from appliance import loops
from appliance.core.backoff import backoff_seconds
from appliance.core.events import DeleteResult, PostResult, PostsSettled, PostStatus
from appliance.loops import Wakeup
from appliance.posting.client import Client
from appliance.posting.outbox import Entry, EntryState, Outbox
from appliance.posting.outcome import Outcome, PostOutcome

log = logging.getLogger(__name__)

# When nothing is due, look again at least this often (an entry added by
# `appliance outbox retry` from another process has no wake-up call).
IDLE_POLL_SECONDS = 5.0
DELETE_ATTEMPTS = 5  # a "delete that" is retried this often on network errors and 5xx


@dataclass
class _Delete:
    entry_id: int
    post_id: str
    confirmation: int
    attempts: int = 0
    due_at: float = 0.0  # unix seconds


class Poster:
    """Takes the destination's due rows from the outbox and posts them with `client`."""

    def __init__(
        self,
        outbox: Outbox,
        client: Client,
        emit: Callable[[object], None],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        retry_first_seconds: float = 2.0,
        retry_max_seconds: float = 300.0,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self._outbox = outbox
        self._client = client
        self.destination = client.destination
        self._label = client.destination.label
        self._emit = emit
        self._clock = clock  # unix seconds: due times are kept in the outbox
        self._monotonic = monotonic  # the daemon's, which it compares last_progress_at with
        self._retry_first_seconds = retry_first_seconds
        self._retry_max_seconds = retry_max_seconds
        self._wakeup = Wakeup()
        self._deletes: collections.deque[_Delete] = collections.deque()
        # Rows "delete that" reached while their request was under way: entry id ->
        # confirmation. Deleted once posted, dropped if they would wait for a retry.
        self._undo_when_sent: dict[int, int] = {}
        self._undo_lock = threading.Lock()
        self._on_start = on_start  # e.g. learn Mastodon's length limit (a network call)
        # A row of ours waits for a retry (a problem is shown for it) as far as we know.
        self._is_held_up = False
        self._last_fault = ""  # the client's last unexpected exception, logged once
        self.last_progress_at = monotonic()

    def wake(self) -> None:
        """Something was added: look at the outbox now."""
        self._wakeup.wake()

    def request_delete(self, entry_id: int, post_id: str, confirmation: int = 0) -> None:
        """Delete the row's post `post_id` (on the poster thread; the caller never waits)."""
        self._deletes.append(_Delete(entry_id, post_id, confirmation or entry_id))
        self._wakeup.wake()

    def request_delete_when_sent(self, entry_id: int, confirmation: int) -> bool:
        """ "Delete that" for a row being sent right now (called from the main loop).

        False when the request ended before this was noted (the row is posted, waiting
        or failed by now, and this thread never saw the note): read the row again.
        """
        with self._undo_lock:
            self._undo_when_sent[entry_id] = confirmation
        entry = self._outbox.get(entry_id)
        if entry is not None and entry.state == EntryState.SENDING:
            return True  # the poster takes the note when the request ends
        with self._undo_lock:
            # Still ours: the poster had already looked. None: it took the note after all.
            return self._undo_when_sent.pop(entry_id, None) is None

    def _undo_requested(self, entry_id: int) -> int | None:
        """The confirmation whose deletion waits for this row, if any (asked once)."""
        with self._undo_lock:
            return self._undo_when_sent.pop(entry_id, None)

    def run(self, stop: threading.Event) -> None:
        # On stop, a request under way is cut off (only another thread can end it).
        self._wakeup.stop_with(stop, f"poster-{self.destination}", also=self._client.abort)
        self.recover()
        if self._on_start is not None:
            self._on_start()
        loops.run_loop(stop, self._round, self._wakeup, f"poster-{self.destination}")

    def _round(self) -> float | None:
        """One request (a due delete, else the oldest due row), or how long until one."""
        self.last_progress_at = self._monotonic()
        if self.delete_due() or self.send_next():
            return 0.0
        self.report_settled()
        return self._seconds_until_due()

    def recover(self) -> None:
        """After a crash or power cut: this destination's rows caught in 'sending' go again."""
        recovered = self._outbox.recover(self.destination)
        if recovered:
            log.warning(
                "%d post(s) were being sent to %s when the daemon stopped; sending them again",
                recovered,
                self._label,
                extra=self._fields("outbox_recovered"),
            )

    def send_next(self) -> bool:
        """Send the destination's oldest due row, if any; True if one was handled."""
        entry = self._outbox.next_due(self.destination)
        if entry is None:
            return False
        if self._outbox.mark_sending(entry.id):  # False: dropped by `appliance outbox drop`
            self._send_entry(entry)
        return True

    def report_settled(self) -> None:
        """Once a destination held up by waiting rows has nothing left to send (sent, failed
        or dropped by `appliance outbox drop`), say so: the problem shown for them ends."""
        if self._is_held_up and self._outbox.unfinished(self.destination) == 0:
            self._is_held_up = False
            self._emit(PostsSettled(self.destination))

    def delete_due(self) -> bool:
        """Carry out one due "delete that", if any; True if one was handled."""
        now = self._clock()
        for request in list(self._deletes):
            if request.due_at <= now:
                self._deletes.remove(request)
                self._delete_post(request)
                return True
        return False

    def _seconds_until_due(self) -> float:
        due = [d.due_at for d in self._deletes]
        waiting = self._outbox.next_attempt_at(self.destination)
        if waiting is not None:
            due.append(waiting)
            self._is_held_up = True  # also for rows left waiting before a restart
        timeout = IDLE_POLL_SECONDS if not due else min(due) - self._clock()
        return max(0.05, min(IDLE_POLL_SECONDS, timeout))

    def _fields(self, event: str, entry_id: int | None = None, **more: object) -> dict:
        fields: dict[str, object] = {"APPLIANCE_EVENT": event, "DESTINATION": self.destination}
        if entry_id is not None:
            fields["OUTBOX_ID"] = entry_id
        return {**fields, **more}

    def _send_entry(self, entry: Entry) -> None:
        # An earlier attempt (this run or before a restart) reached the destination at the
        # earliest when the text was confirmed.
        tried_since = entry.created_at if entry.attempts else 0.0
        key = self._outbox.key_for(entry.id)
        outcome = self._attempt(
            "posting to", lambda: self._client.post(entry.text, key, tried_since), entry.id
        )
        attempts = entry.attempts + 1
        if outcome.kind == Outcome.POSTED and not outcome.is_duplicate:
            self._posted(entry, outcome.post_id, "")
        elif outcome.is_duplicate and (attempts > 1 or entry.reason):
            # An earlier attempt reached the destination but its answer was lost: it is
            # posted. X's answer has no id, so look the post up: "delete that" needs it.
            post_id = outcome.post_id or self._find_post(entry)
            self._posted(entry, post_id, f"{self._label} already had it (earlier attempt)")
        elif outcome.kind == Outcome.POSTED:  # the destination's own duplicate check said so
            self._posted(entry, outcome.post_id, f"{self._label} already had it")
        elif outcome.kind == Outcome.RETRY:
            self._retry_later(entry, attempts, outcome)
        else:
            self._undo_requested(entry.id)  # nothing was posted: nothing to delete
            self._outbox.mark_failed(entry.id, outcome.detail)
            log.error(
                "Post %d to %s failed: %s",
                entry.id,
                self._label,
                outcome.detail,
                extra=self._fields("post_failed", entry.id),
            )
            self._emit(
                PostResult(
                    entry.id,
                    PostStatus.FAILED,
                    "",
                    outcome.detail,
                    outcome.needs_user,
                    destination=self.destination,
                    confirmation=entry.confirmation,
                )
            )

    def _attempt(self, action: str, call: Callable[[], PostOutcome], entry_id: int) -> PostOutcome:
        """`call()`; a retry if the client raised instead of answering (a bug in it, its SDK's
        surprise, a broken install). The request may have gone out, so the retry relies on
        the client's exactly-once check, as after any lost answer (the same key, and
        tried_since: X's duplicate refusal, Bluesky's record key, Mastodon's
        Idempotency-Key)."""
        try:
            outcome = call()
        except Exception as error:  # noqa: BLE001 - no client's error may end this thread
            problem = f"{type(error).__name__} while {action} {self._label}"
            if f"{problem}: {error}" != self._last_fault:
                self._last_fault = f"{problem}: {error}"
                log.error(
                    "Unexpected %s: %s",
                    problem,
                    error,
                    exc_info=True,
                    extra=self._fields("client_fault", entry_id),
                )
            # The exception's text stays in the (redacted) journal: it may hold a key.
            detail = f"Unexpected {problem} (the journal says more)"
            return PostOutcome(Outcome.RETRY, detail=detail, is_fault=True)
        if outcome.is_fault and outcome.detail != self._last_fault:
            # A fault the client caught itself (its "Unexpected ..." answer): logged once
            # too, as an error, not only as each retry's warning.
            self._last_fault = outcome.detail
            log.error(
                "%s (while %s %s)",
                outcome.detail.rstrip("."),
                action,
                self._label,
                extra=self._fields("client_fault", entry_id),
            )
        return outcome

    def _find_post(self, entry: Entry) -> str:
        """Our post of the row's text, if the destination has it; "" when unsure."""
        try:
            return self._client.find_post(entry.text, entry.created_at)
        except Exception as error:  # noqa: BLE001 - the id stays unknown, as when not found
            log.warning(
                "Could not look up post %d on %s (%s: %s)",
                entry.id,
                self._label,
                type(error).__name__,
                error,
                extra=self._fields("find_post_failed", entry.id),
            )
            return ""

    def _posted(self, entry: Entry, post_id: str, note: str) -> None:
        self._outbox.mark_posted(entry.id, post_id, note)
        self._last_fault = ""  # the client works again: a fault that comes back is news
        undo = self._undo_requested(entry.id)
        if undo is not None and post_id:
            self.request_delete(entry.id, post_id, undo)  # "delete that" came mid-request
        log.info(
            "Posted “%s” to %s as %s",
            entry.text,
            self._label,
            post_id or "(id unknown)",
            extra=self._fields("posted", entry.id, POST_ID=post_id),
        )
        self._emit(
            PostResult(
                entry.id,
                PostStatus.POSTED,
                post_id,
                destination=self.destination,
                confirmation=entry.confirmation,
            )
        )

    def _retry_later(self, entry: Entry, attempts: int, outcome: PostOutcome) -> None:
        undo = self._undo_requested(entry.id)
        if undo is not None:
            # "Delete that" came while this attempt was under way: never try again. A
            # lost answer may have posted it after all: then it is deleted like the rest.
            post_id = self._find_post(entry)
            if post_id:
                self.request_delete_when_sent(entry.id, undo)
                self._posted(entry, post_id, f"{self._label} had it (its answer was lost)")
                return
            self._outbox.mark_waiting(entry.id, self._clock(), outcome.detail)  # droppable
            self._outbox.drop(entry.id, "deleted before it went out (“delete that”)")
            log.info(
                "Post %d will not be sent to %s (“delete that”)",
                entry.id,
                self._label,
                extra=self._fields("dropped", entry.id),
            )
            return
        delay = self._delay(attempts, outcome)
        self._outbox.mark_waiting(entry.id, self._clock() + delay, outcome.detail)
        self._is_held_up = True
        detail = f"{outcome.detail}; retrying in {delay:.0f} s"
        event = "x_out_of_credits" if outcome.is_out_of_credits else "post_retrying"
        log.warning(
            "Post %d to %s not sent yet: %s",
            entry.id,
            self._label,
            detail,
            extra=self._fields(event, entry.id),
        )
        self._emit(
            PostResult(
                entry.id,
                PostStatus.RETRYING,
                "",
                detail,
                is_rate_limited=outcome.is_rate_limited,
                is_out_of_credits=outcome.is_out_of_credits,
                is_fault=outcome.is_fault,
                destination=self.destination,
                confirmation=entry.confirmation,
            )
        )

    def _delay(self, attempts: int, outcome: PostOutcome) -> float:
        if outcome.retry_after_seconds is not None:
            return outcome.retry_after_seconds  # the destination's own reset time (429)
        return max(
            1.0,
            backoff_seconds(
                attempts,
                first_seconds=self._retry_first_seconds,
                cap_seconds=self._retry_max_seconds,
            ),
        )

    def _delete_post(self, request: _Delete) -> None:
        outcome = self._attempt(
            "deleting a post from", lambda: self._client.delete(request.post_id), request.entry_id
        )
        request.attempts += 1
        if outcome.kind == Outcome.RETRY and request.attempts < DELETE_ATTEMPTS:
            request.due_at = self._clock() + self._delay(request.attempts, outcome)
            self._deletes.append(request)
            log.warning(
                "Deleting post %s from %s: %s; trying again",
                request.post_id,
                self._label,
                outcome.detail,
                extra=self._fields("delete_retrying", request.entry_id, POST_ID=request.post_id),
            )
            return
        is_deleted = outcome.kind == Outcome.DELETED
        if is_deleted:
            self._outbox.mark_deleted(request.entry_id)
        self._emit(
            DeleteResult(
                request.post_id,
                is_deleted,
                outcome.detail,
                destination=self.destination,
                confirmation=request.confirmation,
            )
        )
