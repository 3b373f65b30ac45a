"""The outbox publisher against a real Mosquitto: delivery after PUBACK, order, status, TLS, ACL, bad credentials."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.config import DeviceConfig
from edge.monitor import Consumer
from edge.store import Outbox
from edge.transport.mqtt import MqttPublisher
from tests.fixtures_mqtt import mqtt_config
from tests.helpers import wait_until


def _device(device_id: str = "dev-1", tmp: Path | None = None) -> DeviceConfig:
    return DeviceConfig(device_id=device_id, region="jabar", state_dir=tmp or Path("/tmp"))




def _fill(path: Path, device_id: str, n: int) -> list[str]:
    with Outbox(path, device_id) as box:
        return [box.append("verification", {"outcome": "accept" if i % 3 else "reject", "i": i}).key for i in range(n)]


@pytest.mark.parametrize("variant", ["plain-v5", "plain-v311", "tls-v5", "mtls-v311"])
def test_drains_in_order_and_marks_delivered(mosquitto, tmp_path: Path, variant: str) -> None:
    """Every pending record reaches a subscriber once, in sequence order, and is then marked delivered."""
    protocol = "3.1.1" if variant.endswith("v311") else "5"
    cfg = mqtt_config(mosquitto, "dev-2", tls=variant.startswith("tls"), mtls=variant.startswith("mtls"), protocol=protocol)
    op = mqtt_config(mosquitto, "operator")
    box_path = tmp_path / "outbox.sqlite"
    keys = _fill(box_path, "dev-2", 120)
    with Consumer(op, client_id=f"mon-{variant}") as consumer:
        assert consumer.wait_connected()
        with MqttPublisher(cfg, _device("dev-2"), box_path) as pub:
            assert consumer.wait_for(lambda s: len(s.seen & set(keys)) == len(keys), 20), pub.stats()
            assert wait_until(lambda: pub.stats().acked >= len(keys))
            assert pub.link_state == "up"
    got = [k for _, k in consumer.state.keys_in_order["dev-2"] if k in set(keys)]
    assert got == keys
    with Outbox(box_path, "dev-2") as box:
        assert box.stats().pending == 0
        assert box.stats().delivered == len(keys)


def test_status_online_then_offline_retained(mosquitto, tmp_path: Path) -> None:
    """The retained status is 'online' while connected and 'offline' after a clean stop."""
    cfg = mqtt_config(mosquitto, "dev-3")
    op = mqtt_config(mosquitto, "operator")
    with MqttPublisher(cfg, _device("dev-3"), tmp_path / "o.sqlite") as pub:
        assert wait_until(lambda: pub.link_state == "up")
        with Consumer(op, client_id="mon-status-1") as c:
            assert c.wait_for(lambda s: "dev-3" in s.devices and s.devices["dev-3"].status == "online", 10)
    with Consumer(op, client_id="mon-status-2") as c:
        assert c.wait_for(lambda s: "dev-3" in s.devices and s.devices["dev-3"].status == "offline", 10)


def test_last_will_says_offline_when_link_dies(mosquitto_fresh, tmp_path: Path) -> None:
    """When the terminal vanishes without a goodbye the broker publishes the retained 'offline' will."""
    from simulator.netfault import FaultProxy

    op = mqtt_config(mosquitto_fresh, "operator")
    with FaultProxy(target=(mosquitto_fresh.host, mosquitto_fresh.port)) as proxy:
        cfg = mqtt_config(mosquitto_fresh, "dev-1", port=proxy.port, keepalive_s=5, reconnect_min_s=30, reconnect_max_s=60)
        with Consumer(op, client_id="mon-will") as c:
            with MqttPublisher(cfg, _device("dev-1"), tmp_path / "o.sqlite") as pub:
                assert c.wait_for(lambda s: "dev-1" in s.devices and s.devices["dev-1"].status == "online", 10)
                proxy.cut()
                # the broker notices after 1.5 x keepalive and sends the will
                assert c.wait_for(lambda s: s.devices["dev-1"].status == "offline", 15)
                assert wait_until(lambda: pub.link_state == "down", 10)


def test_acl_refusal_is_an_error_not_a_delivery(mosquitto, tmp_path: Path) -> None:
    """Under MQTT 5 a PUBACK 'Not authorized' is an error (auth_failed), never a delivery: the records stay pending."""
    # dev-4 logs in but its outbox claims to be dev-5, so every topic is outside its ACL prefix.
    cfg = mqtt_config(mosquitto, "dev-4", reconnect_min_s=5, reconnect_max_s=5)
    box_path = tmp_path / "o.sqlite"
    _fill(box_path, "dev-5", 3)
    pub = MqttPublisher(cfg, _device("dev-5"), box_path)
    with pub:
        assert wait_until(lambda: pub.link_state == "auth_failed"), pub.stats()
        assert "Not authorized" in (pub.stats().last_error or "")
    with Outbox(box_path, "dev-5") as box:
        assert box.stats().pending == 3
        assert box.stats().delivered == 0


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_bad_credentials_keep_records_and_retry(mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture, protocol: str) -> None:
    """A broker that rejects the password gives link_state 'auth_failed', a clear log line, and loses nothing."""
    cfg = mqtt_config(mosquitto, "dev-1", password="not-the-password", protocol=protocol, reconnect_min_s=0.2, reconnect_max_s=0.5)
    box_path = tmp_path / "o.sqlite"
    _fill(box_path, "dev-1", 5)
    with caplog.at_level("ERROR"):
        with MqttPublisher(cfg, _device("dev-1"), box_path) as pub:
            assert wait_until(lambda: pub.link_state == "auth_failed")
            assert pub.stats().sessions == 0
    assert any("refused login for dev-1" in r.getMessage() for r in caplog.records)
    with Outbox(box_path, "dev-1") as box:
        assert box.stats().pending == 5


def test_tls_with_wrong_ca_does_not_connect(mosquitto, tmp_path: Path) -> None:
    """A broker certificate not signed by the configured CA is refused (no plaintext fallback)."""
    from edge.config import TlsConfig

    bogus_ca = tmp_path / "other-ca.pem"
    bogus_ca.write_bytes(mosquitto.pki["client"].read_bytes())  # a valid PEM, but not the CA
    cfg = mqtt_config(mosquitto, "dev-1", tls=True)
    cfg.tls = TlsConfig(ca_file=bogus_ca)
    with MqttPublisher(cfg, _device("dev-1"), tmp_path / "o.sqlite") as pub:
        assert wait_until(lambda: (pub.stats().last_error or "") != "", 10)
        time.sleep(0.5)
        assert pub.stats().sessions == 0
        assert pub.link_state == "down"
        assert "certificate verify failed" in (pub.stats().last_error or "").lower()


def test_records_appended_while_running_are_sent(mosquitto, tmp_path: Path) -> None:
    """Records appended by another connection while the publisher runs are picked up without restart."""
    cfg = mqtt_config(mosquitto, "dev-1")
    box_path = tmp_path / "o.sqlite"
    with MqttPublisher(cfg, _device("dev-1"), box_path) as pub:
        assert wait_until(lambda: pub.link_state == "up")
        keys = _fill(box_path, "dev-1", 10)
        pub.wake()
        assert wait_until(lambda: pub.stats().acked >= 10)
    with Outbox(box_path, "dev-1") as box:
        assert box.stats().delivered == 10 and box.stats().pending == 0
        assert {i.key for i in box.items("delivered")} == set(keys)


def test_mqtt311_acl_denial_looks_like_success(mosquitto) -> None:
    """Why MQTT 5 is the default: under 3.1.1 the broker PUBACKs a publish its ACL dropped, under 5 it says 'Not authorized'."""
    results = {}
    for version in (paho.MQTTv311, paho.MQTTv5):
        acks: list[str] = []
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"acl-probe-{version}", protocol=version)
        c.username_pw_set("dev-4", mosquitto.password("dev-4"))
        c.on_publish = lambda client, userdata, mid, rc, props: acks.append(str(rc))  # noqa: ARG005
        c.connect(mosquitto.host, mosquitto.port)
        c.loop_start()
        c.publish("tepat/v1/jabar/dev-5/event/verification", b"{}", qos=1)
        assert wait_until(lambda: bool(acks), 10)
        c.disconnect()
        c.loop_stop()
        results[version] = acks[0]
    assert results[paho.MQTTv311] == "Success"
    assert results[paho.MQTTv5] == "Not authorized"
