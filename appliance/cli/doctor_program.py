"""`appliance doctor`'s program check: the command the service runs imports and starts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from appliance.cli.checks import Check, Status
from appliance.cli.exits import EX_CONFIG

UNIT_NAME = "appliance.service"
UNIT_PATH = Path("/etc/systemd/system/appliance.service")  # where scripts/install.sh puts it
# Importing everything takes a few seconds on a Pi Zero 2 W; a minute means it hangs.
CHECK_TIMEOUT_SECONDS = 60.0
REINSTALL = "reinstall: sudo scripts/install.sh"
NAME = "program"

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def installed_unit(unit_path: Path = UNIT_PATH, run: Runner = subprocess.run) -> tuple[str, str]:
    """(where it was read, text) of the installed service unit; ("", "") if none."""
    # systemctl cat shows what systemd really uses, drop-ins included; without a running
    # systemd (a container, a chroot) the unit file is the next best thing.
    if shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        try:
            result = run(
                ["systemctl", "cat", "--no-pager", UNIT_NAME],
                capture_output=True,
                text=True,
                timeout=10,
            )
        except (OSError, subprocess.TimeoutExpired):
            result = None
        if result is not None and result.returncode == 0 and result.stdout.strip():
            return f"systemctl cat {UNIT_NAME}", result.stdout
    try:
        return str(unit_path), unit_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "", ""


def exec_start(unit_text: str) -> list[str]:
    """The command line of the unit's ExecStart= (the last one; an empty one resets)."""
    argv: list[str] = []
    logical_lines = unit_text.replace("\\\n", " ").splitlines()  # systemd's continuations
    for raw in logical_lines:
        line = raw.strip()
        if not line.startswith("ExecStart="):
            continue
        value = line.removeprefix("ExecStart=").strip()
        # systemd's prefixes (ignore failure, privileges): not part of the command.
        value = value.lstrip("-+!:")
        try:
            argv = shlex.split(value) if value else []
        except ValueError:
            argv = [value]
    return argv


def last_line(text: str) -> str:
    """The last non-empty line: for a traceback, the exception."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def check_program(
    config_arg: str | None,
    environ: Mapping[str, str],
    unit_path: Path = UNIT_PATH,
    timeout_seconds: float = CHECK_TIMEOUT_SECONDS,
    run: Runner = subprocess.run,
) -> Check:
    """Run the service's own command with --check: it must import and load its settings."""
    source, unit_text = installed_unit(unit_path, run)
    if source:
        argv = exec_start(unit_text)
        if not argv:
            return Check(NAME, Status.FAIL, f"{source} has no ExecStart=", REINSTALL)
        what = f"the service's ExecStart ({source})"
    else:  # not installed as a service: check the program this doctor belongs to
        argv = [sys.executable, "-m", "appliance", "run"]
        argv += ["--config", config_arg] if config_arg else []
        what = "this Python (no service installed)"
    command = [*argv, "--check"]
    shown = shlex.join(command)
    options: dict[str, Any] = {"capture_output": True, "text": True, "env": dict(environ)}
    try:
        result = run(command, timeout=timeout_seconds, **options)
    except subprocess.TimeoutExpired:
        detail = f"{what}: `{shown}` did not finish in {timeout_seconds:g} s"
        return Check(NAME, Status.FAIL, detail, REINSTALL)
    except OSError as error:
        detail = f"{what}: {argv[0]} cannot be run ({error.strerror or error})"
        return Check(NAME, Status.FAIL, detail, REINSTALL)
    if result.returncode == 0:
        return Check(NAME, Status.OK, f"{what}: {last_line(result.stdout) or 'starts'}")
    why = last_line(result.stderr) or last_line(result.stdout) or "no message"
    detail = f"{what}: `{shown}` exits {result.returncode}: {why}"
    if result.returncode == EX_CONFIG:  # the configuration, which the check above names
        return Check(NAME, Status.FAIL, detail, "fix the configuration (see above)")
    return Check(NAME, Status.FAIL, detail, REINSTALL)
