"""The speech link: streams microphone audio to AssemblyAI v3 and turns replies into events."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket

from appliance import loops
from appliance.core.events import LinkCause, LinkIdle, LinkUp
from appliance.speech.backlog import Backlog
from appliance.speech.connection import NotOpened, close_quietly, open_session, terminate
from appliance.speech.gate import Decision, GateSettings, Session, next_open_at
from appliance.speech.intake import Intake
from appliance.speech.receiver import SessionReceiver
from appliance.speech.reconnect import (
    EXPIRED,
    HEALTHY_AFTER_SECONDS,
    classify,
    describe_close,
)
from appliance.speech.replay import Replay
from appliance.speech.settings import (  # noqa: F401 - session_url is part of the API
    BURST_SECONDS,
    CHUNK_SECONDS,
    MODELS,
    SAMPLE_RATE_HZ,
    AssemblyAISettings,
    session_url,
)
from appliance.speech.token import KeyCheck, KeyOutcome, check_key
from appliance.speech.trouble import Trouble
from appliance.speech.vad import SpeechDetector

log = logging.getLogger(__name__)

# An Error message precedes the server's close; a server that does not close is cut.
ERROR_CLOSE_SECONDS = 2.0
# Chunks sent as one message: 100 ms (the service takes 50-1000 ms, recommends 50).
CHUNKS_PER_MESSAGE = 2
# Chunks taken per wake-up: a capture period's worth (200 ms), sent as two messages.
CHUNKS_PER_ROUND = 4
# How long the sending loop waits for audio before it looks at pings and the gate again.
TAKE_TIMEOUT_SECONDS = 0.25


@dataclass(frozen=True)
class _Outcome:
    close_code: int | None
    reason: str  # the service's Error message, else the close reason, else what we saw
    up_seconds: float
    ended_by_us: Decision | None = None  # CLOSE or ROTATE when we ended it on purpose
    http_status: int | None = None  # the handshake was answered with this instead


class SpeechLink:
    """Opens sessions when wanted, reconnects by cause, and buffers audio so no word is lost."""

    def __init__(
        self,
        *,
        url: str,
        api_key: str,
        speech_model: str,
        emit: Callable[[object], None],
        connect: Callable[..., Any] = websocket.create_connection,
        settings: AssemblyAISettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        detector: SpeechDetector | None = None,
        key_check: Callable[[threading.Event], KeyCheck] | None = None,
        **overrides: Any,
    ) -> None:
        # Without settings (tests, tools) a session stays open.
        base = settings or AssemblyAISettings(session=Session.ALWAYS)
        self.settings = dataclasses.replace(base, **overrides)
        self._url = session_url(url, speech_model)
        self._model = MODELS[speech_model]
        self._host = urllib.parse.urlsplit(url).netloc
        self._api_key = api_key
        self._emit = emit
        self._connect = connect
        self._clock = clock
        s = self.settings
        gate_settings = GateSettings(
            mode=s.session,
            idle_close_seconds=s.idle_close_seconds,
            rotate_after_seconds=s.rotate_after_seconds,
        )
        self.backlog = Backlog(max(1, round(s.backlog_seconds / CHUNK_SECONDS)))
        self._pre_roll_chunks = round(s.pre_roll_seconds / CHUNK_SECONDS)
        self._wakeup = loops.Wakeup()  # the link thread's wait while no session is wanted
        self._intake = Intake(
            gate_settings, self.backlog, detector or SpeechDetector(), self._wakeup.wake, clock
        )
        self.send_audio = self._intake.send_audio  # the microphone thread's way in
        self._is_up = threading.Event()
        self._is_idle_reported = False
        self._trouble = Trouble(self.settings, emit)
        # on_speech: a wrong key shows at boot (LED, STATUS=) rather than at the first
        # sentence. A temporary token proves the key without a billed session.
        self._needs_key_check = self.settings.session is Session.ON_SPEECH
        self._key_check = key_check or (
            lambda stop: check_key(
                url, api_key, total_seconds=self.settings.connect_timeout_seconds, stop=stop
            )
        )
        self.open_times: deque[float] = deque(maxlen=64)
        self._last_progress_at = clock()
        self._failures = 0
        self.chunks_sent = 0
        self.sessions_opened = 0

    @property
    def last_progress_at(self) -> float:
        """When the thread last did something; now while it waits for speech on purpose."""
        return self._clock() if self._wakeup.is_waiting else self._last_progress_at

    @property
    def is_up(self) -> bool:
        return self._is_up.is_set()

    @property
    def chunks_dropped(self) -> int:
        """Speech lost: the backlog overflowed during a long outage."""
        return self.backlog.chunks_overflowed

    def set_muted(self, is_muted: bool) -> None:
        """Muted: end the session (Terminate), drop all audio, open nothing until unmuted."""
        self._intake.set_muted(is_muted)

    def _is_session_needed(self) -> bool:
        return self._intake.is_session_needed()

    def _is_key_check_due(self) -> bool:
        return self._needs_key_check and not self._intake.is_muted

    def _decide(self, session_age_seconds: float | None) -> Decision:
        return self._intake.decide(session_age_seconds)

    # ---- the link thread ------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        self._failures = 0
        loops.run_loop(stop, lambda: self._round(stop), self._wakeup, "speech-link")

    def _round(self, stop: threading.Event) -> float | None:
        """One decision: check the key, wait for speech (None), or run one session."""
        self._last_progress_at = self._clock()
        if self._is_key_check_due() and not self._is_session_needed():
            answer = self._key_check(stop)
            if stop.is_set():
                return 0.0
            if answer.outcome in (KeyOutcome.ACCEPTED, KeyOutcome.NO_ENDPOINT):
                self._needs_key_check = False
                self._trouble.recovered()
                self._failures = 0
                return 0.0
            self._failures += 1
            cause = answer.cause or LinkCause.DROPPED
            self._retry_later(stop, cause, answer.detail, self._failures)
            return 0.0
        if not self._is_session_needed():
            self._idle()
            return None  # until speech, a mute change or stop wakes us
        self._is_idle_reported = False
        self.backlog.retain(self.backlog.max_chunks)  # from here on, no word is dropped
        if self._wait_for_open_slot(stop):
            self._after(self._one_session(stop), stop)
        return 0.0

    def _after(self, outcome: _Outcome, stop: threading.Event) -> None:
        """What a session's end means: go on at once, or report and back off."""
        if stop.is_set():
            return
        if outcome.ended_by_us is not None:
            self._failures = 0
            return
        cause = classify(outcome.close_code, outcome.reason, http_status=outcome.http_status)
        if cause == EXPIRED:
            # Error 3008, Termination, close 3008: the service's own rotation. The
            # unfinished words were replayed into the backlog; carry on at once.
            log.info(
                "Speech session reached its maximum duration; continuing in a new one",
                extra={"APPLIANCE_EVENT": "session_expired", "CLOSE_CODE": outcome.close_code},
            )
            self._failures = 0
            return
        healthy = outcome.up_seconds >= HEALTHY_AFTER_SECONDS
        self._failures = 1 if healthy else self._failures + 1
        if cause is LinkCause.KEY_REFUSED:
            # Retry with a free token request, not a billed session (on_speech). Not
            # for a balance problem: a token may well be issued to an empty account.
            self._needs_key_check = self.settings.session is Session.ON_SPEECH
        detail = describe_close(outcome.close_code, outcome.reason)
        self._retry_later(stop, cause, detail, self._failures, outcome.close_code)

    def _retry_later(
        self,
        stop: threading.Event,
        cause: LinkCause | str,
        detail: str,
        failures: int,
        code: int | None = None,
    ) -> None:
        """Say the link is down and why, then wait as the policy says."""
        speech_waiting = self.backlog.owes_speech()
        delay = self._trouble.down(cause, detail, failures, code, is_speech_waiting=speech_waiting)
        loops.wait(stop, delay, self._clock, beat=self._beat)

    def _idle(self) -> None:
        """No session wanted: keep only pre-roll, say so once."""
        self.backlog.retain(self._pre_roll_chunks)
        if not self._is_idle_reported:
            self._is_idle_reported = True
            reason = "muted" if self._intake.is_muted else "no speech"
            # Idle after a passed key check: a key problem shown before is over.
            key_ok = not self._needs_key_check and self._trouble.last_cause is None
            self._emit(LinkIdle(reason, is_key_confirmed=key_ok))

    def _wait_for_open_slot(self, stop: threading.Event) -> bool:
        """Wait until opening keeps us under opens_per_minute; False if no longer wanted."""
        while not stop.is_set():
            self._last_progress_at = self._clock()
            at = next_open_at(list(self.open_times), self._clock(), self.settings.opens_per_minute)
            if at <= self._clock():
                return True
            if not self._is_session_needed():
                return False
            stop.wait(min(1.0, at - self._clock()))
        return False

    def _beat(self) -> None:
        self._last_progress_at = self._clock()  # waiting, not stuck: the watchdog sees it

    def _one_session(self, stop: threading.Event) -> _Outcome:
        """Connect, stream until the session ends, and say how it ended."""
        opened = open_session(
            self._url,
            api_key=self._api_key,
            connect=self._connect,
            timeout_seconds=self.settings.connect_timeout_seconds,
            stop=stop,
            receiver=lambda ws: SessionReceiver(
                ws, self._emit, self._clock, sends_formatted_copy=self._model.sends_formatted_copy
            ),
            # Counted once the server took the upgrade: that is a new session to it.
            on_upgraded=lambda: self.open_times.append(self._clock()),
        )
        if isinstance(opened, NotOpened):
            return _Outcome(opened.close_code, opened.reason, 0.0, http_status=opened.http_status)
        ws, session = opened
        try:
            return self._stream(ws, session, stop)
        finally:
            self._is_up.clear()
            # The server ended it (an Error, a close): nothing left to say, just cut.
            close_quietly(ws, polite=session.close_code is None and session.error is None)

    def _stream(self, ws: Any, session: SessionReceiver, stop: threading.Event) -> _Outcome:
        opened_at = self._clock()
        self.sessions_opened += 1
        self._needs_key_check = False
        self._is_up.set()
        self._trouble.recovered()
        session_id = session.session_id
        log.info(
            "Speech session %s opened",
            session_id,
            extra={"APPLIANCE_EVENT": "session_opened", "SPEECH_SESSION_ID": session_id},
        )
        self._emit(LinkUp(session_id))
        receiver = threading.Thread(target=session.receive_all, name="speech-receive", daemon=True)
        receiver.start()
        replay = Replay(quiet_chunks=self._pre_roll_chunks)
        ended_by_us: Decision | None = None
        try:
            ended_by_us = self._send_until_closed(ws, session, stop, opened_at, replay)
            if (stop.is_set() or ended_by_us) and not session.ended.is_set():
                terminate(ws, session, self.settings.terminate_timeout_seconds)
        finally:
            self._is_up.clear()
            if session.close_code is None:
                # Lost, not closed: a close handshake would wait on a dead peer, and on
                # the receiver's read lock; cut the socket so both threads end now.
                ws.shutdown()
            session.finish()  # a sentence still waiting for its formatted copy goes out
            up_seconds = self._clock() - opened_at
            finished_by_request = session.is_terminated and session.error is None
            if not finished_by_request and ended_by_us is not Decision.CLOSE:
                # Words sent to a session that died (or expired) unfinished go to the
                # next one: everything after the last word of a delivered sentence.
                self.backlog.prepend(replay.unfinished(session.confirmed_end_ms))
            log.info(
                "Speech session %s closed after %.0f s",
                session_id,
                up_seconds,
                extra={"APPLIANCE_EVENT": "session_closed", "SPEECH_SESSION_ID": session_id},
            )
        return _Outcome(session.ending_code, session.ending_message, up_seconds, ended_by_us)

    def _send_until_closed(
        self,
        ws: Any,
        session: SessionReceiver,
        stop: threading.Event,
        opened_at: float,
        replay: Replay,
    ) -> Decision | None:
        """Send paced audio and pings until the session ends, or we decide to end it."""
        self.backlog.new_stream()
        sent_ms = 0
        next_ping_at = opened_at + self.settings.ping_interval_seconds
        while not stop.is_set() and not session.ended.is_set():
            now = self._clock()
            self._last_progress_at = now
            session.deliver_due()
            if session.error_at is not None and now - session.error_at > ERROR_CLOSE_SECONDS:
                session.lost("the server sent an error but did not close")
                return None
            decision = self._decide(now - opened_at)
            # Speech still in the backlog (after an outage) is sent before we let go.
            if decision in (Decision.CLOSE, Decision.ROTATE) and not self.backlog.owes_speech():
                return decision
            if now - session.last_heard_at > self.settings.ping_timeout_seconds:
                session.lost(
                    f"no answer from {self._host} for {self.settings.ping_timeout_seconds:.0f} s"
                    " (the connection is dead)"
                )
                return None
            try:
                if now >= next_ping_at:
                    ws.ping()
                    next_ping_at = now + self.settings.ping_interval_seconds
                # Never faster than real time (plus a small burst): the service closes 3007.
                ahead_seconds = sent_ms / 1000 - (now - opened_at) - BURST_SECONDS
                if ahead_seconds > 0:
                    stop.wait(min(0.05, ahead_seconds))
                    continue
                chunks = self.backlog.take_up_to(CHUNKS_PER_ROUND, TAKE_TIMEOUT_SECONDS)
                for start in range(0, len(chunks), CHUNKS_PER_MESSAGE):
                    message = chunks[start : start + CHUNKS_PER_MESSAGE]
                    for item in message:  # kept before sending: a failed send is replayed
                        sent_ms += len(item[0]) * 1000 // (2 * SAMPLE_RATE_HZ)
                        replay.sent(sent_ms, item)
                    ws.send_binary(b"".join(chunk for chunk, _ in message))
                    self.chunks_sent += len(message)
            except (OSError, websocket.WebSocketException) as error:
                session.lost(f"sending failed: {error}")
                return None
            replay.trim(session.confirmed_end_ms)
        return None
