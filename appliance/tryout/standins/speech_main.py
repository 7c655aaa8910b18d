"""`appliance standin speech` (or python -m of this module): the speech stand-in as a program."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from appliance.tryout.standins.speech_server import SpeechStandin, log
from appliance.tryout.standins.speech_session import TURN_STYLES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m appliance.tryout.standins.speech_main",
        description="Run the local stand-in of AssemblyAI's v3 streaming API.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default="test-key", help="the key clients must send")
    parser.add_argument("--script", type=Path, help="text file, one sentence per line")
    parser.add_argument("--session-max-seconds", type=float, default=10800.0)
    parser.add_argument("--rate-tolerance-seconds", type=float, default=1.0)
    parser.add_argument(
        "--sessions-per-minute", type=int, default=5, help="new sessions allowed per minute"
    )
    parser.add_argument(
        "--turn-style",
        choices=TURN_STYLES,
        help="how a turn ends (default: by model and format_turns)",
    )
    parser.add_argument("--end-silence-ms", type=int, default=700)
    parser.add_argument("--speech-rms-threshold", type=float, default=500.0)
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop, 2 on bad arguments."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=args.log_level.upper(), format="%(asctime)s %(message)s"
        )
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Our own lines say the same as websockets' "connection open/closed", with more.
        logging.getLogger(f"{log.name}.websockets").setLevel(logging.WARNING)
    script: list[str] = []
    if args.script is not None:
        try:
            script = args.script.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            print(f"--script {args.script}: cannot read it: {error}", file=sys.stderr)
            return 2
    standin = SpeechStandin(
        script=script,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        session_max_seconds=args.session_max_seconds,
        rate_tolerance_seconds=args.rate_tolerance_seconds,
        end_silence_ms=args.end_silence_ms,
        speech_rms_threshold=args.speech_rms_threshold,
        sessions_per_minute=args.sessions_per_minute,
        turn_style=args.turn_style,
    )
    stop_requested = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop_requested.set())
    try:
        try:
            standin.start()
        except OSError as error:
            print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
            return 2
        # A timeout keeps the wait responsive to signals on every platform.
        while not stop_requested.wait(1.0):
            pass
        log.info("speech stand-in stopping")
    finally:
        standin.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
