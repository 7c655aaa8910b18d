"""How the speech link's troubles are told: why it is down (once per problem), and when back."""

from __future__ import annotations

import logging
from collections.abc import Callable

from appliance.core.events import LinkCause, LinkDown
from appliance.speech.reconnect import Verdict, cause_streak, retry_cap_seconds, verdict
from appliance.speech.settings import AssemblyAISettings

log = logging.getLogger(__name__)


class Trouble:
    """The link's run of failures by cause, what was last logged, and the LinkDown events."""

    def __init__(self, settings: AssemblyAISettings, emit: Callable[[object], None]) -> None:
        self._settings = settings
        self._emit = emit
        self._last_problem = ""  # the explanation last logged, so a repeat stays quiet
        self.last_cause: LinkCause | str | None = None  # None: no trouble since it was up
        self._cause_streak = 0

    def down(
        self,
        cause: LinkCause | str,
        detail: str,
        failures: int,
        code: int | None = None,
        *,
        is_speech_waiting: bool,
    ) -> float:
        """Say the link is down and why; return the seconds to wait, as the policy says."""
        self._cause_streak = cause_streak(self.last_cause, cause, self._cause_streak)
        self.last_cause = cause
        decision = verdict(
            cause,
            detail,
            failures,
            streak=self._cause_streak,
            cap_seconds=retry_cap_seconds(
                self._settings.reconnect_max_seconds,
                self._settings.backlog_seconds,
                is_speech_waiting=is_speech_waiting,
            ),
        )
        self._report(decision, code)
        return decision.delay_seconds

    def recovered(self) -> None:
        self.last_cause, self._cause_streak = None, 0
        if self._last_problem:
            log.info("Speech link is back (it was down: %s)", self._last_problem)
            self._last_problem = ""

    def _report(self, decision: Verdict, code: int | None) -> None:
        message = (
            f"Speech link down: {decision.explanation}; retrying in {decision.delay_seconds:.0f} s"
        )
        if decision.explanation != self._last_problem:
            level = logging.ERROR if decision.needs_user or decision.is_our_bug else logging.WARNING
            if decision.is_our_bug:
                message += " (this is a bug in appliance: please report it)"
            error = decision.cause.value if decision.cause else ""
            extra = {"APPLIANCE_EVENT": "link_down", "CLOSE_CODE": code, "SPEECH_ERROR": error}
            log.log(level, message, extra=extra)
            self._last_problem = decision.explanation
        else:
            log.debug(message)
        cause = decision.cause or LinkCause.DROPPED
        self._emit(LinkDown(decision.explanation, decision.delay_seconds, code, cause))
