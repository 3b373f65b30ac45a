"""The roster: who may collect what at this distribution point in this aid period.

Wire/file format (``tepat.roster`` v1)::

    {"roster": {...Roster...}, "signature": {"alg": "ed25519", "key_id": "…", "sig": "base64"}}

The signature covers the canonical JSON (sorted keys, no whitespace) of the ``roster`` object
exactly as received, so verification never depends on how this code re-serialises a model.
:func:`open_signed_roster` is pure: bytes in, a validated :class:`Roster` or a
:class:`RosterRejected` naming the reason out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import public_key_id, sign, verify
from edge.errors import EdgeError
from edge.safejson import loads_bounded

ROSTER_SCHEMA = "tepat.roster"
ROSTER_SCHEMA_VERSION = 1
MAX_ROSTER_BYTES = 64 * 1024 * 1024
MAX_PHOTO_B64 = 400_000  # ~300 KB JPEG per reference photo
PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
RECIPIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


MAX_ROSTER_VERSION = 2**31 - 1  # room for counters and yyyymmddNN (2026110101); 2**62 can no longer lock out every later roster


class IssuerTrust(dict):
    """The terminal's trust store: key id → issuer public key (a dict, so plain ``{id: key}`` callers keep working),
    plus what each key may sign: the issuer name it is bound to and the distribution points (None = any),
    and the version floor below which no roster is installed, even on an empty terminal."""

    def __init__(self, keys: dict[str, Ed25519PublicKey] | None = None, *, min_version: int = 1) -> None:
        super().__init__(keys or {})
        self.names: dict[str, str] = {}
        self.points: dict[str, frozenset[str]] = {}
        self.min_version = min_version
        self.roster_key: Any = None  # this terminal's X25519 private key, to open sealed rosters (edge.claim.roster.confidential)
        self.require_sealed = False

    def add(self, key: Ed25519PublicKey, *, name: str | None = None, points: list[str] | None = None) -> str:
        kid = public_key_id(key)
        self[kid] = key
        if name is not None:
            self.names[kid] = name
        if points is not None and "*" not in points:
            self.points[kid] = frozenset(points)
        return kid


class RosterRejected(EdgeError):
    """A roster (file or MQTT message) was refused; ``code`` is machine-readable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"roster refused ({code}): {message}")
        self.code = code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entitlement(_Strict):
    programme: str = Field(..., min_length=1, max_length=32, description="Programme code, e.g. 'PKH', 'BPNT'.")
    period: str = Field(..., pattern=PERIOD_PATTERN, description="Aid period, YYYY-MM.")
    amount: int = Field(..., ge=0, le=100_000_000, description="Amount in rupiah.")
    currency: Literal["IDR"] = "IDR"


class Template(_Strict):
    model_sha256: str = Field(..., pattern=r"^[0-9a-f]{64}$", description="sha256 of the embedder that made this template.")
    vector: list[float] = Field(..., min_length=32, max_length=1024, description="L2-normalised embedding.")

    @field_validator("vector")
    @classmethod
    def _finite(cls, v: list[float]) -> list[float]:
        if any(x != x or x in (float("inf"), float("-inf")) for x in v):
            raise ValueError("template vector has NaN or infinite values")
        return v


class Recipient(_Strict):
    recipient_id: str = Field(..., pattern=RECIPIENT_ID_PATTERN, description="Programme id or keyed hash; never the NIK in clear.")
    display_name: str = Field(..., min_length=1, max_length=120)
    household_id: str = Field(..., min_length=1, max_length=64)
    entitlement: Entitlement
    eligible: bool = True
    ineligible_reason: str | None = Field(None, max_length=200)
    templates: list[Template] = Field(default_factory=list, max_length=16)
    photos_b64: list[str] = Field(default_factory=list, max_length=8, description="Reference JPEG photos, base64.")

    @field_validator("recipient_id")
    @classmethod
    def _not_a_nik(cls, v: str) -> str:
        if len(v) == 16 and v.isdigit():
            raise ValueError("looks like a 16-digit NIK in clear; use the programme id or a keyed hash")
        return v

    @field_validator("photos_b64")
    @classmethod
    def _photo_size(cls, v: list[str]) -> list[str]:
        for i, p in enumerate(v):
            if len(p) > MAX_PHOTO_B64:
                raise ValueError(f"photo {i} is {len(p)} base64 chars, more than {MAX_PHOTO_B64}")
        return v


class Roster(_Strict):
    schema_: Literal["tepat.roster"] = Field(ROSTER_SCHEMA, alias="schema")
    schema_version: Literal[1] = ROSTER_SCHEMA_VERSION
    kind: Literal["full", "delta"] = "full"
    issuer: str = Field(..., min_length=1, max_length=64)
    distribution_point: str = Field(..., min_length=1, max_length=64)
    period: str = Field(..., pattern=PERIOD_PATTERN)
    version: int = Field(..., ge=1, le=MAX_ROSTER_VERSION, description="Monotonic; a device refuses a version not newer than its own.")
    base_version: int | None = Field(None, ge=1, le=MAX_ROSTER_VERSION, description="Delta only: the version it applies to.")
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    enrolment_allowed: bool = Field(False, description="Month one: officers may record reference photos for recipients without templates.")
    recipients: list[Recipient] = Field(default_factory=list, max_length=100_000)
    removed: list[str] = Field(default_factory=list, max_length=100_000, description="Delta only: recipient ids to drop.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> "Roster":
        for dt in (self.issued_at, self.valid_from, self.valid_until):
            if dt.tzinfo is None:
                raise ValueError("times must carry a timezone (e.g. 2026-11-01T00:00:00+07:00)")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        if self.kind == "delta" and self.base_version is None:
            raise ValueError("a delta roster needs base_version")
        if self.kind == "full" and (self.base_version is not None or self.removed):
            raise ValueError("a full roster has no base_version or removed list")
        ids = [r.recipient_id for r in self.recipients]
        if len(ids) != len(set(ids)):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"recipient {dup} appears twice")
        for r in self.recipients:
            if r.entitlement.period != self.period:
                raise ValueError(f"recipient {r.recipient_id}: entitlement period {r.entitlement.period} is not the roster period {self.period}")
        return self


class InstalledRoster(BaseModel):
    """What the device currently holds, for the monotonic-version check."""

    version: int
    period: str
    distribution_point: str


@dataclass(frozen=True)
class RecipientInfo:
    """One recipient of the installed roster, as the claim decision sees it."""

    recipient_id: str
    display_name: str
    eligible: bool = True
    ineligible_reason: str | None = None
    entitlement_period: str | None = None
    has_template: bool = True


@dataclass(frozen=True)
class RosterState:
    """The installed roster as the claim decision sees it (``installed=False``: none yet)."""

    installed: bool
    period: str | None = None
    valid_until: datetime | None = None
    enrolment_allowed: bool = False


def sign_roster(roster: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Issuer side: wrap a roster object with its Ed25519 signature over the canonical JSON."""
    Roster.model_validate(roster)  # refuse to sign something a device would reject as malformed
    return {
        "roster": roster,
        "signature": {"alg": "ed25519", "key_id": public_key_id(key.public_key()), "sig": sign(key, canonical_json(roster))},
    }


def _schema_problem(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def _unsealed(doc: Any, trusted_keys: dict[str, Ed25519PublicKey]) -> Any:
    """The signed document inside a sealed roster (confidential in transit); plain ones pass unless sealing is required."""
    sealed = doc.get("sealed_roster") if isinstance(doc, dict) else None
    trust = trusted_keys if isinstance(trusted_keys, IssuerTrust) else None
    if sealed is None:
        if trust is not None and trust.require_sealed:
            raise RosterRejected("not_sealed", "this terminal accepts only rosters sealed to its roster key (claim.require_sealed_rosters)")
        return doc
    from edge.claim.roster.confidential import SealError, unseal_roster

    try:
        inner = unseal_roster(sealed, trust.roster_key if trust is not None else None)
    except SealError as exc:
        raise RosterRejected(exc.code, str(exc)) from None
    try:
        return loads_bounded(inner, what="sealed roster", max_depth=16)
    except EdgeError as exc:
        raise RosterRejected("malformed", str(exc)) from None


def _check_binding(trust: IssuerTrust, key_id: str, roster: Roster) -> None:
    name = trust.names.get(key_id)
    if name is not None and roster.issuer != name:
        raise RosterRejected("wrong_issuer", f"signed by the key of {name!r} but names issuer {roster.issuer!r}")
    points = trust.points.get(key_id)
    if points is not None and roster.distribution_point not in points:
        raise RosterRejected("issuer_not_allowed", f"issuer key {key_id} may not sign for distribution point {roster.distribution_point!r}")


def open_signed_roster(
    data: bytes | str | dict[str, Any],
    trusted_keys: dict[str, Ed25519PublicKey],
    installed: InstalledRoster | None,
    now: datetime,
    distribution_point: str | None = None,
) -> Roster:
    """Verify and validate a signed roster; raises :class:`RosterRejected` with the reason.

    Order: parse → signature present → issuer key known → signature valid → schema →
    distribution point → validity window → version newer (and delta base matches).
    """
    if isinstance(data, (bytes, str)):
        if len(data) > MAX_ROSTER_BYTES:
            raise RosterRejected("too_large", f"{len(data)} bytes, limit {MAX_ROSTER_BYTES}")
        try:
            doc = loads_bounded(data, what="roster", max_depth=16)
        except EdgeError as exc:
            raise RosterRejected("malformed", str(exc)) from None
    else:
        doc = data
    doc = _unsealed(doc, trusted_keys)
    if not isinstance(doc, dict) or not isinstance(doc.get("roster"), dict):
        raise RosterRejected("malformed", "expected an object with 'roster' and 'signature'")
    sig = doc.get("signature")
    if not sig:
        raise RosterRejected("unsigned", "the roster carries no signature")
    if not isinstance(sig, dict) or sig.get("alg") != "ed25519" or not isinstance(sig.get("sig"), str) or not isinstance(sig.get("key_id"), str):
        raise RosterRejected("bad_signature", "signature must be {alg: ed25519, key_id, sig}")
    key = trusted_keys.get(sig["key_id"])
    if not trusted_keys:
        raise RosterRejected("unknown_issuer", "this terminal trusts no roster issuer yet (set claim.issuer_keys)")
    if key is None:
        raise RosterRejected("unknown_issuer", f"signed by key {sig['key_id'][:32]!r}, which this device does not trust")
    try:
        message = canonical_json(doc["roster"])
    except (ValueError, TypeError):
        raise RosterRejected("malformed", "roster is not canonicalisable JSON") from None
    if not verify(key, message, sig["sig"]):
        raise RosterRejected("bad_signature", "signature does not match the content (tampered, or signed with another key)")
    try:
        roster = Roster.model_validate(doc["roster"])
    except ValidationError as exc:
        raise RosterRejected("malformed", _schema_problem(exc)) from None
    if isinstance(trusted_keys, IssuerTrust):
        _check_binding(trusted_keys, sig["key_id"], roster)
    if distribution_point is not None and roster.distribution_point != distribution_point:
        raise RosterRejected("wrong_point", f"roster is for distribution point {roster.distribution_point!r}, this terminal serves {distribution_point!r}")
    if now >= roster.valid_until:
        raise RosterRejected("expired", f"valid until {roster.valid_until.isoformat()}, now {now.isoformat()}")
    if now < roster.valid_from:
        raise RosterRejected("not_yet_valid", f"valid from {roster.valid_from.isoformat()}")
    if roster.kind == "delta":
        if installed is None:
            raise RosterRejected("no_base", f"delta for version {roster.base_version} but no roster is installed")
        if roster.base_version != installed.version:
            raise RosterRejected("wrong_base", f"delta applies to version {roster.base_version}, installed is {installed.version}")
        if roster.period != installed.period:
            raise RosterRejected("wrong_base", f"delta for period {roster.period}, installed roster is for {installed.period}")
    floor = trusted_keys.min_version if isinstance(trusted_keys, IssuerTrust) else 1
    if roster.version < floor:
        raise RosterRejected("below_floor", f"version {roster.version} is below this terminal's floor {floor} (claim.roster_min_version)")
    if installed is not None and roster.version <= installed.version:
        raise RosterRejected("stale_version", f"version {roster.version} is not newer than the installed version {installed.version}")
    return roster
