"""What the dashboard shows, as plain data from the database (the JSON API returns exactly this)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from edge.central.db import Database

OFFLINE_AFTER_S = 600.0


def _age_s(iso: str | None, now: datetime) -> float | None:
    if not iso:
        return None
    try:
        return max(0.0, (now - datetime.fromisoformat(iso)).total_seconds())
    except ValueError:
        return None


def summary(db: Database, now: datetime | None = None, tz_hours: int = 7) -> dict[str, Any]:
    """Everything the page needs; ``tz_hours`` sets where 'today' starts (WIB = UTC+7)."""
    now = now or datetime.now(timezone.utc)
    local = timezone(timedelta(hours=tz_hours))
    day_start = now.astimezone(local).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc).isoformat()
    latest_period = db.one("SELECT MAX(period) AS p FROM payouts") or {}
    period = latest_period.get("p") or (db.one("SELECT MAX(period) AS p FROM rosters") or {}).get("p") or now.strftime("%Y-%m")
    rosters = {r["distribution_point"]: r for r in db.query(
        "SELECT r.distribution_point, r.recipients, r.version, r.region FROM rosters r WHERE r.period = ? AND r.version ="
        " (SELECT MAX(version) FROM rosters x WHERE x.distribution_point = r.distribution_point AND x.period = r.period)", (period,))}
    by_point: dict[str, dict[str, Any]] = {}
    for r in db.query("SELECT region, distribution_point, COUNT(*) AS n, SUM(CASE WHEN decided_at >= ? THEN 1 ELSE 0 END) AS today"
                      " FROM payouts WHERE period = ? AND voided_by IS NULL GROUP BY region, distribution_point", (day_start, period)):
        by_point[r["distribution_point"]] = {"region": r["region"], "distribution_point": r["distribution_point"], "paid_period": int(r["n"]),
                                             "paid_today": int(r["today"] or 0)}
    for point, ro in rosters.items():
        row = by_point.setdefault(point, {"region": ro["region"] or "?", "distribution_point": point, "paid_period": 0, "paid_today": 0})
        row["roster_size"] = int(ro["recipients"])
    points = sorted(by_point.values(), key=lambda r: (r["region"] or "", r["distribution_point"]))
    regions: dict[str, dict[str, int]] = {}
    for p in points:
        agg = regions.setdefault(p["region"] or "?", {"paid_period": 0, "paid_today": 0, "roster_size": 0})
        for k in agg:
            agg[k] += int(p.get(k) or 0)
    health = {r["device_id"]: r for r in db.query(
        "SELECT h.device_id, h.pending, h.oldest_pending_s, h.alarms, h.created_at FROM health h"
        " WHERE h.id = (SELECT MAX(id) FROM health x WHERE x.device_id = h.device_id)")}
    counts = {r["device_id"]: int(r["n"]) for r in db.query("SELECT device_id, COUNT(*) AS n FROM records GROUP BY device_id")}
    terminals = []
    for d in db.query("SELECT device_id, region, distribution_point, status, last_seen, revoked_at FROM devices ORDER BY device_id"):
        age = _age_s(d["last_seen"], now)
        h = health.get(d["device_id"], {})
        online = d["status"] == "online" or (d["status"] is None and age is not None and age < OFFLINE_AFTER_S)
        terminals.append({"device_id": d["device_id"], "region": d["region"], "distribution_point": d["distribution_point"],
                          "online": bool(online and not d["revoked_at"]), "revoked": d["revoked_at"] is not None, "last_seen": d["last_seen"],
                          "last_seen_age_s": age, "backlog": h.get("pending"), "oldest_pending_s": h.get("oldest_pending_s"),
                          "alarms": [a for a in (h.get("alarms") or "").split(",") if a], "records": counts.get(d["device_id"], 0)})
    conflicts = db.query("SELECT recipient_id, period, first_key, second_key, first_device, second_device, detected_at FROM conflicts"
                         " WHERE resolved_at IS NULL ORDER BY detected_at DESC LIMIT 50")
    terminal_conflicts = int((db.one("SELECT COUNT(*) AS n FROM records WHERE kind = 'conflict'") or {}).get("n") or 0)
    referrals = db.query(
        "SELECT r.idempotency_key, r.device_id, r.distribution_point, r.recipient_id, r.reason_code, r.created_at FROM records r"
        " WHERE r.kind = 'decision' AND r.outcome = 'refer' AND NOT EXISTS (SELECT 1 FROM records o WHERE o.kind = 'override'"
        " AND o.ref_key = r.idempotency_key) ORDER BY r.created_at DESC LIMIT 50")
    fixes = db.query("SELECT distribution_point, region, AVG(lat) AS lat, AVG(lon) AS lon, COUNT(*) AS n FROM records"
                     " WHERE lat IS NOT NULL AND lon IS NOT NULL GROUP BY distribution_point, region ORDER BY distribution_point")
    totals = db.one("SELECT COUNT(*) AS records, SUM(CASE WHEN kind = 'decision' THEN 1 ELSE 0 END) AS decisions FROM records") or {}
    quarantined = db.query("SELECT reason_code, COUNT(*) AS n FROM quarantine GROUP BY reason_code ORDER BY reason_code")
    return {
        "generated_at": now.isoformat(), "period": period, "today_from": day_start,
        "totals": {"records": int(totals.get("records") or 0), "decisions": int(totals.get("decisions") or 0),
                   "payouts_period": sum(p["paid_period"] for p in points), "payouts_today": sum(p["paid_today"] for p in points),
                   "terminals": len(terminals), "online": sum(1 for t in terminals if t["online"]),
                   "conflicts": len(conflicts), "terminal_conflict_records": terminal_conflicts, "referrals": len(referrals),
                   "quarantined": sum(int(q["n"]) for q in quarantined)},
        "regions": [{"region": k, **v} for k, v in sorted(regions.items())],
        "points": points, "terminals": terminals, "conflicts": conflicts, "referrals": referrals,
        "map": [{k: (float(v) if k in ("lat", "lon") else v) for k, v in f.items()} for f in fixes],
        "quarantine": [{"reason": q["reason_code"], "count": int(q["n"])} for q in quarantined],
    }


CSV_FIELDS = ("idempotency_key", "device_id", "seq", "kind", "created_at", "received_at", "outcome", "reason_code", "recipient_id",
              "period", "distribution_point", "region", "lat", "lon", "signed")


def export_csv(db: Database, period: str) -> str:
    """Every record of ``period`` (decisions, overrides, conflicts) as CSV, oldest first."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)
    for r in db.query(f"SELECT {', '.join(CSV_FIELDS)} FROM records WHERE period = ? ORDER BY created_at, device_id, seq", (period,)):
        w.writerow([r[k] for k in CSV_FIELDS])
    return buf.getvalue()


def status(db: Database) -> dict[str, Any]:
    one = lambda sql: int((db.one(sql) or {}).get("n") or 0)  # noqa: E731
    return {"devices": one("SELECT COUNT(*) AS n FROM devices"), "records": one("SELECT COUNT(*) AS n FROM records"),
            "payouts": one("SELECT COUNT(*) AS n FROM payouts WHERE voided_by IS NULL"), "conflicts": one("SELECT COUNT(*) AS n FROM conflicts"),
            "quarantined": one("SELECT COUNT(*) AS n FROM quarantine"), "ledger_messages": one("SELECT COUNT(*) AS n FROM ledger_out"),
            "ledger_unsent": one("SELECT COUNT(*) AS n FROM ledger_out WHERE sent_at IS NULL")}


def to_json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, default=str).encode("utf-8")
