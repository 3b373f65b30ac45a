"""The officer list installed on this terminal, and PIN checks with attempt limiting (a SQLite file).

The signed list is stored as received and re-verified against the trusted issuer keys whenever
it changes on disk, so editing the file gains nothing without the issuer key. Failed PIN checks
are counted per officer in the same file (they survive a restart): after ``max_failures`` in a
row the officer is locked out for ``lockout_s`` seconds. At most two PIN checks run at once (each
holds ~16 MiB for scrypt), so hammering sign-in cannot exhaust the terminal's memory.
:func:`open_officer_store` opens it from the configuration.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.claim.officers.officer_list import Officer, OfficerList, OfficersRejected, open_signed_officers, pin_matches
from edge.config import EdgeConfig
from edge.errors import EdgeError
from edge.store.sqlite import open_sqlite

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS failures (officer_id TEXT PRIMARY KEY, count INTEGER NOT NULL, locked_until REAL NOT NULL DEFAULT 0);
"""
_KDF_SLOTS = threading.BoundedSemaphore(2)


class AuthError(EdgeError):
    """An officer could not be authenticated or is not allowed; ``error_id`` is machine-readable."""

    def __init__(self, error_id: str, message: str, http_status: int = 401, **extra: Any) -> None:
        super().__init__(message)
        self.error_id, self.http_status, self.extra = error_id, http_status, extra

    def payload(self) -> dict[str, Any]:
        return {"error": str(self), "error_id": self.error_id, **self.extra}


@dataclass(frozen=True)
class SignedIn:
    """An officer whose PIN was verified just now (the only way records get an officer id)."""

    officer_id: str
    name: str
    role: str


class OfficerStore:
    """Use as a context manager; safe to share between threads."""

    def __init__(self, path: Path | str, trusted: dict[str, Ed25519PublicKey], distribution_point: str, *,
                 max_failures: int = 5, lockout_s: float = 300.0, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.trusted, self.point = trusted, distribution_point
        self.max_failures, self.lockout_s, self._clock = max_failures, lockout_s, clock
        self._lock = threading.Lock()
        self._db = open_sqlite(self.path, "officer store", synchronous="FULL")
        try:
            self._db.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise EdgeError(f"officer store {self.path}: cannot create its tables ({exc})") from None
        self._cache: tuple[str, OfficerList | None] | None = None
        self._unknown: dict[str, tuple[int, float]] = {}  # ids not on the list: counted in memory, so lockout does not reveal who exists

    def __enter__(self) -> "OfficerStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), timezone.utc)

    # --- the list --------------------------------------------------------------------------------
    def install(self, data: bytes | str | dict[str, Any]) -> OfficerList:
        """Verify a signed list (trusted key, this point, valid now, newer version) and install it."""
        current = self.current()
        doc = open_signed_officers(data, self.trusted, distribution_point=self.point, now=self._now(),
                                   installed_version=current.version if current else None)
        raw = data if isinstance(data, dict) else json.loads(data)
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('signed', ?)", (json.dumps(raw, sort_keys=True),))
        logger.info("Officer list v%d installed: %d officers (%d supervisors) from %s", doc.version, len(doc.officers),
                    sum(o.role == "supervisor" for o in doc.officers), doc.issuer)
        return doc

    def current(self) -> OfficerList | None:
        """The installed list, re-verified whenever the stored text changes; None if there is none (or it no longer verifies)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'signed'").fetchone()
            text = row[0] if row else ""
            digest = hashlib.sha256(text.encode()).hexdigest()
            if self._cache and self._cache[0] == digest:
                return self._cache[1]
            doc = None
            if text:
                try:  # validity dates are checked at sign-in; here only the signature and the point
                    doc = open_signed_officers(text, self.trusted, distribution_point=self.point,
                                               now=OfficerList.model_validate(json.loads(text)["officers"]).valid_from)
                except (OfficersRejected, ValueError, KeyError, TypeError) as exc:
                    logger.error("Installed officer list %s no longer verifies (%s): nobody can sign in until a valid list is imported",
                                 self.path, exc)
            self._cache = (digest, doc)
            return doc

    def officer(self, officer_id: str) -> Officer | None:
        """The active officer with this id in a list valid now, else None."""
        doc = self.current()
        if doc is None or not (doc.valid_from <= self._now() < doc.valid_until):
            return None
        return doc.find(officer_id)

    # --- PIN checks ------------------------------------------------------------------------------
    def authenticate(self, officer_id: str, pin: str) -> SignedIn:
        """The officer, if ``pin`` is theirs and they are not locked out; else :class:`AuthError`."""
        doc = self.current()
        if doc is None:
            raise AuthError("no_officer_list", "no officer list is installed on this terminal (edge officers import)")
        now = self._clock()
        if not (doc.valid_from <= self._now() < doc.valid_until):
            raise AuthError("officer_list_expired", f"the officer list is valid {doc.valid_from:%Y-%m-%d} to {doc.valid_until:%Y-%m-%d}")
        locked = self._locked_until(officer_id)
        if locked > now:
            raise AuthError("locked_out", f"too many wrong PINs for {officer_id[:64]}; try again in {int(locked - now) + 1} s",
                            429, retry_after_s=int(locked - now) + 1)
        who = doc.find(officer_id)
        with _KDF_SLOTS:
            ok = pin_matches(pin, who.pin if who else None)
        if not ok:
            (self._failed if who is not None else self._failed_unknown)(officer_id, now)
            logger.warning("Sign-in refused for officer %r: wrong id or PIN", officer_id[:64])
            raise AuthError("bad_credentials", "unknown officer or wrong PIN")
        with self._lock:
            self._db.execute("DELETE FROM failures WHERE officer_id = ?", (officer_id,))
        return SignedIn(who.officer_id, who.name, who.role)

    def _locked_until(self, officer_id: str) -> float:
        with self._lock:
            row = self._db.execute("SELECT locked_until FROM failures WHERE officer_id = ?", (officer_id,)).fetchone()
            ghost = self._unknown.get(officer_id, (0, 0.0))[1]
        return max(float(row[0]) if row else 0.0, ghost)

    def _failed_unknown(self, officer_id: str, now: float) -> None:
        with self._lock:
            count, _ = self._unknown.pop(officer_id, (0, 0.0))
            count += 1
            self._unknown[officer_id] = (0, now + self.lockout_s) if count >= self.max_failures else (count, 0.0)
            while len(self._unknown) > 1024:
                del self._unknown[next(iter(self._unknown))]

    def _failed(self, officer_id: str, now: float) -> None:
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO failures VALUES (?, 1, 0) ON CONFLICT(officer_id) DO UPDATE SET count = count + 1", (officer_id,))
            count = self._db.execute("SELECT count FROM failures WHERE officer_id = ?", (officer_id,)).fetchone()[0]
            if count >= self.max_failures:
                self._db.execute("UPDATE failures SET count = 0, locked_until = ? WHERE officer_id = ?", (now + self.lockout_s, officer_id))
                logger.warning("Officer %s locked out for %.0f s after %d wrong PINs", officer_id, self.lockout_s, count)

    def unlock(self, officer_id: str) -> bool:
        """Clear an officer's failed attempts and lockout (local administrator); True if there was any."""
        with self._lock:
            return self._db.execute("DELETE FROM failures WHERE officer_id = ?", (officer_id,)).rowcount > 0

    def summary(self) -> dict[str, Any]:
        doc = self.current()
        if doc is None:
            return {"installed": False}
        now = self._clock()
        with self._lock:
            locked = [r[0] for r in self._db.execute("SELECT officer_id FROM failures WHERE locked_until > ?", (now,))]
        return {"installed": True, "version": doc.version, "issuer": doc.issuer, "valid_from": doc.valid_from.isoformat(),
                "valid_until": doc.valid_until.isoformat(), "valid_now": doc.valid_from <= self._now() < doc.valid_until,
                "officers": [{"officer_id": o.officer_id, "name": o.name, "role": o.role, "active": o.active} for o in doc.officers],
                "locked_out": locked}


def officers_path(cfg: EdgeConfig) -> Path:
    return cfg.claim.officers_path or cfg.device.state_dir / "officers.sqlite"


def open_officer_store(cfg: EdgeConfig, trusted: dict[str, Ed25519PublicKey] | None = None) -> OfficerStore:
    """The terminal's officer store (a context manager); ``trusted`` defaults to the roster issuer keys."""
    if trusted is None:
        from edge.claim.keys import trusted_issuer_keys

        trusted = trusted_issuer_keys(cfg)
    return OfficerStore(officers_path(cfg), trusted, cfg.device.distribution_point,
                        max_failures=cfg.claim.pin_max_failures, lockout_s=cfg.claim.pin_lockout_s)
