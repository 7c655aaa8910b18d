"""The durable outbox: every confirmed post is a SQLite row per destination until it has it."""

from __future__ import annotations

import contextlib
import enum
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from appliance.core.destinations import Destination


class EntryState(enum.StrEnum):
    """Where one row stands: queued -> sending -> posted | waiting (-> sending ...) | failed.

    `appliance outbox drop` (or "delete that" before it went out) makes a queued, waiting
    or failed row dropped; "delete that" makes a posted one deleted.
    """

    QUEUED = "queued"
    SENDING = "sending"
    POSTED = "posted"
    WAITING = "waiting"
    FAILED = "failed"
    DROPPED = "dropped"
    DELETED = "deleted"


# The names the rest of the code (and older tests) use.
QUEUED, SENDING, POSTED = EntryState.QUEUED, EntryState.SENDING, EntryState.POSTED
WAITING, FAILED = EntryState.WAITING, EntryState.FAILED
DROPPED, DELETED = EntryState.DROPPED, EntryState.DELETED
FILE_NAME = "outbox.sqlite3"  # in [state] dir
_SENDABLE = (QUEUED, WAITING)
_UNFINISHED = (QUEUED, WAITING, SENDING)
# 1: one row per confirmed text, for X alone (the first release). 2: one row per
# (confirmation, destination), and a meta table holding this outbox's uuid.
SCHEMA_VERSION = 2
_KEY_HEX_CHARS = 12  # of the outbox's uuid, in every post key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    confirmed_by TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,          -- unix seconds
    updated_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    post_id TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
# Added to an outbox made by the first release, in place: its rows were all for X,
# and each was a confirmation of its own.
_MIGRATION = """
ALTER TABLE outbox ADD COLUMN destination TEXT NOT NULL DEFAULT 'x';
ALTER TABLE outbox ADD COLUMN confirmation INTEGER NOT NULL DEFAULT 0;
UPDATE outbox SET confirmation = id WHERE confirmation = 0;
"""
_INDEXES = """
DROP INDEX IF EXISTS outbox_due;
CREATE INDEX IF NOT EXISTS outbox_due_by_destination
    ON outbox (destination, state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_confirmation ON outbox (confirmation);
"""
_COLUMNS = (
    "id, text, confirmed_by, state, created_at, updated_at, attempts, next_attempt_at, "
    "post_id, reason, destination, confirmation"
)


def _create_private(path: Path) -> None:
    """The directory 0700 and the database 0600: posts not yet sent are nobody else's.

    Outside systemd (whose UMask=0077 does the same) the umask is usually 022, which
    would leave the outbox world-readable. SQLite gives its -wal and -shm files the
    database file's mode.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # not ours (another user's outbox): leave it
            if name.exists() and name.stat().st_mode & 0o077:
                name.chmod(0o600)


@dataclass(frozen=True)
class Entry:
    """One confirmed text for one destination."""

    id: int
    text: str  # as it goes to this destination (shortened for it, if it had to be)
    confirmed_by: str
    state: EntryState
    created_at: float
    updated_at: float
    attempts: int
    next_attempt_at: float
    post_id: str
    reason: str
    destination: Destination = Destination.X
    confirmation: int = 0  # the id of the confirmation's first row; one per confirmed text


class Outbox:
    """A SQLite outbox (WAL, synchronous=FULL: a returned add() survives a power cut)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        _create_private(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self.uuid = self._outbox_uuid()

    def _migrate(self) -> None:
        """Bring an outbox of an older release up to SCHEMA_VERSION, in one transaction.

        Only reads when it is up to date: a read-only outbox still opens for listing."""
        with self._lock:
            if int(self._db.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
                return
            with self._transaction():
                columns = {row[1] for row in self._db.execute("PRAGMA table_info(outbox)")}
                if "destination" not in columns:
                    for statement in filter(str.strip, _MIGRATION.split(";")):
                        self._db.execute(statement)
                for statement in filter(str.strip, _INDEXES.split(";")):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _outbox_uuid(self) -> str:
        """This outbox's own uuid, made once (a post key must not repeat a reinstalled one's)."""
        query = "SELECT value FROM meta WHERE key='uuid'"
        with self._lock:
            row = self._db.execute(query).fetchone()
            if row is None:
                with self._transaction():
                    self._db.execute(
                        "INSERT OR IGNORE INTO meta (key, value) VALUES ('uuid', ?)",
                        (uuid.uuid4().hex,),
                    )
                    row = self._db.execute(query).fetchone()
        return str(row[0])

    @contextlib.contextmanager
    def _transaction(self):  # type: ignore[no-untyped-def]
        """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); the caller holds the lock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def key_for(self, entry_id: int) -> str:
        """The post key of a row: the same across retries and restarts, unique per outbox.

        Destinations that can make a retry safe with it do (Mastodon's Idempotency-Key,
        a Bluesky record key derived from it); [A-Za-z0-9-], at most 64 characters.
        """
        return f"appliance-{self.uuid[:_KEY_HEX_CHARS]}-{entry_id}"

    def check_writable(self) -> None:
        """Raise sqlite3.Error unless a write lands: SQLite opens a read-only or immutable
        file without a word and fails only at the first write."""
        with self._lock:
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            self._db.execute(f"PRAGMA user_version = {version}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _update(self, sql: str, args: tuple) -> int:
        """Run an UPDATE; returns how many rows it changed."""
        with self._lock:
            return int(self._db.execute(sql, args).rowcount)

    def add(
        self, text: str, confirmed_by: str, texts: Mapping[Destination, str] | None = None
    ) -> int:
        """Store a confirmed post, one row per destination, in ONE transaction.

        `texts`: each destination's text (each may be shortened for it); None: `text`
        for X alone. Returns the confirmation's id (its first row's) once it is on disk.
        """
        rows = dict(texts) if texts is not None else {Destination.X: text}
        if not rows:
            raise ValueError("a confirmation needs at least one destination")
        now = self._clock()
        with self._lock, self._transaction():
            confirmation = 0
            for destination, row_text in rows.items():
                cursor = self._db.execute(
                    "INSERT INTO outbox (text, confirmed_by, state, created_at, updated_at, "
                    "destination, confirmation) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row_text, confirmed_by, QUEUED, now, now, str(destination), confirmation),
                )
                if not confirmation:
                    confirmation = int(cursor.lastrowid or 0)
                    self._db.execute(
                        "UPDATE outbox SET confirmation=? WHERE id=?", (confirmation, confirmation)
                    )
        return confirmation

    def recover(self, destination: Destination | None = None) -> int:
        """After a crash: rows caught in 'sending' go back to the queue. Returns how many."""
        where, args = _for(destination)
        return self._update(
            "UPDATE outbox SET state=?, updated_at=?, reason='interrupted; retrying' "
            f"WHERE state=?{where}",
            (QUEUED, self._clock(), SENDING, *args),
        )

    def next_due(self, destination: Destination = Destination.X) -> Entry | None:
        """The destination's oldest row that should be sent now."""
        rows = self._select(
            "WHERE destination=? AND (state=? OR (state=? AND next_attempt_at<=?)) "
            "ORDER BY id LIMIT 1",
            (str(destination), QUEUED, WAITING, self._clock()),
        )
        return rows[0] if rows else None

    def next_attempt_at(self, destination: Destination = Destination.X) -> float | None:
        """When the destination's earliest waiting row is due (unix seconds), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state=? AND destination=?",
                (WAITING, str(destination)),
            ).fetchone()
        return row[0] if row and row[0] is not None else None

    def unfinished(self, destination: Destination) -> int:
        """How many of the destination's rows are queued, waiting or being sent."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM outbox WHERE destination=? AND state IN (?, ?, ?)",
                (str(destination), *_UNFINISHED),
            ).fetchone()
        return int(row[0])

    def mark_sending(self, entry_id: int) -> bool:
        """Claim a queued or waiting row; False if it was dropped meanwhile (`outbox drop`)."""
        changed = self._update(
            "UPDATE outbox SET state=?, attempts=attempts+1, updated_at=? "
            "WHERE id=? AND state IN (?, ?)",
            (SENDING, self._clock(), entry_id, *_SENDABLE),
        )
        return changed == 1

    def retry(self, entry_id: int) -> bool:
        """A failed, waiting or dropped row is sent again at once; False for any other."""
        changed = self._update(
            "UPDATE outbox SET state=?, next_attempt_at=0, reason='retry requested', "
            "updated_at=? WHERE id=? AND state IN (?, ?, ?)",
            (QUEUED, self._clock(), entry_id, FAILED, WAITING, DROPPED),
        )
        return changed == 1

    def drop(self, entry_id: int, reason: str = "dropped by the user") -> bool:
        """A queued, waiting or failed row will not be sent; False for any other."""
        changed = self._update(
            "UPDATE outbox SET state=?, reason=?, updated_at=? WHERE id=? AND state IN (?, ?, ?)",
            (DROPPED, reason, self._clock(), entry_id, QUEUED, WAITING, FAILED),
        )
        return changed == 1

    def mark_deleted(self, entry_id: int) -> None:
        """The row's post was deleted from its destination ("delete that")."""
        entry = self.get(entry_id)
        where = entry.destination.label if entry else "its destination"
        self._update(
            "UPDATE outbox SET state=?, reason=?, updated_at=? WHERE id=? AND state=?",
            (DELETED, f"deleted from {where}", self._clock(), entry_id, POSTED),
        )

    def mark_posted(self, entry_id: int, post_id: str, reason: str = "") -> None:
        self._update(
            "UPDATE outbox SET state=?, post_id=?, reason=?, updated_at=? WHERE id=?",
            (POSTED, post_id, reason, self._clock(), entry_id),
        )

    def mark_waiting(self, entry_id: int, until: float, reason: str) -> None:
        self._update(
            "UPDATE outbox SET state=?, next_attempt_at=?, reason=?, updated_at=? WHERE id=?",
            (WAITING, until, reason, self._clock(), entry_id),
        )

    def mark_failed(self, entry_id: int, reason: str) -> None:
        self._update(
            "UPDATE outbox SET state=?, reason=?, updated_at=? WHERE id=?",
            (FAILED, reason, self._clock(), entry_id),
        )

    def entries(self, limit: int = 50, destination: Destination | None = None) -> list[Entry]:
        """Newest first (of one destination, or of all)."""
        where, args = _for(destination)
        return self._select(f"WHERE 1{where} ORDER BY id DESC LIMIT ?", (*args, limit))

    def confirmation(self, confirmation_id: int) -> list[Entry]:
        """Every destination's row of one confirmed text, in the order they were added."""
        return self._select("WHERE confirmation=? ORDER BY id", (confirmation_id,))

    def counts(self) -> dict[str, int]:
        """How many rows are in each state, over the whole outbox."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    def get(self, entry_id: int) -> Entry | None:
        rows = self._select("WHERE id=?", (entry_id,))
        return rows[0] if rows else None

    def _select(self, where: str, args: Iterable[object]) -> list[Entry]:
        with self._lock:
            cursor = self._db.execute(f"SELECT {_COLUMNS} FROM outbox {where}", tuple(args))
            rows = cursor.fetchall()
        return [_entry(row) for row in rows]


def _for(destination: Destination | None) -> tuple[str, tuple[str, ...]]:
    """An extra WHERE condition limiting rows to one destination (none: every one)."""
    return ("", ()) if destination is None else (" AND destination=?", (str(destination),))


def _entry(row: tuple) -> Entry:
    (entry_id, text, confirmed_by, state, created, updated, attempts, next_at, post_id, reason,
     destination, confirmation) = row  # fmt: skip
    return Entry(
        entry_id,
        text,
        confirmed_by,
        EntryState(state),
        created,
        updated,
        attempts,
        next_at,
        post_id,
        reason,
        Destination(destination),
        confirmation,
    )
