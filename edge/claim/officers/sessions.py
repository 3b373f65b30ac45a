"""Short-lived officer sessions, held in the service's memory only (a restart signs everyone out).

A session is a random 256-bit token; only its SHA-256 is kept. It ends after ``idle_s`` without
use, after ``max_s`` in any case, on sign-out, or when the officer leaves the installed list.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone

from edge.claim.officers.accounts import SignedIn


@dataclass(frozen=True)
class Session:
    officer: SignedIn
    created: float  # clock seconds (wall time by default)
    last_used: float
    idle_s: float
    max_s: float

    @property
    def expires(self) -> float:
        return min(self.created + self.max_s, self.last_used + self.idle_s)

    def describe(self) -> dict[str, str]:
        """What ``/api/session`` returns."""
        at = datetime.fromtimestamp(self.expires, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return {"officer_id": self.officer.officer_id, "name": self.officer.name, "role": self.officer.role, "expires_at": at}


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


class SessionManager:
    def __init__(self, *, idle_s: float = 900.0, max_s: float = 8 * 3600.0, max_sessions: int = 64,
                 clock: Callable[[], float] = time.time) -> None:
        self.idle_s, self.max_s, self.max_sessions, self._clock = idle_s, max_s, max_sessions, clock
        self._by_digest: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, officer: SignedIn) -> tuple[str, Session]:
        """A new session for a just-authenticated officer; the oldest session goes when the table is full."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        s = Session(officer, now, now, self.idle_s, self.max_s)
        with self._lock:
            self._expire(now)
            while len(self._by_digest) >= self.max_sessions:
                oldest = min(self._by_digest, key=lambda d: self._by_digest[d].last_used)
                del self._by_digest[oldest]
            self._by_digest[_digest(token)] = s
        return token, s

    def get(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session for ``token`` (its idle timer restarted), or None."""
        if not token or len(token) > 256:
            return None
        now = self._clock()
        d = _digest(token)
        with self._lock:
            s = self._by_digest.get(d)
            if s is None:
                return None
            if now >= s.expires:
                del self._by_digest[d]
                return None
            if touch:
                s = self._by_digest[d] = replace(s, last_used=now)
            return s

    def end(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            return self._by_digest.pop(_digest(token), None) is not None

    def end_officer(self, officer_id: str) -> int:
        """End every session of one officer (removed from the list, or deactivated)."""
        with self._lock:
            gone = [d for d, s in self._by_digest.items() if s.officer.officer_id == officer_id]
            for d in gone:
                del self._by_digest[d]
            return len(gone)

    def _expire(self, now: float) -> None:
        for d in [d for d, s in self._by_digest.items() if now >= s.expires]:
            del self._by_digest[d]
