"""The disbursement ledger (a real SQLite file): one disbursement per recipient per period.

Holds this terminal's own decisions (so overrides can reference them), its disbursements, and
the disbursements the central side reports from other terminals (``cmd/ledger``). When the
central side reports another terminal paid a recipient this terminal also paid, the pair is a
conflict, reported exactly once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.claim.flow.decide import PriorClaim
from edge.errors import EdgeError, StorageFullError
from edge.store.sqlite import open_sqlite

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    idempotency_key TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    schema TEXT NOT NULL,
    outcome TEXT,
    recipient_id TEXT,
    period TEXT,
    decided_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_recipient ON decisions(recipient_id, period);
CREATE TABLE IF NOT EXISTS disbursements (
    idempotency_key TEXT PRIMARY KEY,
    recipient_id TEXT NOT NULL,
    period TEXT NOT NULL,
    device_id TEXT NOT NULL,
    distribution_point TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('local', 'central')),
    voided_by TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS one_local_per_period
    ON disbursements(recipient_id, period) WHERE source = 'local' AND voided_by IS NULL;
CREATE TABLE IF NOT EXISTS conflicts (
    local_key TEXT NOT NULL,
    other_key TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    period TEXT NOT NULL,
    PRIMARY KEY (local_key, other_key)
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS evidence (idempotency_key TEXT PRIMARY KEY, blob BLOB NOT NULL);
"""


def storage_error(path: Path, exc: sqlite3.Error) -> EdgeError:
    """The one storage message for a ledger write SQLite refused (disk full), else a plain error naming the file."""
    text = str(exc)
    if "full" in text.lower():
        logger.error("ledger: the disk is full (%s)", text)
        return StorageFullError(
            f"storage full: SQLite could not write {path} ({text}); no new decisions can be recorded; "
            "records already accepted are safe / Penyimpanan penuh: keputusan baru tidak dapat dicatat.")
    return EdgeError(f"ledger {path}: cannot write: {text}")


class AlreadyPaidError(EdgeError):
    """This terminal already paid the recipient in this period."""


class LedgerBehind(Exception):
    """The outbox holds ``record`` but the ledger could not commit it; the caller must :meth:`Ledger.catch_up` later."""

    def __init__(self, record: dict[str, Any], disburse: bool) -> None:
        super().__init__(record.get("idempotency_key"))
        self.record, self.disburse = record, disburse


@dataclass(frozen=True)
class Disbursement:
    idempotency_key: str
    recipient_id: str
    period: str
    device_id: str
    distribution_point: str
    decided_at: str
    source: str = "central"


@dataclass(frozen=True)
class Conflict:
    recipient_id: str
    period: str
    local: Disbursement
    other: Disbursement


class Ledger:
    """One SQLite file; use as a context manager. One instance per thread."""

    def __init__(self, path: Path | str, device_id: str, distribution_point: str) -> None:
        self.path = Path(path)
        self.device_id = device_id
        self.distribution_point = distribution_point
        self._db = open_sqlite(self.path, "ledger", synchronous="FULL", row_factory=sqlite3.Row)
        try:
            self._db.executescript(SCHEMA)
        except sqlite3.OperationalError as exc:
            self._db.close()
            raise storage_error(self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise EdgeError(f"ledger {self.path} is not a usable SQLite database ({exc}); the file is kept for inspection, see docs/PI.md") from None

    def __enter__(self) -> "Ledger":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def prior_claim(self, recipient_id: str, period: str) -> PriorClaim | None:
        """The earliest valid disbursement to ``recipient_id`` in ``period`` known here (local or central)."""
        row = self._db.execute(
            "SELECT decided_at, distribution_point, device_id, source, idempotency_key FROM disbursements"
            " WHERE recipient_id = ? AND period = ? AND voided_by IS NULL ORDER BY source = 'central', decided_at LIMIT 1",
            (recipient_id, period),
        ).fetchone()
        return PriorClaim(row["decided_at"], row["distribution_point"], row["device_id"], row["source"], row["idempotency_key"]) if row else None

    def counter(self, name: str) -> int:
        """A named durable counter (0 when never set), e.g. the last ``cmd/ledger`` sequence applied."""
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def voided_local(self, recipient_id: str, period: str) -> list[str]:
        """Keys of this terminal's payouts to ``recipient_id`` in ``period`` that an override voided."""
        rows = self._db.execute("SELECT idempotency_key FROM disbursements WHERE recipient_id = ? AND period = ? AND source = 'local'"
                                " AND voided_by IS NOT NULL ORDER BY decided_at", (recipient_id, period))
        return [r[0] for r in rows]

    def claim_blocker(self, recipient_id: str, period: str) -> PriorClaim | None:
        """What stops a normal claim from paying: a payout in force, else a voided one this period
        (paying again after a void takes two officers: ``edge.claim.flow.officer_actions``)."""
        prior = self.prior_claim(recipient_id, period)
        if prior is not None:
            return prior
        row = self._db.execute(
            "SELECT decided_at, distribution_point, device_id FROM disbursements WHERE recipient_id = ? AND period = ?"
            " AND source = 'local' AND voided_by IS NOT NULL ORDER BY decided_at DESC LIMIT 1", (recipient_id, period)).fetchone()
        return PriorClaim(row["decided_at"], row["distribution_point"], row["device_id"]) if row else None

    def latest_time(self, boot_id: str) -> datetime | None:
        """The newest decision time recorded under ``boot_id`` (so a restarted service never goes back before it)."""
        row = self._db.execute(
            "SELECT record FROM decisions WHERE json_extract(record, '$.time.boot_id') = ? ORDER BY seq DESC LIMIT 1",
            (boot_id,),
        ).fetchone()
        if row is None:
            return None
        return datetime.fromisoformat(json.loads(row[0])["time"]["wall"].replace("Z", "+00:00"))

    def save_record(self, record: dict[str, Any], disburse: bool) -> None:
        """Store a signed record; with ``disburse`` also the disbursement it grants (atomically).

        Raises :class:`AlreadyPaidError` if this terminal already paid the recipient this period.
        """
        self.record_with(record, disburse, lambda: record)

    def record_with(self, draft: dict[str, Any], disburse: bool, make_durable: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Check and hold the disbursement, call ``make_durable()`` (the outbox append, which returns the
        signed record), then store that record, all inside one ledger transaction.

        A refusal (already paid here, disk full) happens *before* anything reaches the outbox, so a
        refused payout is never published. If the ledger cannot commit after the outbox did, the
        record is durable and published anyway: the error is logged and :meth:`catch_up` enters it later.
        """
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise storage_error(self.path, exc) from None
        try:
            if disburse:
                self._disburse(draft)
            record = make_durable()
            self._insert_decision(record)
        except sqlite3.OperationalError as exc:
            db.execute("ROLLBACK")
            raise storage_error(self.path, exc) from None
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            logger.error("ledger: record %s is in the outbox but the ledger could not store it (%s); it is entered on the next claim",
                         record.get("idempotency_key"), exc)
            raise LedgerBehind(record, disburse) from None
        return record

    def _disburse(self, record: dict[str, Any]) -> None:
        try:
            self._db.execute(
                "INSERT INTO disbursements VALUES (?, ?, ?, ?, ?, ?, 'local', NULL)",
                (record["idempotency_key"], record["recipient_id"], record["period"], self.device_id, self.distribution_point,
                 record["time"]["wall"]),
            )
        except sqlite3.IntegrityError:
            raise AlreadyPaidError(f"recipient {record['recipient_id']} was already paid here in {record['period']}") from None

    def _insert_decision(self, record: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record["idempotency_key"], record["seq"], record["schema"], record.get("outcome") or record.get("new_outcome"),
             record.get("recipient_id"), record.get("period"), record["time"]["wall"], json.dumps(record, sort_keys=True)),
        )

    def catch_up(self, record: dict[str, Any], disburse: bool) -> None:
        """Enter a record the outbox already holds (after a failed commit or a crash between the two files)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if disburse and self._db.execute("SELECT 1 FROM disbursements WHERE idempotency_key = ?", (record["idempotency_key"],)).fetchone() is None:
                try:
                    self._disburse(record)
                except AlreadyPaidError:
                    logger.error("ledger: record %s pays %s, who was already paid here in %s: both records are published; "
                                 "the central side reports the conflict", record["idempotency_key"], record["recipient_id"], record["period"])
            self._insert_decision(record)

    def forget_conflict(self, local_key: str, other_key: str) -> None:
        """Un-mark a conflict whose record could not be queued, so the next central update reports it again."""
        self._db.execute("DELETE FROM conflicts WHERE local_key = ? AND other_key = ?", (local_key, other_key))

    def active_local(self, keys: list[str]) -> list[str]:
        """Which of ``keys`` are this terminal's disbursements that are still in force (not voided)."""
        marks = ",".join("?" * len(keys))
        rows = self._db.execute(
            f"SELECT idempotency_key FROM disbursements WHERE source = 'local' AND voided_by IS NULL AND idempotency_key IN ({marks})", keys)
        return [r[0] for r in rows]

    def void(self, original_key: str, by_key: str) -> None:
        """Mark this terminal's disbursement ``original_key`` as reversed by record ``by_key`` (the row stays)."""
        self._db.execute("UPDATE disbursements SET voided_by = ? WHERE idempotency_key = ? AND source = 'local'", (by_key, original_key))

    def save_evidence(self, key: str, sealed: bytes) -> None:
        """Keep an encrypted audit thumbnail for record ``key`` (never published)."""
        self._db.execute("INSERT OR REPLACE INTO evidence VALUES (?, ?)", (key, sealed))

    def evidence(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT blob FROM evidence WHERE idempotency_key = ?", (key,)).fetchone()
        return row["blob"] if row else None

    def evidence_list(self, since: str | None = None) -> list[dict[str, Any]]:
        """Records with a kept thumbnail, oldest first: key, decided_at, outcome, recipient_id, size in bytes."""
        rows = self._db.execute(
            "SELECT e.idempotency_key, d.decided_at, d.outcome, d.recipient_id, length(e.blob) AS size FROM evidence e "
            "LEFT JOIN decisions d ON d.idempotency_key = e.idempotency_key "
            "WHERE ? IS NULL OR d.decided_at >= ? ORDER BY d.decided_at, e.idempotency_key", (since, since))
        return [dict(r) for r in rows]

    def record(self, key: str) -> dict[str, Any] | None:
        row = self._db.execute("SELECT record FROM decisions WHERE idempotency_key = ?", (key,)).fetchone()
        return json.loads(row["record"]) if row else None

    def overrides_of(self, key: str) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT record FROM decisions WHERE schema = 'tepat.override' ORDER BY seq").fetchall()
        return [r for r in (json.loads(x["record"]) for x in rows) if r.get("original_key") == key]

    def recent_records(self, limit: int = 2000) -> list[dict[str, Any]]:
        """This terminal's newest decision and override records, newest first (the counter's day view)."""
        rows = self._db.execute("SELECT record FROM decisions ORDER BY seq DESC LIMIT ?", (int(limit),)).fetchall()
        return [json.loads(r["record"]) for r in rows]

    def history(self, recipient_id: str) -> dict[str, Any]:
        """What the ledger knows about a recipient: disbursements (all sources) and this terminal's decisions."""
        disb = self._db.execute(
            "SELECT * FROM disbursements WHERE recipient_id = ? ORDER BY decided_at", (recipient_id,)).fetchall()
        dec = self._db.execute(
            "SELECT idempotency_key, seq, schema, outcome, period, decided_at FROM decisions WHERE recipient_id = ? ORDER BY seq",
            (recipient_id,)).fetchall()
        return {"recipient_id": recipient_id, "disbursements": [dict(r) for r in disb], "decisions": [dict(r) for r in dec]}

    def apply_central(self, entries: list[Disbursement], counter: tuple[str, int] | None = None) -> list[Conflict]:
        """Merge disbursements reported by the central side; returns new conflicts (each reported once).
        ``counter`` ``(name, value)`` is set in the same transaction (the ledger sequence applied)."""
        conflicts: list[Conflict] = []
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            if counter is not None:
                self._db.execute("INSERT INTO counters(name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value", counter)
            for e in entries:
                mine = self._db.execute("SELECT 1 FROM disbursements WHERE idempotency_key = ? AND source = 'local'", (e.idempotency_key,)).fetchone()
                if mine:
                    continue  # the central side echoing our own disbursement
                self._db.execute(
                    "INSERT OR IGNORE INTO disbursements VALUES (?, ?, ?, ?, ?, ?, 'central', NULL)",
                    (e.idempotency_key, e.recipient_id, e.period, e.device_id, e.distribution_point, e.decided_at),
                )
                local = self._db.execute(
                    "SELECT * FROM disbursements WHERE recipient_id = ? AND period = ? AND source = 'local' AND voided_by IS NULL",
                    (e.recipient_id, e.period),
                ).fetchone()
                if local is None:
                    continue
                new = self._db.execute(
                    "INSERT OR IGNORE INTO conflicts VALUES (?, ?, ?, ?)", (local["idempotency_key"], e.idempotency_key, e.recipient_id, e.period)
                ).rowcount
                if new:
                    conflicts.append(Conflict(e.recipient_id, e.period, Disbursement(**{k: local[k] for k in (
                        "idempotency_key", "recipient_id", "period", "device_id", "distribution_point", "decided_at", "source")}), e))
        for c in conflicts:
            logger.warning("Double payment: %s was paid here (%s) and at %s/%s (%s) in %s",
                           c.recipient_id, c.local.decided_at, c.other.distribution_point, c.other.device_id, c.other.decided_at, c.period)
        return conflicts
