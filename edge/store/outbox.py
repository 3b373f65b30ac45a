"""The SQLite outbox: every record is durable here before the terminal shows a result.

Layout and migrations live in :mod:`edge.store.schema`. One :class:`Outbox` object holds one
connection, guarded by a lock, so one object may be shared by the threads of a process (the
claim workers); the publisher thread and other processes open their own (WAL lets the capture
path append while the publisher drains).

Sequence numbers: every row has an internal ``seq`` (the publishing order). The envelope
carries a per-stream sequence: records (``durable_class="record"``) are numbered 1, 2, 3, …
with no gaps, allocated in the transaction that stores them; telemetry (health) has its own
stream, so a consumer can prove "no record missing" from record sequence numbers alone.

Durability: WAL + ``synchronous=FULL`` (default) fsyncs the WAL on every commit, so a record
whose ``append`` returned survives power loss at any instant; see docs/MQTT.md "Durability".
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from edge.errors import EdgeError, StorageFullError
from edge.messages import Envelope, new_key
from edge.store.rows import (
    COLUMNS,
    OutboxItem,
    OutboxStats,
    StoreError,
    checksum,
    chunks,
    payload_dict,
    row_item,
    row_problem,
    topic_suffix_for,
)
from edge.store.schema import migrate
from edge.store.sqlite import open_sqlite

__all__ = ["Outbox", "OutboxItem", "OutboxStats", "StoreError", "checksum", "topic_suffix_for"]

logger = logging.getLogger(__name__)

DurableClass = Literal["record", "telemetry"]
LATEST_ONLY_SUFFIXES = frozenset({"health"})  # retained topics: an unsent older value is superseded by a newer one
_KIND_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(self: "Outbox", *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = method.__name__, method.__doc__
    return wrapper


class Outbox:
    """Durable, ordered, de-duplicated queue of records waiting for the broker's PUBACK."""

    def __init__(
        self,
        path: Path,
        device_id: str,
        *,
        synchronous: str = "FULL",
        min_free_mb: int = 64,
        telemetry_max_rows: int = 10000,
        row_verifier: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.row_verifier = row_verifier  # (payload_json, durable_class) -> problem; a problem quarantines the row
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise StoreError(f"outbox: synchronous must be FULL, NORMAL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        self.device_id = device_id
        self.synchronous = synchronous.upper()
        self.min_free_mb = min_free_mb
        self.telemetry_max_rows = telemetry_max_rows
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._open()

    # -- lifecycle -------------------------------------------------------
    def _open(self) -> None:
        conn = open_sqlite(self.path, "outbox", synchronous=self.synchronous, busy_timeout_s=30.0, error=StoreError)
        try:
            migrate(conn)
            self._conn = conn
            self._check_device()
        except sqlite3.DatabaseError as exc:
            conn.close()
            self._conn = None
            raise StoreError(f"outbox {self.path} is not a usable SQLite database: {exc}") from None
        except BaseException:
            conn.close()
            self._conn = None
            raise

    def _check_device(self) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute("SELECT value FROM meta WHERE name = 'device_id'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta(name, value) VALUES ('device_id', ?)", (self.device_id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if row is not None and row[0] != self.device_id:
            raise StoreError(f"outbox {self.path} belongs to device {row[0]!r}, not {self.device_id!r}; use that device's configuration or another file")

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"outbox {self.path} is closed")
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------
    def free_mb(self) -> float:
        return shutil.disk_usage(self.path.parent).free / (1024 * 1024)

    def append(
        self,
        kind: str,
        payload: BaseModel | dict | Callable[[int], BaseModel | dict],
        *,
        durable_class: DurableClass = "record",
        idempotency_key: str | None = None,
        time_source: str = "unsynchronised",
        topic_suffix: str | None = None,
    ) -> OutboxItem:
        """Store one record durably and return it (with its sequence number).

        ``payload`` may be a function of the stream sequence number: it is called inside the
        transaction that stores the row, so a signed record can carry its own number and a
        crash never leaves a gap. Appending a key that is already stored returns the stored
        item unchanged. Records are refused with :class:`StorageFullError` when free space is
        below ``min_free_mb`` (or SQLite finds the disk full); telemetry is kept instead by
        evicting the oldest telemetry.
        """
        with self._lock:
            return self._append(kind, payload, durable_class, idempotency_key, time_source, topic_suffix)

    def _append(self, kind: str, payload: Any, durable_class: str, idempotency_key: str | None, time_source: str,
                topic_suffix: str | None) -> OutboxItem:
        if not kind or set(kind) - _KIND_CHARS or not kind[0].isalpha() or len(kind) > 32:
            raise EdgeError(f"outbox: invalid kind {kind!r} (lower-case letters, digits, '_'; starts with a letter)")
        if durable_class not in ("record", "telemetry"):
            raise EdgeError(f"outbox: durable_class must be 'record' or 'telemetry', not {durable_class!r}")
        build = payload if callable(payload) and not isinstance(payload, (BaseModel, dict)) else None
        body, payload_schema = payload_dict(payload) if build is None else ({}, None)
        if build is not None and not idempotency_key:
            raise EdgeError("outbox: a payload built from its sequence number needs an idempotency key")
        key = idempotency_key or new_key()
        suffix = topic_suffix or topic_suffix_for(kind)
        low_space = self.free_mb() < self.min_free_mb
        if low_space and durable_class == "record":
            self._refuse_full()
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            self._raise_write_error(exc, durable_class)
        try:
            existing = db.execute(f"SELECT {COLUMNS} FROM outbox WHERE key = ?", (key,)).fetchone()
            if existing is not None:
                db.execute("COMMIT")
                return row_item(existing)
            if durable_class == "telemetry":
                if suffix in LATEST_ONLY_SUFFIXES:
                    self._supersede(db, kind)
                self._evict_telemetry(db, keep=self.telemetry_max_rows - 1 if not low_space else (self.telemetry_max_rows * 9) // 10)
            row_seq = self._next(db, "row")
            seq = self._next(db, "seq" if durable_class == "record" else "telemetry_seq")
            if build is not None:
                body, payload_schema = payload_dict(build(seq))
            created = time.time()
            envelope = Envelope(
                idempotency_key=key,
                device_id=self.device_id,
                seq=seq,
                stream=durable_class,
                created_at=datetime.fromtimestamp(created, timezone.utc),
                time_source=time_source,  # type: ignore[arg-type]
                kind=kind,
                payload_schema=payload_schema,
                payload=body,
            )
            payload_json = envelope.model_dump_json()
            db.execute(
                "INSERT INTO outbox(seq, key, kind, topic_suffix, durable_class, payload_json, checksum, created_at, attempts, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'pending')",
                (row_seq, key, kind, suffix, durable_class, payload_json, checksum(payload_json), created),
            )
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._raise_write_error(exc, durable_class)
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return OutboxItem(key, row_seq, kind, suffix, payload_json, created, 0, "pending", durable_class, stream_seq=seq)

    @staticmethod
    def _next(db: sqlite3.Connection, name: str) -> int:
        """Increment and return counter ``name``; a new ``row`` counter continues from the old shared ``seq``."""
        if name == "row" and db.execute("SELECT 1 FROM counters WHERE name = 'row'").fetchone() is None:
            start = db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0] or 0
            legacy = db.execute("SELECT value FROM counters WHERE name = 'seq'").fetchone()
            db.execute("INSERT INTO counters(name, value) VALUES ('row', ?)", (max(start, legacy[0] if legacy else 0),))
        db.execute("INSERT INTO counters(name, value) VALUES (?, 1) ON CONFLICT(name) DO UPDATE SET value = value + 1", (name,))
        return int(db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

    def _refuse_full(self) -> None:
        free = self.free_mb()
        pending = self._db.execute("SELECT COUNT(*) FROM outbox WHERE state = 'pending'").fetchone()[0]
        logger.error("outbox: refusing a new record: %.0f MB free on %s, below the %d MB reserve", free, self.path.parent, self.min_free_mb)
        raise StorageFullError(
            f"storage almost full ({free:.0f} MB free on {self.path.parent}, {self.min_free_mb} MB needed): "
            "no new decisions can be recorded until space is freed or the card is replaced; "
            f"all {pending} records already accepted are safe and still queued / "
            "Penyimpanan hampir penuh: keputusan baru tidak dapat dicatat; data yang sudah tercatat aman."
        )

    def _raise_write_error(self, exc: sqlite3.OperationalError, durable_class: str) -> None:
        text = str(exc)
        try:
            no_space = self.free_mb() < 1
        except OSError:
            no_space = False
        if "full" in text.lower() or no_space:
            logger.error("outbox: the disk is full (%s)", text)
            raise StorageFullError(
                f"storage full: SQLite could not write {self.path} ({text}); no new decisions can be recorded; "
                "records already accepted are safe / Penyimpanan penuh: keputusan baru tidak dapat dicatat."
            ) from None
        raise StoreError(f"outbox {self.path}: cannot write a {durable_class}: {text}") from None

    def _supersede(self, db: sqlite3.Connection, kind: str) -> None:
        """A retained topic (``health``) only needs its newest value: drop older unsent telemetry of this kind."""
        gone = db.execute("DELETE FROM outbox WHERE kind = ? AND durable_class = 'telemetry' AND state = 'pending'", (kind,)).rowcount
        if gone:
            db.execute("INSERT INTO counters(name, value) VALUES ('telemetry_evicted', ?) ON CONFLICT(name) DO UPDATE SET value = value + ?", (gone, gone))

    def _evict_telemetry(self, db: sqlite3.Connection, keep: int) -> None:
        count = db.execute("SELECT COUNT(*) FROM outbox WHERE durable_class = 'telemetry'").fetchone()[0]
        excess = count - max(keep, 0)
        if excess <= 0:
            return
        db.execute(
            "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox WHERE durable_class = 'telemetry' ORDER BY seq LIMIT ?)",
            (excess,),
        )
        db.execute("INSERT INTO counters(name, value) VALUES ('telemetry_evicted', ?) ON CONFLICT(name) DO UPDATE SET value = value + ?", (excess, excess))
        logger.warning("outbox: evicted the %d oldest telemetry rows to stay within the telemetry limit", excess)

    # -- draining --------------------------------------------------------
    def pending(self, limit: int, after_seq: int = 0) -> list[OutboxItem]:
        """Up to ``limit`` pending items with ``seq > after_seq``, oldest first; corrupt rows are quarantined and skipped."""
        with self._lock:
            return self._pending(limit, after_seq)

    def _pending(self, limit: int, after_seq: int) -> list[OutboxItem]:
        out: list[OutboxItem] = []
        cursor = after_seq
        while len(out) < limit:
            rows = self._db.execute(
                f"SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
                (cursor, limit - len(out)),
            ).fetchall()
            if not rows:
                break
            for row in rows:
                cursor = row[0]
                problem = row_problem(row) or (self.row_verifier(row[5], row[4]) if self.row_verifier else None)
                if problem:
                    self._quarantine(row[0], row[1], problem)
                else:
                    out.append(row_item(row))
        return out

    def _quarantine(self, seq: int, key: Any, problem: str) -> None:
        logger.error("outbox: record seq %d (key %s) is corrupt (%s); moved to quarantine, the queue continues; "
                     "see edge outbox list --quarantined", seq, key, problem)
        self._db.execute("UPDATE outbox SET state = 'quarantined', error = ? WHERE seq = ?", (problem, seq))

    def quarantine(self, seq: int, problem: str) -> None:
        """Move a row out of the queue (e.g. its signature failed a check before publishing); it stays for inspection."""
        with self._lock:
            row = self._db.execute("SELECT key FROM outbox WHERE seq = ?", (seq,)).fetchone()
            if row is not None:
                self._quarantine(seq, row[0], problem)

    @_locked
    def mark_delivered(self, keys: Iterable[str]) -> int:
        """Mark items the broker acknowledged; delivered telemetry is deleted, records kept. Returns rows changed."""
        keys = list(keys)
        changed = 0
        if not keys:
            return 0
        db = self._db
        now = time.time()
        db.execute("BEGIN IMMEDIATE")
        try:
            for chunk in chunks(keys, 500):
                marks = ",".join("?" * len(chunk))
                changed += db.execute(
                    f"UPDATE outbox SET state = 'delivered', delivered_at = ? WHERE state = 'pending' AND key IN ({marks})",
                    (now, *chunk),
                ).rowcount
                db.execute(f"DELETE FROM outbox WHERE durable_class = 'telemetry' AND state = 'delivered' AND key IN ({marks})", chunk)
            db.execute("INSERT INTO counters(name, value) VALUES ('delivered', ?) ON CONFLICT(name) DO UPDATE SET value = value + ?", (changed, changed))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    @_locked
    def record_attempt(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if not keys:
            return
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for chunk in chunks(keys, 500):
                db.execute(f"UPDATE outbox SET attempts = attempts + 1 WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- inspection ------------------------------------------------------
    @_locked
    def stats(self) -> OutboxStats:
        db = self._db
        counts = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        counters = dict(db.execute("SELECT name, value FROM counters").fetchall())
        oldest = db.execute("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'").fetchone()[0]
        db_bytes = sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())
        return OutboxStats(
            pending=int(counts.get("pending", 0)),
            oldest_pending_age_s=None if oldest is None else max(0.0, time.time() - oldest),
            delivered=int(counters.get("delivered", 0)),
            quarantined=int(counts.get("quarantined", 0)),
            last_seq=int(counters.get("seq", 0)),
            db_bytes=db_bytes,
            telemetry_evicted=int(counters.get("telemetry_evicted", 0)),
        )

    @_locked
    def items(self, state: str | None = None, limit: int = 100, *, key: str | None = None, since: float | None = None) -> list[OutboxItem]:
        """Rows for inspection (``edge outbox list``), oldest first, filtered by state, key and creation time."""
        where, args = [], []
        for clause, value in (("state = ?", state), ("key = ?", key), ("created_at >= ?", since)):
            if value is not None:
                where.append(clause)
                args.append(value)
        sql = f"SELECT {COLUMNS}, delivered_at FROM outbox {'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY seq LIMIT ?"
        return [row_item(r) for r in self._db.execute(sql, (*args, limit)).fetchall()]

    @_locked
    def get(self, key: str) -> OutboxItem | None:
        """The row stored under idempotency key ``key`` (any state), or None."""
        row = self._db.execute(f"SELECT {COLUMNS}, delivered_at FROM outbox WHERE key = ?", (key,)).fetchone()
        return row_item(row) if row else None

    @_locked
    def integrity_ok(self) -> bool:
        rows = self._db.execute("PRAGMA integrity_check").fetchall()
        return [r[0] for r in rows] == ["ok"]
