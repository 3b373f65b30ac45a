"""Wire models of the claim flow: the records it publishes and the commands it accepts.

``CLAIM_WIRE_MODELS`` is appended to :data:`edge.messages.WIRE_MODELS`, so ``edge schema``
exports their JSON Schemas with the rest.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.claim.records import ConflictRecord, DecisionRecord, OverrideRecord, Signature


class RosterCommand(BaseModel):
    """``cmd/roster`` args: a signed roster document, full or delta (verified by the device, not trusted from the broker)."""

    model_config = ConfigDict(extra="forbid")
    roster: dict[str, Any] | None = None
    signature: dict[str, Any] | None = None
    sealed_roster: dict[str, Any] | None = Field(None, description="The signed roster sealed to this terminal's roster key (docs/SECURITY.md).")


class LedgerEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient_id: str = Field(..., min_length=1, max_length=64)
    period: str = Field(..., pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    idempotency_key: str = Field(..., min_length=8, max_length=80, description="Key of the paying terminal's decision record.")
    device_id: str = Field(..., min_length=1, max_length=64)
    distribution_point: str = Field(..., min_length=1, max_length=64)
    decided_at: str = Field(..., min_length=1, max_length=40)


class LedgerCommand(BaseModel):
    """``cmd/ledger`` args: disbursements the central side knows about (from any terminal)."""

    model_config = ConfigDict(extra="forbid")
    schema_: Literal["tepat.ledger"] = Field("tepat.ledger", alias="schema")
    entries: list[LedgerEntry] = Field(..., max_length=50_000)


class RosterAck(BaseModel):
    """Published after every roster offered to the device: installed, or refused with the reason."""

    model_config = ConfigDict(extra="forbid")
    schema_: Literal["tepat.roster_ack"] = Field("tepat.roster_ack", alias="schema")
    device_id: str
    version: int | None
    accepted: bool
    code: str
    detail: str
    recipients: int = 0
    flagged: int = 0
    at: str
    signature: Signature | None = Field(None, description="Device Ed25519 signature over the other fields (as records).")


CLAIM_WIRE_MODELS: list[type[BaseModel]] = [DecisionRecord, OverrideRecord, ConflictRecord, RosterAck, RosterCommand, LedgerCommand]
