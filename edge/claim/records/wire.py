"""Wire models of the claim flow: the records it publishes and the commands it accepts.

``CLAIM_WIRE_MODELS`` is appended to :data:`edge.messages.WIRE_MODELS`, so ``edge schema``
exports their JSON Schemas with the rest.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from edge.claim.records.signed import ConflictRecord, DecisionRecord, OverrideRecord, Signature


class RosterCommand(BaseModel):
    """``cmd/roster`` args: a signed roster document, full or delta (verified by the device, not trusted from the broker)."""

    model_config = ConfigDict(extra="forbid")
    roster: dict[str, Any] | None = None
    signature: dict[str, Any] | None = None
    sealed_roster: dict[str, Any] | None = Field(None, description="The signed roster sealed to this terminal's roster key (docs/SECURITY.md).")


LEDGER_SCHEMA = "tepat.ledger"
LEDGER_SCHEMA_VERSION = 2
MAX_LEDGER_ENTRIES = 200  # per message: bounds the work one message can cause on a terminal
DEVICE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{1,62}$"
RECIPIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


def plain_text(value: str) -> str:
    """Refuse control, format (bidi overrides, zero-width) and unassigned characters in a wire string."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ValueError(f"contains the control/format character U+{ord(ch):04X}")
    return value


class LedgerEntry(BaseModel):
    """One payout another terminal made, as the central side relays it."""

    model_config = ConfigDict(extra="forbid")
    recipient_id: str = Field(..., pattern=RECIPIENT_ID_PATTERN)
    period: str = Field(..., pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    idempotency_key: str = Field(..., min_length=8, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$",
                                 description="Key of the paying terminal's decision record.")
    device_id: str = Field(..., pattern=DEVICE_ID_PATTERN)
    distribution_point: str = Field(..., min_length=1, max_length=64)
    decided_at: datetime = Field(..., description="When the paying terminal decided (timezone required).")

    @field_validator("distribution_point")
    @classmethod
    def _plain(cls, v: str) -> str:
        return plain_text(v)

    @field_validator("decided_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("decided_at needs a timezone")
        return v


class LedgerBody(BaseModel):
    """What the central key signs: payouts for one terminal, numbered by a per-terminal sequence."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_: Literal["tepat.ledger"] = Field(LEDGER_SCHEMA, alias="schema")
    schema_version: Literal[2] = LEDGER_SCHEMA_VERSION
    device_id: str = Field(..., pattern=DEVICE_ID_PATTERN, description="The terminal this message is addressed to.")
    seq: int = Field(..., ge=1, le=2**53, description="Per-terminal sequence: 1, 2, 3, … without gaps.")
    issued_at: datetime
    reason: Literal["payout", "conflict", "resync"] = "payout"
    entries: list[LedgerEntry] = Field(..., max_length=MAX_LEDGER_ENTRIES)


class LedgerCommand(BaseModel):
    """``cmd/ledger`` args: a :class:`LedgerBody` (as a JSON object, verified before it is parsed) and the central key's
    Ed25519 signature over its canonical JSON (the same scheme as rosters)."""

    model_config = ConfigDict(extra="forbid")
    ledger: dict[str, Any]
    signature: dict[str, Any] | None = None


class LedgerResync(BaseModel):
    """Published by a terminal (``event/ledger_resync``) when it saw a gap: please resend from ``from_seq``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    schema_: Literal["tepat.ledger_resync"] = Field("tepat.ledger_resync", alias="schema")
    device_id: str = Field(..., pattern=DEVICE_ID_PATTERN)
    from_seq: int = Field(..., ge=1, le=2**53)
    seen_seq: int = Field(..., ge=1, le=2**53, description="The sequence number that revealed the gap.")
    at: str


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


CLAIM_WIRE_MODELS: list[type[BaseModel]] = [DecisionRecord, OverrideRecord, ConflictRecord, RosterAck, RosterCommand, LedgerCommand, LedgerBody, LedgerResync]
