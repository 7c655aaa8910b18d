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
from appliance.errors import ConfigError

EX_OK, EX_FAIL, EX_USAGE, EX_CONFIG = 0, 1, 64, 78

log = logging.getLogger("appliance")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return EX_USAGE
    if args.command == "standin":
        return _standin(args.which, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "run":
        return _run(args.config)
    if args.command == "devices":
        from appliance.microphone import list_devices

        print(list_devices())
        return EX_OK
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
    commands.add_parser("devices", help="list ALSA capture devices and sound cards")
    standin = commands.add_parser(
        "standin",
        help="run a local stand-in of AssemblyAI or X (see `appliance standin speech -h`)",
    )
    standin.add_argument("which", choices=["speech", "x"])
    return parser


def _run(config_arg: str | None) -> int:
    from appliance.config import config_path, load_credentials, load_settings, needed_credentials
    from appliance.daemon import Daemon, Parts
    from appliance.panel import make_pin_factory
    from appliance.systemd_io import (
        Notifier,
        RedactSecrets,
        configure_logging,
        watchdog_interval_seconds,
    )

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
        )
        daemon = Daemon(settings, credentials, parts)
    except ConfigError as error:
        log.error("Configuration error: %s", error, extra={"APPLIANCE_EVENT": "config_error"})
        notifier.status(f"Configuration error: {error}")
        return EX_CONFIG
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("Stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    daemon.run(stop)
    return EX_OK


def _standin(which: str, rest: list[str]) -> int:
    if which == "speech":
        from appliance.standins import speech_server

        return speech_server.main(rest)
    from appliance.standins import x_server

    return x_server.main(rest)


if __name__ == "__main__":
    sys.exit(main())
