"""Writing what the ingest accepted: records (idempotent by key), payouts (one per recipient × period),
conflicts, status, health, quarantine; and the device registry and roster log the operators manage.

:func:`store_checked` runs inside one transaction per message; the broker is acknowledged only after
that transaction commits. A second payout for the same recipient and period is refused by the database's
unique index, recorded as a conflict and relayed to both terminals.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.central.db import Database, utc_now
from edge.central.relay import entry_of, queue_ledger, targets
from edge.central.verify import Checked, DeviceEntry, utc_iso
from edge.claim.records.crypto import parse_public_key, public_key_id
from edge.errors import EdgeError

logger = logging.getLogger(__name__)


@dataclass
class Stored:
    new: bool = False
    payout: bool = False
    conflict: dict[str, Any] | None = None
    outgoing: list[dict[str, Any]] = field(default_factory=list)  # ledger_out rows to publish after commit
    resync: tuple[str, int] | None = None


# --- device registry --------------------------------------------------------------------------
def add_device(db: Database, device_id: str, region: str, point: str, public_key_pem: str) -> dict[str, Any]:
    key = parse_public_key(public_key_pem.encode(), f"public key of {device_id}")
    kid = public_key_id(key)
    with db.transaction():
        if db.one("SELECT 1 AS x FROM devices WHERE device_id = ?", (device_id,)):
            db.execute("UPDATE devices SET region = ?, distribution_point = ?, public_key = ?, key_id = ?, revoked_at = NULL WHERE device_id = ?",
                       (region, point, public_key_pem, kid, device_id))
        else:
            db.execute("INSERT INTO devices(device_id, region, distribution_point, public_key, key_id, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                       (device_id, region, point, public_key_pem, kid, utc_now()))
    return {"device_id": device_id, "region": region, "distribution_point": point, "key_id": kid}


def revoke_device(db: Database, device_id: str) -> None:
    if not db.execute("UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL", (utc_now(), device_id)):
        raise EdgeError(f"no active device {device_id!r} in the registry")


def list_devices(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT device_id, region, distribution_point, key_id, added_at, revoked_at, status, last_seen FROM devices ORDER BY device_id")


def device_lookup(db: Database) -> Any:
    def lookup(device_id: str) -> DeviceEntry | None:
        r = db.one("SELECT device_id, region, distribution_point, public_key, revoked_at FROM devices WHERE device_id = ?", (device_id,))
        return DeviceEntry(r["device_id"], r["region"], r["distribution_point"], r["public_key"], r["revoked_at"] is not None) if r else None
    return lookup


def add_roster(db: Database, signed: dict[str, Any], region: str | None = None) -> dict[str, Any]:
    """Log a roster the programme office issued (its size is what the dashboard compares payouts against)."""
    r = signed.get("roster") or {}
    row = {"distribution_point": r.get("distribution_point"), "version": r.get("version"), "period": r.get("period"),
           "recipients": len(r.get("recipients") or []), "key_id": (signed.get("signature") or {}).get("key_id", "?"),
           "issued_at": str(r.get("issued_at"))}
    if not isinstance(row["distribution_point"], str) or not isinstance(row["version"], int) or not isinstance(row["period"], str):
        raise EdgeError("not a signed roster document (roster.distribution_point, version, period)")
    with db.transaction():
        db.execute("DELETE FROM rosters WHERE distribution_point = ? AND version = ?", (row["distribution_point"], row["version"]))
        db.execute("INSERT INTO rosters VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (row["distribution_point"], row["version"], row["period"], region,
                                                                          row["recipients"], row["key_id"], row["issued_at"], utc_now()))
    return row


# --- ingest -----------------------------------------------------------------------------------
def quarantine(db: Database, c: Checked, payload: bytes) -> None:
    db.execute("INSERT INTO quarantine(received_at, topic, device_id, reason_code, detail, payload) VALUES (?, ?, ?, ?, ?, ?)",
               (utc_now(), c.topic[:300], (c.device_id or "")[:80], c.reason, c.detail, payload[:65536].decode("utf-8", "replace")))


def _seen(db: Database, device_id: str, status: str | None = None) -> None:
    if status:
        db.execute("UPDATE devices SET last_seen = ?, status = ?, status_at = ? WHERE device_id = ?", (utc_now(), status, utc_now(), device_id))
    else:
        db.execute("UPDATE devices SET last_seen = ? WHERE device_id = ?", (utc_now(), device_id))


def touch_devices(db: Database, device_ids: set[str]) -> None:
    """Last seen = now for these devices, in a fixed order (two workers never lock the same rows in opposite orders)."""
    now = utc_now()
    for d in sorted(device_ids):
        db.execute("UPDATE devices SET last_seen = ? WHERE device_id = ?", (now, d))


def store_checked(db: Database, c: Checked, key: Ed25519PrivateKey, relay_scope: str = "point", touch: bool = True) -> Stored:
    """Write one checked message; call inside ``db.transaction()``. With ``touch=False`` the caller updates
    ``devices.last_seen`` itself (:func:`touch_devices`, once per batch)."""
    out = Stored()
    assert c.device_id is not None
    if c.channel == "status":
        _seen(db, c.device_id, (c.status or {}).get("state"))
        return out
    env = c.envelope
    if c.channel == "health":
        p = env["payload"]
        db.execute("INSERT INTO health(device_id, received_at, created_at, pending, oldest_pending_s, alarms, snapshot) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (c.device_id, utc_now(), env["created_at"], p.get("outbox_backlog"), p.get("outbox_oldest_age_s"),
                    ",".join(str(a) for a in p.get("alarms") or []), json.dumps(p, sort_keys=True)))
        if touch:
            _seen(db, c.device_id)
        return out
    rec = c.record or env["payload"]
    stamp = rec.get("position") if isinstance(rec.get("position"), dict) else {}
    pos = stamp.get("fix") if isinstance(stamp.get("fix"), dict) else {}  # only a current fix goes on the map
    outcome = rec.get("outcome") or rec.get("new_outcome")
    new = db.execute(
        "INSERT INTO records(idempotency_key, device_id, seq, kind, schema_name, created_at, received_at, outcome, reason_code, recipient_id,"
        " period, distribution_point, region, lat, lon, ref_key, signed, envelope) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (idempotency_key) DO NOTHING",
        (env["idempotency_key"], c.device_id, env["seq"], env["kind"], rec.get("schema"), utc_iso(env["created_at"]), utc_now(), outcome,
         rec.get("reason_code"), rec.get("recipient_id"), rec.get("period"), rec.get("distribution_point"), c.region,
         pos.get("lat"), pos.get("lon"), rec.get("original_key") or rec.get("local_key"), 1 if c.record is not None else 0, json.dumps(env, sort_keys=True)))
    if touch:
        _seen(db, c.device_id)
    if not new:
        return out  # a repeat delivery: already stored, nothing else to do
    out.new = True
    if env["kind"] == "ledger_resync":
        out.resync = (c.device_id, int(rec["from_seq"]))
        return out
    if c.record is None:
        return out
    if env["kind"] == "override" and rec.get("new_outcome") == "reject":
        db.execute("UPDATE payouts SET voided_by = ? WHERE idempotency_key = ? AND voided_by IS NULL", (rec["idempotency_key"], rec.get("original_key")))
        return out
    pays = (env["kind"] == "decision" and rec.get("outcome") == "accept") or (env["kind"] == "override" and rec.get("new_outcome") == "accept")
    if not pays or not rec.get("recipient_id") or not rec.get("period"):
        return out
    payout = {"idempotency_key": rec["idempotency_key"], "recipient_id": rec["recipient_id"], "period": rec["period"], "device_id": c.device_id,
              "distribution_point": rec["distribution_point"], "region": c.region, "decided_at": utc_iso(rec["time"]["wall"])}
    first = db.one("SELECT * FROM payouts WHERE recipient_id = ? AND period = ? AND voided_by IS NULL", (payout["recipient_id"], payout["period"]))
    if first is None:
        db.execute("INSERT INTO payouts(idempotency_key, recipient_id, period, device_id, distribution_point, region, decided_at)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?)", tuple(payout[k] for k in ("idempotency_key", "recipient_id", "period", "device_id",
                                                                              "distribution_point", "region", "decided_at")))
        out.payout = True
        for t in targets(db, payout, relay_scope):
            out.outgoing.append(queue_ledger(db, key, t["device_id"], [entry_of(payout)], "payout") | {"region": t["region"]})
        return out
    # A second payout in force for the same recipient and period: the centre's own double-payment alarm.
    db.execute("INSERT INTO conflicts(recipient_id, period, first_key, second_key, first_device, second_device, detected_at)"
               " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (first_key, second_key) DO NOTHING",
               (payout["recipient_id"], payout["period"], first["idempotency_key"], payout["idempotency_key"], first["device_id"],
                payout["device_id"], utc_now()))
    out.conflict = {"recipient_id": payout["recipient_id"], "period": payout["period"], "first": first, "second": payout}
    logger.warning("Double payout: %s in %s paid by %s (%s) and by %s (%s); both terminals told", payout["recipient_id"], payout["period"],
                   first["device_id"], first["decided_at"], payout["device_id"], payout["decided_at"])
    regions = {r["device_id"]: r["region"] for r in db.query("SELECT device_id, region FROM devices WHERE device_id IN (?, ?)",
                                                             (first["device_id"], payout["device_id"]))}
    if first["device_id"] != payout["device_id"]:
        out.outgoing.append(queue_ledger(db, key, payout["device_id"], [entry_of(first)], "conflict") | {"region": regions.get(payout["device_id"])})
        out.outgoing.append(queue_ledger(db, key, first["device_id"], [entry_of(payout)], "conflict") | {"region": regions.get(first["device_id"])})
    return out
