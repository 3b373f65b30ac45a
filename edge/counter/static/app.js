// The officer's counter: one page, five screens; talks only to this server's own /api (same origin).
'use strict';
const $ = (id) => document.getElementById(id);
const LOCK_S = Number(new URLSearchParams(location.search).get('lock') || 120);  // auto-lock after inactivity
const OUT = {accept: ['\u2714', 'DITERIMA', 'ACCEPTED'], reject: ['\u2716', 'DITOLAK', 'REJECTED'],
  refer: ['\u26A0', 'RUJUK KE PETUGAS', 'REFER TO OFFICER'], retake: ['\u21BB', 'ULANGI FOTO', 'RETAKE PHOTO']};
const AUTO = new URLSearchParams(location.search).get('auto') !== '0';  // ?auto=0: capture by button only
let me = null, claim = null, last = null, liveOn = false, idle = null, busy = false;

function notice(text) { $('notice').textContent = text || ''; }
async function api(method, path, body) {
  const init = {method, cache: 'no-store', credentials: 'same-origin', headers: {}};
  if (body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(body); }
  let r;
  try { r = await fetch(path, init); } catch (e) { notice('Layanan tidak menjawab / service not answering'); return {ok: false, status: 0, body: {}}; }
  let j = {};
  try { j = await r.json(); } catch (e) { /* not JSON */ }
  if (r.status === 401 && path !== '/api/session') lock('Sesi berakhir, masuk lagi / Session ended, sign in again');
  return {ok: r.ok, status: r.status, body: j};
}
function show(name) {
  for (const s of document.querySelectorAll('main > section')) s.hidden = s.id !== name;
  document.body.dataset.screen = name;
  if (name !== 'live') liveOn = false;
  const f = document.querySelector('#' + name + ' [autofocus]');
  if (f) f.focus();
}
function setWho() {
  $('who').innerHTML = '';
  if (me) $('who').append('Petugas / Officer: ', Object.assign(document.createElement('b'), {textContent: me.name + ' (' + me.officer_id + ')'}));
  else $('who').textContent = 'Belum masuk / Not signed in';
  $('nav').hidden = !me;
}
function lock(why) {
  if (me) api('DELETE', '/api/session');
  me = null; claim = null; setWho(); $('pin').value = ''; show('lock'); notice(why || '');
}
function touch() { clearTimeout(idle); if (me) idle = setTimeout(() => lock('Terkunci otomatis / Locked after inactivity'), LOCK_S * 1000); }
['keydown', 'pointerdown', 'input'].forEach((e) => document.addEventListener(e, touch, true));

$('signin').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const r = await api('POST', '/api/session', {officer_id: $('officer-id').value.trim(), pin: $('pin').value});
  $('pin').value = '';
  if (!r.ok) { notice(r.body.error || 'Gagal masuk / Sign-in failed'); return; }
  me = r.body; setWho(); notice(''); touch(); startScreen();
});
$('lock-now').onclick = () => lock('');
$('go-start').onclick = () => startScreen();
$('go-day').onclick = () => loadDay();
function startScreen() { claim = null; $('rid').value = ''; show('start'); }

$('typed').addEventListener('submit', (ev) => { ev.preventDefault(); begin($('rid').value.trim(), 'typed'); });
$('nocard').onclick = () => begin(null, 'nocard');
$('scan').onclick = async () => {
  notice('Membaca surat… / Reading the letter…');
  const r = await api('POST', '/api/counter/scan');
  if (!r.ok) { notice(r.body.error || 'Surat tidak terbaca / Letter not read'); return; }
  notice(''); begin(r.body.recipient_id, 'letter');
};
function begin(rid, source) {
  claim = {rid: rid || null, source, attempt: 1}; last = null;
  $('live-title').textContent = rid ? 'Penerima / Recipient ' + rid + (source === 'letter' ? ' (surat / letter)' : '') : 'Tanpa kartu / No card (1:N)';
  $('auto').checked = AUTO; show('live'); $('capture').focus(); liveOn = true; poll();
}
async function poll() {
  if (!liveOn || busy) return;
  const r = await api('GET', '/api/counter/live');
  if (!liveOn) return;
  if (r.ok && !r.body.busy) {
    const d = r.body, url = 'data:image/jpeg;base64,' + d.jpeg_b64; $('preview').src = url;
    if (d.ready) last = url;  // the capture shown beside the reference photo: the last frame that passed the gate
    const b = $('box');
    if (d.box) { b.hidden = false; Object.assign(b.style, {left: d.box[0] * 100 + '%', top: d.box[1] * 100 + '%', width: (d.box[2] - d.box[0]) * 100 + '%', height: (d.box[3] - d.box[1]) * 100 + '%'}); } else b.hidden = true;
    $('prompt').innerHTML = '';
    if (d.prompt) $('prompt').append(d.prompt.id, Object.assign(document.createElement('span'), {className: 'en', textContent: d.prompt.en}));
    if (d.ready && $('auto').checked) { capture(); return; }
  }
  setTimeout(poll, 600);
}
$('capture').onclick = () => capture();
$('cancel').onclick = () => startScreen();
async function capture() {
  if (busy || !claim) return;
  busy = true; liveOn = false;
  $('prompt').textContent = 'Memeriksa wajah… / Checking the face…';
  const body = {attempt: claim.attempt};
  if (claim.rid) body.recipient_id = claim.rid;
  const r = await api('POST', '/api/claim', body);
  busy = false;
  if (!r.ok) { notice(r.body.error || 'Klaim gagal / Claim failed'); if (me) startScreen(); return; }
  if (r.body.outcome === 'retake') {
    claim.attempt += 1; $('prompt').textContent = (r.body.message.id || '') + ' / ' + (r.body.message.en || '');
    liveOn = true; setTimeout(poll, 1200); return;
  }
  showResult(r.body);
}
function band(rec) {
  const s = rec && rec.scores;
  if (!s || s.top_score == null || s.accept_threshold == null) return 'tidak ada / none';
  const v = s.top_score.toFixed(2);
  if (s.top_score >= s.accept_threshold) return 'KUAT / STRONG (' + v + ')';
  if (s.refer_threshold != null && s.top_score >= s.refer_threshold) return 'MERAGUKAN / BORDERLINE (' + v + ')';
  return 'LEMAH / WEAK (' + v + ')';
}
function banner(outcome, suffix) {
  const o = OUT[outcome] || ['?', outcome, outcome];
  $('banner').className = outcome; $('banner').dataset.outcome = outcome;
  $('icon').textContent = o[0]; $('words').textContent = o[1] + (suffix ? ' ' + suffix[0] : '');
  $('words-en').textContent = o[2] + (suffix ? ' ' + suffix[1] : '');
}
async function showResult(d) {
  claim.result = d; const rec = d.record || {};
  banner(d.outcome);
  $('message').textContent = d.message.id || ''; $('message-en').textContent = d.message.en || '';
  $('band').textContent = band(rec);
  $('reason').textContent = 'Alasan / Reason: ' + d.reason_code.replace(/_/g, ' ');
  const rid = d.recipient_id || claim.rid;
  $('rid-shown').textContent = rid ? 'Penerima / Recipient: ' + rid : '';
  $('captured').src = last || '';
  $('reference').removeAttribute('src'); $('reference').alt = 'Tidak ada foto rujukan / no reference photo';
  if (rid) $('reference').src = '/api/counter/reference/' + encodeURIComponent(rid) + '?t=' + Date.now();
  $('first').hidden = true;
  $('enrol-box').hidden = d.reason_code !== 'enrolment_required';
  $('active-box').hidden = !(d.outcome === 'refer' && d.reason_code === 'liveness_failed' && d.idempotency_key);
  $('active-prompt').hidden = true; $('active-result').textContent = ''; delete $('active-result').dataset.passed;
  $('opt-active').disabled = true; if ($('reason-code').value === 'active_check_passed') $('reason-code').value = 'id_card_checked';
  $('do-accept').hidden = !(d.outcome === 'reject' || d.outcome === 'refer');
  $('do-reject').hidden = d.outcome !== 'refer';
  $('do-void').hidden = d.outcome !== 'accept';
  $('actions').hidden = !d.idempotency_key && $('enrol-box').hidden;
  $('second-id').value = ''; $('second-pin').value = ''; $('note').value = '';
  show('result'); $('next').focus();
  if (d.reason_code === 'already_claimed' && rid) {
    const l = await api('GET', '/api/ledger/' + encodeURIComponent(rid));
    const p = l.ok && l.body.paid_this_period;
    if (p) {
      const at = new Date(p.decided_at);
      $('first').textContent = 'Sudah diambil / First collected: ' + at.toLocaleString('id-ID') + ' \u00B7 di / at ' + p.distribution_point + ' (' + p.device_id + ')';
      $('first').hidden = false;
    }
  }
}
async function act(outcome) {
  const d = claim && claim.result; if (!d) return;
  const body = {original_key: d.idempotency_key, outcome, reason_code: $('reason-code').value};
  if ($('note').value.trim()) body.note = $('note').value.trim();
  if ($('second-id').value.trim() || $('second-pin').value) { body.second_officer_id = $('second-id').value.trim(); body.second_pin = $('second-pin').value; }
  const r = await api('POST', '/api/override', body);
  $('second-pin').value = '';
  if (!r.ok) { notice(r.body.error || 'Ditolak / Refused'); return; }
  notice(''); banner(outcome, ['(KOREKSI PETUGAS)', '(OFFICER OVERRIDE)']);
  $('message').textContent = r.body.message ? r.body.message.id : 'Keputusan diubah / Decision overridden';
  $('message-en').textContent = 'Oleh / by ' + r.body.officer_id + (r.body.second_officer_id ? ' + ' + r.body.second_officer_id : '') +
    (r.body.active_check ? ' \u00B7 cek gerak kepala / head-turn check: ' + (r.body.active_check.passed ? 'lulus / passed' : 'gagal / failed') +
      ' (' + Math.round(r.body.active_check.turn_deg) + '\u00B0)' : '');
  $('actions').hidden = true; $('next').focus();
}
$('active-go').onclick = async () => {  // the head-turn check on a liveness referral (docs/LIVENESS.md)
  const d = claim && claim.result; if (!d || busy) return;
  busy = true; $('active-go').disabled = true; $('active-prompt').hidden = false;
  $('active-result').textContent = 'Merekam gerak kepala\u2026 / Recording the head turn\u2026'; delete $('active-result').dataset.passed;
  const r = await api('POST', '/api/active-check', {original_key: d.idempotency_key});
  busy = false; $('active-go').disabled = false; $('active-prompt').hidden = true;
  if (!r.ok) { $('active-result').textContent = ''; notice(r.body.error || 'Pemeriksaan gagal / Check failed'); return; }
  const c = r.body; notice('');
  $('active-result').dataset.passed = c.passed ? 'yes' : 'no';
  $('active-result').textContent = (c.passed ? '\u2714 LULUS / PASSED \u2014 ' : '\u2716 GAGAL / FAILED \u2014 ') + c.message.id + ' / ' + c.message.en;
  $('opt-active').disabled = !c.passed;
  if (c.passed) $('reason-code').value = 'active_check_passed';
  else if ($('reason-code').value === 'active_check_passed') $('reason-code').value = 'id_card_checked';
};
$('do-accept').onclick = () => act('accept');
$('do-reject').onclick = () => act('reject');
$('do-void').onclick = () => act('reject');
$('enrol').onclick = async () => {
  if (!$('consent').checked) { notice('Centang persetujuan dulu / Tick the consent box first'); return; }
  const rid = claim.result.recipient_id || claim.rid;
  const r = await api('POST', '/api/enrol', {recipient_id: rid, confirmed: true});
  if (!r.ok) { notice(r.body.error || 'Perekaman gagal / Enrolment failed'); return; }
  notice(''); showResult(r.body);
};
$('next').onclick = () => startScreen();

const LINK = {up: 'Terhubung / Online', down: 'Terputus / Offline', reconnecting: 'Menyambung / Reconnecting',
  connecting: 'Menyambung / Connecting', auth_failed: 'Login ditolak / Login refused', disabled: 'Nonaktif / Disabled'};
let dayRows = [];
async function loadDay() {
  const r = await api('GET', '/api/counter/day');
  if (!r.ok) { notice(r.body.error || ''); return; }
  const d = r.body; $('day-date').textContent = d.date;
  $('c-accept').textContent = d.counts.accept; $('c-reject').textContent = d.counts.reject; $('c-refer').textContent = d.counts.refer;
  $('c-pending').textContent = d.pending_uploads == null ? '\u2013' : d.pending_uploads; $('c-link').textContent = LINK[d.link_state] || d.link_state; $('c-link').dataset.state = d.link_state;
  dayRows = d.rows; renderRows(); show('day'); $('search').focus();
}
function renderRows() {
  const q = $('search').value.trim().toLowerCase(), tb = $('rows'); tb.innerHTML = '';
  for (const row of dayRows) {
    const cells = [row.at.slice(11, 19), row.recipient_id || '\u2013', (OUT[row.outcome] || ['', row.outcome])[1] + (row.kind === 'override' ? ' (koreksi)' : ''),
      (row.reason_code || '').replace(/_/g, ' '), (row.officer_id || '') + (row.second_officer_id ? ' + ' + row.second_officer_id : '')];
    if (q && !cells.join(' ').toLowerCase().includes(q)) continue;
    const tr = document.createElement('tr');
    for (const c of cells) tr.appendChild(Object.assign(document.createElement('td'), {textContent: c}));
    tb.appendChild(tr);
  }
}
$('search').addEventListener('input', renderRows);

(async () => {  // a reload keeps a live session
  const r = await fetch('/api/session', {cache: 'no-store', credentials: 'same-origin'});
  if (r.ok) { me = await r.json(); setWho(); touch(); startScreen(); } else show('lock');
})();
