"""Outbox rows are verified before publishing (issue 13 item 5): a reject edited to accept in outbox.sqlite,
with its checksum recomputed, is quarantined and never reaches the broker."""

from __future__ import annotations

import json
import sqlite3
import time

from edge.claim.records.row_check import RowVerifier, row_problem
from edge.config import DeviceConfig
from edge.store.outbox import Outbox
from edge.store.rows import checksum
from edge.transport.mqtt import MqttPublisher


def _tamper_outcome(outbox_path, key: str, outcome: str = "accept") -> None:
    """The attack: edit the record in the SQLite row and recompute the row checksum."""
    db = sqlite3.connect(outbox_path)
    (payload_json,) = db.execute("SELECT payload_json FROM outbox WHERE key = ?", (key,)).fetchone()
    env = json.loads(payload_json)
    env["payload"]["outcome"] = outcome
    new = json.dumps(env)
    db.execute("UPDATE outbox SET payload_json = ?, checksum = ? WHERE key = ?", (new, checksum(new), key))
    db.commit()
    db.close()


def _verifier(svc) -> RowVerifier:
    return RowVerifier(svc.device_id, lambda: svc.key.public_key())


def test_tampered_row_is_quarantined_by_pending(make_terminal, scripted_face, roster_doc):
    svc = make_terminal(scripted_face, device_id="t-v1", roster=roster_doc())
    scripted_face.score = 0.1
    rejected = svc.claim("PKH-00001", officer_id="OFF-1").record
    assert rejected.outcome == "reject"
    path = svc.outbox._here().path
    with Outbox(path, "t-v1", min_free_mb=1, row_verifier=_verifier(svc)) as ob:
        keys = [i.key for i in ob.pending(100)]
        assert rejected.idempotency_key in keys  # intact: published
    _tamper_outcome(path, rejected.idempotency_key)
    verifier = _verifier(svc)
    with Outbox(path, "t-v1", min_free_mb=1, row_verifier=verifier) as ob:
        assert rejected.idempotency_key not in [i.key for i in ob.pending(100)]
        quarantined = {i.key for i in ob.items("quarantined")}
        assert rejected.idempotency_key in quarantined and verifier.refused == 1


def test_unsigned_record_and_foreign_device_refused(make_terminal, scripted_face, roster_doc):
    svc = make_terminal(scripted_face, device_id="t-v2", roster=roster_doc())
    svc.claim("PKH-00001", officer_id="OFF-1")
    path = svc.outbox._here().path
    db = sqlite3.connect(path)
    (payload_json,) = db.execute("SELECT payload_json FROM outbox WHERE kind = 'decision'").fetchone()
    db.close()
    key = svc.key.public_key()
    assert row_problem(payload_json, "record", key, "t-v2") is None
    env = json.loads(payload_json)
    env["payload"].pop("signature")
    assert "does not verify" in row_problem(json.dumps(env), "telemetry", key, "t-v2")
    assert "not this terminal" in row_problem(payload_json, "record", key, "t-other")
    health = {"kind": "health", "device_id": "t-v2", "payload": {"cpu": 1}}
    assert row_problem(json.dumps(health), "telemetry", key, "t-v2") is None


def test_tampered_row_never_reaches_the_broker(mosquitto, mqtt_config_for, central, make_terminal, scripted_face, roster_doc):
    """Real Mosquitto: the edited reject is held back; the honest decision after it is published, signed."""
    dev = DeviceConfig(device_id="dev-5", region="jabar", distribution_point="dev-point")
    svc = make_terminal(scripted_face, device_id="dev-5", roster=roster_doc())
    scripted_face.score = 0.1
    rejected = svc.claim("PKH-00001", officer_id="OFF-1").record
    scripted_face.score = 0.9
    paid = svc.claim("PKH-00002", officer_id="OFF-1").record
    path = svc.outbox._here().path
    _tamper_outcome(path, rejected.idempotency_key)
    pub = MqttPublisher(mqtt_config_for(mosquitto, dev.device_id), dev, path, row_verifier=_verifier(svc)).start()
    try:
        got = central.wait_for(lambda t, e: t.endswith("dev-5/event/decision") and e["payload"]["idempotency_key"] == paid.idempotency_key)
        assert got
        time.sleep(1.0)
        keys = [e["payload"]["idempotency_key"] for t, e in central.events if t.endswith("dev-5/event/decision")]
        assert rejected.idempotency_key not in keys
    finally:
        pub.stop()
    with Outbox(path, "dev-5", min_free_mb=1) as ob:
        assert rejected.idempotency_key in {i.key for i in ob.items("quarantined")}


def test_monitor_counts_bad_signatures_not_payouts(make_terminal, scripted_face, roster_doc, tmp_path):
    """The reference consumer verifies against the device-key registry: an edited record is a bad signature, not an accept."""
    from edge.claim.records.crypto import public_key_pem
    from edge.monitor import ConsumerState
    from edge.monitor.registry import DeviceKeys

    svc = make_terminal(scripted_face, device_id="dev-1", roster=roster_doc())
    scripted_face.score = 0.1
    rejected = svc.claim("PKH-00001", officer_id="OFF-1").record
    scripted_face.score = 0.9
    svc.claim("PKH-00002", officer_id="OFF-1")
    db = sqlite3.connect(svc.outbox._here().path)
    rows = dict(db.execute("SELECT key, payload_json FROM outbox WHERE kind = 'decision'").fetchall())
    db.close()
    env = json.loads(rows[rejected.idempotency_key])
    env["payload"]["outcome"] = "accept"
    forged = json.dumps(env).encode()
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "dev-1.pub.pem").write_bytes(public_key_pem(svc.key.public_key()))
    state = ConsumerState(device_keys=DeviceKeys.from_dir(tmp_path / "keys"))
    topic = "tepat/v1/jabar/dev-1/event/decision"
    verdicts = [state.handle(topic, forged)] + [state.handle(topic, p.encode()) for k, p in rows.items() if k != rejected.idempotency_key]
    assert verdicts == ["bad_signature", "new"]
    view = state.snapshot()[0]
    assert view.accepted == 1 and view.bad_signatures == 1 and state.totals()["bad_signatures"] == 1
    stranger = ConsumerState(device_keys=DeviceKeys({}))
    assert stranger.handle(topic, forged) == "bad_signature" and "unregistered" in stranger.errors[-1]


def test_edge_run_quarantines_tampered_row(tmp_path, mosquitto):
    """`edge run` (plain MQTT to the real broker): of two signed records in the outbox, the one edited from reject to
    accept (checksum recomputed) is quarantined; only the honest one reaches the operator."""
    import os
    import queue
    import signal
    import subprocess
    import sys

    import paho.mqtt.client as mqtt

    from edge.claim.records.crypto import load_private_key
    from edge.claim.records.row_check import sign_payload
    from tests.test_service_systemd_notify import ROOT, make_terminal

    device = "dev-2"
    config, _ = make_terminal(tmp_path)
    text = config.read_text().replace('device_id = "pi-test-01"', f'device_id = "{device}"')
    config.write_text(text.replace("[mqtt]\nenabled = false\n", (
        f'[mqtt]\nhost = "{mosquitto.host}"\nport = {mosquitto.port}\nusername = "{device}"\n'
        f'password = "{mosquitto.password(device)}"\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n')))
    assert subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "keys", "init"], cwd=ROOT,
                          capture_output=True, timeout=60).returncode == 0
    key = load_private_key(tmp_path / "state" / "keys" / "device_ed25519.pem")
    outbox = tmp_path / "state" / "outbox.sqlite"
    with Outbox(outbox, device, min_free_mb=1) as ob:
        for i, outcome in enumerate(("reject", "reject"), start=1):
            payload = {"schema": "tepat.decision", "device_id": device, "idempotency_key": f"key-{i:08d}", "outcome": outcome}
            ob.append("decision", sign_payload(payload, key), idempotency_key=f"key-{i:08d}")
    _tamper_outcome(outbox, "key-00000001")
    inbox: queue.Queue = queue.Queue()
    op = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="op-w13b-run", protocol=mqtt.MQTTv5)
    op.username_pw_set("operator", mosquitto.password("operator"))
    op.on_message = lambda c, u, m: inbox.put(json.loads(m.payload))
    op.on_connect = lambda c, u, f, rc, p: c.subscribe(f"tepat/v1/+/{device}/event/decision", qos=1)
    op.connect(mosquitto.host, mosquitto.port)
    op.loop_start()
    log = open(tmp_path / "service.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], cwd=ROOT,
                            env={**os.environ, "NOTIFY_SOCKET": ""}, stdout=subprocess.DEVNULL, stderr=log)
    try:
        got = inbox.get(timeout=60)
        assert got["payload"]["idempotency_key"] == "key-00000002"
        time.sleep(1.5)
        assert inbox.empty()
    finally:
        op.loop_stop()
        op.disconnect()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.seek(0)
        service_log = log.read()
        log.close()
    assert "altered after signing" in service_log and "Traceback" not in service_log
    with Outbox(outbox, device, min_free_mb=1) as ob:
        assert {i.key for i in ob.items("quarantined")} == {"key-00000001"}
