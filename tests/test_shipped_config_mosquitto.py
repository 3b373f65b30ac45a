"""firmware_config/mosquitto/ run for real, unedited: the central broker and the terminal's local bridge.

Each broker runs Debian's own mosquitto.conf + the shipped file in conf.d/, started the way
mosquitto.service starts it, in private namespaces (tests/support/shipped_broker.py), so the shipped paths
and ports are used exactly as written. The ACL is what make-acl.py makes from a device list.
Regression tests for issue 13 (broker identity): client-id takeover of a terminal's or the monitor's
persistent session, operator reading commands, a terminal publishing under another region, an
anonymous local client on the bridge.
"""

from __future__ import annotations

import queue
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import DeviceConfig, MqttConfig, TlsConfig
from edge.monitor import Consumer
from edge.store import Outbox
from edge.transport.mqtt import MqttPublisher
from tests.helpers import wait_until
from tests.support.ci import require_binary
from tests.support.shipped_broker import PrivateNet, ShippedMosquitto, make_pki, require_namespaces

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "firmware_config" / "mosquitto"
DEVICES = "device_id,region\njabar-bdg-017,jabar\ndev-a,jabar\ndev-b,jabar\ndev-c,sumut\n"
CENTRAL_USERS = ("operator", "central", "dev-a", "dev-b", "dev-c", "dev-unlisted")
BRIDGE_PASSWORD = "CHANGE-ME"  # local-bridge.conf as shipped; the docs say to replace it on a real terminal


def password(user: str) -> str:
    return f"pw-{user}-secret"


def add_users(passwd_file: Path, users: dict[str, str]) -> None:
    binary = require_binary("mosquitto_passwd")
    passwd_file.write_text("")
    for user, pw in users.items():
        subprocess.run([binary, "-b", str(passwd_file), user, pw], check=True, capture_output=True)


@dataclass
class Fleet:
    net: PrivateNet
    central: ShippedMosquitto
    central_port: int
    ca_file: Path
    bridge: ShippedMosquitto | None = None
    bridge_port: int = 0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The central broker on central.conf + make-acl.py's ACL, then a terminal's bridge broker on local-bridge.conf."""
    require_binary("mosquitto")
    require_namespaces()
    work = tmp_path_factory.mktemp("shipped-mosquitto")
    net = PrivateNet()
    brokers: list[ShippedMosquitto] = []
    try:
        central = ShippedMosquitto(net, work / "central")
        brokers.append(central)
        shutil.copy(SHIPPED / "central.conf", central.etc / "conf.d" / "tepat.conf")
        (work / "devices.csv").write_text(DEVICES)
        acl = subprocess.run([sys.executable, str(SHIPPED / "make-acl.py"), str(work / "devices.csv")], capture_output=True, text=True, check=True)
        (central.etc / "tepat.acl").write_text(acl.stdout)
        pki = make_pki(central.etc / "certs")
        add_users(central.etc / "tepat.passwd", {**{u: password(u) for u in CENTRAL_USERS}, "jabar-bdg-017": BRIDGE_PASSWORD})
        central.start()
        fleet = Fleet(net, central, net.forward(8883), pki["ca"])

        bridge = ShippedMosquitto(net, work / "bridge")
        brokers.append(bridge)
        shutil.copy(SHIPPED / "local-bridge.conf", bridge.etc / "conf.d" / "tepat-bridge.conf")
        shutil.copy(SHIPPED / "local-bridge.acl", bridge.etc / "tepat-local.acl")
        (bridge.etc / "certs").mkdir()
        shutil.copy(pki["ca"], bridge.etc / "certs" / "ca.crt")
        add_users(bridge.etc / "tepat-local.passwd", {"jabar-bdg-017": password("local"), "queue-display": password("display")})
        bridge.start()
        fleet.bridge, fleet.bridge_port = bridge, net.forward(1883)
        yield fleet
    finally:
        for broker in reversed(brokers):
            broker.stop()
        net.close()


def tls_config(fleet: Fleet, user: str, **overrides) -> MqttConfig:
    values = dict(host="127.0.0.1", port=fleet.central_port, username=user, password=password(user),
                  tls=TlsConfig(ca_file=fleet.ca_file), reconnect_min_s=0.2, reconnect_max_s=1.0)
    values.update(overrides)
    return MqttConfig(**values)


class Raw:
    """A plain paho MQTT 5 client: PUBACK reason codes, received topics, CONNACK reason."""

    def __init__(self, port: int, user: str | None, pw: str | None, *, client_id: str = "", ca: Path | None = None,
                 clean_start: bool = True, session_expiry_s: int = 0) -> None:
        self.acks: dict[int, int] = {}
        self.inbox: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        self.connack: queue.Queue = queue.Queue()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"raw-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5)
        if user is not None:
            self.c.username_pw_set(user, pw)
        if ca is not None:
            self.c.tls_set(ca_certs=str(ca))
        self.c.on_connect = lambda c, u, f, rc, p: self.connack.put(rc.value)
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc.value)
        self.c.on_message = lambda c, u, m: self.inbox.put(m.topic)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = session_expiry_s
        self.c.connect("127.0.0.1", port, clean_start=clean_start, properties=props)
        self.c.loop_start()
        self.reason = self.connack.get(timeout=15)

    def publish(self, topic: str, payload: bytes = b"{}") -> int:
        info = self.c.publish(topic, payload, qos=1)
        assert wait_until(lambda: info.mid in self.acks, 10), f"no PUBACK for {topic}"
        code = self.acks[info.mid]
        return 0 if code == 16 else code  # 16: accepted, "no matching subscribers"

    def subscribe(self, topic: str) -> None:
        done: queue.Queue = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, codes, p: done.put(codes)
        self.c.subscribe(topic, qos=1)
        done.get(timeout=10)

    def received(self, wait_s: float = 1.0) -> list[str]:
        """Topics received since the last call (after waiting ``wait_s``)."""
        time.sleep(wait_s)
        out = []
        while not self.inbox.empty():
            out.append(self.inbox.get())
        self.seen += out
        return out

    def wait_for(self, topic: str, timeout_s: float = 15.0) -> bool:
        """True once ``topic`` has been received (at any time since the client connected)."""
        return bool(wait_until(lambda: self.received(0) is not None and topic in self.seen, timeout_s))

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def central_client(fleet: Fleet, user: str, **kw) -> Raw:
    client = Raw(fleet.central_port, user, password(user), ca=fleet.ca_file, **kw)
    assert client.reason == 0, f"{user} refused: {client.reason}"
    return client


def test_shipped_mosquitto_files_have_no_end_of_line_comments() -> None:
    """Mosquitto reads 'value   # note' as the value 'value   # note' (issue 18): a comment stands on its own line."""
    for path in sorted(SHIPPED.glob("*.conf")) + sorted(SHIPPED.glob("*.acl")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            assert not words or words[0].startswith("#") or not any(w.startswith("#") for w in words[1:]), f"{path.name}:{number}: {line}"


def test_central_conf_starts_as_shipped(fleet: Fleet) -> None:
    """Debian's mosquitto.conf + central.conf in conf.d/ start with TLS on 8883, and a terminal logs in with its password."""
    assert "Opening ipv4 listen socket on port 8883" in fleet.central.log_text()
    assert not re.search(r"Error|Warning", fleet.central.log_text())
    client = central_client(fleet, "dev-a")
    assert client.publish("tepat/v1/jabar/dev-a/health") == 0
    client.close()
    bad = Raw(fleet.central_port, "dev-a", "wrong", ca=fleet.ca_file)
    assert bad.reason in (134, 135)  # bad user name or password; Mosquitto 2.0 says "not authorized"
    bad.close()


def test_edge_terminal_works_and_its_session_survives_a_client_id_takeover(fleet: Fleet, tmp_path: Path) -> None:
    """Terminal A, with its own valid password, connects with B's client id and a clean start: B's queued cmd still arrives.

    Also the edge client itself with the shipped config: TLS, password, persistent session, records out, commands in.
    """
    commands: queue.Queue = queue.Queue()
    device = DeviceConfig(device_id="dev-b", region="jabar", state_dir=tmp_path)
    with Outbox(tmp_path / "outbox.sqlite", "dev-b") as box:
        key = box.append("verification", {"outcome": "accept"}).key
    with Consumer(tls_config(fleet, "operator"), client_id="tepat-monitor") as monitor:
        assert monitor.wait_connected()
        with MqttPublisher(tls_config(fleet, "dev-b"), device, tmp_path / "outbox.sqlite", on_command=lambda n, p: commands.put(n)) as pub:
            assert wait_until(lambda: pub.link_state == "up" and pub.stats().acked >= 1, 20), pub.stats()
            assert monitor.wait_for(lambda s: key in s.seen, 15)
    central = central_client(fleet, "central")
    assert central.publish("tepat/v1/jabar/dev-b/cmd/ledger", b'{"queued": true}') == 0  # B is offline: queued in B's session
    attacker = central_client(fleet, "dev-a", client_id="dev-b", clean_start=True)  # would wipe B's session
    attacker.close()
    central.close()
    with MqttPublisher(tls_config(fleet, "dev-b"), device, tmp_path / "outbox.sqlite", on_command=lambda n, p: commands.put(n)) as pub:
        assert commands.get(timeout=20) == "ledger"
        assert pub.link_state == "up"


def test_monitor_session_survives_a_client_id_takeover(fleet: Fleet) -> None:
    """A terminal connecting with the monitor's client id (either the one it sends or the one the broker uses) loses no record for the monitor."""
    with Consumer(tls_config(fleet, "operator"), client_id="tepat-monitor") as monitor:
        assert monitor.wait_connected()
    dev_a = central_client(fleet, "dev-a")
    assert dev_a.publish("tepat/v1/jabar/dev-a/event/verification", b'{"while": "monitor away"}') == 0
    dev_a.close()
    for stolen_id in ("tepat-monitor", "operator"):
        attacker = central_client(fleet, "dev-c", client_id=stolen_id, clean_start=True)
        attacker.close()
    got: list[str] = []
    with Consumer(tls_config(fleet, "operator"), client_id="tepat-monitor", on_message=lambda t, p, v: got.append(t)) as monitor:
        assert monitor.wait_connected()
        assert wait_until(lambda: "tepat/v1/jabar/dev-a/event/verification" in got, 15), got


def test_operator_cannot_read_commands(fleet: Fleet) -> None:
    """operator subscribed to cmd/# and to everything receives no command (rosters carry photos); records still reach it."""
    operator = central_client(fleet, "operator")
    dev_a = central_client(fleet, "dev-a")
    central = central_client(fleet, "central")
    try:
        operator.subscribe("tepat/v1/+/+/cmd/#")
        operator.subscribe("tepat/v1/#")
        dev_a.subscribe("tepat/v1/jabar/dev-a/cmd/#")
        assert central.publish("tepat/v1/jabar/dev-a/cmd/roster") == 0
        assert dev_a.publish("tepat/v1/jabar/dev-a/status") == 0
        assert dev_a.wait_for("tepat/v1/jabar/dev-a/cmd/roster")
        assert operator.wait_for("tepat/v1/jabar/dev-a/status")  # published after the command
        operator.received(0.5)
        assert [t for t in operator.seen if "/cmd/" in t] == [], operator.seen
        assert operator.publish("tepat/v1/jabar/dev-a/cmd/roster") == 135  # and it cannot send any
    finally:
        for c in (operator, dev_a, central):
            c.close()


def test_terminal_cannot_publish_under_another_region_or_device(fleet: Fleet) -> None:
    """dev-c is listed in region sumut: its own prefix is accepted, the same device_id under jabar is 'Not authorized' (135)."""
    dev_c = central_client(fleet, "dev-c")
    unlisted = central_client(fleet, "dev-unlisted")
    try:
        assert dev_c.publish("tepat/v1/sumut/dev-c/event/verification") == 0
        assert dev_c.publish("tepat/v1/jabar/dev-c/event/verification") == 135
        assert dev_c.publish("tepat/v1/sumut/dev-a/event/verification") == 135
        assert dev_c.publish("tepat/v1/sumut/dev-c/cmd/ledger") == 135
        assert unlisted.publish("tepat/v1/jabar/dev-unlisted/event/verification") == 135  # a password alone grants nothing
    finally:
        dev_c.close()
        unlisted.close()


def test_local_bridge_conf_starts_and_bridges_both_ways(fleet: Fleet, tmp_path: Path) -> None:
    """local-bridge.conf (unedited) bridges the terminal's records to central.conf's broker and its commands back."""
    assert fleet.bridge is not None
    assert wait_until(lambda: "u'jabar-bdg-017'" in fleet.central.log_text(), 20), fleet.bridge.log_text()[-1500:]
    operator = central_client(fleet, "operator")
    operator.subscribe("tepat/v1/jabar/jabar-bdg-017/#")
    commands: queue.Queue = queue.Queue()
    local = MqttConfig(host="127.0.0.1", port=fleet.bridge_port, username="jabar-bdg-017", password=password("local"),
                       reconnect_min_s=0.2, reconnect_max_s=1.0)
    device = DeviceConfig(device_id="jabar-bdg-017", region="jabar", state_dir=tmp_path)
    with Outbox(tmp_path / "outbox.sqlite", "jabar-bdg-017") as box:
        box.append("verification", {"outcome": "accept"})
    central = central_client(fleet, "central")
    try:
        with MqttPublisher(local, device, tmp_path / "outbox.sqlite", on_command=lambda n, p: commands.put(n)) as pub:
            assert wait_until(lambda: pub.stats().acked >= 1, 20), pub.stats()
            assert operator.wait_for("tepat/v1/jabar/jabar-bdg-017/event/verification", 20)

            def command_arrived() -> bool:
                central.publish("tepat/v1/jabar/jabar-bdg-017/cmd/ledger")
                try:
                    return commands.get(timeout=1) == "ledger"
                except queue.Empty:
                    return False
            assert wait_until(command_arrived, 20)
    finally:
        operator.close()
        central.close()


def test_local_bridge_refuses_anonymous_and_limits_other_local_users(fleet: Fleet) -> None:
    """Another local account cannot inject commands or read decision records through the bridge broker."""
    anonymous = Raw(fleet.bridge_port, None, None)
    assert anonymous.reason == 135  # not authorized
    anonymous.close()
    display = Raw(fleet.bridge_port, "queue-display", password("display"))
    assert display.reason == 0
    try:
        display.subscribe("tepat/v1/#")
        assert display.publish("tepat/v1/jabar/jabar-bdg-017/cmd/ledger") == 135
        assert display.publish("tepat/v1/jabar/jabar-bdg-017/event/verification") == 135
        terminal = Raw(fleet.bridge_port, "jabar-bdg-017", password("local"))
        assert terminal.publish("tepat/v1/jabar/jabar-bdg-017/event/verification") == 0
        terminal.close()
        assert display.received() == []
    finally:
        display.close()
