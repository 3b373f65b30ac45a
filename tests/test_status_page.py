"""The local HTTP server and the officer's status page, checked over real sockets and in headless Chromium."""

from __future__ import annotations

import http.client
import json
import subprocess
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from edge.errors import NotFoundError
from edge.service.http import LocalHttpServer
from edge.service.page import render_status_page
from edge.service.status import StatusBoard
from tests.conftest import require_binary

REJECT_RED = (0xC6, 0x28, 0x28)


@pytest.fixture
def board() -> StatusBoard:
    """A board showing a rejected duplicate claim, camera ok, GPS without fix, link down, 3 uploads pending."""
    b = StatusBoard("pos-jkt-017", "Kelurahan Gambir 3")
    b.set_last_decision(
        "reject", "duplicate_in_period",
        message={"id": "Sudah menerima bantuan periode ini", "en": "Already received aid this period"},
        recipient_id="3171-0042", at=datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc),
    )
    b.set_states(camera="ok", gps="no_fix", link="down", pending_uploads=3, alarms=["disk_low"], service="running")
    return b


@pytest.fixture
def server(board: StatusBoard) -> Iterator[LocalHttpServer]:
    """The status server on a free loopback port."""
    with LocalHttpServer("127.0.0.1", 0, board=board, metrics=lambda: "tepat_up 1\n") as srv:
        yield srv


def request(srv: LocalHttpServer, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheader("Content-Type"), data
    finally:
        conn.close()


def test_status_json(server: LocalHttpServer) -> None:
    """/api/status returns the board as JSON."""
    status, ctype, data = request(server, "GET", "/api/status")
    doc = json.loads(data)
    assert status == 200 and ctype.startswith("application/json")
    assert doc["last_decision"]["outcome"] == "reject" and doc["pending_uploads"] == 3 and doc["gps_state"] == "no_fix"


def test_page_is_server_rendered(server: LocalHttpServer) -> None:
    """The page shows the decision, message and states even before its script runs."""
    status, ctype, data = request(server, "GET", "/")
    page = data.decode()
    assert status == 200 and ctype.startswith("text/html")
    for text in ("DITOLAK", "REJECTED", "Sudah menerima bantuan periode ini", "Tanpa posisi", "Terputus", "pos-jkt-017",
                 "penyimpanan hampir penuh"):
        assert text in page


def test_page_escapes_html() -> None:
    """Text from records is escaped, so a crafted name cannot inject markup."""
    b = StatusBoard("dev-1", "<b>x</b>")
    b.set_last_decision("refer", "low_score", message="<script>alert(1)</script>")
    page = render_status_page(b.snapshot())
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_metrics_route(server: LocalHttpServer) -> None:
    """/metrics serves the metrics callable as Prometheus text."""
    status, ctype, data = request(server, "GET", "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4") and data == b"tepat_up 1\n"


def test_added_routes_get_query_body_and_path_params(server: LocalHttpServer) -> None:
    """add_route handlers get query, JSON body and <name> path parameters in one dict."""
    seen = []

    def claim(req):
        seen.append(req)
        return 201, {"ok": True, "recipient": req.get("recipient_id")}

    def ledger(req):
        if req["recipient_id"] == "nobody":
            raise NotFoundError("recipient nobody is not in the roster")
        return 200, {"id": req["recipient_id"]}

    server.add_route("POST", "/api/claim", claim)
    server.add_route("GET", "/api/ledger/<recipient_id>", ledger)
    status, _, data = request(server, "POST", "/api/claim?mode=1to1", json.dumps({"recipient_id": "3171-9"}).encode(),
                              {"Content-Type": "application/json"})
    assert status == 201 and json.loads(data) == {"ok": True, "recipient": "3171-9"}
    assert seen[0] == {"mode": "1to1", "recipient_id": "3171-9"}
    assert request(server, "GET", "/api/ledger/3171-9")[0] == 200
    status, _, data = request(server, "GET", "/api/ledger/nobody")
    assert status == 400 and "not in the roster" in json.loads(data)["error"]


@pytest.mark.parametrize(
    "method,path,body,headers,code,needle",
    [
        ("GET", "/nope", None, {}, 404, "no such page"),
        ("DELETE", "/api/status", None, {}, 405, "not allowed"),
        ("POST", "/api/echo", b"{not json", {}, 400, "not valid JSON"),
        ("POST", "/api/echo", b"[1, 2]", {}, 400, "JSON object"),
        ("POST", "/api/echo", b"{}", {"Origin": "http://evil.example"}, 403, "cross-site"),
        ("GET", "/api/status", None, {"Host": "evil.example:8080"}, 403, "Host"),
        ("POST", "/api/boom", b"{}", {}, 500, "internal error"),
    ],
)
def test_bad_requests_get_clear_errors(server: LocalHttpServer, method, path, body, headers, code, needle) -> None:
    """Unknown paths, wrong methods, bad JSON, cross-site posts, rebinding hosts and crashing handlers give JSON errors."""
    server.add_route("POST", "/api/echo", lambda req: (200, req))
    server.add_route("POST", "/api/boom", lambda req: 1 / 0)
    status, _, data = request(server, method, path, body, headers)
    assert status == code and needle in json.loads(data)["error"]


def test_oversized_body_refused(server: LocalHttpServer) -> None:
    """A body over the limit is refused with 413 before it is read."""
    server.add_route("POST", "/api/echo", lambda req: (200, req))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.putrequest("POST", "/api/echo")
    conn.putheader("Content-Length", str(10 * 1024 * 1024))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "too large" in json.loads(resp.read())["error"]
    conn.close()


def test_port_in_use_is_a_clear_error(server: LocalHttpServer) -> None:
    """Starting on a port that is taken names the address."""
    from edge.errors import EdgeError

    with pytest.raises(EdgeError, match=f"127.0.0.1:{server.port}"):
        LocalHttpServer("127.0.0.1", server.port).start()


# -- headless Chromium -----------------------------------------------------------------------

def read_png(path: Path) -> np.ndarray:
    """Decode an 8-bit RGB/RGBA PNG (what Chromium writes) without extra dependencies."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f"{path} is not a readable image"
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return img[:, :, ::-1]


def chromium_args(binary: str, tmp_path: Path, width: int, height: int) -> list[str]:
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={tmp_path / 'profile'}",
            f"--window-size={width},{height}", "--virtual-time-budget=3000"]


def test_status_page_in_headless_chromium(server: LocalHttpServer, board: StatusBoard, tmp_path: Path) -> None:
    """Chromium renders the page: a real PNG of the window size, not blank, with the red reject banner, and the DOM
    (after the poller ran) holds the decision text."""
    binary = require_binary("chromium")
    width, height = 1280, 800
    png = tmp_path / "status.png"
    shot = subprocess.run([*chromium_args(binary, tmp_path, width, height), f"--screenshot={png}", server.url + "/"],
                          capture_output=True, text=True, timeout=120)
    assert png.exists(), f"chromium wrote no screenshot: {shot.stderr[-2000:]}"
    rgb = read_png(png)
    assert rgb.shape[:2] == (height, width)
    assert rgb.std() > 20, "screenshot is (nearly) blank"
    red = np.all(np.abs(rgb.astype(int) - REJECT_RED) <= 6, axis=2)
    assert red.mean() > 0.05, f"reject banner colour covers only {red.mean():.1%} of the page"
    # The poller replaces server-rendered text: change the board and check the DOM shows the new decision.
    board.set_last_decision("accept", "match_ok", message={"id": "Bantuan boleh diserahkan", "en": "Hand over the aid"})
    dom = subprocess.run([*chromium_args(binary, tmp_path, width, height), "--dump-dom", server.url + "/"],
                         capture_output=True, text=True, timeout=120)
    assert "Bantuan boleh diserahkan" in dom.stdout and "DITERIMA" in dom.stdout and 'data-outcome="accept"' in dom.stdout
    assert 'data-live="1"' in dom.stdout, "the page script did not fetch /api/status"
