"""The central database: SQLite (embedded default) or PostgreSQL (psycopg 3, the ``[central]`` extra), one API.

SQL is written once with ``?`` placeholders; for PostgreSQL they become ``%s``. One :class:`Database`
per thread. ``transaction()`` commits on exit or rolls back; any connection problem surfaces as
:class:`DatabaseUnavailable` so callers can stop acknowledging and retry.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.central.schema import MIGRATIONS, statements
from edge.errors import ConfigError, EdgeError
from edge.store.sqlite import open_sqlite

logger = logging.getLogger(__name__)


class DatabaseUnavailable(EdgeError):
    """The database cannot be reached or refused the work for a reason other than the data (retry later)."""


class DuplicateRow(EdgeError):
    """A uniqueness rule refused a row (the data, not the database, is the reason)."""


class Contention(DuplicateRow):
    """Two transactions collided (deadlock, serialization failure); running it again is the remedy."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def describe(url: str) -> str:
    """The URL without a password, for logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


class Database:
    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        self.url = url
        if url.startswith(("postgresql://", "postgres://")):
            self.dialect = "postgresql"
        elif url.startswith("sqlite:///") or "://" not in url:
            self.dialect = "sqlite"
            self.path = Path(url[len("sqlite:///"):] if url.startswith("sqlite:///") else url)
        else:
            raise ConfigError(f"database URL {describe(url)!r}: use postgresql://… or sqlite:///path (or a file path)")
        self.connect_timeout_s = connect_timeout_s
        self._conn: Any = None

    # --- connection ------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.dialect == "sqlite":
            return open_sqlite(self.path, "central database", synchronous="FULL", busy_timeout_s=30.0, mode=0o640,
                               row_factory=sqlite3.Row, error=DatabaseUnavailable)  # ingest retries an open that fails
        try:
            import psycopg
            from psycopg.rows import dict_row
        except ImportError:
            raise ConfigError("PostgreSQL needs psycopg 3: pip install 'tepat-edge[central]'") from None
        try:
            return psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=int(max(1, self.connect_timeout_s)))
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot connect to {describe(self.url)}: {str(exc).strip().splitlines()[0]}") from None

    @property
    def conn(self) -> Any:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def reset(self) -> None:
        """Drop the connection (after an error); the next use reconnects."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    close = reset

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- statements ------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def _wrap(self, exc: Exception) -> Exception:
        if isinstance(exc, sqlite3.IntegrityError):
            return DuplicateRow(str(exc))
        if self.dialect == "postgresql":
            import psycopg

            if isinstance(exc, psycopg.errors.UniqueViolation):
                return DuplicateRow(str(exc).splitlines()[0])
            if isinstance(exc, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)):
                return Contention(str(exc).splitlines()[0])
            if isinstance(exc, psycopg.errors.IntegrityError):
                return EdgeError(f"database refused the data: {str(exc).splitlines()[0]}")
            if isinstance(exc, psycopg.Error):
                self.reset()
                return DatabaseUnavailable(f"{describe(self.url)}: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}")
        if isinstance(exc, sqlite3.OperationalError):
            return DatabaseUnavailable(f"{self.path}: {exc}")
        return exc

    def execute(self, sql: str, params: tuple | list = ()) -> int:
        """Run one statement; returns the affected row count."""
        try:
            cur = self.conn.execute(self._sql(sql), tuple(params))
            return int(cur.rowcount or 0)
        except Exception as exc:
            raise self._wrap(exc) from None

    def query(self, sql: str, params: tuple | list = ()) -> list[dict[str, Any]]:
        try:
            rows = self.conn.execute(self._sql(sql), tuple(params)).fetchall()
        except Exception as exc:
            raise self._wrap(exc) from None
        return [dict(r) for r in rows]

    def one(self, sql: str, params: tuple | list = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator["Database"]:
        """BEGIN … COMMIT (ROLLBACK on any error). Statements inside use :meth:`execute`/:meth:`query`."""
        try:
            self.conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
        except Exception as exc:
            raise self._wrap(exc) from None
        try:
            yield self
        except BaseException:
            with contextlib.suppress(Exception):
                if self._conn is not None:
                    self._conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except Exception as exc:
            raise self._wrap(exc) from None

    # --- schema ----------------------------------------------------------------------------
    def migrate(self) -> list[int]:
        """Apply every migration not yet applied; returns the versions applied now."""
        self.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        done = {r["version"] for r in self.query("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            try:
                with self.transaction():
                    for stmt in statements(self.dialect, sql):
                        self.execute(stmt)
                    self.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, name, utc_now()))
            except DuplicateRow:
                continue  # another worker applied it at the same moment
            logger.info("Central database %s: migration %d applied (%s)", describe(self.url), version, name)
            applied.append(version)
        return applied
