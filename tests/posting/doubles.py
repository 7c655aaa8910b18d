"""Test doubles with the shape of posting/client.py's Client, for any destination."""

from __future__ import annotations

from collections.abc import Callable

from appliance.core.destinations import Destination
from appliance.posting.outcome import AccountCheck, Outcome, PostOutcome


class ScriptedClient:
    """Answers post() with `answer(text)`; records every (text, key) it was given."""

    def __init__(
        self,
        answer: Callable[[str], PostOutcome] | None = None,
        destination: Destination = Destination.X,
    ) -> None:
        self.destination = destination
        self._answer = answer or (lambda text: PostOutcome(Outcome.POSTED, post_id="1"))
        self.calls: list[tuple[str, str]] = []
        self.tried_since: list[float] = []  # each post()'s, in order
        self.deleted: list[str] = []
        self.aborted = 0

    def post(self, text: str, key: str, tried_since: float = 0.0) -> PostOutcome:
        self.calls.append((text, key))
        self.tried_since.append(tried_since)
        return self._answer(text)

    def delete(self, post_id: str) -> PostOutcome:
        self.deleted.append(post_id)
        return PostOutcome(Outcome.DELETED, post_id=post_id)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        return ""

    def check_account(self) -> AccountCheck:
        return AccountCheck(True, f"signed in to {self.destination.label}")

    def abort(self) -> None:
        self.aborted += 1


class Relabelled:
    """Another client (e.g. the real XPoster against an X stand-in) posing as `destination`:
    a second, independent destination for tests of the per-destination machinery."""

    def __init__(self, inner: object, destination: Destination) -> None:
        self._inner = inner
        self.destination = destination

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
