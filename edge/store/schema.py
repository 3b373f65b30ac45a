"""Outbox database layout and its migrations (sqlite-utils; each migration in one transaction)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import sqlite_utils

logger = logging.getLogger(__name__)


def _v1(db: sqlite_utils.Database) -> None:
    db["outbox"].create(
        {
            "seq": int,
            "key": str,
            "kind": str,
            "topic_suffix": str,
            "durable_class": str,
            "payload_json": str,
            "checksum": str,
            "created_at": float,
            "attempts": int,
            "state": str,
            "delivered_at": float,
            "error": str,
        },
        pk="seq",
        not_null={"key", "kind", "topic_suffix", "durable_class", "payload_json", "checksum", "created_at", "attempts", "state"},
        defaults={"attempts": 0, "state": "pending"},
    )
    db["outbox"].create_index(["key"], unique=True)
    db["outbox"].create_index(["state", "seq"])
    db["outbox"].create_index(["durable_class", "state", "seq"])
    db["meta"].create({"name": str, "value": str}, pk="name")
    db["counters"].create({"name": str, "value": int}, pk="name")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the file to the newest layout; returns the version. Safe to run from several processes."""
    db = sqlite_utils.Database(conn)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    while version < len(MIGRATIONS):
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may have won the race
            if version < len(MIGRATIONS):
                MIGRATIONS[version](db)
                version += 1
                conn.execute(f"PRAGMA user_version = {version}")
                logger.info("outbox: migrated database to layout version %d", version)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return version
