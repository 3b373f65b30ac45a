"""`edge run` as a real subprocess under systemd's notify protocol: READY, WATCHDOG while healthy, none while not.

Preferred: a transient unit via ``systemd-run --user`` (needs systemd as PID 1 and a user manager).
Where that is impossible (containers, CI runners without systemd) the notify-socket harness runs the
same binary with ``NOTIFY_SOCKET``/``WATCHDOG_USEC`` pointing at a socket the test binds, which is
exactly what systemd does for ``Type=notify`` units.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.net import free_port
from tests.support.terminal import write_terminal_config

ROOT = Path(__file__).resolve().parents[1]
MODEL = "face_detection_short_range.tflite"


def make_terminal(tmp: Path) -> tuple[Path, Path]:
    """A config for a terminal with a folder camera, the sealed models, no MQTT, no GPS; returns (config, a model file copy)."""
    frames = tmp / "frames"
    frames.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        cv2.imwrite(str(frames / f"{i}.png"), rng.integers(0, 255, (240, 320, 3), dtype=np.uint8))
    models = tmp / "models"
    models.mkdir()
    src = ROOT / "models" / MODEL
    if not src.exists():
        pytest.skip(f"models/{MODEL} is not in the checkout")
    # the released (sealed) manifest and thresholds; the model under test copied (the tests corrupt it), the rest linked
    for name in ("manifest.json", "thresholds.json"):
        shutil.copy(ROOT / "models" / name, models / name)
    for entry in json.loads((ROOT / "models" / "manifest.json").read_text())["models"].values():
        if entry["file"] != MODEL:
            (models / entry["file"]).symlink_to(ROOT / "models" / entry["file"])
    shutil.copy(src, models / MODEL)
    config = write_terminal_config(
        tmp / "edge.toml", "pi-test-01", tmp / "state", device={"log_format": "json"}, face={"models_dir": models},
        gps={"backend": "none"}, camera={"type": "folder", "path": frames}, claim={"http_api": False, "mqtt_commands": False},
        service={"http_port": 0, "loop_interval_s": 0.2, "camera_probe_s": 0.5, "health_interval_s": 5})
    return config, models / MODEL


def systemd_booted() -> bool:
    """sd_booted(): systemd is PID 1 when /run/systemd/system exists."""
    return Path("/run/systemd/system").is_dir()


def test_edge_run_under_systemd_run_user(tmp_path: Path) -> None:
    """Under a real user manager, a transient Type=notify unit with WatchdogSec reaches active/running."""
    if not systemd_booted() or not shutil.which("systemd-run"):
        pytest.skip("systemd is not PID 1 here (no /run/systemd/system), so systemd-run --user is impossible; "
                    "test_edge_run_under_notify_harness covers the same protocol")
    probe = subprocess.run(["systemctl", "--user", "is-system-running"], capture_output=True, text=True)
    if probe.returncode not in (0, 1) or not probe.stdout.strip():
        pytest.skip(f"no systemd user manager: {probe.stderr.strip()}")
    config, _ = make_terminal(tmp_path)
    unit = f"tepat-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["systemd-run", "--user", f"--unit={unit}", "-p", "Type=notify", "-p", "WatchdogSec=5",
                    "-p", "NotifyAccess=main", sys.executable, "-m", "edge", "--config", str(config), "run"], check=True)
    try:
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            state = subprocess.run(["systemctl", "--user", "show", "-p", "ActiveState", "-p", "SubState", unit],
                                   capture_output=True, text=True).stdout
            if "ActiveState=active" in state and "SubState=running" in state:
                break
            time.sleep(0.5)
        assert "SubState=running" in state, state
        time.sleep(7)  # longer than WatchdogSec: still running means keep-alives arrive
        state = subprocess.run(["systemctl", "--user", "show", "-p", "ActiveState", "-p", "NRestarts", unit],
                               capture_output=True, text=True).stdout
        assert "ActiveState=active" in state and "NRestarts=0" in state, state
    finally:
        subprocess.run(["systemctl", "--user", "stop", unit], capture_output=True)


def test_edge_run_under_notify_harness(tmp_path: Path, notify_socket) -> None:
    """READY=1 after start-up, WATCHDOG=1 every tick, none while a model file is corrupt, back once restored, STOPPING=1 on SIGTERM."""
    config, model = make_terminal(tmp_path)
    original = model.read_bytes()
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1500000", "PYTHONUNBUFFERED": "1"}
    env.pop("WATCHDOG_PID", None)
    stderr = open(tmp_path / "service.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        ready = notify_socket.wait_for(lambda m: m.startswith("READY=1"), 60)
        assert ready.startswith("READY=1\nSTATUS="), ready  # READY=1 carries a status line for `systemctl status`
        first = len(notify_socket.received)
        notify_socket.drain(2.0)
        beats = [m for _, m in notify_socket.received[first:] if m == "WATCHDOG=1"]
        assert len(beats) >= 4, f"expected a keep-alive per 0.2 s tick, got {len(beats)} in 2 s"

        model.write_bytes(original + b"bitrot")  # the SD card corrupted a model file
        notify_socket.wait_for(lambda m: m.startswith("STATUS=") and "matching failed" in m, 10)
        quiet_from = len(notify_socket.received)
        notify_socket.drain(2.5)  # longer than WatchdogSec=1.5 s: systemd would restart us now
        assert "WATCHDOG=1" not in [m for _, m in notify_socket.received[quiet_from:]]

        model.write_bytes(original)
        notify_socket.wait_for(lambda m: m == "WATCHDOG=1", 10)
        healthy = [m for _, m in notify_socket.received[quiet_from:] if m.startswith("STATUS=")]
        assert healthy and "camera ok" in healthy[-1].removeprefix("STATUS=").split(", "), healthy  # every part's state

        proc.send_signal(signal.SIGTERM)
        notify_socket.wait_for(lambda m: m == "STOPPING=1", 10)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        stderr.seek(0)
        log = stderr.read()
        stderr.close()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    messages = [entry["msg"] for entry in lines]
    assert any("withholding the watchdog keep-alive: matching failed" in m for m in messages), log[-3000:]
    assert any(m == "healthy again" for m in messages) and messages[-1] == "stopped"


def run_edge(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "NOTIFY_SOCKET": ""})


def test_missing_models_stop_start_up_with_one_line(tmp_path: Path) -> None:
    """A models_dir without a manifest ends `edge run` with exit 2 and one error line naming the key."""
    config, _ = make_terminal(tmp_path)
    config.write_text(config.read_text().replace(str(tmp_path / "models"), str(tmp_path / "nowhere")))
    out = run_edge(config)
    assert out.returncode == 2
    errors = [line for line in out.stderr.splitlines() if line.startswith("edge run: error:")]
    assert len(errors) == 1 and "face.models_dir" in errors[0] and "manifest.json not found" in errors[0]
    assert "Traceback" not in out.stderr


def test_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    """When the status page port is taken, start-up stops cleanly with the address in the message."""
    config, _ = make_terminal(tmp_path)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        out = run_edge(config, "--port", str(port))
    assert out.returncode == 2 and f"cannot serve the status page on 127.0.0.1:{port}" in out.stderr
    assert "Traceback" not in out.stderr


def test_claim_flow_that_cannot_start_is_one_clear_error(tmp_path: Path) -> None:
    """With the claim flow on (the default) but the face models it needs absent, start-up stops with one error line."""
    config, _ = make_terminal(tmp_path)
    (tmp_path / "models" / "sface_2021dec_int8.tflite").unlink()  # the configured embedder is absent
    config.write_text(config.read_text().replace("http_api = false\n", ""))
    out = run_edge(config)
    errors = [line for line in out.stderr.splitlines() if line.startswith("edge run: error:")]
    assert out.returncode == 2 and len(errors) == 1, out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_claim_flow_served_by_edge_run(tmp_path: Path, notify_socket) -> None:
    """`edge run` with the claim flow serves POST /api/claim to a signed-in officer, and the decision appears on the status board."""
    from edge.claim.records.crypto import generate_signing_key, public_key_pem
    from tests.fixtures_claim import signed_officer_list

    config, _ = make_terminal(tmp_path)
    issuer = generate_signing_key()
    (tmp_path / "issuer.pub.pem").write_bytes(public_key_pem(issuer.public_key()))
    signed, pins = signed_officer_list(issuer)
    (tmp_path / "officers.json").write_text(json.dumps(signed))
    text = config.read_text().replace("http_api = false\n", f'issuer_keys = ["{tmp_path / "issuer.pub.pem"}"]\n').replace(
        f'models_dir = "{tmp_path / "models"}"', f'models_dir = "{ROOT / "models"}"\nembedder = "fp32"')
    port = free_port()
    config.write_text(text.replace("http_port = 0", f"http_port = {port}"))
    imported = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "officers", "import", str(tmp_path / "officers.json")],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr
    env = {**os.environ, "NOTIFY_SOCKET": str(notify_socket.path)}
    log = open(tmp_path / "service.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while not any(m.startswith("READY=1") for _, m in notify_socket.received):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"edge run did not become ready: {log.read()[-2000:]}")
            notify_socket.drain(0.5)
        sign_in = urllib.request.Request(f"http://127.0.0.1:{port}/api/session", method="POST", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"officer_id": "OFF-7", "pin": pins["OFF-7"]}).encode())
        with urllib.request.urlopen(sign_in, timeout=60) as resp:
            cookie = resp.headers["Set-Cookie"].split(";")[0]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/claim", data=json.dumps({"recipient_id": "3171-0001"}).encode(),
                                     headers={"Content-Type": "application/json", "Cookie": cookie}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                decision = json.load(resp)
        except urllib.error.HTTPError as exc:
            decision = json.load(exc)
        # this terminal has no roster installed, so the claim is refused (and nothing paid) before the camera is used
        assert (decision.get("outcome"), decision.get("reason_code")) == ("reject", "no_roster"), decision
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as resp:
            board = json.load(resp)
        assert board["last_decision"]["reason_code"] == decision["reason_code"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.seek(0)
        text = log.read()
        log.close()
    assert proc.returncode == 0, text[-2000:]
    assert "Traceback" not in text, text[-2000:]

