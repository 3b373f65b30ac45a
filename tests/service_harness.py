"""`edge run` as a real process with its claim API, a real Mosquitto, a fault proxy and a QoS 1 consumer.

Used by tests/test_service_day.py (the issue-11 regressions) and tests/test_service_soak.py.
A terminal here has a folder camera, the committed models, no GPS, a signed officer list (OFF-7,
OFF-8, supervisor SUP-1; PINs made per run) and an installed signed roster whose recipients have
no template for the real embedder: a claim for them is referred without the camera
("no_template"), an override by the signed-in officer with the supervisor as second officer then
pays (a disbursement); a claim for anyone else is rejected ("unknown_recipient"). So every claim is a signed record, cheap to make, and payouts
can be counted.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from tests.support.net import free_port

ROOT = Path(os.environ.get("TEPAT_CODE_UNDER_TEST") or Path(__file__).resolve().parents[1])  # another checkout to prove a test fails there


def proc_vitals(pid: int) -> dict[str, int]:
    """Descriptors, threads and resident memory (KiB) of a process, from /proc."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    out = {"fds": fds}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            out["threads"] = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            out["rss_kb"] = int(line.split()[1])
    return out


def write_terminal(work: Path, *, device: str = "dev-1", broker: Any = None, mqtt_port: int | None = None, protocol: str = "5",
                   recipients: int = 50, store: dict | None = None, service: dict | None = None, mqtt: dict | None = None) -> Path:
    """A terminal config in ``work`` (with its roster installed); returns the config path."""
    import cv2

    from edge.claim.records.crypto import generate_signing_key, public_key_pem
    from edge.claim.roster.document import sign_roster
    from tests.fixtures_claim import FAKE_SHA, NOW, PERIOD, unit_vector

    work.mkdir(parents=True, exist_ok=True)
    frames = work / "frames"
    frames.mkdir(exist_ok=True)
    cv2.imwrite(str(frames / "0.png"), np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    issuer = generate_signing_key()
    (work / "issuer.pub.pem").write_bytes(public_key_pem(issuer.public_key()))
    cfg: dict[str, Any] = {
        "device": {"device_id": device, "region": "jabar", "distribution_point": "dev-point", "state_dir": str(work / "state"),
                   "log_format": "text"},
        "face": {"models_dir": str(ROOT / "models"), "embedder": "fp32"},
        "gps": {"backend": "none"},
        "camera": {"type": "folder", "path": str(frames)},
        "claim": {"issuer_keys": [str(work / "issuer.pub.pem")]},
        "service": {"http_port": 0, "loop_interval_s": 0.2, "camera_probe_s": 0.5, "health_interval_s": 5, **(service or {})},
        "store": {"min_free_mb": 1, **(store or {})},
    }
    if broker is None:
        cfg["mqtt"] = {"enabled": False}
    else:
        cfg["mqtt"] = {"host": broker.host, "port": mqtt_port or broker.port, "protocol": protocol, "username": device,
                       "password": broker.password(device) if device in broker.passwords else "wrong",
                       "reconnect_min_s": 0.1, "reconnect_max_s": 1.0, "keepalive_s": 5, **(mqtt or {})}
    config = work / "edge.toml"
    config.write_text(tomli_w.dumps(cfg))
    from datetime import timedelta

    doc = {"schema": "tepat.roster", "schema_version": 1, "kind": "full", "issuer": "kemensos-jabar",
           "distribution_point": "dev-point", "period": PERIOD, "version": 1,
           "issued_at": (NOW - timedelta(days=1)).isoformat(), "valid_from": (NOW - timedelta(days=1)).isoformat(),
           "valid_until": (NOW + timedelta(days=30)).isoformat(), "enrolment_allowed": False,
           "recipients": [{"recipient_id": f"PKH-{i:05d}", "display_name": f"Penerima {i}", "household_id": f"KK-{i:04d}",
                           "entitlement": {"programme": "PKH", "period": PERIOD, "amount": 600000},
                           "templates": [{"model_sha256": FAKE_SHA, "vector": unit_vector(i)}]} for i in range(1, recipients + 1)]}
    (work / "roster.json").write_text(json.dumps(sign_roster(doc, issuer)))
    out = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "roster", "import", "--no-recompute",
                          str(work / "roster.json")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    from tests.fixtures_claim import signed_officer_list

    officers, pins = signed_officer_list(issuer)
    (work / "officers.json").write_text(json.dumps(officers))
    (work / "pins.json").write_text(json.dumps(pins))
    out = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "officers", "import", str(work / "officers.json")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return config


@dataclass
class EdgeRun:
    """One `edge run` process on ``config``, its status page on ``port``."""

    config: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log: Path | None = None
    env: dict = field(default_factory=lambda: {"NOTIFY_SOCKET": ""})
    cookie: str | None = None

    @property
    def pins(self) -> dict[str, str]:
        return json.loads((self.config.parent / "pins.json").read_text())

    def start(self, *, wait: bool = True, timeout: float = 180.0) -> "EdgeRun":
        self.log = self.log or self.config.parent / f"edge-run-{self.port}.log"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(self.config), "run", "--port", str(self.port)],
                                         cwd=ROOT, env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready(timeout)
            self.sign_in()
        return self

    def sign_in(self, officer: str = "OFF-7") -> None:
        self.cookie = None
        status, body, headers = self.request_full("POST", "/api/session", {"officer_id": officer, "pin": self.pins[officer]})
        assert status == 200, body
        self.cookie = headers["Set-Cookie"].split(";")[0]

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"edge run exited with {self.proc.returncode}: {self.log_text()[-3000:]}")
            try:
                status, body = self.request("GET", "/api/status", timeout=5)
                if status == 200 and body.get("service_state") in ("running", "degraded"):
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"edge run not ready within {timeout} s: {self.log_text()[-3000:]}")

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 60.0) -> tuple[int, dict]:
        status, data, _ = self.request_full(method, path, body, timeout)
        return status, data

    def request_full(self, method: str, path: str, body: dict | None = None, timeout: float = 60.0) -> tuple[int, dict, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body).encode()
            headers = {"Content-Type": "application/json"} if data else {}
            if self.cookie:
                headers["Cookie"] = self.cookie
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else {}), resp.headers
        finally:
            conn.close()

    def claim(self, recipient_id: str, **extra: Any) -> tuple[int, dict]:
        return self.request("POST", "/api/claim", {"recipient_id": recipient_id, **extra})

    def override_accept(self, original_key: str) -> tuple[int, dict]:
        """Pay a referred claim: the signed-in officer with the supervisor as the second officer (two-person rule)."""
        return self.request("POST", "/api/override", {"original_key": original_key, "outcome": "accept", "reason_code": "id_card_checked",
                                                      "second_officer_id": "SUP-1", "second_pin": self.pins["SUP-1"]})

    def vitals(self) -> dict[str, int]:
        assert self.proc is not None
        return proc_vitals(self.proc.pid)

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        code, self.proc = self.proc.returncode, None
        return code

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


def outbox_records(state: Path) -> list[dict]:
    """Every record envelope in the outbox file (any state), in publishing order."""
    import sqlite3

    conn = sqlite3.connect(str(state / "outbox.sqlite"))
    try:
        rows = conn.execute("SELECT payload_json, state FROM outbox WHERE durable_class = 'record' ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [{**json.loads(p), "_state": s} for p, s in rows]


def payouts(records: list[dict]) -> dict[tuple[str, str], list[str]]:
    """Records that pay someone (decision accept, or override to accept), by (recipient, period)."""
    out: dict[tuple[str, str], list[str]] = {}
    for env in records:
        p = env["payload"]
        if (p.get("schema") == "tepat.decision" and p.get("outcome") == "accept") or \
           (p.get("schema") == "tepat.override" and p.get("new_outcome") == "accept"):
            out.setdefault((p.get("recipient_id"), p.get("period")), []).append(env["idempotency_key"])
    return out
