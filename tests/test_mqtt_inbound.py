"""Inbound commands and link faults against a real Mosquitto: bad input is refused, nothing is lost, delivery resumes."""

from __future__ import annotations

import json
import socket
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import DeviceConfig
from edge.messages import PingArgs
from edge.monitor import Consumer
from edge.store import Outbox
from edge.transport.mqtt import MqttPublisher
from edge.transport.router import CommandRouter
from simulator.netfault import FaultProxy
from tests.fixtures_mqtt import mqtt_config
from tests.helpers import wait_until




def _operator(broker) -> paho.Client:
    c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"op-{uuid.uuid4().hex[:6]}", protocol=paho.MQTTv5)
    c.username_pw_set("operator", broker.password("operator"))
    c.connect(broker.host, broker.port)
    c.loop_start()
    return c


def test_bad_commands_refused_good_one_handled_records_keep_flowing(mosquitto, tmp_path: Path, caplog) -> None:  # noqa: ANN001
    """Oversized and malformed cmd/ messages are logged and refused; a valid one reaches its handler; records still drain."""
    handled: list = []
    router = CommandRouter(max_bytes=2048)
    router.register("ping", PingArgs, lambda args, env: handled.append(args.note))
    cfg = mqtt_config(mosquitto, "dev-1", max_inbound_bytes=2048)
    device = DeviceConfig(device_id="dev-1", region="jabar", state_dir=tmp_path)
    box_path = tmp_path / "o.sqlite"
    op = _operator(mosquitto)
    base = "tepat/v1/jabar/dev-1/cmd"
    try:
        with caplog.at_level("ERROR"), MqttPublisher(cfg, device, box_path, on_command=router.handle) as pub:
            assert wait_until(lambda: pub.link_state == "up")
            time.sleep(0.3)  # subscription in place
            op.publish(f"{base}/ping", b"x" * 4096, qos=1).wait_for_publish(5)
            op.publish(f"{base}/ping", b"{oops", qos=1).wait_for_publish(5)
            op.publish(f"{base}/ping", json.dumps({"command_id": "c1"}).encode(), qos=1).wait_for_publish(5)
            good = {"command_id": str(uuid.uuid4()), "issued_at": datetime.now(timezone.utc).isoformat(), "issuer": "ops", "args": {"note": "hello"}}
            op.publish(f"{base}/ping", json.dumps(good).encode(), qos=1).wait_for_publish(5)
            assert wait_until(lambda: handled == ["hello"])
            with Outbox(box_path, "dev-1") as box:
                key = box.append("verification", {"outcome": "accept"}).key
            assert wait_until(lambda: pub.stats().acked >= 1)
            assert pub.link_state == "up"
            assert pub.stats().inbound_refused == 2  # oversized + not JSON, refused before the router
            assert router.stats.refused == 1  # schema
        text = caplog.text
        assert "larger than mqtt.max_inbound_bytes" in text and "not valid JSON" in text and "does not match the schema" in text
        with Outbox(box_path, "dev-1") as box:
            assert [i.key for i in box.items("delivered")] == [key]
    finally:
        op.disconnect()
        op.loop_stop()


def test_backlog_after_outage_drains_in_order(mosquitto, tmp_path: Path) -> None:
    """Records accepted during a cut link wait in the outbox and drain in order once the link returns."""
    device = DeviceConfig(device_id="dev-3", region="jabar", state_dir=tmp_path)
    box_path = tmp_path / "o.sqlite"
    with FaultProxy(target=(mosquitto.host, mosquitto.port)) as proxy, \
            Consumer(mqtt_config(mosquitto, "operator"), client_id="mon-outage") as consumer:
        assert consumer.wait_connected()
        cfg = mqtt_config(mosquitto, "dev-3", port=proxy.port, reconnect_min_s=0.1, reconnect_max_s=0.5)
        with MqttPublisher(cfg, device, box_path) as pub:
            assert wait_until(lambda: pub.link_state == "up")
            proxy.cut()
            assert wait_until(lambda: pub.link_state == "down")
            with Outbox(box_path, "dev-3") as box:
                keys = [box.append("verification", {"i": i}).key for i in range(200)]
            time.sleep(0.5)
            assert not (set(keys) & consumer.state.seen)
            proxy.restore()
            assert consumer.wait_for(lambda s: set(keys) <= s.seen, 20)
        got = [k for _, k in consumer.state.keys_in_order["dev-3"] if k in set(keys)]
        assert got == keys


def test_stalled_and_throttled_link_still_delivers(mosquitto, tmp_path: Path) -> None:
    """A stalled then throttled link slows delivery but every record arrives once, in order."""
    device = DeviceConfig(device_id="dev-4", region="jabar", state_dir=tmp_path)
    box_path = tmp_path / "o.sqlite"
    with FaultProxy(target=(mosquitto.host, mosquitto.port)) as proxy, \
            Consumer(mqtt_config(mosquitto, "operator"), client_id="mon-throttle") as consumer:
        assert consumer.wait_connected()
        cfg = mqtt_config(mosquitto, "dev-4", port=proxy.port)
        with Outbox(box_path, "dev-4") as box:
            keys = [box.append("verification", {"pad": "y" * 200}).key for _ in range(60)]
        proxy.stall(1.0)
        proxy.throttle(8000)
        started = time.monotonic()
        with MqttPublisher(cfg, device, box_path):
            assert consumer.wait_for(lambda s: set(keys) <= s.seen, 30)
        assert time.monotonic() - started > 1.0  # the stall and the throttle really held traffic
        assert [k for _, k in consumer.state.keys_in_order["dev-4"] if k in set(keys)] == keys


def test_fault_proxy_cut_refuses_and_restore_accepts() -> None:
    """cut() drops open connections and refuses new ones; restore() forwards again."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    with FaultProxy(target=server.getsockname()) as proxy:
        c = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        s, _ = server.accept()
        c.sendall(b"ping")
        assert s.recv(4) == b"ping"
        proxy.cut()
        c.settimeout(2)
        assert c.recv(4) == b""  # dropped
        d = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        d.settimeout(2)
        assert d.recv(4) == b""  # refused while cut
        proxy.restore()
        e = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        s2, _ = server.accept()
        s2.sendall(b"pong")
        e.settimeout(2)
        assert e.recv(4) == b"pong"
        for sock in (c, d, e, s, s2):
            sock.close()
    server.close()
