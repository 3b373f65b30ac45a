"""The claim flow behind the local HTTP server (for the simulator and the status page).

``POST /api/claim`` {recipient_id?, officer_id?, attempt?} → the decision (1:1 with an id, else 1:N)
``POST /api/enrol`` {recipient_id, officer_id, confirmed: true} → first-payout enrolment
``POST /api/override`` {original_key, outcome, reason_code, officer_id, note?, recipient_id?}
``GET /api/ledger/<recipient_id>`` → disbursements and decisions known for a recipient
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.claim.officer import enrol, override
from edge.claim.service import ClaimService
from edge.errors import NotFoundError

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient_id: str | None = Field(None, pattern=ID)
    officer_id: str | None = Field(None, max_length=64)
    attempt: int = Field(1, ge=1, le=10)


class EnrolRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient_id: str = Field(..., pattern=ID)
    officer_id: str = Field(..., min_length=1, max_length=64)
    confirmed: Literal[True] = Field(..., description="The officer confirms the identity documents were checked.")


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    original_key: str = Field(..., min_length=8, max_length=80)
    outcome: Literal["accept", "reject"]
    reason_code: str = Field(..., max_length=40)
    officer_id: str = Field(..., min_length=1, max_length=64)
    note: str | None = Field(None, max_length=500)
    recipient_id: str | None = Field(None, pattern=ID)


def _parse(model: type[BaseModel], req: dict[str, Any]) -> BaseModel | tuple[int, dict[str, Any]]:
    try:
        return model.model_validate(req)
    except ValidationError as exc:
        first = exc.errors()[0]
        return 400, {"error": f"{'.'.join(str(p) for p in first['loc']) or 'body'}: {first['msg']}"}


def register_routes(server: Any, svc: ClaimService) -> None:
    """Add the claim routes to an ``edge.service.http.LocalHttpServer``."""

    def claim(req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = _parse(ClaimRequest, req)
        if isinstance(r, tuple):
            return r
        return 200, svc.claim(r.recipient_id, officer_id=r.officer_id, attempt=r.attempt).as_dict()

    def enrol_route(req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = _parse(EnrolRequest, req)
        if isinstance(r, tuple):
            return r
        return 200, enrol(svc, r.recipient_id, r.officer_id).as_dict()

    def override_route(req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        r = _parse(OverrideRequest, req)
        if isinstance(r, tuple):
            return r
        try:
            rec = override(svc, r.original_key, r.outcome, r.reason_code, r.officer_id, r.note, r.recipient_id)
        except NotFoundError as exc:
            return 404, {"error": str(exc)}
        return 200, rec.model_dump(mode="json", by_alias=True)

    def ledger(req: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            return 200, svc.ledger_view(str(req.get("recipient_id", "")))
        except NotFoundError as exc:
            return 404, {"error": str(exc)}

    server.add_route("POST", "/api/claim", claim)
    server.add_route("POST", "/api/enrol", enrol_route)
    server.add_route("POST", "/api/override", override_route)
    server.add_route("GET", "/api/ledger/<recipient_id>", ledger)
