"""The `appliance` command line; the argparse namespace never leaves this module."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence

from appliance import __version__
from appliance.cli.exits import EX_CONFIG, EX_OK, EX_SOFTWARE, EX_TEMPFAIL, EX_USAGE
from appliance.errors import ConfigError, DaemonFailed, StorageError
from appliance.service.control import COMMANDS

log = logging.getLogger("appliance")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EX_USAGE
    if args.command == "standin":
        return _standin(args.which, args.options + rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "run":
        return _check(args.config) if args.check else _run(args.config)
    if args.command == "demo":
        from pathlib import Path

        from appliance.tryout.demo import run_demo

        credentials = Path(args.credentials) if args.credentials else None
        return run_demo(
            keep_running=args.keep_running, device=args.device, credentials_dir=credentials
        )
    if args.command == "devices":
        from appliance.devices.microphone import list_devices

        print(list_devices())
        return EX_OK
    if args.command == "doctor":
        from appliance.cli.doctor import run_doctor

        return run_doctor(args.config, os.environ, is_offline=args.offline)
    if args.command == "setup":
        from appliance.cli.setup import run_setup

        from_dir = args.from_dir
        return run_setup(args.config, os.environ, args.non_interactive, from_dir)
    if args.command in COMMANDS:
        return _control(args.command, args.config, getattr(args, "json", False))
    if args.command == "selftest":
        return _selftest(args.config)
    if args.command == "outbox":
        from appliance.cli import outbox as outbox_cli

        return outbox_cli.run(
            args.action, args.id, args.limit, args.config, os.environ, destination=args.to
        )
    parser.print_help()
    return EX_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appliance",
        description="A desk gadget that posts what you just said to X, once you confirm it.",
    )
    parser.add_argument("--version", action="version", version=f"appliance {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run", help="run the daemon in the foreground")
    run.add_argument(
        "--config",
        help="configuration file (default: $APPLIANCE_CONFIG, else /etc/appliance/appliance.toml)",
    )
    run.add_argument(
        "--check",
        action="store_true",
        help="import everything the daemon needs and validate the configuration, then exit "
        "(`appliance doctor` runs the service's command with it)",
    )
    commands.add_parser("devices", help="list ALSA capture devices and sound cards")
    demo = commands.add_parser(
        "demo",
        help="see it work: the real daemon, a spoken recording, local stand-ins of "
        "AssemblyAI and X, simulated GPIO",
    )
    demo.add_argument(
        "--keep-running", action="store_true", help="keep listening after the recording"
    )
    demo.add_argument(
        "--device", help="listen to this ALSA capture device instead of the recording"
    )
    demo.add_argument(
        "--credentials",
        metavar="DIR",
        help="stream to AssemblyAI itself with DIR/assemblyai_api_key (X stays a stand-in)",
    )
    standin = commands.add_parser(
        "standin",
        help="run a local stand-in of AssemblyAI, X, Bluesky or Mastodon "
        "(see `appliance standin speech -h`)",
    )
    standin.add_argument("which", choices=list(_STANDINS))
    # Everything after its name, -h included, belongs to the stand-in's own parser.
    standin.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    config_help = (
        "configuration file (default: $APPLIANCE_CONFIG, else /etc/appliance/appliance.toml)"
    )
    doctor = commands.add_parser("doctor", help="check the installation, one line per check")
    doctor.add_argument("--config", help=config_help)
    doctor.add_argument("--offline", action="store_true", help="skip the network checks")
    setup = commands.add_parser("setup", help="enter the keys (asked without echo; run as root)")
    setup.add_argument("--config", help=config_help)
    setup.add_argument(
        "--non-interactive",
        action="store_true",
        help="read keys from $APPLIANCE_<NAME> (e.g. APPLIANCE_ASSEMBLYAI_API_KEY) or --from-dir",
    )
    setup.add_argument("--from-dir", help="a directory holding one file per key, named as the key")
    _add_panel_commands(commands, config_help)
    from appliance.cli import outbox as outbox_cli

    outbox_cli.add_parser(commands, config_help)
    return parser


# The help of each control-socket command (the list: service/control.py COMMANDS).
_CONTROL_HELP = {
    "confirm": "post the sentence that is waiting (like pressing the button)",
    "cancel": "drop the sentence that is waiting (like holding the button)",
    "mute": "stop listening: no audio leaves the device until `appliance unmute`",
    "unmute": "listen again",
}


def _add_panel_commands(commands: argparse._SubParsersAction, config_help: str) -> None:
    """The control-socket commands and the wiring self-test."""
    status = commands.add_parser("status", help="what the running daemon is doing")
    status.add_argument("--json", action="store_true", help="print the reply as JSON")
    for name in COMMANDS:
        if name != "status":  # it has its own --json
            commands.add_parser(name, help=_CONTROL_HELP[name])
    commands.add_parser(
        "selftest", help="check the wiring: every LED pattern, then a press and a hold"
    )
    for name in (*COMMANDS, "selftest"):
        commands.choices[name].add_argument("--config", help=config_help)


def _control(command: str, config_arg: str | None, as_json: bool) -> int:
    from pathlib import Path

    from appliance.service.config import config_path, load_settings
    from appliance.service.control import run_command

    try:
        settings = load_settings(config_path(config_arg, os.environ))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return EX_CONFIG
    return run_command(command, Path(settings.control.socket), as_json=as_json)


def _selftest(config_arg: str | None) -> int:
    from appliance.cli.selftest import run_selftest
    from appliance.service.config import config_path, load_settings

    try:
        settings = load_settings(config_path(config_arg, os.environ))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return EX_CONFIG
    return run_selftest(settings)


def _check(config_arg: str | None) -> int:
    """`run --check`: what `run` imports and loads before it starts, without starting."""
    import platform

    from appliance.posting.charset_detection import leave_out_charset_detection
    from appliance.service.deferred_imports import defer_unused_modules

    leave_out_charset_detection()  # as `run` does, so requests is checked as it will load
    defer_unused_modules()
    from appliance import x_length
    from appliance.posting import x_client  # noqa: F401 - the daemon loads it after READY=1
    from appliance.service import daemon  # noqa: F401 - importing is the check
    from appliance.service.config import config_path, load_settings

    # The length rules load their data (emoji sequences, TLDs) on first use: use them.
    x_length.preload()
    x_length.weighted_length("example.com 😀")
    path = config_path(config_arg, os.environ)
    try:
        load_settings(path)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return EX_CONFIG
    version = platform.python_version()
    print(f"appliance {__version__} on Python {version} imports; {path} is valid")
    return EX_OK


def _run(config_arg: str | None) -> int:
    from appliance import x_length
    from appliance.devices.panel import make_pin_factory
    from appliance.posting.charset_detection import leave_out_charset_detection
    from appliance.service.config import config_path, load_settings
    from appliance.service.credentials import load_credentials, needed_credentials
    from appliance.service.daemon import Daemon, Parts
    from appliance.service.deferred_imports import defer_unused_modules
    from appliance.service.systemd import (
        Notifier,
        RedactSecrets,
        configure_logging,
        watchdog_interval_seconds,
    )

    leave_out_charset_detection()  # before the posting clients import requests
    defer_unused_modules()  # and tweepy
    redact = RedactSecrets()
    configure_logging("info", os.environ, redact)
    path = config_path(config_arg, os.environ)
    notifier = Notifier()
    try:
        settings = load_settings(path)
        configure_logging(settings.log.level, os.environ, redact)
        credentials = load_credentials(settings, os.environ, needed_credentials(settings))
        redact.add(credentials.secrets())
        try:
            pin_factory = make_pin_factory(settings.gpio.pin_factory)
        except Exception as error:  # noqa: BLE001 - gpiozero raises many kinds
            raise ConfigError(
                str(path), "gpio.pin_factory", f"a pin factory that loads here: {error}"
            ) from None
        parts = Parts(
            pin_factory=pin_factory,
            notifier=notifier,
            watchdog_interval_seconds=watchdog_interval_seconds(os.environ, os.getpid()),
            # After READY=1 (X's emoji and TLD tables), but not on the main loop at the
            # first confirmation either (tens of ms on a Pi).
            after_ready=x_length.preload,
        )
        daemon = Daemon(settings, credentials, parts)
    except ConfigError as error:
        log.error("Configuration error: %s", error, extra={"APPLIANCE_EVENT": "config_error"})
        notifier.status(f"Configuration error: {error}")
        return EX_CONFIG
    except StorageError as error:
        log.error(
            "Storage error: %s; free space or fix the file, the service restarts by itself",
            error,
            extra={"APPLIANCE_EVENT": "storage_error"},
        )
        notifier.status(f"Storage error: {error}")
        return EX_TEMPFAIL
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("Stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        daemon.run(stop)
    except DaemonFailed:
        return EX_SOFTWARE  # already logged with its traceback; systemd restarts us
    return EX_OK


# `appliance standin NAME`: each stand-in's own program (loaded only when it runs).
_STANDINS = {
    "speech": "appliance.tryout.standins.speech_main",
    "x": "appliance.tryout.standins.x_main",
    "bluesky": "appliance.tryout.standins.bluesky_main",
    "mastodon": "appliance.tryout.standins.mastodon_main",
}


def _standin(which: str, rest: list[str]) -> int:
    import importlib

    program = importlib.import_module(_STANDINS[which])
    status: int = program.main(rest)
    return status


if __name__ == "__main__":
    sys.exit(main())
