"""Claims over a real Mosquitto: records reach the central side signed; cmd/roster and cmd/ledger work end to end."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
import pytest

from edge.claim.central import register_claim_commands
from edge.claim.records import verify_record
from edge.claim.roster import sign_roster
from edge.config import DeviceConfig
from edge.transport.mqtt import MqttPublisher
from edge.transport.router import CommandRouter


class Central:
    """The central side as a test sees it: an 'operator' MQTT client that records every event and sends commands."""

    def __init__(self, broker) -> None:
        self.events: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"central-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
        self.client.username_pw_set("operator", broker.password("operator"))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.on_connect = lambda c, *a: c.subscribe("tepat/v1/+/+/event/#", qos=1)
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert subscribed.wait(10), "central could not subscribe"

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.events.append((msg.topic, json.loads(msg.payload)))
            self.cond.notify_all()

    def wait_for(self, pred, timeout: float = 20.0) -> list[tuple[str, dict]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                hits = [e for e in self.events if pred(*e)]
                if hits or time.monotonic() > deadline:
                    return hits
                self.cond.wait(0.2)

    def command(self, device: DeviceConfig, name: str, args: dict) -> None:
        env = {"schema_name": "tepat.command", "schema_version": 1, "command_id": uuid.uuid4().hex,
               "issued_at": datetime.now(timezone.utc).isoformat(), "issuer": "central-test", "args": args}
        self.client.publish(f"tepat/v1/{device.region}/{device.device_id}/cmd/{name}", json.dumps(env), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture()
def central(mosquitto):
    """An operator client on the real broker, subscribed to every device's events."""
    c = Central(mosquitto)
    yield c
    c.close()


def publisher_for(svc, device, mosquitto, mqtt_config_for, trusted_keys):
    router = CommandRouter()
    register_claim_commands(router, svc, trusted_keys)
    outbox_path = svc.outbox._here().path
    return MqttPublisher(mqtt_config_for(mosquitto, device.device_id), device, outbox_path, on_command=router.handle)


def wait_until_linked(pub, timeout: float = 15.0) -> None:
    """Commands sent before the device's session subscribes are not queued for it: wait for the link first."""
    deadline = time.monotonic() + timeout
    while pub.link_state != "up" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pub.link_state == "up", pub.stats()
    time.sleep(0.5)  # the cmd/# subscription follows the CONNACK


def test_offline_double_payment_surfaces_as_conflict_at_central(mosquitto, mqtt_config_for, central, make_terminal, scripted_face,
                                                                 roster_doc, trusted_keys):
    """Two terminals pay one recipient while offline; once linked, central relays each payout and both conflicts arrive, signed."""
    devs = [DeviceConfig(device_id=f"dev-{i}", region="jabar", distribution_point=f"desa-{i}") for i in (2, 3)]
    terms = [make_terminal(scripted_face, device_id=d.device_id, point="dev-point", roster=roster_doc()) for d in devs]
    paid = [t.claim("PKH-00001", officer_id="OFF-1") for t in terms]  # both offline: publishers not started yet
    assert [p.decision.outcome for p in paid] == ["accept", "accept"]
    pubs = [publisher_for(t, d, mosquitto, mqtt_config_for, trusted_keys).start() for t, d in zip(terms, devs)]
    try:
        decisions = central.wait_for(lambda t, e: t.endswith("/event/decision") and len(
            [x for x in central.events if x[0].endswith("/event/decision")]) >= 2)
        recs = {e["payload"]["device_id"]: e["payload"] for t, e in central.events if t.endswith("/event/decision")}
        assert set(recs) == {"dev-2", "dev-3"}, decisions
        assert verify_record(recs["dev-2"], terms[0].key.public_key()) and verify_record(recs["dev-3"], terms[1].key.public_key())
        for dev, other in ((devs[0], recs["dev-3"]), (devs[1], recs["dev-2"])):
            central.command(dev, "ledger", {"entries": [{k: other[k] for k in ("recipient_id", "period", "idempotency_key", "device_id", "distribution_point")}
                                                        | {"decided_at": other["time"]["wall"]}]})
        conflicts = central.wait_for(lambda t, e: t.endswith("/event/conflict") and len(
            [x for x in central.events if x[0].endswith("/event/conflict")]) >= 2)
        got = {e["payload"]["device_id"]: e["payload"] for t, e in central.events if t.endswith("/event/conflict")}
        assert set(got) == {"dev-2", "dev-3"}, conflicts
        assert got["dev-2"]["other_device_id"] == "dev-3" and got["dev-2"]["local_key"] == recs["dev-2"]["idempotency_key"]
        assert verify_record(got["dev-3"], terms[1].key.public_key())
    finally:
        for p in pubs:
            p.stop()


def test_roster_over_mqtt_signed_accepted_tampered_refused(mosquitto, mqtt_config_for, central, make_terminal, scripted_face,
                                                         roster_doc, issuer_key, trusted_keys):
    """cmd/roster: a tampered roster is refused with a published reason; the signed one is installed and acknowledged."""
    dev = DeviceConfig(device_id="dev-4", region="jabar", distribution_point="dev-point")
    svc = make_terminal(scripted_face, device_id="dev-4", roster=roster_doc())
    pub = publisher_for(svc, dev, mosquitto, mqtt_config_for, trusted_keys).start()
    try:
        wait_until_linked(pub)
        tampered = sign_roster(roster_doc(version=2), issuer_key)
        tampered["roster"]["recipients"][1]["display_name"] = "Orang Lain"
        central.command(dev, "roster", tampered)
        refused = central.wait_for(lambda t, e: t.endswith("dev-4/event/roster_ack") and not e["payload"]["accepted"])
        assert refused and refused[0][1]["payload"]["code"] == "bad_signature"
        central.command(dev, "roster", sign_roster(roster_doc(version=2, n=5), issuer_key))
        ok = central.wait_for(lambda t, e: t.endswith("dev-4/event/roster_ack") and e["payload"]["accepted"])
        assert ok and ok[0][1]["payload"]["version"] == 2 and ok[0][1]["payload"]["recipients"] == 5
        assert svc.roster.installed().version == 2
    finally:
        pub.stop()
