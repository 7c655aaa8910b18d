"""Audio sent to a session but not yet part of a finished sentence: the next one gets it."""

from __future__ import annotations

from collections import deque

from appliance.speech.backlog import Chunk
from appliance.speech.settings import CHUNK_SECONDS, CONFIRM_MARGIN_MS, REPLAY_MAX_SECONDS


class Replay:
    """What one session was sent, by the stream time (ms) where each chunk ends.

    Bounded twice: REPLAY_MAX_SECONDS in all, and `quiet_chunks` while it holds no
    speech at all. A quiet room then keeps a second, not half a minute (about 1 MB),
    and nothing is lost: the backlog drops all but the last moments of a silence
    before speech when it replays anyway (chunks_to_keep).
    """

    def __init__(self, quiet_chunks: int) -> None:
        self._quiet_chunks = quiet_chunks
        self._chunks: deque[tuple[int, Chunk]] = deque()
        self._speech_chunks = 0  # how many of them are speech

    def __len__(self) -> int:
        return len(self._chunks)

    def sent(self, end_ms: int, chunk: Chunk) -> None:
        self._chunks.append((end_ms, chunk))
        self._speech_chunks += chunk[1]

    def trim(self, confirmed_end_ms: int) -> None:
        """Let go of what finished sentences cover, and of what is over the bounds."""
        confirmed_ms = confirmed_end_ms + CONFIRM_MARGIN_MS
        while self._chunks and (
            self._chunks[0][0] <= confirmed_ms
            or len(self._chunks) * CHUNK_SECONDS > REPLAY_MAX_SECONDS
            or (not self._speech_chunks and len(self._chunks) > self._quiet_chunks)
        ):
            _, chunk = self._chunks.popleft()
            self._speech_chunks -= chunk[1]

    def unfinished(self, confirmed_end_ms: int) -> list[Chunk]:
        """Everything after the last word of a delivered sentence, oldest first."""
        return [chunk for end_ms, chunk in self._chunks if end_ms > confirmed_end_ms]
