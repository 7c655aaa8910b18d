"""Property: nothing is posted without a confirmation; nothing confirmed is lost or doubled.

The real core, the real outbox (SQLite) and the real poster logic (one poster per
destination), with models of X and of a second destination, and a model of the daemon's
main loop. A restart loses the core's state and keeps the outbox; a crash can strike on
either destination after it stored a post and before its answer was recorded, and each
destination's faults are independent of the other's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.core import CoreSettings, State, step
from appliance.core.destinations import Destination
from appliance.core.events import ButtonPressed, DiscardRequested, QueuePost, SentenceFinished, Tick
from appliance.posting.outbox import POSTED, Outbox
from appliance.posting.outcome import AccountCheck, PostOutcome
from appliance.posting.poster import Poster

BOTH = (Destination.X, Destination.BLUESKY)
CORE = CoreSettings(candidate_window_seconds=60.0, grace_seconds=3.0, destinations=BOTH)


class Crash(Exception):
    """The power went out in the middle of a request."""


class ModelDestination:
    """Stores each post once; its answers follow a script.

    X ("by text") refuses a second post with the same text as a duplicate (FAILED);
    Bluesky ("by key") has a record key derived from the post key, and a second create
    with that key says the record exists (POSTED, is_duplicate)."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination
        self.posts: list[str] = []
        self.keys: list[str] = []
        self.answers: list[str] = []  # "ok" | "503" | "lost" | "crash", consumed per request

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "503":
            return PostOutcome("retry", detail="having trouble (503).")
        if self.destination == Destination.X and text in self.posts:
            return PostOutcome("failed", detail="duplicate", is_duplicate=True)
        if self.destination != Destination.X and key in self.keys:
            post_id = str(self.keys.index(key) + 1)
            return PostOutcome("posted", post_id=post_id, is_duplicate=True)
        self.posts.append(text)
        self.keys.append(key)
        if answer == "crash":
            raise Crash
        if answer == "lost":
            return PostOutcome("retry", detail="did not answer in time.")
        return PostOutcome("posted", post_id=str(len(self.posts)))

    def delete(self, post_id: str) -> PostOutcome:
        return PostOutcome("deleted", post_id=post_id)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        return ""

    def check_account(self) -> AccountCheck:
        return AccountCheck(True, "fine")

    def abort(self) -> None:
        pass


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
    st.tuples(
        st.just("send"),
        st.tuples(st.sampled_from(BOTH), st.sampled_from(["ok", "503", "lost", "crash"])),
    ),
    st.tuples(st.just("restart"), st.none()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, max_size=40))
def test_confirmed_posts_reach_every_destination_exactly_once_and_nothing_else_does(script):
    with tempfile.TemporaryDirectory() as directory:
        clock = Clock()
        outbox = Outbox(Path(directory) / "outbox.sqlite3", clock)
        models = {d: ModelDestination(d) for d in BOTH}
        results: list[object] = []
        posters = {d: Poster(outbox, models[d], results.append, clock=clock) for d in BOTH}
        state, confirmations, queued = State(link="up"), 0, []

        def restart() -> None:
            nonlocal state
            state = State(link="up")  # the core's memory is gone ...
            for poster in posters.values():
                poster.recover()  # ... the outbox is not

        def feed(event: object) -> None:
            nonlocal state
            state, effects = step(state, event, clock.now, CORE)  # type: ignore[arg-type]
            for effect in effects:
                if isinstance(effect, QueuePost):
                    texts = effect.destination_texts()  # as Daemon.handle does
                    assert list(texts) == list(BOTH)
                    outbox.add(effect.text, effect.confirmed_by, texts)
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
                destination, answer = arg
                models[destination].answers.append(answer)
                try:
                    posters[destination].send_next()
                    posters[destination].report_settled()
                except Crash:
                    restart()
                models[destination].answers.clear()  # unused when nothing was due
                while results:
                    feed(results.pop(0))
                clock.now += 300.0  # past any backoff
            else:
                restart()
            # Nothing reaches a destination without a confirmation, nor more often.
            for model in models.values():
                assert set(model.posts) <= set(queued)
                assert len(model.posts) == len(set(model.keys))
            assert len(queued) <= confirmations

        # Keep the posters running long enough: every confirmed post ends up on every
        # destination, once.
        for poster in posters.values():
            poster.recover()
        for _ in range(3 * len(queued) + 1):
            clock.now += 400.0
            for poster in posters.values():
                poster.send_next()
        for model in models.values():
            assert sorted(model.posts) == sorted(queued)
        assert len(set(queued)) == len(queued)
        states = [entry.state for entry in outbox.entries(1000)]
        assert states == [POSTED] * len(queued) * len(BOTH)
        outbox.close()
