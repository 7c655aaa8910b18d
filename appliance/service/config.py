"""Settings from the TOML configuration file, checked key by key."""

from __future__ import annotations

import dataclasses
import enum
import math
import os
import tomllib
import typing
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from appliance.core.destinations import Destination, OverLength
from appliance.devices.leds import Layout
from appliance.devices.pin_factories import PIN_FACTORIES
from appliance.errors import ConfigError
from appliance.posting.x_keys import DESTINATION_KEYS, X_KEYS  # noqa: F401 - re-exported
from appliance.speech.settings import (  # noqa: F401 - ASSEMBLYAI_KEY re-exported
    ASSEMBLYAI_KEY,
    MODELS,
    AssemblyAISettings,
)

DEFAULT_CONFIG_PATH = Path("/etc/appliance/appliance.toml")


@dataclass(frozen=True)
class AudioSettings:
    """The microphone."""

    device: str = "default"  # ALSA PCM name; prefer "plughw:CARD=<name>,DEV=0"


@dataclass(frozen=True)
class XSettings:
    """Posting to X."""

    enabled: bool = True  # every configuration before Bluesky and Mastodon posted to X
    api_url: str = "https://api.twitter.com"
    dry_run: bool = False
    request_timeout_seconds: float = 10.0
    retry_max_seconds: float = 300.0
    over_length: OverLength = OverLength.SHORTEN  # for a text over 280 (X's count)


@dataclass(frozen=True)
class BlueskySettings:
    """Posting to Bluesky (AT Protocol) with an app password (file bluesky_app_password)."""

    enabled: bool = False
    service_url: str = "https://bsky.social"  # the account's PDS, or its entryway
    handle: str = ""  # e.g. "me.bsky.social"
    request_timeout_seconds: float = 10.0
    retry_max_seconds: float = 300.0


@dataclass(frozen=True)
class MastodonSettings:
    """Posting to a Mastodon instance with an access token (file mastodon_access_token)."""

    enabled: bool = False
    api_base_url: str = ""  # the instance, e.g. "https://mastodon.social"
    request_timeout_seconds: float = 10.0
    retry_max_seconds: float = 300.0


@dataclass(frozen=True)
class GpioSettings:
    """The button and the status LEDs (BCM pin numbers)."""

    pin_factory: str = ""
    button_pin: int = 17
    layout: Layout = Layout.SEPARATE
    green_pin: int = 22
    amber_pin: int = 23
    red_pin: int = 24
    rgb_red_pin: int = 5
    rgb_green_pin: int = 6
    rgb_blue_pin: int = 13
    active_high: bool = True
    brightness: float = 1.0
    hold_seconds: float = 1.5
    long_hold_seconds: float = 4.0
    mute_switch_pin: int = 0  # 0: no switch (BCM 0 is the HAT EEPROM's, never a switch)
    start_muted: bool = False


@dataclass(frozen=True)
class ConfirmSettings:
    """How confirmation works."""

    candidate_window_seconds: float = 60.0
    grace_seconds: float = 3.0
    delete_window_seconds: float = 300.0


@dataclass(frozen=True)
class StateSettings:
    """Where the outbox lives."""

    dir: str = "/var/lib/appliance"


@dataclass(frozen=True)
class ControlSettings:
    """The control socket used by `appliance status`, `confirm`, …"""

    socket: str = "/run/appliance/control.sock"
    request_timeout_seconds: float = 2.0


@dataclass(frozen=True)
class CredentialsSettings:
    """Where the keys are read from when systemd passes none."""

    dir: str = "/etc/appliance/credentials"


@dataclass(frozen=True)
class LogSettings:
    """Logging."""

    level: str = "info"


@dataclass(frozen=True)
class Settings:
    """The whole configuration, one field per TOML table."""

    audio: AudioSettings = field(default_factory=AudioSettings)
    assemblyai: AssemblyAISettings = field(default_factory=AssemblyAISettings)
    x: XSettings = field(default_factory=XSettings)
    bluesky: BlueskySettings = field(default_factory=BlueskySettings)
    mastodon: MastodonSettings = field(default_factory=MastodonSettings)
    gpio: GpioSettings = field(default_factory=GpioSettings)
    confirm: ConfirmSettings = field(default_factory=ConfirmSettings)
    state: StateSettings = field(default_factory=StateSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    credentials: CredentialsSettings = field(default_factory=CredentialsSettings)
    log: LogSettings = field(default_factory=LogSettings)
    path: str = "(defaults)"  # the file these came from, for messages

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """The enabled destinations, in a fixed order (X, Bluesky, Mastodon)."""
        enabled = {
            Destination.X: self.x.enabled,
            Destination.BLUESKY: self.bluesky.enabled,
            Destination.MASTODON: self.mastodon.enabled,
        }
        return tuple(destination for destination, is_on in enabled.items() if is_on)


# Choices that are not an enum; a field typed with an enum (session, over_length,
# layout) takes its members' values.
_CHOICES: dict[str, tuple[str, ...]] = {
    "assemblyai.speech_model": tuple(MODELS),
    "gpio.pin_factory": ("", *PIN_FACTORIES),  # "": gpiozero's own choice
    "log.level": ("debug", "info", "warning", "error"),
}
_URL_SCHEMES: dict[str, tuple[str, ...]] = {
    "assemblyai.url": ("ws://", "wss://"),
    "x.api_url": ("http://", "https://"),
    "bluesky.service_url": ("http://", "https://"),
    "mastodon.api_base_url": ("http://", "https://"),
}


# Numbers beyond these are typos, and some (a timeout of 1e300 s) overflow the OS's
# own limits deep inside a thread; nan and inf are never accepted.
_MAX_NUMBER = 1_000_000
# Zero would spin, hang or never act (a timeout of 0 retries forever, at most 0
# sessions a minute never listens); every other number may be 0.
_POSITIVE = {
    "assemblyai.reconnect_max_seconds",
    "assemblyai.connect_timeout_seconds",
    "assemblyai.terminate_timeout_seconds",
    "assemblyai.idle_close_seconds",
    "assemblyai.opens_per_minute",
    "assemblyai.ping_interval_seconds",
    "assemblyai.ping_timeout_seconds",
    "assemblyai.rotate_after_seconds",
    "x.request_timeout_seconds",
    "x.retry_max_seconds",
    "bluesky.request_timeout_seconds",
    "bluesky.retry_max_seconds",
    "mastodon.request_timeout_seconds",
    "mastodon.retry_max_seconds",
    "gpio.hold_seconds",
    "gpio.long_hold_seconds",
    "confirm.candidate_window_seconds",
    "control.request_timeout_seconds",
}
_PATHS = ("audio.device", "state.dir", "control.socket")
# AF_UNIX's sun_path holds 108 bytes, the final NUL included.
_MAX_SOCKET_PATH_BYTES = 107


def config_path(cli_path: str | None, environ: Mapping[str, str]) -> Path:
    """`--config`, else `$APPLIANCE_CONFIG`, else /etc/appliance/appliance.toml."""
    if cli_path:
        return Path(cli_path)
    if environ.get("APPLIANCE_CONFIG"):
        return Path(environ["APPLIANCE_CONFIG"])
    return DEFAULT_CONFIG_PATH


def load_settings(path: Path) -> Settings:
    """Read and check the configuration file; raise ConfigError naming file and key."""
    where = str(path)
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError(where, "(file)", "a configuration file; it does not exist") from None
    except PermissionError:
        raise ConfigError(where, "(file)", "a readable file; permission denied") from None
    except IsADirectoryError:
        raise ConfigError(where, "(file)", "a configuration file; this is a directory") from None
    except OSError as error:
        raise ConfigError(where, "(file)", f"a readable file: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise ConfigError(
            where, "(syntax)", f"UTF-8 text; byte {error.start} is not UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(where, "(syntax)", f"valid TOML: {error}") from None
    return settings_from_dict(document, where)


def settings_from_dict(document: Mapping[str, object], where: str = "(dict)") -> Settings:
    """Build Settings from parsed TOML, checking every table, key and type."""
    sections = {f.name: f for f in dataclasses.fields(Settings) if f.name != "path"}
    values: dict[str, object] = {}
    for name, table in document.items():
        if name not in sections:
            raise ConfigError(where, name, f"one of the tables [{'], ['.join(sections)}]")
        if not isinstance(table, dict):
            raise ConfigError(where, name, "a table, like [" + name + "]")
        section_type = typing.get_type_hints(Settings)[name]
        values[name] = _section(section_type, name, table, where)
    settings = Settings(**values, path=where)  # type: ignore[arg-type]
    _check_destinations(settings, where)
    return settings


def _check_destinations(settings: Settings, where: str) -> None:
    """At least one destination, and what each enabled one cannot do without."""
    if not settings.destinations:
        raise ConfigError(
            where,
            "x.enabled",
            "at least one destination enabled: [x], [bluesky] or [mastodon] enabled = true",
        )
    if settings.bluesky.enabled and not settings.bluesky.handle:
        raise ConfigError(
            where, "bluesky.handle", 'your Bluesky handle (e.g. "me.bsky.social") to post there'
        )
    if settings.mastodon.enabled and not settings.mastodon.api_base_url:
        raise ConfigError(
            where,
            "mastodon.api_base_url",
            'your instance\'s address (e.g. "https://mastodon.social") to post there',
        )


def _section(section_type: type, name: str, table: dict, where: str) -> object:
    hints = typing.get_type_hints(section_type)
    known = [f.name for f in dataclasses.fields(section_type)]
    checked: dict[str, object] = {}
    for key, value in table.items():
        dotted = f"{name}.{key}"
        if key not in known:
            raise ConfigError(where, dotted, f"a known key of [{name}]: {', '.join(known)}")
        checked[key] = _check_value(dotted, hints[key], value, where)
    return section_type(**checked)


def _check_value(dotted: str, kind: type, value: object, where: str) -> object:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(where, dotted, f"true or false, not {value!r}")
        return value
    if kind is int or kind is float:
        return _check_number(dotted, kind, value, where)
    if not isinstance(value, str):
        raise ConfigError(where, dotted, f"a string in quotes, not {_short(value)}")
    text = _check_text(dotted, value, where)
    if isinstance(kind, type) and issubclass(kind, enum.StrEnum):
        return _choose(dotted, kind, text, where)
    return text


def _choose(dotted: str, kind: type[enum.StrEnum], value: str, where: str) -> enum.StrEnum:
    try:
        return kind(value)
    except ValueError:
        raise _not_one_of([member.value for member in kind], dotted, value, where) from None


def _not_one_of(choices: list[str], dotted: str, value: str, where: str) -> ConfigError:
    listed = ", ".join(repr(choice) for choice in choices)
    return ConfigError(where, dotted, f"one of {listed}, not {_short(value)}")


def _check_number(dotted: str, kind: type, value: object, where: str) -> int | float:
    least = "> 0" if dotted in _POSITIVE else ">= 0"
    what = "a whole number" if kind is int else "a number of seconds"
    allowed = (int,) if kind is int else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, allowed)
        or not math.isfinite(value)  # TOML has nan and inf
        or not 0 <= value <= _MAX_NUMBER
        or (least == "> 0" and value == 0)
    ):
        raise ConfigError(
            where, dotted, f"{what} {least} and at most {_MAX_NUMBER}, not {_short(value)}"
        )
    if dotted == "gpio.brightness" and value > 1:
        raise ConfigError(where, dotted, f"a number from 0 to 1, not {value!r}")
    return float(value) if kind is float else value


def _check_text(dotted: str, value: str, where: str) -> str:
    # A NUL cuts a path short in C; a newline forges log lines; a lone surrogate
    # cannot become a file name.
    if not value.isprintable():
        raise ConfigError(where, dotted, f"text without control characters, not {_short(value)}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ConfigError(where, dotted, f"valid text, not {_short(value)}") from None
    if dotted in _CHOICES and value not in _CHOICES[dotted]:
        raise _not_one_of(list(_CHOICES[dotted]), dotted, value, where)
    if dotted in _URL_SCHEMES and (value or dotted != "mastodon.api_base_url"):
        _check_url(dotted, value, where)
    if dotted in _PATHS and not value:
        raise ConfigError(where, dotted, "a non-empty string")
    if dotted == "control.socket" and len(os.fsencode(value)) > _MAX_SOCKET_PATH_BYTES:
        raise ConfigError(
            where, dotted, f"a path of at most {_MAX_SOCKET_PATH_BYTES} bytes (a socket's limit)"
        )
    return value


def _check_url(dotted: str, value: str, where: str) -> None:
    schemes = _URL_SCHEMES[dotted]
    expected = f"a URL starting with {' or '.join(schemes)} and naming a host, not {value!r}"
    if not value.startswith(schemes) or " " in value:
        raise ConfigError(where, dotted, expected)
    try:
        parts = urllib.parse.urlsplit(value)
        _ = parts.port  # raises ValueError for a port that is not a number 0-65535
    except ValueError:
        raise ConfigError(where, dotted, expected) from None
    if not parts.hostname:
        raise ConfigError(where, dotted, expected)


def _short(value: object) -> str:
    """A value for a message: a fuzzed or mistaken one may be huge."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
