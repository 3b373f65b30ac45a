"""Issue 15: signed invitation letters (format, QR round trip, forgeries refused), the counter's QR scan
route, and the day view's counts. The browser flows are in test_counter_browser.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.claim.records.crypto import generate_signing_key, private_key_pem, public_key_id, write_private_file
from edge.claim.roster.invitation import PREFIX, InvitationError, _b64u, find_qr_text, make_invitation, qr_image, verify_invitation
from edge.counter.day import day_view, report_html

ROOT = Path(__file__).resolve().parents[1]
WIB = timezone(timedelta(hours=7))


def _trust(*keys):
    return {public_key_id(k.public_key()): k.public_key() for k in keys}


def test_invitation_qr_written_by_the_cli_reads_back_and_verifies(tmp_path):
    key = generate_signing_key()
    write_private_file(tmp_path / "issuer.pem", private_key_pem(key))
    out = subprocess.run([sys.executable, "-m", "edge", "invitation", "make", "PKH-00042", "--period", "2026-12", "--point", "desa-a",
                          "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "letter.png")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    rgb = cv2.cvtColor(cv2.imread(str(tmp_path / "letter.png")), cv2.COLOR_BGR2RGB)
    text = find_qr_text(rgb)
    assert text and text.startswith(PREFIX)
    inv = verify_invitation(text, _trust(key))
    assert (inv.recipient_id, inv.period, inv.pt) == ("PKH-00042", "2026-12", "desa-a")
    # the letter held at arm's length: a quarter of the size, on a grey desk, still reads
    small = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
    desk = np.full((480, 640, 3), 90, np.uint8)
    desk[100:100 + small.shape[0], 300:300 + small.shape[1]] = small
    assert find_qr_text(desk) == text


def test_cli_bad_input_is_one_line_not_a_traceback(tmp_path):
    key = generate_signing_key()
    write_private_file(tmp_path / "issuer.pem", private_key_pem(key))
    out = subprocess.run([sys.executable, "-m", "edge", "invitation", "make", "PKH-1", "--period", "2026-13", "--key", str(tmp_path / "issuer.pem"),
                          "-o", str(tmp_path / "x.png")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "period" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "x.png").exists()


def test_forged_and_altered_letters_are_refused():
    office, forger = generate_signing_key(), generate_signing_key()
    trusted = _trust(office)
    genuine = make_invitation(office, "PKH-1", "2026-12")
    assert verify_invitation(genuine, trusted).recipient_id == "PKH-1"
    with pytest.raises(InvitationError, match="does not trust"):
        verify_invitation(make_invitation(forger, "PKH-1", "2026-12"), trusted)
    # a forger who copies the office's key id into a letter signed with their own key
    payload = genuine[len(PREFIX):].split(".")[0]
    forged = f"{PREFIX}{payload}.{_b64u(forger.sign(payload.encode()))}"
    with pytest.raises(InvitationError, match="signature is not valid"):
        verify_invitation(forged, trusted)
    # another recipient's id swapped into a genuine letter
    import base64
    import json

    doc = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    doc["r"] = "PKH-2"
    swapped = _b64u(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode())
    with pytest.raises(InvitationError, match="signature is not valid"):
        verify_invitation(f"{PREFIX}{swapped}.{genuine.split('.')[-1]}", trusted)
    for junk in ("https://example.org/", "TPI1.abc", "TPI1.!!.!!", PREFIX + "a" * 700 + ".b", "TPI1.e30.AAAA"):
        with pytest.raises(InvitationError):
            verify_invitation(junk, trusted)


@dataclass
class _State:
    period: str


class _Roster:
    def state(self):
        return _State("2026-12")


class _Camera:
    def __init__(self, frames):
        self.frames, self.i = frames, 0

    def capture(self):
        from edge.camera.base import Frame

        self.i += 1
        return Frame(rgb=self.frames[(self.i - 1) % len(self.frames)], captured_monotonic_ns=time.monotonic_ns())


class _Svc:
    def __init__(self, frames):
        self.camera, self.roster, self.point, self.lock = _Camera(frames), _Roster(), "desa-a", threading.RLock()


class _Session:
    class officer:
        officer_id, name, role = "OFF-1", "Ani", "officer"


def _letter_frame(text: str) -> np.ndarray:
    face_like = np.full((300, 300, 3), 150, np.uint8)
    qr = cv2.cvtColor(qr_image(text, module_px=4), cv2.COLOR_GRAY2RGB)
    return np.hstack([face_like, cv2.resize(qr, (300, 300), interpolation=cv2.INTER_NEAREST)])


def test_scan_route_reads_a_genuine_letter_and_refuses_forged_other_period_other_point():
    from edge.counter.routes import Counter

    office, forger = generate_signing_key(), generate_signing_key()
    blank = np.full((300, 600, 3), 128, np.uint8)
    cases = [
        (make_invitation(office, "PKH-7", "2026-12", point="desa-a"), 200, None),
        (make_invitation(forger, "PKH-7", "2026-12"), 400, "does not trust"),
        (make_invitation(office, "PKH-7", "2026-11"), 400, "period 2026-11"),
        (make_invitation(office, "PKH-7", "2026-12", point="desa-b"), 400, "desa-b"),
    ]
    for text, status, why in cases:
        c = Counter(_Svc([blank, _letter_frame(text)]), _trust(office), board=None)
        got, body = c.scan({}, _Session())
        assert got == status, body
        if why:
            assert body["error_id"] == "invitation_refused" and why in body["error"]
        else:
            assert body == {"recipient_id": "PKH-7", "period": "2026-12"}
    got, body = Counter(_Svc([blank]), _trust(office), board=None).scan({}, _Session())
    assert got == 404 and body["error_id"] == "no_qr"


def _rec(key: str, outcome: str, at: datetime, rid: str, **extra) -> dict:
    return {"schema": "tepat.decision", "idempotency_key": key, "outcome": outcome, "reason_code": "match", "recipient_id": rid,
            "officer_id": "OFF-1", "time": {"wall": at.isoformat()}, "message": {"id": "x", "en": "y"}, **extra}


def test_day_view_counts_today_after_overrides_and_report_prints():
    now = datetime(2026, 12, 1, 15, 0, tzinfo=WIB)
    records = [  # newest first, as the ledger gives them
        {"schema": "tepat.override", "idempotency_key": "o1", "original_key": "k2", "new_outcome": "accept", "reason_code": "id_card_checked",
         "officer_id": "OFF-1", "second_officer_id": "SUP-1", "recipient_id": "PKH-2", "time": {"wall": (now - timedelta(minutes=1)).isoformat()}},
        _rec("k3", "refer", now - timedelta(minutes=2), "PKH-3"),
        _rec("k2", "reject", now - timedelta(minutes=3), "PKH-2"),
        _rec("k1", "accept", (now - timedelta(hours=1)).astimezone(timezone.utc), "PKH-1"),  # stored in UTC: still today in WIB
        _rec("k0", "accept", now - timedelta(days=1), "PKH-0"),  # yesterday
    ]
    view = day_view(records, now, pending=2, link_state="up")
    assert view["counts"] == {"accept": 2, "reject": 0, "refer": 1}
    assert [r["key"] for r in view["rows"]] == ["o1", "k3", "k2", "k1"]
    html = report_html(view, device_id="t-1", point="desa-a", officer="Sari (SUP-1)")
    assert "@media print" in html and "OFF-1 + SUP-1" in html and 'id="n-accept">2<' in html and "PKH-0" not in html
