"""The composition root (edge/app.py): one terminal built from the configuration, with switches that do what they say.

``claim.http_api`` (the claim routes on the status server) and ``claim.mqtt_commands`` (the ``cmd/roster``
and ``cmd/ledger`` handlers) are separate: turning the HTTP API off must leave the MQTT commands working.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from edge.central.relay import sign_ledger
from edge.claim.roster.document import sign_roster
from edge.config import EdgeConfig
from tests.fixtures_claim import NOW, PERIOD
from tests.support.terminal import terminal_config

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "dev-5"


def make_config(tmp_path: Path, mosquitto: Any, mqtt_config_for: Any, issuer_pub: Path, **claim: Any) -> EdgeConfig:
    """A terminal on the real broker: folder camera, no GPS, no status server, the checkout's models (fp32)."""
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    import cv2
    import numpy as np

    cv2.imwrite(str(frames / "0.png"), np.full((240, 320, 3), 128, np.uint8))
    data = terminal_config(
        DEVICE, tmp_path / "state", mqtt=mqtt_config_for(mosquitto, DEVICE, reconnect_min_s=0.2, reconnect_max_s=1.0),
        device={"distribution_point": "dev-point"}, camera={"type": "folder", "path": frames}, gps={"backend": "none"},
        face={"models_dir": ROOT / "models", "embedder": "fp32"}, service={"http_enabled": False, "loop_interval_s": 0.2},
        claim={"issuer_keys": [str(issuer_pub)], **claim})
    return EdgeConfig.model_validate(data)


@pytest.fixture
def issuer_pub(tmp_path: Path, issuer_key) -> Path:
    from edge.claim.records.crypto import public_key_pem

    path = tmp_path / "issuer.pub.pem"
    path.write_bytes(public_key_pem(issuer_key.public_key()))
    return path


def test_http_api_off_keeps_roster_and_ledger_commands(tmp_path: Path, mosquitto_fresh, mqtt_config_for, roster_doc,
                                                      issuer_key, issuer_pub) -> None:
    """claim.http_api = false: `edge run`'s terminal still installs a roster sent on cmd/roster (acknowledged on the
    broker) and merges a cmd/ledger update into its ledger. (A broker of its own: what this terminal publishes must not
    reach the tests that share the session broker.)"""
    from edge.app import build_service, open_claim_service
    from edge.gps.source import DisabledSource
    from tests.fixtures_claim import Central

    mosquitto = mosquitto_fresh
    central = Central(mosquitto)

    cfg = make_config(tmp_path, mosquitto, mqtt_config_for, issuer_pub, http_api=False)
    built: dict[str, Any] = {}
    ready = threading.Event()

    def serve() -> None:  # built and run in one thread, as `edge run` does (SQLite handles stay in their thread)
        try:
            built["runner"] = build_service(cfg)
        finally:
            ready.set()
        built["runner"].run()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(120) and "runner" in built, "the terminal could not be built"
    runner = built["runner"]
    try:
        device = cfg.device
        acks: list = []
        for _ in range(40):  # the cmd/# subscription follows the connection: repeat until the terminal answers
            central.command(device, "roster", sign_roster(roster_doc(), issuer_key))
            acks = central.wait_for(lambda t, e: t.endswith(f"{DEVICE}/event/roster_ack"), timeout=1.5)
            if acks:
                break
        assert acks, "no roster_ack: cmd/roster is not handled with claim.http_api = false"
        assert acks[0][1]["payload"]["accepted"] and acks[0][1]["payload"]["recipients"] == 3, acks[0][1]
        entry = {"recipient_id": "PKH-00002", "period": PERIOD, "idempotency_key": "other-terminal-key-0001",
                 "device_id": "dev-9", "distribution_point": "desa-9", "decided_at": NOW.isoformat()}
        body = {"schema": "tepat.ledger", "schema_version": 2, "device_id": DEVICE, "seq": 1, "issued_at": NOW.isoformat(),
                "entries": [entry]}
        central.command(device, "ledger", sign_ledger(body, issuer_key))  # no claim.central_keys: the issuer key signs
        deadline = 60
        while deadline and not runner.stop_event.wait(0.25):
            deadline -= 1
            with open_claim_service(cfg, position_source=DisabledSource(), face=_ShaOnly()) as svc:
                keys = [d["idempotency_key"] for d in svc.ledger.history("PKH-00002")["disbursements"]]
            if "other-terminal-key-0001" in keys:
                break
        assert "other-terminal-key-0001" in keys, "cmd/ledger was not merged into the ledger"
    finally:
        runner.request_stop()
        thread.join(30)
        central.close()
    assert not thread.is_alive()


class _ShaOnly:
    model_sha256 = "0" * 64


@pytest.mark.parametrize("http_api,mqtt_commands", [(True, False), (False, True), (False, False)])
def test_claim_switches_are_separate(tmp_path: Path, scripted_face, issuer_pub, http_api: bool, mqtt_commands: bool) -> None:
    """claim.http_api governs only the claim routes on the status server, claim.mqtt_commands only cmd/roster and cmd/ledger;
    with both off the terminal has no claim flow (monitoring only)."""
    import json
    import urllib.error
    import urllib.request

    from edge.app import build_terminal

    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2
    import numpy as np

    cv2.imwrite(str(frames / "0.png"), np.full((240, 320, 3), 128, np.uint8))
    cfg = EdgeConfig.model_validate(terminal_config(
        "t-9", tmp_path / "state", camera={"type": "folder", "path": frames}, gps={"backend": "none"},
        service={"http_port": 0}, claim={"issuer_keys": [str(issuer_pub)], "http_api": http_api, "mqtt_commands": mqtt_commands}))
    with build_terminal(cfg, face=scripted_face) as term:
        assert term.router.names == (["ledger", "roster"] if mqtt_commands else [])
        assert (term.claim is not None) == (http_api or mqtt_commands)
        request = urllib.request.Request(f"{term.http.url}/api/session", data=json.dumps({"officer_id": "OFF-7", "pin": "0000"}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            urllib.request.urlopen(request, timeout=30)
            status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        assert (status != 404) == http_api, status  # no officer list installed: 401 when the API is served
        with urllib.request.urlopen(f"{term.http.url}/api/status", timeout=30) as resp:
            assert resp.status == 200  # the status page is served either way
