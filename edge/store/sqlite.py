"""The one way the terminal opens a SQLite file.

Every store (outbox, ledger, roster, officer list, face gallery, the central service's SQLite
backend) opens its file through :func:`open_sqlite`: the parent folder is created, a new file is
created with the store's permissions (0600 for anything holding personal data or keys), the
connection is in autocommit mode with a busy timeout, the journal is WAL and the store's own
``synchronous`` level is applied. A file that cannot be opened, or is not a database, is one
:class:`~edge.errors.EdgeError` line naming the file; the file itself is left untouched.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from edge.errors import EdgeError

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


def _create(path: Path, mode: int) -> None:
    """Create ``path`` empty with ``mode`` (not widened by the umask) if it does not exist yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def open_sqlite(path: Path | str, what: str, *, synchronous: str = "FULL", busy_timeout_s: float = 30.0,
                mode: int = 0o600, row_factory: object = None, error: type[EdgeError] = EdgeError) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode; ``what`` names the store in error lines.

    ``mode`` applies when the file is created (SQLite gives its -wal/-shm files the same mode);
    an existing file keeps its mode. ``error`` is the EdgeError subclass raised on failure.
    """
    path = Path(path)
    sync = synchronous.upper()
    if sync not in SYNCHRONOUS:
        raise error(f"{what}: synchronous must be one of {', '.join(SYNCHRONOUS)}, not {synchronous!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path, mode)
        conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise error(f"cannot open {what} {path}: {exc}") from None
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        journal = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(journal).lower() != "wal":
            raise error(f"{what} {path}: cannot switch to WAL journal (got {journal!r}); is the file system read-only?")
        conn.execute(f"PRAGMA synchronous = {sync}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise error(f"{what} {path} is not a usable SQLite database ({exc}); the file is kept for inspection") from None
    except BaseException:
        conn.close()
        raise
    if row_factory is not None:
        conn.row_factory = row_factory  # type: ignore[assignment]
    return conn
