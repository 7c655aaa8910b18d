"""The speech link: streams microphone audio to AssemblyAI v3 and turns replies into events."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import websocket

from appliance.audio_backlog import Backlog, Chunk
from appliance.config import AssemblyAISettings
from appliance.events import LinkDown, LinkIdle, LinkUp
from appliance.reconnect import HEALTHY_AFTER_SECONDS, Verdict, retry_cap_seconds, verdict
from appliance.session_gate import Decision, GateSettings, GateState, decide, next_open_at, on_voice
from appliance.speech_messages import Begin
from appliance.speech_receiver import SessionReceiver
from appliance.speech_settings import (  # noqa: F401 - session_url is part of the API
    BURST_SECONDS,
    CHUNK_SECONDS,
    CONFIRM_MARGIN_MS,
    RECEIVE_TIMEOUT_SECONDS,
    REPLAY_MAX_SECONDS,
    SAMPLE_RATE_HZ,
    session_url,
)
from appliance.vad import SpeechDetector

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Outcome:
    close_code: int | None
    reason: str
    up_seconds: float
    ended_by_us: Decision | None = None  # CLOSE or ROTATE when we ended it on purpose


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
        **overrides: Any,
    ) -> None:
        # Without settings (tests, tools) a session stays open: "always".
        base = settings or AssemblyAISettings(session="always")
        self.settings = dataclasses.replace(base, **overrides)
        self._url = session_url(url, speech_model)
        self._host = urllib.parse.urlsplit(url).netloc
        self._api_key = api_key
        self._emit = emit
        self._connect = connect
        self._clock = clock
        self._detector = detector or SpeechDetector()
        s = self.settings
        self._gate_settings = GateSettings(
            mode=s.session,
            idle_close_seconds=s.idle_close_seconds,
            rotate_after_seconds=s.rotate_after_seconds,
        )
        self._gate = GateState()
        self._lock = threading.Lock()  # guards _gate (microphone thread vs link thread)
        self.backlog = Backlog(max(1, round(s.backlog_seconds / CHUNK_SECONDS)))
        self._pre_roll_chunks = round(s.pre_roll_seconds / CHUNK_SECONDS)
        self._wake = threading.Event()
        self._is_up = threading.Event()
        self._last_problem = ""
        self._is_idle_reported = False
        # on_speech: one short session at start-up proves the key, so a wrong key shows
        # at boot (red LED, STATUS=) rather than at the first sentence. It costs ~1 s.
        self._needs_key_check = self.settings.session == "on_speech"
        self.open_times: deque[float] = deque(maxlen=64)
        self.last_progress_at = clock()
        self.chunks_sent = 0
        self.sessions_opened = 0

    @property
    def is_up(self) -> bool:
        return self._is_up.is_set()

    @property
    def chunks_dropped(self) -> int:
        """Speech lost: the backlog overflowed during a long outage."""
        return self.backlog.chunks_overflowed

    def send_audio(self, chunk: bytes) -> None:
        """Called by the microphone thread for every 50 ms period; never blocks for long."""
        is_speech = self._detector.is_speech(chunk)
        with self._lock:
            if self._gate.is_muted:
                return  # muted: audio never leaves the device, not even into the backlog
            was_wanted = self._wanted_locked()
            self._gate = on_voice(self._gate, self._detector.is_speaking, self._clock())
            if not was_wanted and self._wanted_locked():
                self.backlog.retain(self.backlog.max_chunks)
                self._wake.set()
            # Under the lock: a chunk must not slip in after set_muted(True) cleared.
            self.backlog.push(chunk, is_speech)

    def set_muted(self, is_muted: bool) -> None:
        """Muted: end the session (Terminate), drop all audio, open nothing until unmuted."""
        with self._lock:
            if self._gate.is_muted == is_muted:
                return
            self._gate = GateState(is_muted=is_muted, last_speech_at=None)
        if is_muted:
            self.backlog.clear()
        self._wake.set()

    def _wanted_locked(self) -> bool:
        return decide(self._gate, None, self._clock(), self._gate_settings) is Decision.OPEN

    def _is_session_needed(self) -> bool:
        with self._lock:
            is_key_check = self._needs_key_check and not self._gate.is_muted
        return is_key_check or self._decide(None) is Decision.OPEN or self.backlog.owes_speech()

    def _decide(self, session_age_seconds: float | None) -> Decision:
        with self._lock:
            return decide(self._gate, session_age_seconds, self._clock(), self._gate_settings)

    # ---- the link thread ------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        failures = 0
        while not stop.is_set():
            self.last_progress_at = self._clock()
            if not self._is_session_needed():
                self._idle(stop)
                continue
            self._is_idle_reported = False
            self.backlog.retain(self.backlog.max_chunks)  # from here on, no word is dropped
            if not self._wait_for_open_slot(stop):
                continue
            outcome = self._one_session(stop)
            if stop.is_set():
                break
            if outcome.ended_by_us is not None:
                failures = 0
                continue
            failures = 1 if outcome.up_seconds >= HEALTHY_AFTER_SECONDS else failures + 1
            decision = verdict(
                outcome.close_code,
                outcome.reason,
                failures,
                cap_seconds=retry_cap_seconds(
                    self.settings.reconnect_max_seconds,
                    self.settings.backlog_seconds,
                    is_speech_waiting=self.backlog.owes_speech(),
                ),
            )
            self._report_down(decision, outcome.close_code)
            self._wait(stop, decision.delay_seconds)

    def _idle(self, stop: threading.Event) -> None:
        """No session wanted: keep only pre-roll, say so once, wait for speech."""
        self.backlog.retain(self._pre_roll_chunks)
        if not self._is_idle_reported:
            self._is_idle_reported = True
            with self._lock:
                reason = "muted" if self._gate.is_muted else "no speech"
            self._emit(LinkIdle(reason))
        self._wake.wait(0.2)
        self._wake.clear()

    def _wait_for_open_slot(self, stop: threading.Event) -> bool:
        """Wait until opening keeps us under opens_per_minute; False if no longer wanted."""
        while not stop.is_set():
            self.last_progress_at = self._clock()
            at = next_open_at(list(self.open_times), self._clock(), self.settings.opens_per_minute)
            if at <= self._clock():
                return True
            if not self._is_session_needed():
                return False
            stop.wait(min(1.0, at - self._clock()))
        return False

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        # In slices, so the watchdog sees a live thread while it waits.
        deadline = self._clock() + seconds
        while not stop.is_set() and self._clock() < deadline:
            self.last_progress_at = self._clock()
            stop.wait(min(1.0, max(0.0, deadline - self._clock())))

    def _report_down(self, decision: Verdict, code: int | None) -> None:
        message = (
            f"Speech link down: {decision.explanation}; retrying in {decision.delay_seconds:.0f} s"
        )
        if decision.explanation != self._last_problem:
            level = logging.ERROR if decision.needs_user or decision.is_our_bug else logging.WARNING
            if decision.is_our_bug:
                message += " (this is a bug in appliance: please report it)"
            log.log(level, message, extra={"APPLIANCE_EVENT": "link_down", "CLOSE_CODE": code})
            self._last_problem = decision.explanation
        else:
            log.debug(message)
        self._emit(LinkDown(decision.explanation, decision.delay_seconds, code))

    def _one_session(self, stop: threading.Event) -> _Outcome:
        """Connect, stream until the session ends, and say how it ended."""
        try:
            ws = self._connect(
                self._url,
                header=[f"Authorization: {self._api_key}"],
                timeout=self.settings.connect_timeout_seconds,
            )
        except websocket.WebSocketBadStatusException as error:
            code = 1008 if error.status_code in (401, 403) else None
            return _Outcome(code, f"the server answered HTTP {error.status_code}", 0.0)
        except (OSError, websocket.WebSocketException) as error:
            return _Outcome(None, f"cannot connect to {self._host}: {error}", 0.0)
        # Counted once the server took the upgrade: that is a new session to it.
        self.open_times.append(self._clock())
        try:
            return self._stream(ws, stop)
        finally:
            self._is_up.clear()
            try:
                ws.close(timeout=1)
            except Exception:  # noqa: BLE001 - the socket may already be gone
                pass

    def _stream(self, ws: Any, stop: threading.Event) -> _Outcome:
        ws.settimeout(RECEIVE_TIMEOUT_SECONDS)
        session = SessionReceiver(ws, self._emit, self._clock)
        first = session.receive_one()
        if not isinstance(first, Begin):
            reason = session.close_reason or f"no Begin message: {first!r}"
            return _Outcome(session.close_code, reason, 0.0)
        opened_at = self._clock()
        self.sessions_opened += 1
        self._needs_key_check = False
        self._is_up.set()
        if self._last_problem:
            log.info("Speech link is back (it was down: %s)", self._last_problem)
            self._last_problem = ""
        log.info(
            "Speech session %s opened",
            first.session_id,
            extra={"APPLIANCE_EVENT": "session_opened", "SPEECH_SESSION_ID": first.session_id},
        )
        self._emit(LinkUp(first.session_id))
        receiver = threading.Thread(target=session.receive_all, name="speech-receive", daemon=True)
        receiver.start()
        replay: deque[tuple[int, Chunk]] = deque()  # (stream ms where the chunk ends, chunk)
        ended_by_us: Decision | None = None
        try:
            ended_by_us = self._send_until_closed(ws, session, stop, opened_at, replay)
            if (stop.is_set() or ended_by_us) and not session.ended.is_set():
                self._terminate(ws, session)
        finally:
            self._is_up.clear()
            if session.close_code is None:
                # Lost, not closed: a close handshake would wait on a dead peer, and on
                # the receiver's read lock; cut the socket so both threads end now.
                ws.shutdown()
            up_seconds = self._clock() - opened_at
            if not session.is_terminated and ended_by_us is not Decision.CLOSE:
                # Words sent to a session that died unfinished go to the next one.
                self.backlog.prepend(
                    chunk for end_ms, chunk in replay if end_ms > session.confirmed_end_ms
                )
            log.info(
                "Speech session %s closed after %.0f s",
                first.session_id,
                up_seconds,
                extra={"APPLIANCE_EVENT": "session_closed", "SPEECH_SESSION_ID": first.session_id},
            )
        return _Outcome(session.close_code, session.close_reason, up_seconds, ended_by_us)

    def _send_until_closed(
        self,
        ws: Any,
        session: SessionReceiver,
        stop: threading.Event,
        opened_at: float,
        replay: deque[tuple[int, Chunk]],
    ) -> Decision | None:
        """Send paced audio and pings until the session ends, or we decide to end it."""
        self.backlog.new_stream()
        sent_ms = 0
        next_ping_at = opened_at + self.settings.ping_interval_seconds
        while not stop.is_set() and not session.ended.is_set():
            now = self._clock()
            self.last_progress_at = now
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
                item = self.backlog.take(timeout_seconds=0.1)
                if item is None:
                    continue
                ws.send_binary(item[0])
            except (OSError, websocket.WebSocketException) as error:
                session.lost(f"sending failed: {error}")
                return None
            self.chunks_sent += 1
            sent_ms += len(item[0]) * 1000 // (2 * SAMPLE_RATE_HZ)
            replay.append((sent_ms, item))
            confirmed_ms = session.confirmed_end_ms + CONFIRM_MARGIN_MS
            while replay and (
                replay[0][0] <= confirmed_ms or len(replay) * CHUNK_SECONDS > REPLAY_MAX_SECONDS
            ):
                replay.popleft()
        return None

    def _terminate(self, ws: Any, session: SessionReceiver) -> None:
        """Ask the server to finish (so the last words arrive and billing stops), bounded."""
        try:
            ws.send(json.dumps({"type": "Terminate"}))
        except (OSError, websocket.WebSocketException):
            return
        if not session.ended.wait(self.settings.terminate_timeout_seconds):
            log.warning(
                "No Termination from the speech service within %.0f s",
                self.settings.terminate_timeout_seconds,
            )
