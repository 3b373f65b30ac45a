"""The dashboard page, rendered on the server from :func:`edge.central.views.summary` (no CDN, no script libraries).

Bahasa Indonesia first, English beside it. The page replaces its body with ``/fragment`` every few
seconds (short polling), so it updates by itself and still shows the last state when the link drops.
"""

from __future__ import annotations

from html import escape
from typing import Any

REFRESH_MS = 2000

CSS = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f6f8;color:#1b2733}
header{background:#0b5d3b;color:#fff;padding:10px 18px}header h1{margin:0;font-size:20px}header small{opacity:.85}
main{padding:12px 18px;display:grid;grid-template-columns:repeat(auto-fit,minmax(400px,1fr));gap:14px}
section.wide{grid-column:span 2}
section{background:#fff;border-radius:6px;padding:10px 14px;box-shadow:0 1px 2px rgba(0,0,0,.12)}
h2{font-size:15px;margin:4px 0 8px}h2 span{color:#667;font-weight:normal}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #e4e8ec}
th{color:#445;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:flex;gap:10px;flex-wrap:wrap;grid-column:1/-1}.kpi{background:#fff;border-radius:6px;padding:8px 14px;min-width:120px;
box-shadow:0 1px 2px rgba(0,0,0,.12)}.kpi b{font-size:24px;display:block}.kpi span{font-size:12px;color:#556}
.on{color:#0b7a3e;font-weight:600}.off{color:#b3261e;font-weight:600}.alarm{color:#b3261e}
.bar{background:#dfe7e2;height:8px;border-radius:4px;min-width:80px}.bar i{display:block;height:8px;background:#0b7a3e;border-radius:4px}
.empty{color:#778;font-style:italic}footer{padding:6px 18px;font-size:12px;color:#667}
"""


def _t(id_text: str, en_text: str) -> str:
    return f"{escape(id_text)} <span>/ {escape(en_text)}</span>"


def _age(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 90:
        return f"{s:.0f} dtk/s"
    if s < 5400:
        return f"{s / 60:.0f} mnt/min"
    return f"{s / 3600:.1f} jam/h"


def _table(head: list[str], rows: list[list[str]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    th = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _td(v: Any, num: bool = False) -> str:
    return f'<td class="n">{escape(str(v))}</td>' if num else f"<td>{escape(str(v))}</td>"


def _bar(paid: int, size: int | None) -> str:
    if not size:
        return "<td>-</td>"
    pct = min(100.0, 100.0 * paid / size)
    return f'<td><div class="bar" title="{pct:.0f}%"><i style="width:{pct:.0f}%"></i></div></td>'


def map_svg(points: list[dict[str, Any]], width: int = 420, height: int = 260) -> str:
    """Distribution points from the records' GPS fixes as an inline SVG scatter plot (no map tiles)."""
    if not points:
        return '<p class="empty">Belum ada posisi GPS / No GPS fixes yet</p>'
    lats = [p["lat"] for p in points]
    lons = [p["lon"] for p in points]
    pad = 0.01
    lo_lat, hi_lat = min(lats) - pad, max(lats) + pad
    lo_lon, hi_lon = min(lons) - pad, max(lons) + pad
    sx = lambda lon: 30 + (lon - lo_lon) / (hi_lon - lo_lon) * (width - 60)  # noqa: E731
    sy = lambda lat: height - 25 - (lat - lo_lat) / (hi_lat - lo_lat) * (height - 50)  # noqa: E731
    dots = []
    for p in points:
        x, y = sx(p["lon"]), sy(p["lat"])
        r = 4 + min(10, p["n"] ** 0.5)
        dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#0b7a3e" fill-opacity=".55" stroke="#0b5d3b">'
                    f'<title>{escape(p["distribution_point"] or "?")}: {p["n"]} records, {p["lat"]:.5f}, {p["lon"]:.5f}</title></circle>'
                    f'<text x="{x + r + 3:.1f}" y="{y + 4:.1f}" font-size="11">{escape(p["distribution_point"] or "?")}</text>')
    axes = (f'<text x="30" y="{height - 6}" font-size="10" fill="#667">{lo_lon:.3f}°E</text>'
            f'<text x="{width - 80}" y="{height - 6}" font-size="10" fill="#667">{hi_lon:.3f}°E</text>'
            f'<text x="2" y="14" font-size="10" fill="#667">{hi_lat:.3f}°</text>')
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="distribution points">'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eef3f0"/>{axes}{"".join(dots)}</svg>')


def fragment(s: dict[str, Any]) -> str:
    t = s["totals"]
    kpis = [("Dibayar hari ini", "Paid today", t["payouts_today"]), (f"Dibayar periode {s['period']}", "Paid this period", t["payouts_period"]),
            ("Terminal daring", "Terminals online", f"{t['online']}/{t['terminals']}"), ("Konflik", "Conflicts", t["conflicts"]),
            ("Rujukan", "Referrals", t["referrals"]), ("Catatan", "Records", t["records"]), ("Ditahan", "Kept apart", t["quarantined"])]
    out = ['<div class="kpis">' + "".join(f'<div class="kpi"><b>{escape(str(v))}</b><span>{escape(a)} / {escape(b)}</span></div>'
                                           for a, b, v in kpis) + "</div>"]
    out.append("<section><h2>" + _t("Penyaluran per wilayah", "Payouts by region") + "</h2>" + _table(
        ["Wilayah / Region", "Hari ini / Today", "Periode / Period", "Daftar / Roster", ""],
        [[_td(r["region"]), _td(r["paid_today"], True), _td(r["paid_period"], True), _td(r["roster_size"] or "-", True),
          _bar(r["paid_period"], r["roster_size"])] for r in s["regions"]], "Belum ada penyaluran / No payouts yet") + "</section>")
    out.append("<section><h2>" + _t("Penyaluran per titik", "Payouts by distribution point") + "</h2>" + _table(
        ["Titik / Point", "Wilayah / Region", "Hari ini / Today", "Periode / Period", "Daftar / Roster", ""],
        [[_td(p["distribution_point"]), _td(p["region"]), _td(p["paid_today"], True), _td(p["paid_period"], True),
          _td(p.get("roster_size") or "-", True), _bar(p["paid_period"], p.get("roster_size"))] for p in s["points"]],
        "Belum ada penyaluran / No payouts yet") + "</section>")
    out.append('<section class="wide"><h2>' + _t("Terminal", "Terminals") + "</h2>" + _table(
        ["Terminal", "Titik / Point", "Status", "Terakhir / Last seen", "Antrian / Backlog", "Tertua / Oldest", "Alarm"],
        [[_td(x["device_id"]), _td(x["distribution_point"]),
          '<td class="on">daring / online</td>' if x["online"] else ('<td class="off">dicabut / revoked</td>' if x["revoked"]
                                                                    else '<td class="off">luring / offline</td>'),
          _td(_age(x["last_seen_age_s"])), _td("-" if x["backlog"] is None else x["backlog"], True), _td(_age(x["oldest_pending_s"])),
          f'<td class="alarm">{escape(", ".join(x["alarms"]))}</td>'] for x in s["terminals"]],
        "Belum ada terminal terdaftar / No terminals registered") + "</section>")
    out.append("<section><h2>" + _t("Peta titik penyaluran (GPS)", "Map of distribution points (GPS)") + "</h2>" + map_svg(s["map"]) + "</section>")
    out.append("<section><h2>" + _t("Konflik pembayaran ganda", "Double-payment conflicts") + "</h2>" + _table(
        ["Penerima / Recipient", "Periode", "Pertama / First", "Kedua / Second", "Terdeteksi / Detected"],
        [[_td(c["recipient_id"]), _td(c["period"]), _td(c["first_device"]), _td(c["second_device"]), _td(c["detected_at"][:19])]
         for c in s["conflicts"]], "Tidak ada konflik / No conflicts") + "</section>")
    out.append("<section><h2>" + _t("Rujukan menunggu tindakan", "Referrals needing action") + "</h2>" + _table(
        ["Penerima / Recipient", "Alasan / Reason", "Terminal", "Waktu / Time"],
        [[_td(r["recipient_id"] or "-"), _td(r["reason_code"]), _td(r["device_id"]), _td(r["created_at"][:19])] for r in s["referrals"]],
        "Tidak ada rujukan / No referrals") + "</section>")
    if s["quarantine"]:
        out.append("<section><h2>" + _t("Pesan ditahan (tanda tangan/perangkat)", "Messages kept apart (signature/device)") + "</h2>" + _table(
            ["Alasan / Reason", "Jumlah / Count"], [[_td(q["reason"]), _td(q["count"], True)] for q in s["quarantine"]], "") + "</section>")
    return "\n".join(out)


def page(s: dict[str, Any]) -> str:
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Tepat — Pusat Operasi / Operations centre</title><style>{CSS}</style></head>
<body><header><h1>Pusat Operasi Penyaluran Bansos <small>/ Aid distribution operations centre</small></h1>
<small><span id="stamp">Diperbarui / Updated {escape(s["generated_at"][:19])} UTC</span> · periode / period {escape(s["period"])} ·
<a style="color:#fff" href="/api/summary">JSON</a> · <a style="color:#fff" href="/export.csv?period={escape(s["period"])}">CSV</a></small></header>
<main id="live">{fragment(s)}</main>
<footer id="link">Pembaruan otomatis setiap {REFRESH_MS // 1000} detik / Updates itself every {REFRESH_MS // 1000} s</footer>
<script>
setInterval(function(){{fetch('/fragment',{{cache:'no-store'}}).then(function(r){{if(!r.ok)throw r.status;return r.text();}})
.then(function(t){{document.getElementById('live').innerHTML=t;document.getElementById('stamp').textContent=
'Diperbarui / Updated '+new Date().toISOString().slice(0,19)+' UTC';document.getElementById('link').textContent=
'Pembaruan otomatis / Live updates';}}).catch(function(){{document.getElementById('link').textContent=
'Koneksi ke pusat terputus, menampilkan data terakhir / Link to the centre lost, showing the last data';}});}},{REFRESH_MS});
</script></body></html>"""
