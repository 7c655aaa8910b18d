"""The systemd boundary: READY/STATUS/WATCHDOG notifications and logging to the journal."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping

try:
    # C extensions: mypy cannot see them.
    from systemd import daemon as _sd_daemon  # type: ignore[attr-defined]
    from systemd import journal as _sd_journal  # type: ignore[attr-defined]
except ImportError:  # a development machine without systemd-python
    _sd_daemon = None
    _sd_journal = None


class Notifier:
    """Sends sd_notify messages; does nothing outside systemd (`send` returns False)."""

    def __init__(self, send: Callable[[str], object] | None = None) -> None:
        if send is None:
            send = _sd_daemon.notify if _sd_daemon is not None else (lambda _message: False)
        self._send = send
        self._status = ""

    def ready(self) -> None:
        self._send("READY=1")

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self._send(f"STATUS={text}")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        self._send("STOPPING=1")


def watchdog_interval_seconds(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of systemd's WatchdogSec=, or None when no watchdog watches this process."""
    usec = environ.get("WATCHDOG_USEC")
    if not usec:
        return None
    owner = environ.get("WATCHDOG_PID")
    if owner and owner != str(pid):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None


class RedactSecrets(logging.Filter):
    """Replaces every credential value in a log line: keys never reach the journal."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        self._secrets.extend(s for s in secrets if len(s) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            record.msg, record.args = self._redacted(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            # Formatters print exc_text when set; the journal would also send the raw
            # exception's repr (EXCEPTION_INFO), which may quote a key: dropped.
            record.exc_info = None
            if record.exc_text:
                record.exc_text = self._redacted(record.exc_text)
        return True

    def _redacted(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


# C0 and C1 controls (newline, carriage return, escape...), Unicode's line and
# paragraph separators and the bidirectional overrides: each could make a heard
# sentence look like another log line, or reorder what the reader sees.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str) -> str:
    r"""`text` on one line: "\n" and friends become visible escapes (\n, \x1b, \u2028)."""
    return _UNSAFE.sub(lambda match: match[0].encode("unicode_escape").decode("ascii"), text)


class EscapeControls(logging.Filter):
    """One record, one line: a transcript with a newline cannot forge another log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        escaped = escape_controls(text)
        if escaped != text:
            record.msg, record.args = escaped, None
        return True


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "APPLIANCE_EVENT", "")
        prefix = f"{self.formatTime(record, '%H:%M:%S')} {record.levelname.lower():7}"
        return f"{prefix} {'[' + event + '] ' if event else ''}{record.getMessage()}"


def configure_logging(
    level: str, environ: Mapping[str, str], redact: RedactSecrets
) -> logging.Handler:
    """Journal when systemd gave us one (JOURNAL_STREAM), stderr otherwise."""
    handler: logging.Handler
    if environ.get("JOURNAL_STREAM") and _sd_journal is not None:
        # Every UPPERCASE extra= key becomes a journal field (APPLIANCE_EVENT=posted).
        handler = _sd_journal.JournalHandler(SYSLOG_IDENTIFIER="appliance")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_StderrFormatter())
    handler.addFilter(redact)
    handler.addFilter(EscapeControls())  # after redacting, which compares the raw text
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # websocket-client and urllib3 log connection details we report ourselves.
    for noisy in ("websocket", "urllib3", "requests_oauthlib", "oauthlib", "tweepy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
