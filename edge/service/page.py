"""The officer's status page: server-rendered HTML (works without JS) refreshed by a small poller.

Large type, one colour per outcome, Bahasa Indonesia first with English beside it.
"""

from __future__ import annotations

import json
from html import escape

from edge.service.health import ALARM_TEXT
from edge.service.status import StatusView

OUTCOMES = {
    "accept": ("DITERIMA", "ACCEPTED", "#1e7d32"),
    "reject": ("DITOLAK", "REJECTED", "#c62828"),
    "refer": ("RUJUK KE PETUGAS", "REFER TO OFFICER", "#e68a00"),
    "retake": ("ULANGI FOTO", "RETAKE PHOTO", "#1565c0"),
    "none": ("BELUM ADA KEPUTUSAN", "NO DECISION YET", "#546e7a"),
}
STATES = {
    "ok": ("Baik", "OK", "good"), "up": ("Terhubung", "Online", "good"), "connected": ("Terhubung", "Connected", "good"),
    "fix": ("Posisi terkunci", "Fix", "good"), "running": ("Berjalan", "Running", "good"),
    "recovering": ("Memulihkan", "Recovering", "warn"), "reconnecting": ("Menyambung ulang", "Reconnecting", "warn"),
    "stale": ("Posisi lama", "Stale fix", "warn"), "no_fix": ("Tanpa posisi", "No fix", "warn"),
    "starting": ("Memulai", "Starting", "warn"), "degraded": ("Terganggu", "Degraded", "bad"),
    "down": ("Terputus", "Offline", "warn"), "auth_failed": ("Login ditolak", "Login refused", "bad"),
    "failed": ("Rusak", "Failed", "bad"), "error": ("Galat", "Error", "bad"), "stopped": ("Berhenti", "Stopped", "bad"),
    "stopping": ("Berhenti", "Stopping", "warn"), "disabled": ("Nonaktif", "Disabled", "off"),
    "unknown": ("Tidak diketahui", "Unknown", "off"),
}

STYLE = """
body{margin:0;font-family:'DejaVu Sans',Arial,sans-serif;background:#f4f5f7;color:#111}
header{display:flex;justify-content:space-between;align-items:baseline;padding:12px 24px;background:#263238;color:#fff;font-size:22px}
#banner{margin:16px 24px;padding:28px 32px;border-radius:14px;color:#fff}
#outcome{font-size:64px;font-weight:bold;letter-spacing:1px}
#outcome .en{font-size:34px;font-weight:normal;opacity:.9;margin-left:16px}
#message{font-size:30px;margin-top:12px}#message-en{font-size:22px;opacity:.9;margin-top:4px}
#meta{font-size:18px;opacity:.85;margin-top:10px}
#tiles{display:grid;grid-template-columns:repeat(4,1fr);gap:16px;margin:0 24px}
.tile{background:#fff;border-radius:12px;padding:16px 20px;border-left:12px solid #90a4ae}
.tile .label{font-size:18px;color:#455a64}.tile .value{font-size:34px;font-weight:bold;margin-top:6px}
.tile .sub{font-size:18px;color:#455a64}
.good{border-left-color:#2e7d32}.warn{border-left-color:#f9a825}.bad{border-left-color:#c62828}.off{border-left-color:#90a4ae}
#alarms{margin:16px 24px;font-size:22px;color:#b71c1c}
footer{margin:8px 24px;font-size:14px;color:#607d8b}
"""

SCRIPT = """
const OUT = %(outcomes)s, ST = %(states)s, AL = %(alarms)s;
function st(v){return ST[v]||[v,v,'off'];}
function setTile(id,v,sub){const t=document.getElementById(id),s=st(v);
 t.className='tile '+s[2];t.querySelector('.value').textContent=s[0];t.querySelector('.sub').textContent=sub||s[1];}
function render(d){
 const ld=d.last_decision,o=OUT[ld?ld.outcome:'none']||OUT.none,b=document.getElementById('banner');
 b.style.background=o[2];b.dataset.outcome=ld?ld.outcome:'none';
 document.getElementById('outcome').innerHTML='';const t=document.createTextNode(o[0]),e=document.createElement('span');
 e.className='en';e.textContent=o[1];document.getElementById('outcome').append(t,e);
 document.getElementById('message').textContent=ld?ld.message_id:'';
 document.getElementById('message-en').textContent=ld?ld.message_en:'';
 document.getElementById('meta').textContent=ld?(new Date(ld.at).toLocaleTimeString('id-ID')+' · '+ld.reason_code+(ld.recipient_id?' · '+ld.recipient_id:'')):'';
 setTile('camera',d.camera_state);setTile('gps',d.gps_state);setTile('link',d.link_state);
 const p=document.getElementById('pending');p.querySelector('.value').textContent=d.pending_uploads==null?'–':d.pending_uploads;
 p.className='tile '+(d.pending_uploads>0?'warn':'good');
 document.getElementById('alarms').textContent=d.alarms.map(a=>'⚠ '+(AL[a]||a)).join('   ');
 document.getElementById('updated').textContent=new Date(d.updated_at).toLocaleTimeString('id-ID');
 document.getElementById('stale').textContent='';document.body.dataset.live='1';}
async function poll(){try{const r=await fetch('/api/status',{cache:'no-store'});if(r.ok)render(await r.json());}
 catch(e){document.body.dataset.live='0';document.getElementById('stale').textContent=' · layanan tidak menjawab / service not answering';}}
setInterval(poll,2000);poll();
"""


def _state_tile(tile_id: str, label: str, state: str, sub: str | None = None) -> str:
    local, english, cls = STATES.get(state, (state, state, "off"))
    return (f'<div class="tile {cls}" id="{tile_id}"><div class="label">{label}</div>'
            f'<div class="value">{escape(local)}</div><div class="sub">{escape(sub or english)}</div></div>')


def render_status_page(view: StatusView) -> str:
    """The full HTML page showing ``view``."""
    decision = view.last_decision
    local, english, colour = OUTCOMES.get(decision.outcome if decision else "none", OUTCOMES["none"])
    if decision:
        meta = f"{decision.at:%H:%M:%S} UTC · {decision.reason_code}" + (f" · {decision.recipient_id}" if decision.recipient_id else "")
    else:
        meta = ""
    pending = "–" if view.pending_uploads is None else str(view.pending_uploads)
    pending_cls = "warn" if view.pending_uploads else "good"
    alarms = "   ".join(f"⚠ {ALARM_TEXT.get(a, a)}" for a in view.alarms)
    script = SCRIPT % {"outcomes": json.dumps(OUTCOMES), "states": json.dumps(STATES), "alarms": json.dumps(ALARM_TEXT)}
    return f"""<!DOCTYPE html>
<html lang="id"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Tepat Edge – {escape(view.device_id)}</title><style>{STYLE}</style></head>
<body>
<header><span>Tepat Edge · {escape(view.distribution_point)}</span><span>{escape(view.device_id)}</span></header>
<section id="banner" data-outcome="{escape(decision.outcome if decision else 'none')}" style="background:{colour}">
<div id="outcome">{escape(local)}<span class="en">{escape(english)}</span></div>
<div id="message">{escape(decision.message_id if decision else '')}</div>
<div id="message-en">{escape(decision.message_en if decision else '')}</div>
<div id="meta">{escape(meta)}</div>
</section>
<section id="tiles">
{_state_tile("camera", "Kamera / Camera", view.camera_state)}
{_state_tile("gps", "GPS", view.gps_state)}
{_state_tile("link", "Koneksi / Link", view.link_state)}
<div class="tile {pending_cls}" id="pending"><div class="label">Menunggu unggah / Pending uploads</div><div class="value">{pending}</div><div class="sub">catatan / records</div></div>
</section>
<div id="alarms">{escape(alarms)}</div>
<footer>Diperbarui / updated <span id="updated">{view.updated_at:%H:%M:%S} UTC</span><span id="stale"></span></footer>
<script>{script}</script>
</body></html>
"""
