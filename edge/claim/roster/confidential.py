"""Confidential rosters: a signed roster encrypted to one terminal's own X25519 key.

Sign, then encrypt: the programme office signs the roster (Ed25519, :mod:`edge.claim.roster.document`) and seals
the signed document to the receiving terminal's roster key, so the broker, its persistence and the
``operator`` account see only ciphertext — no photos, names or household ids. Construction (one-shot,
like HPKE base mode): ephemeral X25519 → shared secret → HKDF-SHA256 (salt = ephemeral ‖ recipient public
key, info = ``tepat.sealed_roster v1``) → AES-256-GCM with the recipient key id as associated data.

Wire form::

    {"sealed_roster": {"alg": "x25519-hkdf-sha256-aes256gcm", "to": "<key id>", "epk": "b64", "nonce": "b64", "ct": "b64"}}
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from edge.claim.records.crypto import b64, load_private_pem, load_public_pem
from edge.errors import EdgeError

ALG = "x25519-hkdf-sha256-aes256gcm"
INFO = b"tepat.sealed_roster v1"
MAX_SEALED_FIELD = 96 * 1024 * 1024


class SealError(EdgeError):
    """A sealed roster cannot be opened here (``code`` as in RosterRejected)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _raw(pub: X25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def roster_key_id(pub: X25519PublicKey) -> str:
    return hashlib.sha256(b"tepat-roster-key" + _raw(pub)).hexdigest()[:16]


def _aead_key(shared: bytes, epk: bytes, recipient: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + recipient, info=INFO).derive(shared)


def seal_roster(signed: dict[str, Any], to: X25519PublicKey) -> dict[str, Any]:
    """Issuer side: the signed roster document encrypted to one terminal's roster key."""
    eph = X25519PrivateKey.generate()
    epk = _raw(eph.public_key())
    key = _aead_key(eph.exchange(to), epk, _raw(to))
    nonce = os.urandom(12)
    kid = roster_key_id(to)
    ct = AESGCM(key).encrypt(nonce, json.dumps(signed, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), kid.encode())
    return {"sealed_roster": {"alg": ALG, "to": kid, "epk": b64(epk), "nonce": b64(nonce), "ct": b64(ct)}}


def unseal_roster(sealed: Any, key: X25519PrivateKey | None) -> bytes:
    """Terminal side: the signed roster's JSON bytes; SealError naming why it cannot be opened."""
    import base64
    import binascii

    if not isinstance(sealed, dict) or sealed.get("alg") != ALG:
        raise SealError("malformed", f"sealed_roster must be {{alg: {ALG}, to, epk, nonce, ct}}")
    if key is None:
        raise SealError("no_roster_key", "this terminal has no roster key to open a sealed roster (run 'edge keys init')")
    mine = roster_key_id(key.public_key())
    if sealed.get("to") != mine:
        raise SealError("not_for_this_terminal", f"sealed to roster key {str(sealed.get('to'))[:16]!r}, this terminal's is {mine!r}")
    try:
        fields = {n: base64.b64decode(sealed[n], validate=True) for n in ("epk", "nonce", "ct") if len(str(sealed[n])) <= MAX_SEALED_FIELD}
        epk, nonce, ct = fields["epk"], fields["nonce"], fields["ct"]
        shared = key.exchange(X25519PublicKey.from_public_bytes(epk))
        return AESGCM(_aead_key(shared, epk, _raw(key.public_key()))).decrypt(nonce, ct, mine.encode())
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise SealError("malformed", "sealed_roster fields are missing, too large or not base64 of the right length") from None
    except InvalidTag:
        raise SealError("bad_seal", "sealed roster does not decrypt (altered in transit, or sealed to another key)") from None


def new_roster_key_pem() -> bytes:
    return X25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())


def public_pem(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_roster_private(path: Path) -> X25519PrivateKey:
    return load_private_pem(path, X25519PrivateKey, "X25519")


def load_roster_public(path: Path) -> X25519PublicKey:
    return load_public_pem(path, X25519PublicKey, "X25519", "the terminal's roster_x25519.pub.pem")
