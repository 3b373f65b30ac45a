"""The central side, as the simulator plays it: the programme office that signs the roster, and the
operations centre that receives records (the product's monitor :class:`edge.monitor.Consumer`),
measures decision-to-receipt latency and tells terminals about each other's payments (``cmd/ledger``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.claim.crypto import generate_signing_key, public_key_pem
from edge.claim.roster import sign_roster
from edge.claim.roster_build import build_roster
from edge.config import MqttConfig
from edge.messages import CommandEnvelope, new_key
from edge.transport import topics
from simulator.broker import Endpoint
from simulator.plan import Person

logger = logging.getLogger(__name__)

REGION = "sim"


class Issuer:
    """The programme office: an Ed25519 key and a signed roster built from the enrolment photos."""

    def __init__(self, work_dir: Path) -> None:
        self.dir = work_dir / "issuer"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = generate_signing_key()
        self.public_key_file = self.dir / "issuer_ed25519.pub.pem"
        self.public_key_file.write_bytes(public_key_pem(self.key.public_key()))

    def signed_roster(self, people: Sequence[Person], *, distribution_point: str, period: str, version: int = 1) -> dict[str, Any]:
        """The roster document a terminal imports: enrolment photos embedded, names shown to the officer."""
        photos = self.dir / f"photos-{distribution_point}"
        for p in people:
            d = photos / p.recipient_id
            d.mkdir(parents=True, exist_ok=True)
            for i, src in enumerate(p.enrol):
                link = d / f"{i + 1}{src.suffix.lower()}"
                if not link.exists():
                    link.symlink_to(src.resolve())
        doc = build_roster(photos, distribution_point=distribution_point, period=period, version=version,
                           issuer="sim-programme-office", photos_per_recipient=len(people[0].enrol) if people else 1,
                           ids=[p.recipient_id for p in people])
        names = {p.recipient_id: p.identity.replace("_", " ") for p in people}
        for r in doc["recipients"]:
            r["display_name"] = names[r["recipient_id"]]
        return sign_roster(doc, self.key)

    def signed_officers(self, points: Sequence[str]) -> tuple[dict[str, Any], dict[str, str]]:
        """The demo officers for these points, signed, with the PINs generated for this run (never stored in the repository)."""
        return signed_officer_list(self.key, points)


# The demo officers every simulated terminal's desk is staffed with; their PINs are generated per run.
DEMO_OFFICERS = (("SIM-OFF-1", "Petugas Simulasi", "officer"), ("SIM-SUP-1", "Koordinator Simulasi", "supervisor"))


def signed_officer_list(key: Any, points: Sequence[str], *, version: int = 1) -> tuple[dict[str, Any], dict[str, str]]:
    """The programme office's signed officer list for ``points`` and the PINs it generated for this run only."""
    from datetime import timedelta

    from edge.claim.officers import generate_pin, hash_pin, sign_officers

    now = datetime.now(timezone.utc)
    pins = {oid: generate_pin() for oid, _, _ in DEMO_OFFICERS}
    doc = {"schema": "tepat.officers", "schema_version": 1, "issuer": "sim-programme-office", "distribution_points": sorted(set(points)),
           "version": version, "issued_at": now.isoformat(), "valid_from": (now - timedelta(hours=1)).isoformat(),
           "valid_until": (now + timedelta(days=2)).isoformat(),
           "officers": [{"officer_id": o, "name": n, "role": r, "pin": hash_pin(pins[o]).model_dump()} for o, n, r in DEMO_OFFICERS]}
    return sign_officers(doc, key), pins


def _parse_time(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (TypeError, ValueError):
        return None


class CentralOffice:
    """Receives every record through the product's monitor consumer; context manager."""

    def __init__(self, endpoint: Endpoint, *, client_id: str | None = None, prefix: str = "tepat/v1") -> None:
        client_id = client_id or f"tepat-sim-central-{new_key()[:8]}"
        from edge.monitor import Consumer

        self.mqtt_cfg = MqttConfig(host=endpoint.host, port=endpoint.port, protocol=endpoint.protocol,
                                   topic_prefix=prefix, reconnect_min_s=0.2, reconnect_max_s=2.0, keepalive_s=10)
        self.consumer = Consumer(self.mqtt_cfg, client_id=client_id, on_message=self._on_message)
        self.latencies_s: list[float] = []
        self.timeline: list[tuple[float, float]] = []  # (record created, received at central), epoch seconds
        self.records: dict[str, dict[str, Any]] = {}  # idempotency key -> envelope (new records only)
        self._lock = threading.Lock()
        self._pub = None

    def __enter__(self) -> "CentralOffice":
        self.consumer.start()
        if not self.consumer.wait_connected(15):
            self.consumer.stop()
            from edge.errors import EdgeError

            raise EdgeError(f"central consumer could not subscribe at {self.mqtt_cfg.host}:{self.mqtt_cfg.port}: "
                            f"{self.consumer.last_error or 'no answer'}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.stop()
        if self._pub is not None:
            self._pub.disconnect()
            self._pub.loop_stop()
            self._pub = None

    def _on_message(self, topic: str, payload: bytes, verdict: str) -> None:
        if verdict != "new":
            return
        received = time.time()
        try:
            env = json.loads(payload)
        except ValueError:
            return
        created = _parse_time(env.get("created_at", ""))
        with self._lock:
            self.records[env["idempotency_key"]] = env
            if created is not None:
                self.latencies_s.append(max(0.0, received - created))
                self.timeline.append((created, received))

    @property
    def seen(self) -> set[str]:
        return self.consumer.state.seen

    def received(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.records.values() if e.get("kind") == kind]

    # --- cmd/ledger: tell every terminal what the others paid ----------------------------
    def _publisher(self) -> Any:
        if self._pub is None:
            from edge.transport.client import connect_options, make_client

            client, props = make_client(self.mqtt_cfg, "tepat-sim-ledger", clean=True)
            client.connect(self.mqtt_cfg.host, self.mqtt_cfg.port, 10, **connect_options(props))
            client.loop_start()
            self._pub = client
        return self._pub

    def send_ledger(self, device_ids: Sequence[str]) -> list[str]:
        """Publish each terminal the accepted decisions of the *other* terminals; returns the devices sent to."""
        accepted = [e for e in self.received("decision") if e["payload"].get("outcome") == "accept"]
        sent: list[str] = []
        for dev in device_ids:
            entries = [
                {"recipient_id": e["payload"]["recipient_id"], "period": e["payload"]["period"],
                 "idempotency_key": e["idempotency_key"], "device_id": e["device_id"],
                 "distribution_point": e["payload"]["distribution_point"], "decided_at": e["created_at"]}
                for e in accepted if e["device_id"] != dev and e["payload"].get("period")
            ]
            if not entries:
                continue
            cmd = CommandEnvelope(command_id=new_key(), issued_at=datetime.now(timezone.utc), issuer="sim-central",
                                  args={"schema": "tepat.ledger", "entries": entries})
            topic = topics.cmd_topic(self.mqtt_cfg.topic_prefix, REGION, dev, "ledger")
            info = self._publisher().publish(topic, cmd.model_dump_json(), qos=1)
            info.wait_for_publish(10)
            sent.append(dev)
        return sent
