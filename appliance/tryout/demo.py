"""`appliance demo`: the real daemon, a spoken recording, the local stand-ins, simulated GPIO."""

from __future__ import annotations

import logging
import threading
import time
import wave
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from appliance.core.audio import CHANNELS, SAMPLE_BYTES, SAMPLE_RATE_HZ
from appliance.core.destinations import Destination
from appliance.devices.panel import led_pins_for
from appliance.posting.outbox import POSTED
from appliance.service.daemon import Parts
from appliance.service.systemd import EscapeControls, Notifier
from appliance.tryout.demo_view import DemoView, watch_changes, watch_leds
from appliance.tryout.sandbox import Sandbox, available_destinations

SENTENCE_TIMEOUT_SECONDS = 30.0
PAUSE_SECONDS = 1.5

FORMAT = (SAMPLE_RATE_HZ, CHANNELS, SAMPLE_BYTES)  # the recording's, as wave reports it


def recording() -> list[tuple[str, bytes]]:
    """The shipped recording: (what is said, 16 kHz mono S16_LE audio) per sentence."""
    folder = resources.files("appliance") / "data" / "demo"
    lines = (folder / "script.txt").read_text(encoding="utf-8").splitlines()
    pieces = []
    for number, line in enumerate(lines, start=1):
        with resources.as_file(folder / f"{number:02d}.wav") as path, wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == FORMAT
            pieces.append((line, w.readframes(w.getnframes())))
    return pieces


def silence(seconds: float) -> bytes:
    return bytes(SAMPLE_BYTES * int(SAMPLE_RATE_HZ * seconds))


def run_demo(
    *,
    keep_running: bool = False,
    device: str | None = None,
    credentials_dir: Path | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Run the demo; returns 0 when every expected post landed."""
    stop = stop or threading.Event()
    pieces = [] if device else recording()
    view = DemoView()
    overrides: dict[str, dict[str, object]] = {}
    # X, and Bluesky and Mastodon where their SDKs are installed: one sentence lands on each.
    sandbox = Sandbox(
        [line for line, _ in pieces],
        device=device,
        settings_overrides=overrides,
        destinations=available_destinations(),
    )
    if credentials_dir is not None:
        sandbox.use_real_assemblyai(credentials_dir)
    _quiet_logging(view)
    sandbox.start_standins()
    where = ", ".join(f"{d.label} at {standin.url}" for d, standin in _standins(sandbox).items())
    view.say("demo", f"Stand-ins: AssemblyAI at {sandbox.speech.url}, {where}")
    daemon = sandbox.start_daemon(Parts(notifier=Notifier(send=_countdown(view))))
    pins = {
        name: sandbox.pin_factory.pin(pin)
        for name, pin in led_pins_for(daemon.settings.gpio).items()
    }
    watchers = [
        watch_leds(view, pins, daemon.panel),
        watch_changes("demo-partials", lambda: daemon.state.partial, _partial_shower(view)),
        *(
            watch_changes(f"demo-posts-{d}", _posts_of(standin), _post_shower(view, d.label))
            for d, standin in _standins(sandbox).items()
        ),
    ]
    try:
        ok = _direct(view, sandbox, pieces, stop) if pieces else True
        if keep_running or not pieces:
            view.say("demo", "Listening; press Ctrl-C to stop.")
            stop.wait()
    except KeyboardInterrupt:
        ok = not pieces
    finally:
        for watcher in watchers:
            watcher.stop()
        stop.set()
        summary = _summary(sandbox)
        sandbox.stop()
    for line in summary:
        view.say("summary", line)
    return 0 if ok else 1


def _direct(view: DemoView, box: Sandbox, pieces: list[tuple[str, bytes]], stop) -> bool:
    """Say each sentence; press the button after the first, like a person would."""
    expected_posts = 0
    feeder = box.feeder
    assert feeder is not None, "the demo needs the simulated microphone"
    for number, (line, audio) in enumerate(pieces, start=1):
        if stop.is_set():
            return False
        view.say("you say", f"“{line}”")
        box.say(audio + silence(PAUSE_SECONDS))
        if not feeder.wait_until_played(len(audio) / 32000 + PAUSE_SECONDS + 5):
            view.say("demo", "the simulated microphone stalled")
            return False
        if number == 1:
            heard = _wait(lambda: _candidate(box) == pieces[0][0], SENTENCE_TIMEOUT_SECONDS, stop)
            if not heard:
                view.say("demo", f"the daemon never offered “{line}”")
                return False
            view.say("you press", "the button (simulated GPIO: pin driven low for 0.1 s)")
            box.press_button()
        if line.lower().startswith("tweet") or number == 1:
            expected_posts += 1
            for destination, standin in _standins(box).items():
                if not standin.wait_for_posts(expected_posts, SENTENCE_TIMEOUT_SECONDS):
                    view.say("demo", f"the post did not reach the {destination.label} stand-in")
                    return False
    time.sleep(1.0)
    return all(len(s.posts) == expected_posts for s in _standins(box).values())


def _standins(box: Sandbox) -> dict[Destination, Any]:
    """Every destination's stand-in the sandbox runs, X's first."""
    return {Destination.X: box.x, **box.standins}


def _posts_of(standin: Any) -> Callable[[], list]:
    return lambda: standin.posts


def _post_id(post: Any) -> str:
    """X's and Mastodon's posts have an id; a Bluesky record has its at:// URI."""
    return str(getattr(post, "id", None) or getattr(post, "uri", ""))


def _countdown(view: DemoView) -> Callable[[str], bool]:
    """What systemd would receive; the demo shows the grace countdown from STATUS=."""

    def send(message: str) -> bool:
        if message.startswith("STATUS=Posting “"):
            view.say("countdown", message.removeprefix("STATUS="))
        return False

    return send


def _candidate(box: Sandbox) -> str | None:
    state = box.daemon.state if box.daemon else None
    return state.candidate.text if state and state.candidate else None


def _wait(predicate: Callable[[], bool], timeout: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        if predicate():
            return True
        stop.wait(0.05)
    return predicate()


def _partial_shower(view: DemoView) -> Callable[[str, str | None], None]:
    def show(partial: str, _before: str | None) -> None:
        if partial:
            view.say("transcript", f"… {partial}")

    return show


def _post_shower(view: DemoView, label: str) -> Callable[[list, list | None], None]:
    def show(posts: list, before: list | None) -> None:
        for post in posts[len(before or []) :]:
            view.say(f"{label} stand-in", f"received post {_post_id(post)}: “{post.text}”")

    return show


def _summary(box: Sandbox) -> list[str]:
    sessions = box.speech.sessions
    billed = sum((s.closed_at or time.time()) - s.opened_at for s in sessions)
    lines = []
    for destination, standin in _standins(box).items():
        posts = standin.posts
        lines.append(f"{len(posts)} post(s) landed on the {destination.label} stand-in:")
        lines += [f"  {_post_id(post)}  “{post.text}”" for post in posts]
    if box.daemon is not None:
        states = [entry.state for entry in box.daemon.outbox.entries()]
        lines.append(
            f"outbox: {len(states)} entr{'y' if len(states) == 1 else 'ies'}, "
            f"{states.count(POSTED)} posted"
        )
    lines.append(f"speech sessions: {len(sessions)}, billed {billed:.1f} s in all")
    return lines


def _quiet_logging(view: DemoView) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    view.addFilter(EscapeControls())  # a transcript's newline stays on its line here too
    root.addHandler(view)
    root.setLevel(logging.INFO)
    for noisy in ("websockets", "websocket", "urllib3", "tweepy", "oauthlib", "requests_oauthlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
