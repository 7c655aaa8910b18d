"""The daemon's parts built from the settings: the outbox, the panel, one poster per destination."""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from appliance.clock import Clock
from appliance.core import lengths
from appliance.core.destinations import Destination
from appliance.core.events import (
    ButtonPressed,
    DiscardRequested,
    MuteChanged,
    MuteToggled,
)
from appliance.core.state import CoreSettings
from appliance.devices.panel import Panel, led_pins_for
from appliance.errors import ConfigError, StorageError
from appliance.posting.client import Client
from appliance.posting.outbox import FILE_NAME as OUTBOX_FILE_NAME
from appliance.posting.outbox import Entry, EntryState, Outbox
from appliance.posting.poster import Poster
from appliance.service.config import Settings
from appliance.service.destinations import limit_reader

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


@dataclass(frozen=True)
class LengthLimit:
    """A destination's own length limit, learnt after start (Mastodon's instance limit)."""

    destination: Destination
    max_length: int


def with_length_limit(settings: CoreSettings, event: LengthLimit) -> CoreSettings:
    limits = dict(settings.max_lengths)
    limits[event.destination] = event.max_length
    return replace(settings, max_lengths=tuple(limits.items()))


def request_timeout_seconds(settings: Settings, destination: Destination) -> float:
    """One request's whole deadline for the destination, from its section."""
    return _section(settings, destination).request_timeout_seconds


def _section(settings: Settings, destination: Destination) -> Any:
    return {
        Destination.X: settings.x,
        Destination.BLUESKY: settings.bluesky,
        Destination.MASTODON: settings.mastodon,
    }[destination]


def make_posters(
    settings: Settings,
    clients: Mapping[Destination, Client],
    outbox: Outbox,
    emit: Callable[[object], None],
    clock: Clock,
) -> dict[Destination, Poster]:
    """One poster per client, in the order of the settings' destinations."""
    posters = {}
    for destination, client in clients.items():
        reader = limit_reader(client)
        posters[destination] = Poster(
            outbox,
            client,
            emit,
            clock=clock.wall,  # due times are kept in the outbox
            monotonic=clock.monotonic,
            retry_max_seconds=_section(settings, destination).retry_max_seconds,
            on_start=None if reader is None else _limit_learner(destination, reader, emit),
        )
    return posters


def _limit_learner(
    destination: Destination, reader: Callable[[], int], emit: Callable[[object], None]
) -> Callable[[], None]:
    def learn() -> None:
        # On the poster's own thread: a network call, never before READY nor on the main loop.
        try:
            limit = int(reader())
        except Exception as error:  # noqa: BLE001 - the default limit stays; posting goes on
            log.warning(
                "Could not learn %s's length limit (%s); keeping %d",
                destination.label,
                error,
                lengths.max_length(destination),
                extra={"APPLIANCE_EVENT": "length_limit", "DESTINATION": destination},
            )
            return
        if limit > 0:
            emit(LengthLimit(destination, limit))

    return learn


def delete_everywhere(
    outbox: Outbox, posters: Mapping[Destination, Poster], confirmation: int
) -> None:
    """ "Delete that": each destination's poster deletes its row's post; rows not sent
    yet are dropped, so the text never reaches the destinations it had not reached."""
    try:
        for entry in outbox.confirmation(confirmation):
            _undo_row(outbox, posters, entry, confirmation)
    except sqlite3.Error as error:
        log.error(
            "Cannot read the outbox to delete confirmation %d: %s",
            confirmation,
            error,
            extra={"APPLIANCE_EVENT": "delete_failed"},
        )


# A poster moves its row on between our read and our write at most this often before
# the row settles (claimed, then posted or put back).
_UNDO_READS = 4


def _undo_row(
    outbox: Outbox, posters: Mapping[Destination, Poster], entry: Entry | None, confirmation: int
) -> None:
    """Delete, drop or mark for deletion one row, as its state is now (read again when
    its poster changed it under us)."""
    for _ in range(_UNDO_READS):
        if entry is None or entry.state in (EntryState.DROPPED, EntryState.DELETED):
            return
        label, fields = entry.destination.label, _fields(entry)
        poster = posters.get(entry.destination)
        if entry.state == EntryState.POSTED and not entry.post_id:
            log.warning(
                "Post %d on %s has no known id (its answer was lost): delete it there",
                entry.id,
                label,
                extra={**fields, "APPLIANCE_EVENT": "delete_failed"},
            )
            return
        if entry.state == EntryState.POSTED and poster is not None:
            poster.request_delete(entry.id, entry.post_id, confirmation)
            return
        if entry.state == EntryState.SENDING and poster is not None:
            if poster.request_delete_when_sent(entry.id, confirmation):
                log.info(
                    "Post %d is being sent to %s right now: deleted there once it is sent",
                    entry.id,
                    label,
                    extra={**fields, "APPLIANCE_EVENT": "delete_requested"},
                )
                return
        elif outbox.drop(entry.id, "deleted before it went out (“delete that”)"):
            log.info(
                "Post %d will not be sent to %s (“delete that”)",
                entry.id,
                label,
                extra={**fields, "APPLIANCE_EVENT": "dropped"},
            )
            return
        entry = outbox.get(entry.id)  # its poster moved it on meanwhile: as it is now
    log.warning(
        "Could not settle “delete that” for post %d on %s: see `appliance outbox`",
        entry.id if entry else 0,
        entry.destination.label if entry else "?",
        extra={"APPLIANCE_EVENT": "delete_failed"},
    )


def _fields(entry: Entry) -> dict[str, object]:
    return {"OUTBOX_ID": entry.id, "DESTINATION": entry.destination}


def destinations_summary(settings: Settings) -> str:
    """For the "Started" line: where posts go, e.g. "X https://api.twitter.com, Bluesky …"."""
    where = {
        Destination.X: "dry run" if settings.x.dry_run else settings.x.api_url,
        Destination.BLUESKY: f"{settings.bluesky.handle} at {settings.bluesky.service_url}",
        Destination.MASTODON: settings.mastodon.api_base_url,
    }
    return ", ".join(f"{d.label} {where[d]}" for d in settings.destinations)


def queued_for(texts: Mapping[Destination, str], settings: Settings) -> str:
    """ " for X and Bluesky" when more than X alone (X-only lines read as they always did)."""
    if list(texts) == [Destination.X]:
        return ""
    return " for " + " and ".join(d.label for d in texts)
