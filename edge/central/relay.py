"""The ledger relay: each new payout goes, signed by the central key, to the other terminals serving that recipient.

A message is numbered per terminal (1, 2, 3 … in ``ledger_out``, allocated inside the transaction that
stored the payout), signed like a roster (Ed25519 over the canonical JSON of the ``ledger`` object), kept,
and published after the commit. A terminal that sees a gap asks for a resync and gets the kept messages again.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.central.db import Database, utc_now
from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import public_key_id, sign
from edge.claim.records.wire import LEDGER_SCHEMA, LEDGER_SCHEMA_VERSION, LedgerBody
from edge.messages import CommandEnvelope, new_key

RELAY_SCOPES = ("point", "region", "all")
RESYNC_BATCH = 100


def sign_ledger(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``cmd/ledger`` args: the body and the central key's signature over its canonical JSON."""
    LedgerBody.model_validate(body)  # never sign what a terminal would refuse as malformed
    return {"ledger": body, "signature": {"alg": "ed25519", "key_id": public_key_id(key.public_key()), "sig": sign(key, canonical_json(body))}}


def entry_of(payout: dict[str, Any]) -> dict[str, Any]:
    return {k: payout[k] for k in ("recipient_id", "period", "idempotency_key", "device_id", "distribution_point", "decided_at")}


def targets(db: Database, payout: dict[str, Any], scope: str) -> list[dict[str, Any]]:
    """Registered, unrevoked terminals other than the payer that serve the payout's point (or region, or all)."""
    sql = "SELECT device_id, region FROM devices WHERE revoked_at IS NULL AND device_id <> ?"
    params: list[Any] = [payout["device_id"]]
    if scope == "point":
        sql += " AND distribution_point = ?"
        params.append(payout["distribution_point"])
    elif scope == "region":
        sql += " AND region = ?"
        params.append(payout["region"])
    return db.query(sql + " ORDER BY device_id", params)


def queue_ledger(db: Database, key: Ed25519PrivateKey, device_id: str, entries: list[dict[str, Any]], reason: str) -> dict[str, Any]:
    """Inside a transaction: allocate the device's next sequence number, sign and keep the message; returns the row."""
    row = db.one("SELECT MAX(seq) AS last FROM ledger_out WHERE device_id = ?", (device_id,))
    seq = int(row["last"] or 0) + 1 if row else 1
    body = {"schema": LEDGER_SCHEMA, "schema_version": LEDGER_SCHEMA_VERSION, "device_id": device_id, "seq": seq,
            "issued_at": datetime.now(timezone.utc).isoformat(), "reason": reason, "entries": entries}
    message = json.dumps(sign_ledger(body, key), sort_keys=True)
    db.execute("INSERT INTO ledger_out(device_id, seq, message, created_at) VALUES (?, ?, ?, ?)", (device_id, seq, message, utc_now()))
    return {"device_id": device_id, "seq": seq, "message": message}


def command_payload(row: dict[str, Any], issuer: str = "tepat-central") -> str:
    """The MQTT payload of one kept ledger message (a command envelope around it)."""
    env = CommandEnvelope(command_id=f"ledger-{row['device_id']}-{row['seq']}-{new_key()[:8]}", issued_at=datetime.now(timezone.utc),
                          issuer=issuer, args=json.loads(row["message"]))
    return env.model_dump_json()


def unsent(db: Database, limit: int = 1000) -> list[dict[str, Any]]:
    return db.query("SELECT l.device_id, l.seq, l.message, d.region FROM ledger_out l JOIN devices d ON d.device_id = l.device_id"
                    " WHERE l.sent_at IS NULL ORDER BY l.device_id, l.seq LIMIT ?", (limit,))


def resend_from(db: Database, device_id: str, from_seq: int) -> list[dict[str, Any]]:
    return db.query("SELECT l.device_id, l.seq, l.message, d.region FROM ledger_out l JOIN devices d ON d.device_id = l.device_id"
                    " WHERE l.device_id = ? AND l.seq >= ? ORDER BY l.seq LIMIT ?", (device_id, from_seq, RESYNC_BATCH))


def mark_sent(db: Database, device_id: str, seq: int) -> None:
    db.execute("UPDATE ledger_out SET sent_at = ? WHERE device_id = ? AND seq = ?", (utc_now(), device_id, seq))
