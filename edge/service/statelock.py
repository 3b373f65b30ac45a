"""One terminal, one process: an exclusive lock on the state directory, and a pre-flight check of its databases.

``edge run`` takes the lock before it opens anything else. A second ``edge run`` on the same
state directory (whatever its ``--port``) is refused with one line and exit code 2, so two
processes never share the ledger, fight over the MQTT client id, or pay one recipient twice.
The lock is ``flock`` on ``<state_dir>/edge.lock``: the kernel drops it when the process dies,
so a killed service never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from edge.errors import EdgeError

LOCK_NAME = "edge.lock"


class StateDirBusy(EdgeError):
    """Another process already runs the service on this state directory."""


def lock_state_dir(state_dir: Path) -> int:
    """Take the exclusive lock (kept until the process exits); returns the descriptor."""
    state_dir = Path(state_dir)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(state_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise EdgeError(f"cannot lock the state directory {state_dir}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise StateDirBusy(f"another edge service (pid {holder}) is already running on {state_dir}; "
                           "only one may run per terminal (stop it first)") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def check_database(path: Path, what: str) -> None:
    """Refuse to start on a damaged SQLite file: one line naming it (exit 2); the file is left as it is."""
    if not Path(path).exists():
        return
    try:
        conn = sqlite3.connect(str(path))
        try:
            result = [r[0] for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        result = [str(exc)]
    if result != ["ok"]:
        raise EdgeError(f"{what} {path} is damaged ({'; '.join(result)[:200]}); it is kept as it is: "
                        "run `edge outbox check` / `edge outbox salvage` and see docs/MQTT.md")
