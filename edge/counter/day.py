"""The counter's day view: today's decisions and counts from the ledger (pure logic; no I/O here)."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

OUTCOME_WORDS = {"accept": "Diterima / Accepted", "reject": "Ditolak / Rejected", "refer": "Dirujuk / Referred"}


def _local(ts: str) -> datetime | None:
    try:
        return datetime.fromisoformat(ts)
    except (TypeError, ValueError):
        return None


def row_of(rec: dict[str, Any]) -> dict[str, Any] | None:
    """One line of the day list for a decision or override record; None for other kinds."""
    t = rec.get("time") or {}
    when = _local(t.get("wall") if isinstance(t, dict) else None)
    if when is None:
        return None
    if rec.get("schema") == "tepat.override":
        return {"key": rec.get("idempotency_key"), "at": when.isoformat(), "kind": "override", "outcome": rec.get("new_outcome"),
                "recipient_id": rec.get("recipient_id"), "reason_code": rec.get("reason_code"), "officer_id": rec.get("officer_id"),
                "second_officer_id": rec.get("second_officer_id"), "original_key": rec.get("original_key")}
    if rec.get("schema") == "tepat.decision":
        msg = rec.get("message") or {}
        return {"key": rec.get("idempotency_key"), "at": when.isoformat(), "kind": "decision", "outcome": rec.get("outcome"),
                "recipient_id": rec.get("recipient_id") or rec.get("claimed_id"), "reason_code": rec.get("reason_code"),
                "officer_id": rec.get("officer_id"), "message_id": msg.get("id"), "message_en": msg.get("en")}
    return None


def day_view(records: list[dict[str, Any]], now: datetime, *, pending: int | None, link_state: str) -> dict[str, Any]:
    """Counts and rows for the records decided on ``now``'s date (in each record's own time zone)."""
    rows = []
    for rec in records:
        row = row_of(rec)
        if row is not None and datetime.fromisoformat(row["at"]).astimezone(now.tzinfo).date() == now.date():
            rows.append(row)
    final: dict[str, str] = {}  # original key -> outcome after overrides (newest first, so the first seen wins)
    for row in rows:
        if row["kind"] == "override" and row["original_key"] not in final:
            final[row["original_key"]] = row["outcome"]
    counts = {"accept": 0, "reject": 0, "refer": 0}
    for row in rows:
        if row["kind"] == "decision":
            outcome = final.get(row["key"], row["outcome"])
            if outcome in counts:
                counts[outcome] += 1
    return {"date": now.date().isoformat(), "counts": counts, "pending_uploads": pending, "link_state": link_state, "rows": rows}


def report_html(view: dict[str, Any], *, device_id: str, point: str, officer: str) -> str:
    """The end-of-day report: a printable page (A4, print styles) the supervisor prints or saves."""
    c = view["counts"]
    lines = "".join(
        f"<tr><td>{escape(r['at'][11:19])}</td><td>{escape(r['recipient_id'] or '–')}</td>"
        f"<td>{escape(OUTCOME_WORDS.get(r['outcome'] or '', r['outcome'] or ''))}{' (koreksi / override)' if r['kind'] == 'override' else ''}</td>"
        f"<td>{escape(r['reason_code'] or '')}</td><td>{escape(r['officer_id'] or '')}"
        f"{(' + ' + escape(r['second_officer_id'])) if r.get('second_officer_id') else ''}</td></tr>"
        for r in reversed(view["rows"]))
    pending = "–" if view["pending_uploads"] is None else str(view["pending_uploads"])
    return f"""<!DOCTYPE html>
<html lang="id"><head><meta charset="utf-8"><title>Laporan harian / Daily report {escape(view['date'])}</title>
<style>
body{{font-family:'DejaVu Sans',Arial,sans-serif;margin:24px;color:#000}}h1{{font-size:26px}}
table{{border-collapse:collapse;width:100%;font-size:14px}}td,th{{border:1px solid #555;padding:4px 6px;text-align:left}}
.counts td{{font-size:18px}}.noprint{{margin:12px 0}}button{{font-size:20px;padding:8px 16px}}
@media print{{.noprint{{display:none}}body{{margin:0}}@page{{size:A4;margin:14mm}}tr{{break-inside:avoid}}}}
</style></head><body>
<h1>Laporan akhir hari / End-of-day report</h1>
<p>Tanggal / Date: <b>{escape(view['date'])}</b> · Titik / Point: <b>{escape(point)}</b> · Perangkat / Device: <b>{escape(device_id)}</b>
 · Dicetak oleh / Printed by: <b>{escape(officer)}</b></p>
<div class="noprint"><button onclick="window.print()">Cetak / Print</button></div>
<table class="counts"><tr><th>Diterima / Accepted</th><th>Ditolak / Rejected</th><th>Dirujuk / Referred</th><th>Menunggu unggah / Waiting to upload</th><th>Koneksi / Link</th></tr>
<tr><td id="n-accept">{c['accept']}</td><td id="n-reject">{c['reject']}</td><td id="n-refer">{c['refer']}</td><td>{pending}</td><td>{escape(view['link_state'])}</td></tr></table>
<h2>Keputusan hari ini / Today's decisions ({len(view['rows'])})</h2>
<table><tr><th>Waktu / Time</th><th>Penerima / Recipient</th><th>Hasil / Outcome</th><th>Alasan / Reason</th><th>Petugas / Officer</th></tr>
{lines}</table>
<p>Tanda tangan pengawas / Supervisor's signature: ______________________</p>
</body></html>
"""
