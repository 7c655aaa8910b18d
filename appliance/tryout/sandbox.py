"""The real daemon wired to local stand-ins: a simulated microphone, GPIO, AssemblyAI, X,
Bluesky and Mastodon.

Used by `appliance demo`, the end-to-end tests and the benchmarks. Nothing inside
the daemon is replaced: the simulation sits only at the edges (an ALSA file-plugin
microphone fed in real time, gpiozero's MockFactory, stand-in servers on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory, MockPWMPin

from appliance.core.destinations import Destination
from appliance.devices.microphone import PERIOD_BYTES
from appliance.posting.x_keys import (
    BLUESKY_APP_PASSWORD,
    DESTINATION_KEYS,
    MASTODON_ACCESS_TOKEN,
    X_KEYS,
)
from appliance.service.config import ASSEMBLYAI_KEY, AssemblyAISettings, load_settings
from appliance.service.credentials import load_credentials, needed_credentials
from appliance.service.daemon import Daemon, Parts
from appliance.service.destinations import CLIENT_SDKS, has_sdk
from appliance.tryout.simulated_mic import (
    RealtimeFeeder,
    alsa_env,
    device_name,
    write_parametric_alsa_config,
)
from appliance.tryout.standins.bluesky_server import BlueskyStandin
from appliance.tryout.standins.mastodon_server import MastodonStandin
from appliance.tryout.standins.speech_server import SpeechStandin
from appliance.tryout.standins.x_server import XStandin

BUTTON_PIN = 17
PRESS_SECONDS = 0.1


def available_destinations() -> tuple[Destination, ...]:
    """X, and each other destination whose client's SDK (an optional extra) is installed:
    without atproto (32-bit ARM) the demo posts to X and Mastodon only."""
    return (Destination.X, *(d for d in CLIENT_SDKS if has_sdk(d)))


def write_config(path: Path, **sections: dict[str, object]) -> Path:
    """Write a TOML configuration of the given tables (strings, numbers, booleans)."""
    lines = []
    for table, values in sections.items():
        lines.append(f"[{table}]")
        for key, value in values.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, (int, float)):
                lines.append(f"{key} = {value}")
            else:
                # A JSON string is a valid TOML basic string (quotes, backslashes escaped).
                lines.append(f"{key} = {json.dumps(str(value))}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


class Sandbox:
    """Stand-ins, a simulated microphone and a config file in a temporary directory."""

    def __init__(
        self,
        script: Sequence[str],
        *,
        directory: Path | None = None,
        settings_overrides: dict[str, dict[str, object]] | None = None,
        device: str | None = None,
        destinations: Sequence[Destination] = (Destination.X,),
        mic_period_bytes: int = PERIOD_BYTES,
    ) -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="appliance-")
        self.dir = Path(directory or self._tmp.name)  # type: ignore[union-attr]
        self.credentials_dir = self.dir / "credentials"
        self.credentials_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        names = (ASSEMBLYAI_KEY, *(n for keys in DESTINATION_KEYS.values() for n in keys))
        keys = {name: secrets.token_urlsafe(24) for name in names}
        for name, value in keys.items():
            (self.credentials_dir / name).write_text(value + "\n")
            (self.credentials_dir / name).chmod(0o600)
        self.keys = keys
        self.speech = SpeechStandin(script=list(script), api_key=keys[ASSEMBLYAI_KEY])
        consumer_key, consumer_secret, token, token_secret = (keys[name] for name in X_KEYS)
        self.x = XStandin(consumer_key, consumer_secret, token, token_secret)
        # The other destinations' stand-ins, by destination (X's is self.x, always there).
        self.standins: dict[Destination, Any] = {}
        if Destination.BLUESKY in destinations:
            bluesky = BlueskyStandin(app_password=keys[BLUESKY_APP_PASSWORD])
            self.standins[Destination.BLUESKY] = bluesky
        if Destination.MASTODON in destinations:
            mastodon = MastodonStandin(access_token=keys[MASTODON_ACCESS_TOKEN])
            self.standins[Destination.MASTODON] = mastodon
        self.fifo = self.dir / "microphone.fifo"
        self.feeder: RealtimeFeeder | None = None
        self.device = device
        # The simulated microphone delivers its reader's period: another reader (the
        # benchmark's reference client reads 50 ms) passes its own size here.
        self.mic_period_bytes = mic_period_bytes
        self.overrides = settings_overrides or {}
        self.config_path = self.dir / "appliance.toml"
        self.pin_factory = MockFactory(pin_class=MockPWMPin)
        self.daemon: Daemon | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def use_real_assemblyai(self, credentials_dir: Path) -> None:
        """Stream to AssemblyAI itself with the user's key (X stays the stand-in)."""
        key = (Path(credentials_dir) / ASSEMBLYAI_KEY).read_text().strip()
        (self.credentials_dir / ASSEMBLYAI_KEY).write_text(key + "\n")
        self.keys[ASSEMBLYAI_KEY] = key
        self.overrides.setdefault("assemblyai", {})["url"] = AssemblyAISettings().url

    def start_standins(self) -> None:
        self.speech.start()
        self.x.start()
        for standin in self.standins.values():
            standin.start()
        if self.device is None:
            if not self.fifo.exists():
                os.mkfifo(self.fifo)
            alsa_config = write_parametric_alsa_config(self.dir)
            # One process-wide setting; ALSA re-reads it on every open.
            os.environ.update(alsa_env(alsa_config))
            self.device = device_name("simmic", self.fifo)
            self.feeder = RealtimeFeeder(self.fifo, chunk_bytes=self.mic_period_bytes)
            self.feeder.start()

    def sections(self) -> dict[str, dict[str, object]]:
        """The configuration the daemon runs with: stand-ins, mock pins, sandbox paths."""
        sections: dict[str, dict[str, object]] = {
            "audio": {"device": self.device or "default"},
            "assemblyai": {"url": self.speech.url},  # use_real_assemblyai() overrides it
            "x": {"api_url": self.x.url},
            "gpio": {"pin_factory": "mock", "button_pin": BUTTON_PIN},
            "state": {"dir": str(self.dir / "state")},
            "control": {"socket": str(self.dir / "control.sock")},
            "credentials": {"dir": str(self.credentials_dir)},
        }
        bluesky = self.standins.get(Destination.BLUESKY)
        if bluesky is not None:
            sections["bluesky"] = {
                "enabled": True,
                "service_url": bluesky.url,
                "handle": bluesky.handle,
            }
        mastodon = self.standins.get(Destination.MASTODON)
        if mastodon is not None:
            sections["mastodon"] = {"enabled": True, "api_base_url": mastodon.url}
        for table, values in self.overrides.items():
            sections.setdefault(table, {}).update(values)
        return sections

    def start_daemon(self, parts: Parts | None = None) -> Daemon:
        write_config(self.config_path, **self.sections())
        settings = load_settings(self.config_path)
        environ = {k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"}
        credentials = load_credentials(settings, environ, needed_credentials(settings))
        parts = parts or Parts()
        parts.pin_factory = self.pin_factory
        self.daemon = Daemon(settings, credentials, parts)
        self._thread = threading.Thread(
            target=self.daemon.run, args=(self._stop,), name="daemon", daemon=True
        )
        self._thread.start()
        return self.daemon

    def start(self) -> Sandbox:
        self.start_standins()
        self.start_daemon()
        return self

    def say(self, pcm: bytes) -> None:
        """Play audio into the simulated microphone, in real time."""
        assert self.feeder is not None, "no simulated microphone"
        self.feeder.play(pcm)

    def press_button(self, seconds: float = PRESS_SECONDS) -> None:
        """Press and release the (mock) confirm button, as a finger would."""
        pin = self.pin_factory.pin(BUTTON_PIN)
        pin.drive_low()
        time.sleep(seconds)
        pin.drive_high()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
        if self.feeder is not None:
            self.feeder.stop()
        self.speech.stop()
        self.x.stop()
        for standin in self.standins.values():
            standin.stop()
        self.pin_factory.reset()
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
