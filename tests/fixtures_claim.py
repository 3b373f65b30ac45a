"""Fixtures for the distribution-day tests: keys, signed rosters, a ledger file."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from edge.claim.records.crypto import SecretBox, generate_signing_key, new_template_key, public_key_id

WIB = timezone(timedelta(hours=7))
NOW = datetime.now(WIB).replace(microsecond=0)  # rosters are valid around the real date: claims use the real time source
PERIOD = NOW.strftime("%Y-%m")
FAKE_SHA = "ab" * 32


def unit_vector(seed: int, dim: int = 128) -> list[float]:
    """A reproducible L2-normalised vector (stands in for a template in pure-logic tests)."""
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return [float(x) for x in v / np.linalg.norm(v)]


@pytest.fixture(scope="session")
def issuer_key():
    """The programme office's Ed25519 signing key."""
    return generate_signing_key()


@pytest.fixture(scope="session")
def trusted_keys(issuer_key):
    """The device's trust store: key id -> issuer public key."""
    return {public_key_id(issuer_key.public_key()): issuer_key.public_key()}


@pytest.fixture(scope="session")
def device_key():
    """This terminal's Ed25519 record-signing key."""
    return generate_signing_key()


@pytest.fixture()
def template_box() -> SecretBox:
    """A fresh AES-GCM box for templates at rest."""
    return SecretBox(new_template_key())


@pytest.fixture()
def roster_doc() -> Callable[..., dict[str, Any]]:
    """Factory: an unsigned roster object for point 'dev-point', the current month, with three recipients valid from yesterday for 30 days."""

    def make(version: int = 1, n: int = 3, **over: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": "tepat.roster", "schema_version": 1, "kind": "full", "issuer": "kemensos-jabar",
            "distribution_point": "dev-point", "period": PERIOD, "version": version,
            "issued_at": (NOW - timedelta(days=1)).isoformat(), "valid_from": (NOW - timedelta(days=1)).isoformat(),
            "valid_until": (NOW + timedelta(days=30)).isoformat(), "enrolment_allowed": False,
            "recipients": [
                {"recipient_id": f"PKH-{i:05d}", "display_name": f"Penerima {i}", "household_id": f"KK-{i:04d}",
                 "entitlement": {"programme": "PKH", "period": PERIOD, "amount": 600000},
                 "templates": [{"model_sha256": FAKE_SHA, "vector": unit_vector(i)}]}
                for i in range(1, n + 1)
            ],
        }
        doc.update(copy.deepcopy(over))
        return doc

    return make


class ScriptedFace:
    """A face core whose results the test sets (for orchestration tests; the end-to-end test uses the real pipeline)."""

    model_sha256 = FAKE_SHA

    def __init__(self) -> None:
        from edge.claim.flow.decide import QualityResult

        self.quality = QualityResult(True, None, 5, 5)
        self.liveness = None
        self.score = 0.9
        self.identified = None  # MatchResult for 1:N

    def thresholds(self, mode: str) -> tuple[float, float]:
        return (0.40, 0.05)

    def analyse(self, frames):
        from edge.claim.flow.face_engine import BurstAnalysis

        emb = [np.asarray(unit_vector(1), np.float32)] if self.quality.passed else []
        return BurstAnalysis(self.quality, self.liveness, emb)

    def verify(self, burst, templates) -> float:
        return self.score

    def identify(self, burst, gallery):
        return self.identified

    def embed_photo(self, data: bytes):
        return np.asarray(unit_vector(len(data)), np.float32)


class BlankCamera:
    """Delivers grey frames; with ScriptedFace the pixels do not matter."""

    def capture(self):
        import time

        from edge.camera.base import Frame

        return Frame(rgb=np.full((48, 64, 3), 128, np.uint8), captured_monotonic_ns=time.monotonic_ns())


@pytest.fixture()
def scripted_face() -> ScriptedFace:
    """A face core the test scripts (quality, score, identity)."""
    return ScriptedFace()


@pytest.fixture()
def make_terminal(tmp_path, issuer_key, trusted_keys):
    """Factory: a ClaimService with real roster/ledger/outbox files under tmp_path/<device_id>, a fixed GPS point,
    the real time source, and the signed 3-recipient roster installed."""
    import contextlib

    from edge.app import make_where
    from edge.claim.flow.claim_service import ClaimService
    from edge.claim.flow.ledger import Ledger
    from edge.claim.flow.outbox_access import SharedOutbox
    from edge.claim.inbound.handlers import import_roster
    from edge.claim.roster.document import sign_roster
    from edge.claim.roster.installed import RosterStore
    from edge.config import ClaimConfig, GpsConfig
    from edge.store.outbox import Outbox
    from edge.timesource import TimeSource
    from simulator.gps import FixedPoint

    stack = contextlib.ExitStack()

    def make(face, device_id: str = "t-1", point: str = "dev-point", roster: dict | None = None, camera: Any = None, **cfg: Any):
        d = tmp_path / device_id
        gps = stack.enter_context(FixedPoint(-6.1754, 106.8272))
        svc = ClaimService(
            device_id=device_id, distribution_point=point, config=ClaimConfig(**cfg), face=face,
            roster=stack.enter_context(RosterStore(d / "roster.sqlite", SecretBox(new_template_key()))),
            ledger=stack.enter_context(Ledger(d / "ledger.sqlite", device_id, point)),
            outbox=stack.enter_context(SharedOutbox(lambda: Outbox(d / "outbox.sqlite", device_id, min_free_mb=1))),
            signing_key=generate_signing_key(), where=make_where(gps, GpsConfig(), TimeSource(gps).now), burst_frames=2,
            camera=camera if camera is not None else BlankCamera(),
        )
        if roster is not None:
            import_roster(svc, sign_roster(roster, issuer_key), trusted_keys, now=NOW)
        return svc

    yield make
    stack.close()


class Central:
    """The central side as a test sees it: an 'operator' MQTT client that records every event and sends commands."""

    def __init__(self, broker) -> None:
        self.events: list[tuple[str, dict]] = []
        self.cond = threading.Condition()
        import paho.mqtt.client as mqtt

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

    def command(self, device: Any, name: str, args: dict) -> None:
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
    """A real MQTT publisher draining ``svc``'s outbox, with cmd/roster and cmd/ledger routed to ``svc``."""
    from edge.claim.inbound.handlers import register_claim_commands
    from edge.transport.mqtt import MqttPublisher
    from edge.transport.router import CommandRouter

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


# --- officers ---------------------------------------------------------------------------------

def signed_officer_list(issuer_key, officers=(("OFF-7", "Ani", "officer"), ("OFF-8", "Budi", "officer"), ("SUP-1", "Sari", "supervisor")),
                        *, point: str = "dev-point", version: int = 1, **over: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """A signed officer list with PINs generated for this run (cheap scrypt cost for tests) and the PINs by officer id."""
    from edge.claim.officers.officer_list import generate_pin, hash_pin, sign_officers

    pins = {oid: generate_pin() for oid, _, _ in officers}
    doc: dict[str, Any] = {
        "schema": "tepat.officers", "schema_version": 1, "issuer": "kemensos-jabar", "distribution_points": [point], "version": version,
        "issued_at": (NOW - timedelta(days=1)).isoformat(), "valid_from": (NOW - timedelta(days=1)).isoformat(),
        "valid_until": (NOW + timedelta(days=30)).isoformat(),
        "officers": [{"officer_id": o, "name": n, "role": r, "pin": hash_pin(pins[o], n=2**10).model_dump()} for o, n, r in officers],
    }
    doc.update(copy.deepcopy(over))
    return sign_officers(doc, issuer_key), pins


@pytest.fixture()
def officers():
    """Signed-in officers for calling the officer actions directly: ``officers["OFF-7"]``, ``officers["SUP-1"]``."""
    from edge.claim.officers.accounts import SignedIn

    return {"OFF-7": SignedIn("OFF-7", "Ani", "officer"), "OFF-8": SignedIn("OFF-8", "Budi", "officer"),
            "SUP-1": SignedIn("SUP-1", "Sari", "supervisor")}


@pytest.fixture()
def officer_store(tmp_path, issuer_key, trusted_keys):
    """A real officer store (SQLite) with the signed three-officer list installed; ``.pins`` holds this run's PINs."""
    from edge.claim.officers.accounts import OfficerStore

    signed, pins = signed_officer_list(issuer_key)
    with OfficerStore(tmp_path / "officers.sqlite", trusted_keys, "dev-point") as store:
        store.install(signed)
        store.pins = pins
        yield store
