"""`edge run` publishes its health retained on …/health through the outbox to a real Mosquitto."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.service.health import HealthSnapshot
from tests.test_service_systemd_notify import ROOT, make_terminal

DEVICE = "dev-3"


def operator_client(broker, inbox: queue.Queue) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"op-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
    client.username_pw_set("operator", broker.password("operator"))
    client.on_message = lambda c, u, msg: inbox.put((msg.topic, msg.retain, json.loads(msg.payload)))
    client.on_connect = lambda c, u, flags, rc, props: c.subscribe(f"tepat/v1/+/{DEVICE}/health", qos=1)
    client.connect(broker.host, broker.port)
    client.loop_start()
    return client


def next_health(inbox: queue.Queue, timeout: float, predicate=lambda snap, retained: True) -> tuple[HealthSnapshot, bool]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _topic, retained, envelope = inbox.get(timeout=max(0.05, deadline - time.monotonic()))
        except queue.Empty:
            break
        snap = HealthSnapshot.model_validate(envelope["payload"])
        if predicate(snap, retained):
            return snap, retained
    raise AssertionError(f"no matching health message within {timeout} s")


def test_health_is_published_retained_over_tls(tmp_path: Path, mosquitto) -> None:
    """A terminal's health reaches the broker with link 'up', and a late subscriber gets it retained."""
    config, _ = make_terminal(tmp_path)
    text = config.read_text().replace('device_id = "pi-test-01"', f'device_id = "{DEVICE}"')
    text = text.replace("[mqtt]\nenabled = false\n", (
        f'[mqtt]\nhost = "{mosquitto.host}"\nport = {mosquitto.tls_port}\nusername = "{DEVICE}"\n'
        f'password = "{mosquitto.password(DEVICE)}"\nreconnect_min_s = 0.2\nreconnect_max_s = 1.0\n'
        f'[mqtt.tls]\nca_file = "{mosquitto.ca_file}"\n'))
    text = text.replace("health_interval_s = 5", "health_interval_s = 1")
    config.write_text(text)
    inbox: queue.Queue = queue.Queue()
    watcher = operator_client(mosquitto, inbox)
    log = open(tmp_path / "service.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], cwd=ROOT,
                            env={**os.environ, "NOTIFY_SOCKET": ""}, stdout=subprocess.DEVNULL, stderr=log)
    try:
        snap, _ = next_health(inbox, 30, lambda s, r: s.link_state == "up")
        assert snap.device_id == DEVICE and snap.camera_state == "ok" and snap.gps_state == "disabled"
        assert snap.outbox_backlog is not None and snap.disk_free_mb > 0 and snap.version
    finally:
        watcher.loop_stop()
        watcher.disconnect()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        log.seek(0)
        service_log = log.read()
        log.close()
    assert code == 0, service_log[-2000:]
    late: queue.Queue = queue.Queue()
    latecomer = operator_client(mosquitto, late)
    try:
        snap, retained = next_health(late, 10)
        assert retained and snap.device_id == DEVICE
    finally:
        latecomer.loop_stop()
        latecomer.disconnect()
