"""The daemon: wires microphone, speech link, panel, outbox and poster around the core."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import alsaaudio
import websocket

from appliance import core, loops
from appliance.clock import Clock
from appliance.core import Pattern
from appliance.core.events import (
    DeletePost,
    Log,
    MicrophoneState,
    QueuePost,
    SetMuted,
    StorageState,
    Tick,
)
from appliance.devices.microphone import CaptureLoop
from appliance.errors import DaemonFailed
from appliance.service.config import ASSEMBLYAI_KEY, Settings
from appliance.service.control import ControlCall, ControlError, ControlServer
from appliance.service.control_replies import event_for, outcome_reply, status_reply
from appliance.service.credentials import Credentials
from appliance.service.daemon_parts import (
    LengthLimit,
    delete_everywhere,
    destinations_summary,
    make_posters,
    open_outbox,
    open_panel,
    queued_for,
    request_timeout_seconds,
    with_length_limit,
)
from appliance.service.destinations import make_clients
from appliance.service.supervised import Supervised
from appliance.service.systemd import Notifier
from appliance.speech.link import SpeechLink

log = logging.getLogger(__name__)

# While a countdown shows (a candidate's window, a grace period, a reconnect's wait) the
# main loop looks at it this often; otherwise it sleeps until an event or a due time.
TICK_SECONDS = 0.25
# A boundary thread that has not made progress for this long is stuck: stop
# feeding the watchdog so systemd restarts us.
STUCK_AFTER_SECONDS = 15.0
# A confirmed post the outbox could not take (disk full, read-only) is written
# again this often until it is on disk.
STORE_RETRY_SECONDS = 2.0
# A capture read blocked this long: the device stopped delivering (shown, not fatal;
# the watchdog restarts the daemon if it stays blocked past STUCK_AFTER_SECONDS).
MICROPHONE_SILENT_SECONDS = 5.0
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


@dataclass
class Parts:
    """The outside world, passed in so tests and the demo can put stand-ins at the edges."""

    pin_factory: Any = None
    connect: Callable[..., Any] = websocket.create_connection
    pcm_factory: Callable[..., Any] | None = None
    notifier: Notifier = field(default_factory=Notifier)
    clock: Clock = field(default_factory=Clock)
    watchdog_interval_seconds: float | None = None
    # One-off work that can wait until READY=1 but must be done before the first event.
    after_ready: Callable[[], None] = lambda: None


class Daemon:
    """One running appliance. `run(stop)` returns when `stop` is set."""

    def __init__(self, settings: Settings, credentials: Credentials, parts: Parts) -> None:
        self.settings = settings
        self.parts = parts
        # Every part's events, and what the main loop blocks on between rounds.
        self.events = loops.Inbox()
        self.core_settings = core.CoreSettings(
            candidate_window_seconds=settings.confirm.candidate_window_seconds,
            grace_seconds=settings.confirm.grace_seconds,
            delete_window_seconds=settings.confirm.delete_window_seconds,
            over_length=settings.x.over_length,
            destinations=settings.destinations,
        )
        clock = parts.clock
        self.outbox = open_outbox(settings, clock.wall)
        # One poster thread per enabled destination, each working only its own rows.
        clients = make_clients(settings, credentials, clock)
        self.posters = make_posters(settings, clients, self.outbox, self.events.put, clock)
        self.link = SpeechLink(
            url=settings.assemblyai.url,
            api_key=credentials[ASSEMBLYAI_KEY],
            speech_model=settings.assemblyai.speech_model,
            emit=self.events.put,
            connect=parts.connect,
            settings=settings.assemblyai,
            clock=clock.monotonic,
        )
        self.microphone = CaptureLoop(
            settings.audio.device,
            self.link.send_audio,
            self.events.put,
            pcm_factory=parts.pcm_factory or alsaaudio.PCM,
            clock=clock.monotonic,
        )
        self.panel = open_panel(settings, parts.pin_factory, self.events.put, clock.monotonic)
        # Fail-safe: muted from the first instant if asked to or the switch says so,
        # before the link thread could open a session.
        is_muted = settings.gpio.start_muted or bool(self.panel.mute_switch_is_on)
        self.state = core.State(is_muted=is_muted)
        self.link.set_muted(is_muted)
        self._pattern: Pattern | None = None
        # Confirmed posts the outbox could not take yet, oldest first: never dropped.
        self._held: list[QueuePost] = []
        self._store_problem = ""
        self._store_retry_at = 0.0
        self._control: ControlServer | None = None
        self._next_ping_at = 0.0
        self._tick_at: float | None = None
        self.workers: list[Supervised] = []
        self._microphone_stalled = False

    def run(self, stop: threading.Event) -> None:
        """Run until `stop` is set; DaemonFailed (after an orderly stop) if the main loop fails."""
        self.workers = [
            Supervised("microphone", self.microphone.run, stop, clock=self.parts.clock.monotonic),
            Supervised("speech-link", self.link.run, stop, clock=self.parts.clock.monotonic),
            *(
                Supervised(f"poster-{d}", poster.run, stop, clock=self.parts.clock.monotonic)
                for d, poster in self.posters.items()
            ),
        ]
        notifier = self.parts.notifier
        failure: Exception | None = None
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(self.outbox.close)
            cleanup.callback(self.panel.close)
            cleanup.callback(self._close_control)
            try:
                self._start(stop)
            except Exception as error:  # noqa: BLE001 - a bug: stop in order, let systemd restart
                failure = error
                log.critical(
                    "The main loop failed (%s: %s); stopping so that the service restarts",
                    type(error).__name__,
                    error,
                    exc_info=True,
                    extra={"APPLIANCE_EVENT": "main_loop_failed"},
                )
            # Every thread stops before the outbox closes under it.
            stop.set()
            notifier.stopping()
            notifier.status("Stopping" if failure is None else f"Failed: {failure}")
            for worker in self.workers:
                # The link waits up to terminate_timeout for the last words.
                worker.join(self.settings.assemblyai.terminate_timeout_seconds + 2)
            self._store_held(final=True)
            log.info("Stopped", extra={"APPLIANCE_EVENT": "stopped"})
        if failure is not None:
            raise DaemonFailed(f"the main loop failed: {type(failure).__name__}: {failure}")

    def _start(self, stop: threading.Event) -> None:
        """Start every thread, say so, and run the main loop until `stop`."""
        self._start_control()
        for worker in self.workers:
            worker.start()
        self.panel.show(Pattern.STARTING)
        self.parts.notifier.ready()
        self.parts.after_ready()
        log.info(
            "Started: microphone %s, speech %s, %s",
            self.settings.audio.device,
            self.settings.assemblyai.url,
            destinations_summary(self.settings),
            extra={"APPLIANCE_EVENT": "started"},
        )
        self._loop(stop)

    def _loop(self, stop: threading.Event) -> None:
        self._next_ping_at = self.parts.clock.monotonic()
        loops.run_loop(stop, lambda: self._round(stop), self.events, "main")

    def _round(self, stop: threading.Event) -> float | None:
        """Handle every event that came, then whatever is due; return the seconds until
        something is due again (None: nothing until the next event)."""
        clock = self.parts.clock.monotonic
        handled = False
        while (event := self.events.take()) is not None:
            self.handle(event)
            handled = True
        if not handled or (self._tick_at is not None and clock() >= self._tick_at):
            self.handle(Tick())
        self._check_control(stop)
        due = [self._check_microphone(), self._tick_at]
        interval = self.parts.watchdog_interval_seconds
        if interval is not None:
            if clock() >= self._next_ping_at and self._making_progress():
                self.parts.notifier.watchdog()
                self._next_ping_at = clock() + interval
            # Not making progress: look again soon, the ping resumes once it is.
            due.append(max(self._next_ping_at, clock() + loops.HEARTBEAT_SECONDS))
        if self._held:
            due.append(self._store_retry_at)
        known = [at for at in due if at is not None]
        return max(0.0, min(known) - clock()) if known else None

    def _start_control(self) -> None:
        control = ControlServer(
            Path(self.settings.control.socket),
            self.control,
            request_timeout_seconds=self.settings.control.request_timeout_seconds,
            clock=self.parts.clock.monotonic,
            on_stopped=self.events.wake,  # the main loop looks at it (and reopens it)
        )
        try:
            control.start()
        except ControlError as error:
            # The button still works; only `appliance status` & co. will not.
            log.error("%s", error, extra={"APPLIANCE_EVENT": "control_error"})
            return
        self._control = control

    def _check_control(self, stop: threading.Event) -> None:
        """Restart the control socket if its thread died (a bug must not end mute/status)."""
        if self._control is None or self._control.is_serving() or stop.is_set():
            return
        log.error(
            "The control socket stopped serving; opening it again",
            extra={"APPLIANCE_EVENT": "thread_restarted", "THREAD": "control"},
        )
        self._close_control()
        self._start_control()

    def _check_microphone(self) -> float:
        """Report a capture read that blocks: no audio at all is a fault, too. Returns when
        to look again."""
        now = self.parts.clock.monotonic()
        stalled_seconds = self.microphone.stalled_seconds(now)
        is_stalled = stalled_seconds > MICROPHONE_SILENT_SECONDS
        # A read that returns in time moves the point again: about one look per 5 s.
        look_again_at = now + max(TICK_SECONDS, MICROPHONE_SILENT_SECONDS - stalled_seconds)
        if is_stalled == self._microphone_stalled:
            return look_again_at
        self._microphone_stalled = is_stalled
        if is_stalled:
            detail = (
                f"microphone {self.settings.audio.device!r}: no audio for "
                f"{MICROPHONE_SILENT_SECONDS:g} s; the capture device stopped delivering"
            )
            log.warning("%s", detail, extra={"APPLIANCE_EVENT": "microphone_error"})
            self.events.put(MicrophoneState(False, detail))
        else:
            self.events.put(MicrophoneState(True))
        return look_again_at

    def _close_control(self) -> None:
        control, self._control = self._control, None
        if control is not None:
            control.close()

    def control(self, command: str) -> dict[str, Any]:
        """Answer a control-socket command (on its thread) through the main loop."""
        call = ControlCall(command)
        self.events.put(call)
        if not call.done.wait(self.settings.control.request_timeout_seconds + 2 * TICK_SECONDS):
            return {"ok": False, "error": "the daemon's main loop did not answer in time"}
        return call.reply

    def _answer(self, call: ControlCall) -> None:
        now = self.parts.clock.monotonic()
        event = event_for(call.command)
        if event is None:
            try:
                counts = self.outbox.counts()
            except sqlite3.Error as error:
                counts = {f"unreadable ({error})": 0}
            call.reply = status_reply(self.state, now, self.core_settings, counts)
        else:
            effects = self.handle(event)
            call.reply = outcome_reply(effects, self.state, now, self.core_settings)
        call.done.set()

    def handle(self, event: object) -> list[object]:
        """Feed one event to the core, carry out what it decides, and return the effects."""
        if isinstance(event, ControlCall):
            self._answer(event)
            return []
        if isinstance(event, LengthLimit):
            self.core_settings = with_length_limit(self.core_settings, event)
            return []
        now = self.parts.clock.monotonic()
        self.state, effects = core.step(self.state, event, now, self.core_settings)  # type: ignore[arg-type]
        for effect in effects:
            if isinstance(effect, DeletePost):
                delete_everywhere(self.outbox, self.posters, effect.confirmation)
            elif isinstance(effect, QueuePost):
                self._held.append(effect)  # stays here until the outbox has it
                self._store_held()
            elif isinstance(effect, SetMuted):
                self.link.set_muted(effect.is_muted)
            elif isinstance(effect, Log):
                extra = {"APPLIANCE_EVENT": effect.event, **dict(effect.fields)}
                log.log(_LEVELS.get(effect.level, logging.ERROR), effect.message, extra=extra)
        if self._held and now >= self._store_retry_at:
            self._store_held()
        self._tick_at = core.next_tick_at(self.state, now, TICK_SECONDS, self.core_settings)
        pattern = core.led_pattern(self.state, now, self.core_settings)
        if pattern != self._pattern:
            self._pattern = pattern
            self.panel.show(pattern)
        self.parts.notifier.status(core.status_line(self.state, now, self.core_settings))
        return list(effects)

    def _store_held(self, *, final: bool = False) -> None:
        """Write held confirmed posts to the outbox, oldest first, until one fails."""
        while self._held:
            post = self._held[0]
            try:
                texts = post.destination_texts()
                entry_id = self.outbox.add(post.text, post.confirmed_by, texts)
            except (sqlite3.Error, OSError) as error:
                self._store_failed(error, final)
                return
            self._held.pop(0)
            for destination in texts:
                self.posters[destination].wake()
            log.info(
                "Queued post %d: “%s”%s",
                entry_id,
                post.text,
                queued_for(texts, self.settings),
                extra={"APPLIANCE_EVENT": "queued", "OUTBOX_ID": entry_id},
            )
        if self._store_problem:
            self._store_problem = ""
            log.info(
                "The outbox can be written again; every held post is stored",
                extra={"APPLIANCE_EVENT": "storage_ok"},
            )
            self.events.put(StorageState(True))

    def _store_failed(self, error: Exception, final: bool) -> None:
        self._store_retry_at = self.parts.clock.monotonic() + STORE_RETRY_SECONDS
        problem = str(error) or type(error).__name__
        if final:
            # Stopping with the disk still full: the journal is the last place left.
            for post in self._held:
                log.critical(
                    "Lost a confirmed post the outbox could not store (%s): “%s”",
                    problem,
                    post.text,
                    extra={"APPLIANCE_EVENT": "post_lost"},
                )
            return
        if problem != self._store_problem:
            self._store_problem = problem
            log.error(
                "Cannot write the outbox (%s): holding %d confirmed post(s) in memory and "
                "retrying every %g s; free space in %s",
                problem,
                len(self._held),
                STORE_RETRY_SECONDS,
                self.settings.state.dir,
                extra={"APPLIANCE_EVENT": "storage_full"},
            )
        self.events.put(StorageState(False, problem, len(self._held)))

    def _making_progress(self) -> bool:
        """True while the microphone, the speech link and every poster are alive or restarting."""
        now = self.parts.clock.monotonic()
        latest = [self.microphone.last_progress_at, self.link.last_progress_at]
        latest += [poster.last_progress_at for poster in self.posters.values()]
        for index, worker in enumerate(self.workers):  # in the same order, once running
            latest[index] = max(latest[index], worker.last_progress_at)
        # A poster may rightly spend one request's whole deadline without progress.
        limits = [STUCK_AFTER_SECONDS, STUCK_AFTER_SECONDS]
        limits += [
            max(STUCK_AFTER_SECONDS, request_timeout_seconds(self.settings, d) + 5)
            for d in self.posters
        ]
        return all(now - at < limit for at, limit in zip(latest, limits, strict=True))
