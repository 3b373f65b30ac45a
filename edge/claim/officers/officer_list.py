"""The officer list: who may sign in at a terminal, with which role, and how their PIN is checked.

Provisioned by the programme office and signed like rosters (the same trusted issuer keys,
``claim.issuer_keys``). Wire/file format (``tepat.officers`` v1)::

    {"officers": {...OfficerList...}, "signature": {"alg": "ed25519", "key_id": "…", "sig": "base64"}}

PINs (or passphrases) are never stored: each officer carries an scrypt hash (memory-hard; the
parameters travel with the hash, bounded here so a list cannot make a terminal spend more than
``MAX_SCRYPT_N`` × ``MAX_SCRYPT_R`` × 128 bytes and a fraction of a second per check). Everything
in this module is pure: no files, no clock (``now`` is passed in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import public_key_id, sign, verify
from edge.errors import EdgeError

OFFICERS_SCHEMA = "tepat.officers"
MAX_OFFICERS_BYTES = 2 * 1024 * 1024
OFFICER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MIN_PIN, MAX_PIN = 6, 128
# Default scrypt cost: 16 MiB and ~0.1 s on a desktop core, ~0.2-0.4 s on a Raspberry Pi 4 (docs/BENCHMARKS.md).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 2**16, 16, 2
Role = Literal["officer", "supervisor"]


class OfficersRejected(EdgeError):
    """An officer list was refused; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"officer list refused ({code}): {message}")
        self.code = code


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PinHash(_Strict):
    alg: Literal["scrypt"] = "scrypt"
    n: int = Field(SCRYPT_N, ge=2**10, le=MAX_SCRYPT_N)
    r: int = Field(SCRYPT_R, ge=1, le=MAX_SCRYPT_R)
    p: int = Field(SCRYPT_P, ge=1, le=MAX_SCRYPT_P)
    salt: str = Field(..., min_length=16, max_length=64, description="base64, at least 12 random bytes")
    hash: str = Field(..., min_length=40, max_length=64, description="base64 of the 32-byte scrypt output")

    @model_validator(mode="after")
    def _power_of_two(self) -> "PinHash":
        if self.n & (self.n - 1):
            raise ValueError("scrypt n must be a power of two")
        return self


class Officer(_Strict):
    officer_id: str = Field(..., pattern=OFFICER_ID_PATTERN)
    name: str = Field(..., min_length=1, max_length=120)
    role: Role = "officer"
    active: bool = True
    pin: PinHash


class OfficerList(_Strict):
    schema_: Literal["tepat.officers"] = Field(OFFICERS_SCHEMA, alias="schema")
    schema_version: Literal[1] = 1
    issuer: str = Field(..., min_length=1, max_length=64)
    distribution_points: list[str] = Field(..., min_length=1, max_length=1000, description="Points whose terminals accept this list.")
    version: int = Field(..., ge=1, le=2**40, description="Monotonic; a terminal refuses a version not newer than its own.")
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    officers: list[Officer] = Field(..., min_length=1, max_length=2000)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> "OfficerList":
        for t in (self.issued_at, self.valid_from, self.valid_until):
            if t.tzinfo is None:
                raise ValueError("times must carry a timezone")
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        ids = [o.officer_id for o in self.officers]
        if len(ids) != len(set(ids)):
            raise ValueError(f"officer {next(i for i in ids if ids.count(i) > 1)} appears twice")
        return self

    def find(self, officer_id: str) -> Officer | None:
        return next((o for o in self.officers if o.officer_id == officer_id and o.active), None)


# --- PINs -------------------------------------------------------------------------------------

def check_pin_policy(pin: str) -> None:
    if not (MIN_PIN <= len(pin) <= MAX_PIN):
        raise EdgeError(f"a PIN or passphrase must be {MIN_PIN} to {MAX_PIN} characters")


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r * p + 2**20, dklen=32)


def hash_pin(pin: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> PinHash:
    """Issuer side: the scrypt hash of a PIN with a fresh random salt."""
    check_pin_policy(pin)
    if not (2**10 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= MAX_SCRYPT_R and 1 <= p <= MAX_SCRYPT_P):
        raise EdgeError(f"scrypt n must be a power of two from 1024 to {MAX_SCRYPT_N} (r <= {MAX_SCRYPT_R}, p <= {MAX_SCRYPT_P})")
    salt = secrets.token_bytes(16)
    return PinHash(n=n, r=r, p=p, salt=base64.b64encode(salt).decode(), hash=base64.b64encode(_scrypt(pin, salt, n, r, p)).decode())


_DUMMY = PinHash(salt=base64.b64encode(b"\0" * 16).decode(), hash=base64.b64encode(b"\0" * 32).decode())


def pin_matches(pin: str, stored: PinHash | None) -> bool:
    """Constant-time check of ``pin`` against ``stored``; with ``stored=None`` spends the same time and says no."""
    target = stored or _DUMMY
    if not isinstance(pin, str) or not (1 <= len(pin) <= MAX_PIN):
        pin = ""
    try:
        got = _scrypt(pin, base64.b64decode(target.salt), target.n, target.r, target.p)
        ok = hmac.compare_digest(got, base64.b64decode(target.hash))
    except (ValueError, MemoryError):
        return False
    return ok and stored is not None and bool(pin)


def generate_pin(digits: int = 8) -> str:
    """A random numeric PIN (8 digits by default) for the issuer to hand out."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


# --- signing and opening ------------------------------------------------------------------------

def sign_officers(doc: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """Issuer side: wrap an officer list with its Ed25519 signature over the canonical JSON."""
    OfficerList.model_validate(doc)
    return {"officers": doc, "signature": {"alg": "ed25519", "key_id": public_key_id(key.public_key()), "sig": sign(key, canonical_json(doc))}}


def open_signed_officers(data: bytes | str | dict[str, Any], trusted: dict[str, Ed25519PublicKey], *, distribution_point: str,
                         now: datetime, installed_version: int | None = None) -> OfficerList:
    """Verify and validate a signed officer list for this terminal; raises :class:`OfficersRejected` naming why."""
    if isinstance(data, (bytes, str)):
        if len(data) > MAX_OFFICERS_BYTES:
            raise OfficersRejected("too_large", f"{len(data)} bytes; limit {MAX_OFFICERS_BYTES}")
        try:
            data = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise OfficersRejected("bad_json", f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or set(data) != {"officers", "signature"} or not isinstance(data["signature"], dict):
        raise OfficersRejected("bad_format", "expected {\"officers\": {...}, \"signature\": {...}}")
    sig, body = data["signature"], data["officers"]
    key = trusted.get(str(sig.get("key_id")))
    if key is None:
        raise OfficersRejected("unknown_issuer", f"signed by key {str(sig.get('key_id'))[:20]!r}, not a trusted issuer key")
    if sig.get("alg") != "ed25519" or not isinstance(sig.get("sig"), str) or not isinstance(body, dict):
        raise OfficersRejected("bad_signature", "malformed signature")
    try:
        message = canonical_json(body)
    except (TypeError, ValueError, RecursionError):
        raise OfficersRejected("bad_format", "officer list is not canonical JSON") from None
    if not verify(key, message, sig["sig"]):
        raise OfficersRejected("bad_signature", "signature does not match the content")
    try:
        doc = OfficerList.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise OfficersRejected("bad_schema", f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    if distribution_point not in doc.distribution_points:
        raise OfficersRejected("wrong_point", f"list is for {', '.join(doc.distribution_points[:5])}, this terminal serves {distribution_point}")
    if not (doc.valid_from <= now < doc.valid_until):
        raise OfficersRejected("not_valid_now", f"valid {doc.valid_from.isoformat()} to {doc.valid_until.isoformat()}")
    if installed_version is not None and doc.version <= installed_version:
        raise OfficersRejected("stale_version", f"version {doc.version} is not newer than the installed {installed_version}")
    return doc
