"""The daemon's parts built from the settings: the outbox, the panel, and how to post."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.core.events import (
    ButtonPressed,
    DiscardRequested,
    MuteChanged,
    MuteToggled,
)
from appliance.devices.panel import Panel, led_pins_for
from appliance.errors import ConfigError, StorageError
from appliance.posting.outbox import FILE_NAME as OUTBOX_FILE_NAME
from appliance.posting.outbox import Outbox
from appliance.posting.outcome import Outcome, PostOutcome
from appliance.service.config import Credentials, Settings

if TYPE_CHECKING:
    from appliance.posting.x_client import XPoster

log = logging.getLogger(__name__)


def open_outbox(settings: Settings, wall_clock: Callable[[], float]) -> Outbox:
    """The outbox, known to be writable; ConfigError only for what a restart cannot fix."""
    path = Path(settings.state.dir) / OUTBOX_FILE_NAME
    try:
        outbox = Outbox(path, clock=wall_clock)
        outbox.check_writable()
        return outbox
    except OSError as error:
        if error.errno in (errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP):
            raise ConfigError(
                settings.path, "state.dir", f"a directory: {error.strerror} ({path.parent})"
            ) from None
        raise StorageError(f"cannot write the outbox {path}: {error.strerror or error}") from None
    except sqlite3.Error as error:
        # Full, read-only or immutable: space or a fix helps, and systemd restarts us.
        raise StorageError(f"cannot write the outbox {path}: {error}") from None


def open_panel(
    settings: Settings,
    pin_factory: Any,
    emit: Callable[[object], None],
    clock: Callable[[], float],
) -> Panel:
    gpio = settings.gpio
    pins = led_pins_for(gpio)
    try:
        return Panel(
            pin_factory=pin_factory,
            button_pin=gpio.button_pin,
            layout=gpio.layout,
            led_pins=pins,
            active_high=gpio.active_high,
            brightness=gpio.brightness,
            hold_seconds=gpio.hold_seconds,
            long_hold_seconds=gpio.long_hold_seconds,
            on_press=lambda: emit(ButtonPressed("button")),
            on_hold=lambda: emit(DiscardRequested("button")),
            on_long_hold=lambda: emit(MuteToggled("button")),
            mute_switch_pin=gpio.mute_switch_pin or None,
            on_mute_switch=lambda is_on: emit(MuteChanged(is_on, "switch")),
            clock=clock,
        )
    except Exception as error:  # gpiozero raises many kinds when pins are unusable
        raise ConfigError(
            settings.path,
            "gpio",
            f"pins that work on this machine ({type(error).__name__}: {error})",
        ) from None


def sender(
    settings: Settings, credentials: Credentials, wall_clock: Callable[[], float]
) -> tuple[Callable[[str], PostOutcome], Callable[[str], PostOutcome], LazyXPoster | None]:
    """How to post and how to delete: through X (and its client), or only logged in dry-run mode."""
    if settings.x.dry_run:
        counter = iter(range(1, 1 << 62))

        def dry_run(text: str) -> PostOutcome:
            post_id = f"dry-run-{os.getpid()}-{next(counter)}"
            log.info("Dry run: would post %r", text, extra={"APPLIANCE_EVENT": "dry_run"})
            return PostOutcome(kind=Outcome.POSTED, post_id=post_id)

        def dry_run_delete(post_id: str) -> PostOutcome:
            log.info("Dry run: would delete %s", post_id, extra={"APPLIANCE_EVENT": "dry_run"})
            return PostOutcome(kind=Outcome.DELETED, post_id=post_id)

        return dry_run, dry_run_delete, None
    poster = LazyXPoster(settings, credentials, wall_clock)
    return poster.post, poster.delete, poster


class LazyXPoster:
    """The X poster, built on the poster thread's first use of it.

    tweepy, requests and oauthlib are about 45 of the 160 ms the daemon spends on
    imports on the benchmark machine (more on a Pi): loaded here, they come after
    READY=1 instead of before it (issue 13). Building the client checks nothing (the
    keys were read before), so no start-up error moves.
    """

    def __init__(
        self, settings: Settings, credentials: Credentials, wall_clock: Callable[[], float]
    ) -> None:
        self._settings = settings.x
        self._credentials = credentials
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._poster: XPoster | None = None

    def _built(self) -> XPoster:
        with self._lock:
            if self._poster is None:
                from appliance.posting.x_client import XCredentials, XPoster, make_client

                client = make_client(
                    self._settings.api_url,
                    XCredentials.from_files(self._credentials.values),
                    self._settings.request_timeout_seconds,
                )
                self._poster = XPoster(client, clock=self._wall_clock)
            return self._poster

    def post(self, text: str) -> PostOutcome:
        return self._built().post(text)

    def delete(self, post_id: str) -> PostOutcome:
        return self._built().delete(post_id)

    def find_post(self, text: str, since_unix_seconds: float) -> str:
        return self._built().find_post(text, since_unix_seconds)

    def abort(self) -> None:
        poster = self._poster  # never built: no request to cut off
        if poster is not None:
            poster.abort()
