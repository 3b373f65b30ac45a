"""The ACL make-acl.py builds from central.acl and a device list, enforced by a real Mosquitto; make-acl.py's input checks.

A quick check on a broker of the test's own (plain, loopback); tests/test_shipped_config_mosquitto.py
runs the complete shipped configuration.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.mqtt import start_mosquitto

MAKE_ACL = Path(__file__).resolve().parents[1] / "firmware_config" / "mosquitto" / "make-acl.py"
USERS = ("dev-a", "dev-b", "operator", "central")
DEVICES = "device_id,region\n# the programme office's list\ndev-a,jabar\ndev-b,jabar\n"


def make_acl(devices: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MAKE_ACL), str(devices)], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def central_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Mosquitto on a free loopback port using the shipped central.acl and a password per user; yields the port."""
    work = tmp_path_factory.mktemp("central-broker")
    (work / "devices.csv").write_text(DEVICES)
    acl = work / "tepat.acl"
    acl.write_text(make_acl(work / "devices.csv").stdout)
    server = start_mosquitto(work / "broker", acl_file=acl, user_names=USERS, tls=False)
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
        operator.subscribe("tepat/v1/#")  # delivery is filtered by the ACL: records, status, health
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


def test_make_acl_pins_each_terminal_to_its_region(tmp_path: Path) -> None:
    """One block per listed terminal with its region written out; no '+' rule a terminal could use."""
    (tmp_path / "devices.csv").write_text(DEVICES)
    out = make_acl(tmp_path / "devices.csv")
    assert out.returncode == 0 and out.stderr == ""
    assert "user dev-a\ntopic write tepat/v1/jabar/dev-a/event/#\ntopic write tepat/v1/jabar/dev-a/status\n" in out.stdout
    assert "topic read tepat/v1/jabar/dev-b/cmd/#" in out.stdout
    assert not [line for line in out.stdout.splitlines() if line.startswith("pattern")]


@pytest.mark.parametrize(("text", "error"), [
    ("dev-a,jabar\ndev-a,sumut\n", "line 2: device_id 'dev-a' already listed on line 1"),
    ("dev-a,jabar,extra\n", "line 1: expected 'device_id,region'"),
    ("dev-a,+\n", "line 1: bad region '+'"),
    ("Dev A,jabar\n", "line 1: bad device_id 'Dev A'"),
    ("operator,jabar\n", "line 1: 'operator' is a reserved user name"),
    ("# nothing yet\n", "no terminals listed"),
])
def test_make_acl_refuses_a_bad_device_list_with_one_line(tmp_path: Path, text: str, error: str) -> None:
    (tmp_path / "devices.csv").write_text(text)
    out = make_acl(tmp_path / "devices.csv")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and error in out.stderr and "Traceback" not in out.stderr
