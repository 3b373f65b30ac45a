"""Signed, schema-versioned records: one per decision, override, enrolment or ledger conflict.

A record is signed by the device's Ed25519 key over the canonical JSON of every field except
``signature``; :func:`verify_record` is what the central side (or the monitor) runs to detect a
forged or altered record. Overrides reference the original record's idempotency key and never
replace it.
"""

from __future__ import annotations

from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_serializer, model_validator

from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import public_key_id, sign, verify
from edge.gps.model import PositionStamp
from edge.timesource import Timestamp

RECORD_SCHEMA_VERSION = 1
ACTIVE_CHECK_SCHEMA_VERSION = 2  # an override that carries ``active_check``; without it an override is exactly version 1


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Signature(_Wire):
    alg: Literal["ed25519"] = "ed25519"
    key_id: str = Field(..., max_length=64)
    sig: str = Field(..., max_length=200)


class Scores(_Wire):
    mode: Literal["1:1", "1:N", "none"]
    top_id: str | None = None
    top_score: float | None = None
    runner_up_id: str | None = None
    runner_up_score: float | None = None
    accept_threshold: float | None = None
    refer_threshold: float | None = None
    margin: float | None = None
    liveness_score: float | None = None
    live: bool | None = None


class QualityInfo(_Wire):
    passed: bool
    reason: str | None = None
    frames_ok: int = 0
    frames_total: int = 0


class ActiveCheckInfo(_Wire):
    """The active liveness check an officer ran on a referral (docs/LIVENESS.md): a head turn over a burst."""

    method: Literal["head_turn"] = "head_turn"
    passed: bool
    turn_deg: float = Field(..., ge=0, le=360, description="Yaw spread (max - min) over the frames that showed the recipient's face.")
    min_turn_deg: float = Field(..., ge=0, le=360, description="The spread needed to pass.")
    frames_total: int = Field(..., ge=0, le=1000)
    frames_with_face: int = Field(..., ge=0, le=1000)
    frames_matched: int = Field(..., ge=0, le=1000, description="Frames whose face matched the recipient (only these count for the turn).")
    best_match_score: float | None = Field(None, description="Best face score of the burst against the recipient's templates.")
    officer_id: str = Field(..., min_length=1, max_length=64, description="The signed-in officer who ran the check.")
    checked_at: str = Field(..., max_length=40, description="When the burst was judged (ISO-8601, terminal time).")
    reason: str = Field(..., max_length=300)


class _Signed(_Wire):
    schema_version: int = RECORD_SCHEMA_VERSION
    idempotency_key: str = Field(..., min_length=8, max_length=80)
    seq: int = Field(..., ge=1, description="Per-device record sequence number.")
    device_id: str
    distribution_point: str
    time: Timestamp = Field(..., description="Decision time, its source (gps/ntp/rtc/unsynchronised) and boot order.")
    position: PositionStamp = Field(..., description="GPS fix (or explicit no-fix with the last known position) at decision time.")
    signature: Signature | None = None


class DecisionRecord(_Signed):
    schema_: Literal["tepat.decision"] = Field("tepat.decision", alias="schema")
    outcome: Literal["accept", "reject", "refer", "retake"]
    reason_code: str
    message: dict[str, str]
    recipient_id: str | None
    claimed_id: str | None
    period: str | None
    roster_version: int | None
    officer_id: str | None
    scores: Scores
    quality: QualityInfo | None
    model_sha256: str | None
    flags: list[str] = Field(default_factory=list)
    entitlement: dict[str, Any] | None = None
    attempt: int = 1

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OverrideRecord(_Signed):
    schema_: Literal["tepat.override"] = Field("tepat.override", alias="schema")
    original_key: str = Field(..., description="Idempotency key of the decision being overridden (kept, not erased).")
    original_outcome: str
    new_outcome: Literal["accept", "reject"]
    reason_code: str = Field(..., pattern=r"^[a-z][a-z0-9_]{1,40}$")
    note: str | None = Field(None, max_length=500)
    officer_id: str = Field(..., min_length=1, max_length=64, description="The signed-in officer (PIN verified), never a typed id.")
    recipient_id: str | None
    period: str | None
    second_officer_id: str | None = Field(None, max_length=64, description="The second officer who approved, PIN verified.")
    two_person_reason: Literal["void", "reject_to_accept", "pay_after_void", "accept_after_failed_check"] | None = Field(
        None, description="Why two officers were needed (None: one was enough).")
    active_check: ActiveCheckInfo | None = Field(
        None, description=f"The active check run on the original referral (schema_version {ACTIVE_CHECK_SCHEMA_VERSION}); absent when none was run.")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _versioned(self) -> "OverrideRecord":
        if self.active_check is not None and self.schema_version < ACTIVE_CHECK_SCHEMA_VERSION:
            raise ValueError(f"active_check needs schema_version {ACTIVE_CHECK_SCHEMA_VERSION} or later")
        return self

    @model_serializer(mode="wrap")
    def _omit_absent_check(self, handler: Any) -> dict[str, Any]:
        # Overrides without an active check serialise exactly as schema_version 1 did, so their signatures hold.
        data = handler(self)
        if isinstance(data, dict) and data.get("active_check", 0) is None:
            del data["active_check"]
        return data


class ConflictRecord(_Signed):
    schema_: Literal["tepat.conflict"] = Field("tepat.conflict", alias="schema")
    recipient_id: str
    period: str
    local_key: str = Field(..., description="Idempotency key of this terminal's disbursement.")
    local_decided_at: str
    other_key: str
    other_device_id: str
    other_distribution_point: str
    other_decided_at: str

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


RECORD_MODELS: dict[str, type[_Signed]] = {
    "tepat.decision": DecisionRecord,
    "tepat.override": OverrideRecord,
    "tepat.conflict": ConflictRecord,
}


def _payload(record: BaseModel | dict[str, Any]) -> dict[str, Any]:
    data = record.model_dump(mode="json", by_alias=True) if isinstance(record, BaseModel) else dict(record)
    data.pop("signature", None)
    return data


def sign_record(record: _Signed, key: Ed25519PrivateKey) -> _Signed:
    """A copy of ``record`` carrying the device's signature."""
    sig = Signature(key_id=public_key_id(key.public_key()), sig=sign(key, canonical_json(_payload(record))))
    return record.model_copy(update={"signature": sig})


def verify_record(record: BaseModel | dict[str, Any], public_key: Ed25519PublicKey) -> bool:
    """True when ``record`` (model or the JSON dict as received) is unaltered and signed by ``public_key``."""
    data = record.model_dump(mode="json", by_alias=True) if isinstance(record, BaseModel) else record
    if not isinstance(data, dict):
        return False
    sig = data.get("signature")
    if not isinstance(sig, dict) or sig.get("alg") != "ed25519" or not isinstance(sig.get("sig"), str):
        return False
    if sig.get("key_id") != public_key_id(public_key):
        return False
    try:
        message = canonical_json(_payload(data))
    except (TypeError, ValueError):
        return False
    return verify(public_key, message, sig["sig"])


def parse_record(data: dict[str, Any]) -> _Signed:
    """The typed record for a received dict (by its ``schema``); raises ValueError on anything else."""
    model = RECORD_MODELS.get(data.get("schema", "")) if isinstance(data, dict) else None
    if model is None:
        raise ValueError(f"unknown record schema {data.get('schema') if isinstance(data, dict) else type(data).__name__!r}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None
