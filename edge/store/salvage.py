"""Checking and salvaging a damaged outbox file (``edge outbox check`` / ``edge outbox salvage``).

Salvage copies every row SQLite can still read into a fresh file, keeps the damaged one beside
it (``outbox.sqlite.damaged-<unix time>``) and puts the fresh file in its place. Rows are read
in small ranges of ``seq``; a range that fails is retried row by row, so one bad page costs
only the rows on it.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from edge.store.rows import COLUMNS

logger = logging.getLogger(__name__)


def integrity(path: Path) -> tuple[bool, str]:
    """``(ok, detail)`` from ``PRAGMA integrity_check``; a file SQLite cannot even read is not ok."""
    try:
        conn = sqlite3.connect(str(path))
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check(20)").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return False, str(exc)
    return rows == ["ok"], "; ".join(rows)[:300]


@dataclass
class SalvageReport:
    damaged_kept_as: str
    rows_copied: int
    rows_lost: int
    pending: int


def _read_rows(conn: sqlite3.Connection, first: int, last: int) -> tuple[list[tuple], int]:
    try:
        return conn.execute(f"SELECT {COLUMNS}, delivered_at FROM outbox WHERE seq BETWEEN ? AND ? ORDER BY seq", (first, last)).fetchall(), 0
    except sqlite3.DatabaseError:
        pass
    rows, lost = [], 0
    for seq in range(first, last + 1):
        try:
            row = conn.execute(f"SELECT {COLUMNS}, delivered_at FROM outbox WHERE seq = ?", (seq,)).fetchone()
        except sqlite3.DatabaseError:
            lost += 1
            continue
        if row is not None:
            rows.append(row)
    return rows, lost


def _max_seq(conn: sqlite3.Connection) -> int:
    best = 0
    for sql in ("SELECT MAX(seq) FROM outbox", "SELECT MAX(value) FROM counters"):
        try:
            best = max(best, int(conn.execute(sql).fetchone()[0] or 0))
        except (sqlite3.DatabaseError, TypeError, ValueError):
            continue
    return best


def salvage(path: Path, device_id: str) -> SalvageReport:
    """Copy every readable row of ``path`` into a fresh outbox and swap it in; the damaged file is kept."""
    from edge.store.outbox import Outbox

    path = Path(path)
    fresh_path = path.with_name(path.name + ".salvage")
    for p in (fresh_path, Path(f"{fresh_path}-wal"), Path(f"{fresh_path}-shm")):
        p.unlink(missing_ok=True)
    old = sqlite3.connect(str(path))
    copied = lost = 0
    counters: dict[str, int] = {}
    try:
        top = _max_seq(old)
        try:
            counters = {str(k): int(v) for k, v in old.execute("SELECT name, value FROM counters").fetchall()}
        except sqlite3.DatabaseError:
            logger.warning("salvage: the counters table is unreadable; sequence counters continue from the highest row")
        with Outbox(fresh_path, device_id, min_free_mb=0) as fresh:
            db = fresh._db
            db.execute("BEGIN IMMEDIATE")
            for first in range(1, top + 1, 200):
                rows, bad = _read_rows(old, first, min(top, first + 199))
                lost += bad
                for r in rows:
                    db.execute("INSERT OR IGNORE INTO outbox(seq, key, kind, topic_suffix, durable_class, payload_json, checksum,"
                               " created_at, attempts, state, error, delivered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", r)
                    copied += 1
            highest = max([top, *counters.values()]) if counters else top
            for name in ("row", "seq", "telemetry_seq"):
                db.execute("INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = MAX(value, ?)",
                           (name, counters.get(name, highest), counters.get(name, highest)))
            db.execute("INSERT INTO counters(name, value) VALUES ('delivered', ?) ON CONFLICT(name) DO UPDATE SET value = ?",
                       (counters.get("delivered", 0), counters.get("delivered", 0)))
            db.execute("COMMIT")
            pending = fresh.stats().pending
    finally:
        old.close()
    kept = path.with_name(f"{path.name}.damaged-{int(time.time())}")
    shutil.move(str(path), str(kept))
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            shutil.move(str(side), f"{kept}{suffix}")
    shutil.move(str(fresh_path), str(path))
    for suffix in ("-wal", "-shm"):
        Path(f"{fresh_path}{suffix}").unlink(missing_ok=True)
    logger.info("salvage: %d rows copied, %d unreadable; damaged file kept as %s", copied, lost, kept)
    return SalvageReport(str(kept), copied, lost, pending)
