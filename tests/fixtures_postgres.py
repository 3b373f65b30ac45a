"""A real PostgreSQL for tests: a private cluster per test session (initdb + pg_ctl) on a free loopback port.

Fixtures
--------
``postgres``      session-scoped :class:`PgServer` (``url(db)``, ``new_database()``, ``restart(down_s)``, ``stop()``, ``start()``).
``postgres_url``  a fresh, empty database on it for one test.

Run as root, the cluster belongs to the unprivileged ``postgres`` user (PostgreSQL refuses to run as
root); the Debian service is never used. Without ``initdb`` the tests skip, and fail under CI=true.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures_mqtt import free_port


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / name).exists():
            return str(base / name)
    return None


class PgServer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.user = "tepat"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root needs the 'postgres' user (installed with the postgresql package)")
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(folder, "postgres")
            os.chmod(folder, 0o700)
        self.initdb, self.pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        subprocess.run(self._as + [self.initdb, "-D", str(self.data), "-U", self.user, "-A", "trust", "--no-sync", "-E", "UTF8"],
                       check=True, capture_output=True, timeout=120)
        with open(self.data / "postgresql.conf", "a") as fh:  # noqa: PTH123 - owned by postgres, written by root
            fh.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{folder}'\n"
                     "fsync = off\nsynchronous_commit = on\nmax_connections = 50\nshared_buffers = 32MB\n")
        self.start()

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        subprocess.run(self._as + [self.pg_ctl, "-D", str(self.data), "-l", str(self.folder / "log.txt"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        subprocess.run(self._as + [self.pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"], capture_output=True, timeout=90)

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self.start()

    def new_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def postgres():
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL (initdb/pg_ctl) is not installed: scripts/system-packages.sh installs 'postgresql'")
        pytest.skip("PostgreSQL is not installed (scripts/system-packages.sh installs it)")
    pytest.importorskip("psycopg", reason="psycopg 3 is in the [dev] and [central] extras")
    folder = Path(tempfile.mkdtemp(prefix="tepat-pg-"))
    server = PgServer(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def postgres_url(postgres) -> str:
    return postgres.new_database()
