"""Property: nothing is posted without a confirmation; nothing confirmed is lost or doubled.

The real core, the real outbox (SQLite) and the real poster logic, with a model of X
and a model of the daemon's main loop. A restart loses the core's state and keeps the
outbox; a crash can strike after X stored a post and before its answer was recorded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.core import CoreSettings, State, step
from appliance.core.events import ButtonPressed, DiscardRequested, QueuePost, SentenceFinished, Tick
from appliance.posting.outbox import POSTED, Outbox
from appliance.posting.outcome import PostOutcome
from appliance.posting.poster import Poster

CORE = CoreSettings(candidate_window_seconds=60.0, grace_seconds=3.0)


class Crash(Exception):
    """The power went out in the middle of a request."""


class ModelX:
    """Stores each distinct text once, as X does; its answers follow a script."""

    def __init__(self) -> None:
        self.posts: list[str] = []
        self.answers: list[str] = []  # "ok" | "503" | "lost" | "crash", consumed per request

    def send(self, text: str) -> PostOutcome:
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "503":
            return PostOutcome("retry", detail="X is having trouble (503).")
        if text in self.posts:
            return PostOutcome("failed", detail="duplicate", is_duplicate=True)
        self.posts.append(text)
        if answer == "crash":
            raise Crash
        if answer == "lost":
            return PostOutcome("retry", detail="X did not answer in time.")
        return PostOutcome("posted", post_id=str(len(self.posts)))


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


actions = st.one_of(
    st.tuples(st.just("hear"), st.sampled_from(["sentence", "tweet that", "tweet text", "cancel"])),
    st.tuples(st.just("press"), st.none()),
    st.tuples(st.just("hold"), st.none()),
    st.tuples(st.just("wait"), st.sampled_from([0.5, 2.0, 4.0, 70.0])),
    st.tuples(st.just("send"), st.sampled_from(["ok", "503", "lost", "crash"])),
    st.tuples(st.just("restart"), st.none()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, max_size=40))
def test_confirmed_posts_reach_x_exactly_once_and_nothing_else_does(script):
    with tempfile.TemporaryDirectory() as directory:
        clock = Clock()
        outbox = Outbox(Path(directory) / "outbox.sqlite3", clock)
        x = ModelX()
        results: list[object] = []
        poster = Poster(outbox, x.send, results.append, clock=clock)
        state, confirmations, queued = State(link="up"), 0, []

        def feed(event: object) -> None:
            nonlocal state
            state, effects = step(state, event, clock.now, CORE)  # type: ignore[arg-type]
            for effect in effects:
                if isinstance(effect, QueuePost):
                    outbox.add(effect.text, effect.confirmed_by)  # as Daemon.handle does
                    queued.append(effect.text)

        for number, (action, arg) in enumerate(script):
            if action == "hear":
                text = {
                    "sentence": f"Sentence {number}.",
                    "tweet that": "Tweet that.",
                    "tweet text": f"Tweet that text {number}.",
                    "cancel": "Cancel.",
                }[arg]
                confirmations += text.startswith("Tweet")
                feed(SentenceFinished(text))
            elif action == "press":
                confirmations += 1
                feed(ButtonPressed())
            elif action == "hold":
                feed(DiscardRequested())
            elif action == "wait":
                clock.now += arg
                feed(Tick())
            elif action == "send":
                x.answers.append(arg)
                try:
                    poster.send_next()
                except Crash:
                    state = State(link="up")  # the core's memory is gone ...
                    poster.recover()  # ... the outbox is not
                x.answers.clear()  # unused when nothing was due
                while results:
                    feed(results.pop(0))
                clock.now += 300.0  # past any backoff
            else:
                state = State(link="up")
                poster.recover()
            # Nothing reaches X without a confirmation, nor more often than confirmed.
            assert set(x.posts) <= set(queued)
            assert len(queued) <= confirmations

        # Keep the poster running long enough: every confirmed post ends up on X, once.
        poster.recover()
        for _ in range(3 * len(queued) + 1):
            clock.now += 400.0
            poster.send_next()
        assert sorted(x.posts) == sorted(queued)
        assert len(set(queued)) == len(queued)
        assert [entry.state for entry in outbox.entries(1000)] == [POSTED] * len(queued)
        outbox.close()
