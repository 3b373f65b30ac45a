"""The central dashboard over real sockets and in real headless Chromium: page, live fragment, JSON API, CSV export."""

from __future__ import annotations

import csv
import io
import json
import urllib.error
import urllib.request

import pytest

from edge.central.db import Database
from edge.central.store import add_device, add_roster, device_lookup, store_checked
from edge.central.verify import check_message
from edge.central.web import DashboardServer
from edge.claim.records.crypto import generate_signing_key
from simulator.lightfleet import LightTerminal
from tests.conftest import require_binary

PREFIX = "tepat/v1"


def _get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, "", exc.read().decode()


@pytest.fixture()
def filled(tmp_path):
    url = f"sqlite:///{tmp_path / 'central.sqlite'}"
    key = generate_signing_key()
    terms = [LightTerminal("pos-01", "jabar", "desa-a", -6.90, 107.60), LightTerminal("pos-02", "jabar", "desa-a", -6.90, 107.60),
             LightTerminal("pos-03", "jateng", "desa-b", -7.00, 110.40)]
    with Database(url) as db:
        db.migrate()
        for t in terms:
            add_device(db, t.device_id, t.region, t.point, t.public_pem)
        add_roster(db, {"roster": {"distribution_point": "desa-a", "version": 1, "period": "2026-11", "issued_at": "2026-11-01T00:00:00+07:00",
                                   "recipients": [{}] * 10}, "signature": {"key_id": "k"}}, "jabar")
        lookup = device_lookup(db)

        def put(t, suffix_payload):
            c = check_message(PREFIX, t.topic(PREFIX, suffix_payload[0]), suffix_payload[1], lookup)
            assert c.ok, c.detail
            with db.transaction():
                store_checked(db, c, key)

        put(terms[0], terms[0].decision("PKH-1", "2026-11"))
        put(terms[0], terms[0].decision("PKH-2", "2026-11"))
        put(terms[1], terms[1].decision("PKH-1", "2026-11"))  # a double payout: caught centrally
        put(terms[2], terms[2].decision("PKH-9", "2026-11", outcome="reject"))
    return url, terms, key


def test_dashboard_page_api_and_export(filled):
    url, terms, key = filled
    server = DashboardServer(url, "127.0.0.1", 0).start()
    try:
        code, ctype, page = _get(server.url)
        assert code == 200 and ctype.startswith("text/html")
        for text in ("Dibayar hari ini", "Paid today", "Konflik pembayaran ganda", "Double-payment conflicts", "<svg", "desa-a", "desa-b"):
            assert text in page, text
        assert "http://" not in page.replace(server.url, "") and "https://" not in page  # no CDN, nothing external
        code, _, body = _get(server.url + "api/summary")
        s = json.loads(body)
        assert code == 200 and s["totals"]["payouts_period"] == 2 and s["totals"]["conflicts"] == 1 and s["totals"]["records"] == 4
        point = next(p for p in s["points"] if p["distribution_point"] == "desa-a")
        assert point["paid_period"] == 2 and point["roster_size"] == 10
        assert {m["distribution_point"] for m in s["map"]} == {"desa-a", "desa-b"}
        code, ctype, body = _get(server.url + "export.csv?period=2026-11")
        rows = list(csv.DictReader(io.StringIO(body)))
        assert code == 200 and ctype.startswith("text/csv") and len(rows) == 4 and {r["device_id"] for r in rows} == {"pos-01", "pos-02", "pos-03"}
        assert _get(server.url + "export.csv?period=2026-13")[0] == 400 and _get(server.url + "nope")[0] == 404
        # the live part follows the database
        before = _get(server.url + "fragment")[2]
        with Database(url) as db:
            c = check_message(PREFIX, terms[2].topic(PREFIX, "event/decision"), terms[2].decision("PKH-7", "2026-11")[1], device_lookup(db))
            with db.transaction():
                store_checked(db, c, key)
        after = _get(server.url + "fragment")[2]
        assert before != after and json.loads(_get(server.url + "api/status")[2])["payouts"] == 3
    finally:
        server.stop()


def test_dashboard_in_headless_chromium(filled, tmp_path):
    """`edge central screenshot` (real Chromium, fresh profile) writes a real PNG of the page."""
    require_binary("chromium")
    import cv2

    from edge.central.screenshot import screenshot

    url, _, _ = filled
    server = DashboardServer(url, "127.0.0.1", 0).start()
    try:
        png = screenshot(server.url, tmp_path / "dash.png", "1200,900")
    finally:
        server.stop()
    img = cv2.imread(str(png))
    assert img is not None and img.shape[:2] == (900, 1200)
    import numpy as np

    b, g, r = (float(np.median(img[5:40, 5:600, c])) for c in range(3))
    assert abs(g - 0x5D) < 20 and r < 40 and abs(b - 0x3B) < 20, (b, g, r)  # the green header (#0b5d3b) rendered
