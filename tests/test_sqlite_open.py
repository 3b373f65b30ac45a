"""The one SQLite-open helper every store uses (edge/store/sqlite.py)."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from edge.errors import EdgeError
from edge.store.rows import StoreError
from edge.store.sqlite import open_sqlite


def test_creates_folder_and_file_with_wal_and_pragmas(tmp_path):
    path = tmp_path / "deep" / "er" / "x.sqlite"
    conn = open_sqlite(path, "test store", synchronous="NORMAL", busy_timeout_s=7.5, row_factory=sqlite3.Row)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 7500
        assert conn.isolation_level is None
        assert isinstance(conn.execute("SELECT 1 AS one").fetchone(), sqlite3.Row)
    finally:
        conn.close()
    full = open_sqlite(path, "test store")
    try:
        assert full.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL is the default
    finally:
        full.close()


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_new_file_gets_the_mode_whatever_the_umask(tmp_path, mode):
    old = os.umask(0o000)
    try:
        conn = open_sqlite(tmp_path / "x.sqlite", "test store", mode=mode)
        conn.execute("CREATE TABLE t(a)")
        conn.execute("INSERT INTO t VALUES (1)")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.sqlite").stat().st_mode) == mode
    wal = tmp_path / "x.sqlite-wal"
    assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == mode  # SQLite copies the database file's mode
    conn.close()


def test_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "x.sqlite"
    sqlite3.connect(path).close()
    path.chmod(0o640)
    open_sqlite(path, "test store", mode=0o600).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_not_a_database_is_one_line_naming_the_file_and_keeps_it(tmp_path):
    path = tmp_path / "x.sqlite"
    junk = b"this is not a database" * 100
    path.write_bytes(junk)
    with pytest.raises(StoreError) as info:
        open_sqlite(path, "outbox", error=StoreError)
    line = str(info.value)
    assert "\n" not in line and str(path) in line and line.startswith("outbox ") and "not a usable SQLite database" in line
    assert path.read_bytes() == junk


def test_cannot_open_names_the_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(EdgeError, match=r"^cannot open ledger .*file/sub/x\.sqlite: "):
        open_sqlite(blocker / "sub" / "x.sqlite", "ledger")


def test_bad_synchronous_is_refused(tmp_path):
    with pytest.raises(EdgeError, match="synchronous must be one of"):
        open_sqlite(tmp_path / "x.sqlite", "outbox", synchronous="SOMETIMES")


def test_every_store_opens_through_the_helper(tmp_path):
    """A store's file is created 0600 (personal data): the helper, not a copy of it, made it."""
    from edge.claim.flow.ledger import Ledger
    from edge.face.gallery import Gallery
    from edge.store.outbox import Outbox

    old = os.umask(0o022)
    try:
        Outbox(tmp_path / "o.sqlite", device_id="dev-1").close()
        Ledger(tmp_path / "l.sqlite", "dev-1", "point-1").close()
        with Gallery(tmp_path / "g.sqlite"):
            pass
    finally:
        os.umask(old)
    for name in ("o", "l", "g"):
        assert stat.S_IMODE((tmp_path / f"{name}.sqlite").stat().st_mode) == 0o600, name
