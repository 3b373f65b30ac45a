"""The claim flow behind the local HTTP server (the officer's counter app, the status page).

Every route needs a signed-in officer (``edge.claim.api.sign_in``: ``POST /api/session`` first);
records carry that officer. ``officer_id`` in a body is optional and must then be the signed-in one.

``POST /api/claim`` {recipient_id?, attempt?, request_id?} → the decision (1:1 with an id, else 1:N); a retry with
the same ``request_id`` returns the stored decision (``replayed: true``) instead of deciding again
``POST /api/enrol`` {recipient_id, confirmed: true} → first-payout enrolment
``POST /api/override`` {original_key, outcome, reason_code, note?, recipient_id?, second_officer_id?, second_pin?}
``POST /api/active-check`` {original_key} → the head-turn check on a liveness referral (captures for a few seconds;
``edge.claim.flow.active_check``): {passed, turn_deg, min_turn_deg, frames_*, code, message, …}; an override of that
referral then carries the result
``GET /api/ledger/<recipient_id>`` → disbursements and decisions known for a recipient
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.claim.api.sign_in import OfficerAuth, parse
from edge.claim.flow.active_check import run_active_check
from edge.claim.flow.claim_service import ClaimService
from edge.claim.flow.officer_actions import enrol, override
from edge.claim.officers.accounts import AuthError
from edge.claim.officers.officer_list import MAX_PIN, OFFICER_ID_PATTERN
from edge.claim.officers.sessions import Session

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str | None = Field(None, max_length=64, description="Optional; must be the signed-in officer.")


class ClaimRequest(_Body):
    recipient_id: str | None = Field(None, pattern=ID)
    attempt: int = Field(1, ge=1, le=10)
    request_id: str | None = Field(None, pattern=ID, description="Client-chosen id; a retry with the same id returns the stored decision.")


class EnrolRequest(_Body):
    recipient_id: str = Field(..., pattern=ID)
    confirmed: Literal[True] = Field(..., description="The officer confirms the identity documents were checked.")


class OverrideRequest(_Body):
    original_key: str = Field(..., min_length=8, max_length=80)
    outcome: Literal["accept", "reject"]
    reason_code: str = Field(..., max_length=40)
    note: str | None = Field(None, max_length=500)
    recipient_id: str | None = Field(None, pattern=ID)
    second_officer_id: str | None = Field(None, pattern=OFFICER_ID_PATTERN)
    second_pin: str | None = Field(None, min_length=1, max_length=MAX_PIN)


class ActiveCheckRequest(_Body):
    original_key: str = Field(..., min_length=8, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$",
                              description="Idempotency key of the liveness referral to check.")


def _as(session: Session, body: _Body) -> None:
    if body.officer_id is not None and body.officer_id != session.officer.officer_id:
        raise AuthError("officer_mismatch", f"signed in as {session.officer.officer_id}; the record names the signed-in officer", 403)


def register_routes(server: Any, svc: ClaimService, auth: OfficerAuth) -> None:
    """Add the session and claim routes to an ``edge.service.http.LocalHttpServer``."""

    def claim(req: dict[str, Any], session: Session) -> tuple[int, dict[str, Any]]:
        r = parse(ClaimRequest, req)
        _as(session, r)
        return 200, svc.claim(r.recipient_id, officer_id=session.officer.officer_id, attempt=r.attempt,
                                 request_id=r.request_id).as_dict()

    def enrol_route(req: dict[str, Any], session: Session) -> tuple[int, dict[str, Any]]:
        r = parse(EnrolRequest, req)
        _as(session, r)
        return 200, enrol(svc, r.recipient_id, session.officer).as_dict()

    def override_route(req: dict[str, Any], session: Session) -> tuple[int, dict[str, Any]]:
        r = parse(OverrideRequest, req)
        _as(session, r)
        second = auth.second(r.second_officer_id, r.second_pin)
        rec = override(svc, r.original_key, r.outcome, r.reason_code, session.officer, r.note, r.recipient_id, second,
                       needs_supervisor=auth.needs_supervisor)
        return 200, rec.model_dump(mode="json", by_alias=True)

    def active_check_route(req: dict[str, Any], session: Session) -> tuple[int, dict[str, Any]]:
        r = parse(ActiveCheckRequest, req)
        _as(session, r)
        return 200, run_active_check(svc, r.original_key, session.officer)

    def ledger(req: dict[str, Any], session: Session) -> tuple[int, dict[str, Any]]:
        return 200, svc.ledger_view(str(req.get("recipient_id", "")))

    auth.register(server)
    server.add_route("POST", "/api/claim", auth.guarded(claim))
    server.add_route("POST", "/api/enrol", auth.guarded(enrol_route))
    server.add_route("POST", "/api/override", auth.guarded(override_route))
    server.add_route("POST", "/api/active-check", auth.guarded(active_check_route))
    server.add_route("GET", "/api/ledger/<recipient_id>", auth.guarded(ledger))
