"""firmware_config/mosquitto/central.acl enforced by a real Mosquitto: each terminal stays in its own topic prefix."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mqtt import start_mosquitto

ACL = Path(__file__).resolve().parents[1] / "firmware_config" / "mosquitto" / "central.acl"
USERS = ("dev-a", "dev-b", "operator", "central")


@pytest.fixture(scope="module")
def central_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Mosquitto on a free loopback port using the shipped central.acl and a password per user; yields the port."""
    server = start_mosquitto(tmp_path_factory.mktemp("central-broker"), acl_file=ACL, user_names=USERS, tls=False)
    try:
        yield server.port
    finally:
        server.stop()


class Client:
    """A connected MQTT 5 client that records PUBACK reason codes and received messages."""

    def __init__(self, port: int, user: str) -> None:
        self.acks: dict[int, int] = {}
        self.inbox: queue.Queue = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{user}-{time.monotonic_ns()}", protocol=mqtt.MQTTv5)
        self.c.username_pw_set(user, f"pw-{user}-secret")  # as start_mosquitto sets them
        self.c.on_publish = lambda c, u, mid, rc, props: self.acks.__setitem__(mid, rc.value)
        self.c.on_message = lambda c, u, msg: self.inbox.put((msg.topic, msg.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def publish(self, topic: str) -> int:
        info = self.c.publish(topic, b"{}", qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks[info.mid]

    def subscribe(self, topic: str) -> None:
        done = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, codes, props: done.put(codes)
        self.c.subscribe(topic, qos=1)
        done.get(timeout=5)

    def received(self, wait: float = 0.5) -> list[str]:
        time.sleep(wait)
        out = []
        while not self.inbox.empty():
            out.append(self.inbox.get()[0])
        return out

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_terminal_publishes_only_under_its_own_prefix(central_broker: int) -> None:
    """dev-a's event, status and health are accepted; publishing as dev-b or on a cmd topic gets 'Not authorized' (135)."""
    dev_a = Client(central_broker, "dev-a")
    operator = Client(central_broker, "operator")
    try:
        operator.subscribe("tepat/v1/#")
        assert dev_a.publish("tepat/v1/jabar/dev-a/event/verification") == 0
        assert dev_a.publish("tepat/v1/jabar/dev-a/health") == 0
        assert dev_a.publish("tepat/v1/jabar/dev-b/event/verification") == 135
        assert dev_a.publish("tepat/v1/jabar/dev-a/cmd/roster") == 135
        assert sorted(operator.received()) == ["tepat/v1/jabar/dev-a/event/verification", "tepat/v1/jabar/dev-a/health"]
        assert operator.publish("tepat/v1/jabar/dev-a/cmd/roster") == 135  # operators only watch
    finally:
        dev_a.close()
        operator.close()


def test_commands_reach_only_their_terminal(central_broker: int) -> None:
    """A central command for dev-a reaches dev-a; dev-b cannot read dev-a's commands."""
    dev_a, dev_b, central = (Client(central_broker, u) for u in ("dev-a", "dev-b", "central"))
    try:
        dev_a.subscribe("tepat/v1/jabar/dev-a/cmd/#")
        dev_b.subscribe("tepat/v1/jabar/dev-a/cmd/#")
        assert central.publish("tepat/v1/jabar/dev-a/cmd/ledger") == 0
        assert dev_a.received() == ["tepat/v1/jabar/dev-a/cmd/ledger"]
        assert dev_b.received(0.1) == []
    finally:
        for c in (dev_a, dev_b, central):
            c.close()
