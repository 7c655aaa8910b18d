"""Audio waiting to be streamed: a bounded buffer that catches up by dropping silence."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Sequence

Chunk = tuple[bytes, bool]  # (50 ms of PCM, is it speech per the VAD)


def chunks_to_keep(
    is_speech: Sequence[bool], keep_after: int, keep_before: int, silence_sent: int | None = None
) -> list[bool]:
    """Which chunks of a backlog to send when catching up (pure).

    Speech is always kept. Of each run of silence, the first `keep_after` chunks stay
    (the service needs that much quiet to end the turn, so two sentences stay two)
    and the last `keep_before` (soft onsets the VAD missed); the middle is dropped.
    A leading run continues the `silence_sent` chunks of quiet already sent after
    speech (None: it starts the stream, so nothing before it needs ending).
    """
    keep = [True] * len(is_speech)
    start = 0
    while start < len(is_speech):
        if is_speech[start]:
            start += 1
            continue
        end = start
        while end < len(is_speech) and not is_speech[end]:
            end += 1
        if start > 0:
            after = keep_after
        else:
            after = 0 if silence_sent is None else max(0, keep_after - silence_sent)
        if end - start > after + keep_before:
            for index in range(start + after, end - keep_before):
                keep[index] = False
        start = end
    return keep


class Backlog:
    """Chunks from the microphone thread to the link thread; never blocks the microphone.

    Bounded: when full the oldest audio goes (and is counted). `retain()` sets the
    bound: a second of pre-roll while no session is wanted, `max_chunks` otherwise.
    """

    def __init__(
        self,
        max_chunks: int,
        *,
        catch_up_after_chunks: int = 10,
        keep_silence_after_chunks: int = 16,
        keep_silence_before_chunks: int = 6,
    ) -> None:
        self.max_chunks = max_chunks
        self._limit = max_chunks
        self._catch_up_after_chunks = catch_up_after_chunks
        self._keep_after = keep_silence_after_chunks
        self._keep_before = keep_silence_before_chunks
        self._chunks: deque[Chunk] = deque()
        self._changed = threading.Condition()
        self.chunks_overflowed = 0  # audio lost because the backlog was full
        self.chunks_skipped = 0  # silence dropped to catch up (not a loss)
        # Silence sent since the last speech chunk in this stream; None: none sent yet.
        self._silence_sent: int | None = None

    def __len__(self) -> int:
        with self._changed:
            return len(self._chunks)

    def owes_speech(self) -> bool:
        """True while speech from a wanted session waits to be sent (after an outage).

        Pre-roll (the bound lowered by `retain`) owes nothing: a click in it must not
        open a session by itself.
        """
        with self._changed:
            return self._limit == self.max_chunks and any(s for _, s in self._chunks)

    def push(self, chunk: bytes, is_speech: bool, *, notify: bool = True) -> None:
        """Add a chunk; with notify=False the taker is woken by a later notify() (so the
        chunks of one capture period wake it once)."""
        with self._changed:
            self._chunks.append((chunk, is_speech))
            self._trim()
            if notify:
                self._changed.notify()

    def notify(self) -> None:
        with self._changed:
            self._changed.notify()

    def retain(self, limit_chunks: int) -> None:
        """Keep at most this many of the newest chunks from now on."""
        with self._changed:
            self._limit = max(0, min(limit_chunks, self.max_chunks))
            self._trim(counts_as_loss=False)

    def prepend(self, chunks: Iterable[Chunk]) -> None:
        """Put audio the last session did not finish back in front (oldest first)."""
        with self._changed:
            self._chunks.extendleft(reversed(list(chunks)))
            self._trim()
            self._changed.notify()

    def new_stream(self) -> None:
        """A new session starts: nothing sent in it yet."""
        with self._changed:
            self._silence_sent = None

    def clear(self) -> None:
        with self._changed:
            self._chunks.clear()

    def take(self, timeout_seconds: float) -> Chunk | None:
        """The next chunk to send, after dropping inner silence if we are behind."""
        taken = self.take_up_to(1, timeout_seconds)
        return taken[0] if taken else None

    def take_up_to(self, max_chunks: int, timeout_seconds: float) -> list[Chunk]:
        """The next chunks to send (at most `max_chunks`, none after `timeout_seconds`)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._chunks, timeout_seconds):
                return []
            if len(self._chunks) > self._catch_up_after_chunks:
                self._catch_up()
            taken: list[Chunk] = []
            while self._chunks and len(taken) < max_chunks:
                chunk = self._chunks.popleft()
                if chunk[1]:
                    self._silence_sent = 0
                elif self._silence_sent is not None:
                    self._silence_sent += 1
                taken.append(chunk)
            return taken

    def _catch_up(self) -> None:
        flags = [is_speech for _, is_speech in self._chunks]
        keep = chunks_to_keep(flags, self._keep_after, self._keep_before, self._silence_sent)
        if all(keep):
            return
        kept = [chunk for chunk, wanted in zip(self._chunks, keep, strict=True) if wanted]
        self.chunks_skipped += len(self._chunks) - len(kept)
        self._chunks = deque(kept)

    def _trim(self, counts_as_loss: bool = True) -> None:
        excess = len(self._chunks) - self._limit
        for _ in range(max(0, excess)):
            _, is_speech = self._chunks.popleft()
            if counts_as_loss and is_speech:
                self.chunks_overflowed += 1
