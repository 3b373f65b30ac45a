"""Officer sign-in over the local HTTP server, and the guard every claim route goes through.

``POST /api/session`` {officer_id, pin, bearer?} → 200 {officer_id, name, role, expires_at[, token]} + cookie
``GET /api/session`` → 200 the same, or 401
``DELETE /api/session`` → 200 {"signed_out": bool}

The session travels as the ``tepat_session`` cookie (HttpOnly, SameSite=Strict, Path=/, Secure
under TLS) or as ``Authorization: Bearer <token>`` (tools that ask with ``"bearer": true``).
Errors are ``{"error": "...", "error_id": "..."}``: 401 not signed in / wrong PIN, 403 not
allowed, 429 locked out, 400 bad request, 404 not found, 409 already paid.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from http.cookies import CookieError, SimpleCookie
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.claim.flow.ledger import AlreadyPaidError
from edge.claim.officers.accounts import AuthError, OfficerStore, SignedIn
from edge.claim.officers.officer_list import MAX_PIN, OFFICER_ID_PATTERN
from edge.claim.officers.sessions import Session, SessionManager
from edge.config import EdgeConfig
from edge.errors import EdgeError, NotFoundError, StorageFullError

logger = logging.getLogger(__name__)

COOKIE = "tepat_session"
Reply = tuple[Any, ...]


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str = Field(..., pattern=OFFICER_ID_PATTERN)
    pin: str = Field(..., min_length=1, max_length=MAX_PIN)
    bearer: bool = Field(False, description="Also return the token, for tools that send Authorization: Bearer.")


def error(status: int, message: str, error_id: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": message, "error_id": error_id, **extra}


def parse(model: type[BaseModel], req: dict[str, Any]) -> BaseModel:
    """The validated body; :class:`AuthError`-shaped 400 naming the first bad field otherwise."""
    try:
        return model.model_validate(dict(req))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise AuthError("bad_request", f"{where}: {first['msg']}", 400) from None


def token_of(request: Any) -> str | None:
    headers = getattr(request, "headers", None) or {}
    auth = headers.get("Authorization") or ""
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    raw = headers.get("Cookie")
    if not raw:
        return None
    try:
        jar = SimpleCookie(raw)
    except CookieError:
        return None
    return jar[COOKIE].value if COOKIE in jar else None


class OfficerAuth:
    """Sign-in, sessions and second-officer checks for the claim routes."""

    def __init__(self, store: OfficerStore, sessions: SessionManager, *, needs_supervisor: bool = True) -> None:
        self.store, self.sessions, self.needs_supervisor = store, sessions, needs_supervisor

    def current(self, request: Any) -> Session:
        """The caller's live session; :class:`AuthError` 401 otherwise (also when the officer left the list)."""
        token = token_of(request)
        session = self.sessions.get(token)
        if session is None:
            raise AuthError("not_signed_in", "sign in first (POST /api/session with officer_id and PIN)")
        listed = self.store.officer(session.officer.officer_id)
        if listed is None:
            self.sessions.end_officer(session.officer.officer_id)
            raise AuthError("not_signed_in", "this officer is no longer on the terminal's officer list")
        return replace(session, officer=SignedIn(listed.officer_id, listed.name, listed.role))  # a new list's role applies at once

    def second(self, officer_id: str | None, pin: str | None) -> SignedIn | None:
        """The second officer, PIN verified now; None when none was named."""
        if officer_id is None and pin is None:
            return None
        if not officer_id or not pin:
            raise AuthError("bad_request", "give both second_officer_id and second_pin", 400)
        try:
            return self.store.authenticate(officer_id, pin)
        except AuthError as exc:
            if exc.error_id == "bad_credentials":
                raise AuthError("second_officer_bad_credentials", "second officer: unknown officer or wrong PIN", 403) from None
            raise

    def guarded(self, handler: Callable[[dict[str, Any], Session], Reply]) -> Callable[[dict[str, Any]], Reply]:
        """``handler(request, session)`` run only for a signed-in officer, with errors in the JSON error shape."""

        def run(request: dict[str, Any]) -> Reply:
            try:
                return handler(request, self.current(request))
            except AuthError as exc:
                return exc.http_status, exc.payload()
            except AlreadyPaidError as exc:
                return error(409, str(exc), "already_paid")
            except NotFoundError as exc:
                return error(404, str(exc), "not_found")
            except StorageFullError as exc:  # the bilingual storage message, as 507 Insufficient Storage
                return error(507, str(exc), "storage_full")
            except EdgeError as exc:
                return error(400, str(exc), "refused")

        return run

    # --- /api/session -----------------------------------------------------------------------------
    def _cookie(self, request: Any, token: str, max_age: int) -> dict[str, str]:
        secure = "; Secure" if getattr(request, "tls", False) else ""
        return {"Set-Cookie": f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"}

    def sign_in(self, request: dict[str, Any]) -> Reply:
        try:
            r = parse(SessionRequest, request)
            officer = self.store.authenticate(r.officer_id, r.pin)
        except AuthError as exc:
            return exc.http_status, exc.payload()
        self.sessions.end(token_of(request))
        token, session = self.sessions.create(officer)
        logger.info("Officer %s (%s) signed in", officer.officer_id, officer.role)
        body: dict[str, Any] = session.describe()
        if r.bearer:
            body["token"] = token
        return 200, body, self._cookie(request, token, int(self.sessions.max_s))

    def whoami(self, request: dict[str, Any]) -> Reply:
        try:
            return 200, self.current(request).describe()
        except AuthError as exc:
            return exc.http_status, exc.payload()

    def sign_out(self, request: dict[str, Any]) -> Reply:
        session = self.sessions.get(token_of(request), touch=False)
        ended = self.sessions.end(token_of(request))
        if session is not None:
            logger.info("Officer %s signed out", session.officer.officer_id)
        return 200, {"signed_out": ended}, self._cookie(request, "", 0)

    def register(self, server: Any) -> None:
        server.add_route("POST", "/api/session", self.sign_in)
        server.add_route("GET", "/api/session", self.whoami)
        server.add_route("DELETE", "/api/session", self.sign_out)


def make_auth(cfg: EdgeConfig, store: OfficerStore) -> OfficerAuth:
    """Officer sign-in as configured: session lifetimes and whether a second officer must be a supervisor."""
    sessions = SessionManager(idle_s=cfg.claim.session_idle_s, max_s=cfg.claim.session_max_s)
    return OfficerAuth(store, sessions, needs_supervisor=cfg.claim.two_person_needs_supervisor)
