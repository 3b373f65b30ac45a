"""Check an outbox row's record signature just before it is published (issue 13: tampered rows).

The outbox's sha256 checksum catches bit rot, not an edit: whoever can write ``outbox.sqlite`` can turn a
``reject`` into an ``accept`` and recompute the checksum. Every payout record (decision, override,
conflict, roster_ack) is signed with the device's Ed25519 key when it is made, so the publisher checks
that signature against the device's own public key before the row leaves the terminal; a row that fails
is quarantined (kept for audit, never published). Rows that are not records (health, telemetry) carry no
signature and pass.

Pure apart from loading the key: :class:`RowVerifier` is ``(payload_json, durable_class) -> problem | None``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import public_key_id, sign

from edge.claim.records.signed import verify_record
from edge.errors import EdgeError
from edge.safejson import loads_bounded

logger = logging.getLogger(__name__)

SIGNED_KINDS = frozenset({"decision", "override", "conflict", "roster_ack"})
SIGNED_SCHEMAS = frozenset({"tepat.decision", "tepat.override", "tepat.conflict", "tepat.roster_ack"})


def sign_payload(payload: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``payload`` with the device's signature over its canonical JSON (what records carry; e.g. roster_ack)."""
    body = {k: v for k, v in payload.items() if k != "signature"}
    return {**body, "signature": {"alg": "ed25519", "key_id": public_key_id(key.public_key()), "sig": sign(key, canonical_json(body))}}


def must_be_signed(kind: str, durable_class: str, payload: dict[str, Any]) -> bool:
    """Records (by kind, schema or a signature present) must carry a valid device signature.

    ``durable_class`` is deliberately not a criterion: new record kinds other modules add are not
    quarantined until they are signed and listed here."""
    return kind in SIGNED_KINDS or payload.get("schema") in SIGNED_SCHEMAS or "signature" in payload


def row_problem(payload_json: str, durable_class: str, key: Ed25519PublicKey | None, device_id: str) -> str | None:
    """None when the row may be published; else why not (one line)."""
    try:
        env = loads_bounded(payload_json, what="outbox row")
    except EdgeError as exc:
        return str(exc)
    if not isinstance(env, dict) or not isinstance(env.get("payload"), dict):
        return "outbox row is not an envelope with a payload"
    payload = env["payload"]
    if not must_be_signed(str(env.get("kind", "")), durable_class, payload):
        return None
    if key is None:
        return "record cannot be verified: this terminal has no device key"
    if payload.get("device_id") not in (None, device_id) or env.get("device_id") != device_id:
        return f"record names device {payload.get('device_id')!r}, not this terminal {device_id!r}"
    if not verify_record(payload, key):
        return "record signature does not verify against this terminal's key (altered after signing)"
    return None


class RowVerifier:
    """The publisher's pre-publish check; the device key is resolved lazily (``key_loader`` may raise EdgeError)."""

    def __init__(self, device_id: str, key_loader: Callable[[], Ed25519PublicKey]) -> None:
        self.device_id = device_id
        self._loader = key_loader
        self._key: Ed25519PublicKey | None = None
        self.refused = 0

    def _public_key(self) -> Ed25519PublicKey | None:
        if self._key is None:
            try:
                self._key = self._loader()
            except EdgeError as exc:
                logger.error("outbox: cannot load the device key to verify records: %s", exc)
        return self._key

    def __call__(self, payload_json: str, durable_class: str) -> str | None:
        problem = row_problem(payload_json, durable_class, self._public_key(), self.device_id)
        if problem:
            self.refused += 1
        return problem


def verifier_for_config(cfg: Any) -> RowVerifier:
    """The verifier for ``edge run``: this terminal's device key from claim.device_key_file (or the keys folder)."""
    from edge.claim.keys import device_key

    return RowVerifier(cfg.device.device_id, lambda: device_key(cfg).public_key())
