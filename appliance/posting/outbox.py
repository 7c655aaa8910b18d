"""The durable outbox: every confirmed post is a SQLite row until X has it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# States of an entry: queued -> sending -> posted | waiting (-> sending ...) | failed;
# `appliance outbox drop` makes queued, waiting or failed ones dropped; "delete that"
# makes a posted one deleted.
QUEUED, SENDING, POSTED, WAITING, FAILED = "queued", "sending", "posted", "waiting", "failed"
DROPPED, DELETED = "dropped", "deleted"
FILE_NAME = "outbox.sqlite3"  # in [state] dir
_SENDABLE = (QUEUED, WAITING)

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
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
"""


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
    id: int
    text: str
    confirmed_by: str
    state: str
    created_at: float
    updated_at: float
    attempts: int
    next_attempt_at: float
    post_id: str
    reason: str


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

    def _write(self, sql: str, args: tuple) -> int:
        with self._lock:
            cursor = self._db.execute(sql, args)
            return int(cursor.lastrowid or cursor.rowcount)

    def _update(self, sql: str, args: tuple) -> int:
        """Run an UPDATE; returns how many rows it changed."""
        with self._lock:
            return int(self._db.execute(sql, args).rowcount)

    def add(self, text: str, confirmed_by: str) -> int:
        """Store a confirmed post; returns its id once it is on disk."""
        now = self._clock()
        return self._write(
            "INSERT INTO outbox (text, confirmed_by, state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (text, confirmed_by, QUEUED, now, now),
        )

    def recover(self) -> int:
        """After a crash: entries caught in 'sending' go back to the queue. Returns how many."""
        return self._update(
            "UPDATE outbox SET state=?, updated_at=?, reason='interrupted; retrying' WHERE state=?",
            (QUEUED, self._clock(), SENDING),
        )

    def next_due(self) -> Entry | None:
        """The oldest entry that should be sent now."""
        rows = self._select(
            "WHERE state=? OR (state=? AND next_attempt_at<=?) ORDER BY id LIMIT 1",
            (QUEUED, WAITING, self._clock()),
        )
        return rows[0] if rows else None

    def next_attempt_at(self) -> float | None:
        """When the earliest waiting entry is due (unix seconds), or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(next_attempt_at) FROM outbox WHERE state=?", (WAITING,)
            ).fetchone()
        return row[0] if row and row[0] is not None else None

    def mark_sending(self, entry_id: int) -> bool:
        """Claim a queued or waiting entry; False if it was dropped meanwhile (`outbox drop`)."""
        changed = self._update(
            "UPDATE outbox SET state=?, attempts=attempts+1, updated_at=? "
            "WHERE id=? AND state IN (?, ?)",
            (SENDING, self._clock(), entry_id, *_SENDABLE),
        )
        return changed == 1

    def retry(self, entry_id: int) -> bool:
        """A failed, waiting or dropped entry is sent again at once; False for any other."""
        changed = self._update(
            "UPDATE outbox SET state=?, next_attempt_at=0, reason='retry requested', "
            "updated_at=? WHERE id=? AND state IN (?, ?, ?)",
            (QUEUED, self._clock(), entry_id, FAILED, WAITING, DROPPED),
        )
        return changed == 1

    def drop(self, entry_id: int) -> bool:
        """A queued, waiting or failed entry will not be sent; False for any other."""
        changed = self._update(
            "UPDATE outbox SET state=?, reason='dropped by the user', updated_at=? "
            "WHERE id=? AND state IN (?, ?, ?)",
            (DROPPED, self._clock(), entry_id, QUEUED, WAITING, FAILED),
        )
        return changed == 1

    def mark_deleted(self, post_id: str) -> None:
        """The post with this X id was deleted from X ("delete that")."""
        self._update(
            "UPDATE outbox SET state=?, reason='deleted from X', updated_at=? "
            "WHERE post_id=? AND state=?",
            (DELETED, self._clock(), post_id, POSTED),
        )

    def mark_posted(self, entry_id: int, post_id: str, reason: str = "") -> None:
        self._write(
            "UPDATE outbox SET state=?, post_id=?, reason=?, updated_at=? WHERE id=?",
            (POSTED, post_id, reason, self._clock(), entry_id),
        )

    def mark_waiting(self, entry_id: int, until: float, reason: str) -> None:
        self._write(
            "UPDATE outbox SET state=?, next_attempt_at=?, reason=?, updated_at=? WHERE id=?",
            (WAITING, until, reason, self._clock(), entry_id),
        )

    def mark_failed(self, entry_id: int, reason: str) -> None:
        self._write(
            "UPDATE outbox SET state=?, reason=?, updated_at=? WHERE id=?",
            (FAILED, reason, self._clock(), entry_id),
        )

    def entries(self, limit: int = 50) -> list[Entry]:
        """Newest first."""
        return self._select("ORDER BY id DESC LIMIT ?", (limit,))

    def counts(self) -> dict[str, int]:
        """How many entries are in each state, over the whole outbox."""
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        return {state: count for state, count in rows}

    def get(self, entry_id: int) -> Entry | None:
        rows = self._select("WHERE id=?", (entry_id,))
        return rows[0] if rows else None

    def _select(self, where: str, args: tuple) -> list[Entry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, text, confirmed_by, state, created_at, updated_at, attempts, "
                f"next_attempt_at, post_id, reason FROM outbox {where}",
                args,
            ).fetchall()
        return [Entry(*row) for row in rows]
