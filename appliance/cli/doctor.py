"""`appliance doctor`: checks the installation and says, one line each, what to fix."""

from __future__ import annotations

import array
import math
import os
import stat
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from appliance.cli import doctor_network, doctor_program
from appliance.cli.checks import Check, Status
from appliance.cli.exits import EX_FAIL, EX_OK
from appliance.errors import ConfigError
from appliance.service.config import Settings, config_path, load_settings
from appliance.service.credentials import (
    CREDENTIAL_NOT_SET,
    Credentials,
    credentials_dir,
    needed_credentials,
)

MICROPHONE_SECONDS = 1.0
QUIET_DBFS = -60.0  # below this a microphone in a room is probably muted or far away
MAX_CLOCK_SKEW_SECONDS = 300.0  # OAuth 1.0a (X) rejects timestamps further off than this
MIN_SANE_YEAR = 2025  # an unsynchronised Pi boots in 1970 or at its last shutdown


def check_config(path: Path) -> tuple[Check, Settings | None]:
    try:
        settings = load_settings(path)
    except ConfigError as error:
        fix = f"edit {path} (the example with every key: config/appliance.toml)"
        return Check("configuration", Status.FAIL, str(error), fix), None
    return Check("configuration", Status.OK, f"{path} is valid"), settings


def check_credentials(
    settings: Settings, environ: Mapping[str, str]
) -> tuple[Check, Credentials | None]:
    directory = credentials_dir(settings, environ)
    from_systemd = bool(environ.get("CREDENTIALS_DIRECTORY"))
    problems, values = [], {}
    fix = "sudo appliance setup"
    for name in needed_credentials(settings):
        path = directory / name
        try:
            info = path.stat()
            value = path.read_text(encoding="utf-8").strip()
            if value == CREDENTIAL_NOT_SET:  # systemd's default for a file that is not there
                raise FileNotFoundError(path)
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        except PermissionError:
            problems.append(f"{name} is not readable by this user")
            fix = "run it as root: sudo appliance doctor"
            continue
        if not value:
            problems.append(f"{name} is empty")
        elif not from_systemd and info.st_mode & 0o077:
            problems.append(f"{name} is readable by others ({stat.filemode(info.st_mode)})")
            fix = f"sudo chmod 600 {directory}/*; sudo chown root: {directory}/*"
        elif not from_systemd and info.st_uid not in (0, os.geteuid()):
            problems.append(f"{name} belongs to uid {info.st_uid}, not root")
            fix = f"sudo chown root: {directory}/*"
        else:
            values[name] = value
    try:
        if not from_systemd and directory.stat().st_mode & 0o077:
            problems.append(f"{directory} is open to others")
            fix = f"sudo chmod 700 {directory}"
    except OSError:
        pass
    if problems:
        return Check(
            "credentials", Status.FAIL, f"in {directory}: " + "; ".join(problems), fix
        ), None
    detail = f"{len(values)} keys in {directory}, readable by root alone"
    return Check("credentials", Status.OK, detail), Credentials(values, str(directory))


def level_dbfs(pcm: bytes) -> tuple[float, float]:
    """(RMS, peak) of S16_LE samples in dB relative to full scale; -inf for silence."""
    samples = array.array("h", pcm[: len(pcm) - len(pcm) % 2])
    if not samples:
        return -math.inf, -math.inf
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    peak = max(abs(s) for s in samples)

    def db(value: float) -> float:
        return 20 * math.log10(value / 32768) if value > 0 else -math.inf

    return db(rms), db(peak)


def meter(dbfs: float, width: int = 20) -> str:
    """A bar from -90 to 0 dBFS, e.g. [########------------]."""
    filled = 0 if dbfs == -math.inf else round(width * min(1.0, max(0.0, (dbfs + 90) / 90)))
    return "[" + "#" * filled + "-" * (width - filled) + "]"


def check_microphone(
    device: str, pcm_factory: Any = None, seconds: float = MICROPHONE_SECONDS
) -> Check:
    from appliance.devices.microphone import Microphone, MicrophoneError

    microphone = Microphone(device, pcm_factory) if pcm_factory else Microphone(device)
    audio = bytearray()
    try:
        with microphone:
            deadline = time.monotonic() + seconds * 3  # a read may return nothing for a while
            while len(audio) < seconds * 32000 and time.monotonic() < deadline:
                audio += microphone.read() or b""
    except MicrophoneError as error:
        if error.is_busy:
            detail = f"{device!r} is in use, probably by the running service"
            return Check(
                "microphone", Status.SKIP, detail, "sudo systemctl stop appliance, then retry"
            )
        return Check("microphone", Status.FAIL, str(error), "appliance devices; set [audio] device")
    if not audio:
        return Check("microphone", Status.FAIL, f"{device!r} opened but gave no audio", "replug it")
    rms, peak = level_dbfs(bytes(audio))
    heard = f"{meter(rms)} {rms:.0f} dBFS (peak {peak:.0f}) over {len(audio) / 32000:.1f} s"
    if peak == -math.inf:
        fix = "unmute capture and raise its volume: alsamixer (F4 for capture, F6 for the card)"
        return Check("microphone", Status.FAIL, f"{device!r} hears only digital silence", fix)
    if rms < QUIET_DBFS:
        return Check("microphone", Status.OK, f"{device!r}: {heard}; very quiet, speak closer")
    return Check("microphone", Status.OK, f"{device!r}: {heard}")


def check_pin_factory(name: str) -> Check:
    from appliance.devices.panel import make_pin_factory

    try:
        factory = make_pin_factory(name)
        if factory is None:
            from gpiozero import Device

            with warnings.catch_warnings():  # the fallbacks tried: the failure says enough
                warnings.simplefilter("ignore")
                factory = Device._default_pin_factory()
        label = type(factory).__name__
        factory.close()
    except Exception as error:  # noqa: BLE001 - gpiozero's backends raise many kinds
        fix = (
            "on a Pi: sudo apt install python3-lgpio where the OS has it (Raspberry Pi OS), "
            "else run scripts/install.sh again (it tries an lgpio wheel); "
            'without GPIO: [gpio] pin_factory = "mock"'
        )
        return Check(
            "pin factory", Status.FAIL, f"{name or 'default'!r} does not load: {error}", fix
        )
    return Check("pin factory", Status.OK, f"{name or 'default'!r} loads ({label})")


def check_clock(now_seconds: float, server_dates: Mapping[str, float], is_offline: bool) -> Check:
    fix = "sudo timedatectl set-ntp true; check that the Pi reaches an NTP server"
    for host, server_seconds in server_dates.items():
        skew = now_seconds - server_seconds
        if abs(skew) > MAX_CLOCK_SKEW_SECONDS:
            return Check("clock", Status.FAIL, f"{skew:+.0f} s off from {host}'s clock", fix)
        return Check("clock", Status.OK, f"within {abs(skew):.0f} s of {host}'s clock")
    year = time.gmtime(now_seconds).tm_year
    if year < MIN_SANE_YEAR:
        return Check("clock", Status.FAIL, f"the clock says {year}: not synchronised", fix)
    source = "offline" if is_offline else "no server sent a Date"
    return Check("clock", Status.OK, f"the year is {year} ({source}: not compared with a server)")


def run_doctor(
    config_arg: str | None,
    environ: Mapping[str, str],
    is_offline: bool = False,
    out: Callable[[str], None] = print,
    now: Callable[[], float] = time.time,
    unit_path: Path | None = None,
) -> int:
    """Run every check, print one line each; 0 if none failed, 1 otherwise.

    `unit_path`: the installed service unit whose command is checked (default: where
    scripts/install.sh puts it)."""
    checks: list[Check] = []

    def report(check: Check) -> None:
        checks.append(check)
        out(check.line())

    config_check, settings = check_config(config_path(config_arg, environ))
    report(config_check)
    if settings is None:
        out("Fix the configuration first; the other checks need it.")
        return EX_FAIL
    # What the service will really run, in a process of its own: a dependency missing
    # from its venv fails here, not at the next boot (--offline included).
    report(doctor_program.check_program(config_arg, environ, unit_path or doctor_program.UNIT_PATH))
    credentials_check, credentials = check_credentials(settings, environ)
    report(credentials_check)
    report(check_microphone(settings.audio.device))
    report(check_pin_factory(settings.gpio.pin_factory))
    server_dates: dict[str, float] = {}
    if is_offline:
        report(Check("network", Status.SKIP, "--offline"))
    else:
        for check, host, date_seconds in doctor_network.reach_services(settings):
            report(check)
            if date_seconds is not None:
                server_dates[host] = date_seconds
    report(check_clock(now(), server_dates, is_offline))
    if not is_offline:
        for check in doctor_network.check_keys(settings, credentials):
            report(check)
    failed = [check.name for check in checks if check.status is Status.FAIL]
    out(f"{len(checks) - len(failed)} of {len(checks)} checks passed or skipped.")
    return EX_FAIL if failed else EX_OK
