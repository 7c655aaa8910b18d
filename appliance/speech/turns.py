"""Turn messages -> partial text and finished sentences, each sentence exactly once (pure).

The end of a turn is `end_of_turn`, never `turn_is_formatted` (AssemblyAI's turn
detection docs). What follows it depends on the model: one end-of-turn message that is
already formatted (the English model since 2026, Universal-3 Pro), an unformatted one
followed by a formatted copy (the older English flow with format_turns), or no
formatted message at all (the multilingual model). An unformatted end of turn waits at
most `format_wait_seconds` for its formatted copy, and only where the model sends one;
then the plain text is the sentence. A late copy is dropped, never delivered twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from appliance.core.events import PartialText, SentenceFinished
from appliance.speech.protocol import Turn

# How long an unformatted end of turn waits for its formatted copy. Formatting adds a
# few hundred ms that grow with the length of the turn (~400 ms reported); a sentence
# later than this is delivered unformatted rather than held up further.
FORMAT_WAIT_SECONDS = 1.5

TurnEvent = PartialText | SentenceFinished


@dataclass(frozen=True)
class _Waiting:
    turn: Turn
    due_at: float


class TurnAssembler:
    """One session's turns; `on_turn`, `due` and `finish` return the events to emit."""

    def __init__(
        self,
        *,
        sends_formatted_copy: bool,
        session_id: str = "",
        format_wait_seconds: float = FORMAT_WAIT_SECONDS,
    ) -> None:
        self.sends_formatted_copy = sends_formatted_copy
        self.session_id = session_id
        self.format_wait_seconds = format_wait_seconds
        # Audio up to here (ms of this session's stream) became finished sentences.
        self.confirmed_end_ms = 0
        self._last_delivered = -1
        self._waiting: _Waiting | None = None

    def on_turn(self, turn: Turn, now: float) -> list[TurnEvent]:
        order = turn.turn_order
        if order is not None and order <= self._last_delivered:
            return []  # a late formatted copy, or a repeat: that sentence went out already
        events: list[TurnEvent] = []
        waiting = self._waiting
        if waiting is not None and (order is None or order != waiting.turn.turn_order):
            events += self._deliver(waiting.turn)  # a newer turn began: no copy is coming
        if not turn.end_of_turn:
            return events + [PartialText(turn.transcript)]
        if turn.is_formatted or not self.sends_formatted_copy or order is None:
            return events + self._deliver(turn)
        self._waiting = _Waiting(turn, now + self.format_wait_seconds)
        return events + [PartialText(turn.transcript)]

    def due(self, now: float) -> list[TurnEvent]:
        """The waiting sentence, once its formatted copy is overdue."""
        if self._waiting is not None and now >= self._waiting.due_at:
            return self._deliver(self._waiting.turn)
        return []

    def finish(self) -> list[TurnEvent]:
        """The session ended: a sentence still waiting for its copy goes out as it is."""
        return self._deliver(self._waiting.turn) if self._waiting is not None else []

    def _deliver(self, turn: Turn) -> list[TurnEvent]:
        self._waiting = None
        if turn.turn_order is not None:
            self._last_delivered = max(self._last_delivered, turn.turn_order)
        if turn.end_ms is not None:
            self.confirmed_end_ms = max(self.confirmed_end_ms, turn.end_ms)
        if not turn.transcript.strip():
            return []
        order = -1 if turn.turn_order is None else turn.turn_order
        return [SentenceFinished(turn.transcript, order, self.session_id)]
