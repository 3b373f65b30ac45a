"""Lightweight simulated terminals: real Ed25519-signed decision records in real envelopes, published over
real MQTT connections, without a face pipeline, outbox or GPS reader per terminal — so one process can
drive a thousand of them against the central service (``edge-sim fleet --light``).

A :class:`LightTerminal` is what the central side sees of a terminal: a device key registered in the
device registry, a connection with its own client id, retained status, and records with increasing
``seq``. Decisions are accepts for distinct recipients (each one a payout the centre stores and relays).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.claim.records.crypto import generate_signing_key, public_key_pem
from edge.claim.records.signed import DecisionRecord, Scores, sign_record
from edge.gps.model import GpsFix, PositionStamp
from edge.messages import Envelope
from edge.timesource import Timestamp
from edge.transport import topics

BOOT_ID = str(uuid.uuid4())


@dataclass
class LightTerminal:
    device_id: str
    region: str
    point: str
    lat: float = -6.9
    lon: float = 107.6
    key: Ed25519PrivateKey = field(default_factory=generate_signing_key)
    seq: int = 0

    @property
    def public_pem(self) -> str:
        return public_key_pem(self.key.public_key()).decode("ascii")

    def decision(self, recipient_id: str, period: str, outcome: str = "accept", at: datetime | None = None) -> tuple[str, bytes]:
        """(topic suffix, envelope bytes) for one signed decision."""
        self.seq += 1
        now = at or datetime.now(timezone.utc)
        key = str(uuid.uuid4())
        fix = GpsFix(lat=self.lat, lon=self.lon, mode="3d", satellites_used=8, hdop=0.9, fix_time=now)
        rec = DecisionRecord(
            idempotency_key=key, seq=self.seq, device_id=self.device_id, distribution_point=self.point,
            time=Timestamp(wall=now, source="gps", monotonic_ns=self.seq, boot_id=BOOT_ID),
            position=PositionStamp(status="fix", fix=fix, age_s=0.5, source="lightfleet"),
            outcome=outcome, reason_code="match" if outcome == "accept" else "face_mismatch", message={"id": "-", "en": "-"},
            recipient_id=recipient_id, claimed_id=recipient_id, period=period, roster_version=1, officer_id="OFF-1",
            scores=Scores(mode="1:1", top_id=recipient_id, top_score=0.8, accept_threshold=0.5), quality=None, model_sha256=None,
            entitlement={"programme": "PKH", "period": period, "amount": 600000, "currency": "IDR"} if outcome == "accept" else None)
        signed = sign_record(rec, self.key)
        env = Envelope(idempotency_key=key, device_id=self.device_id, seq=self.seq, created_at=now, time_source="gps", kind="decision",
                       payload_schema="tepat.decision", payload=signed.model_dump(mode="json", by_alias=True))
        return "event/decision", env.model_dump_json().encode()

    def topic(self, prefix: str, suffix: str) -> str:
        return topics.suffix_topic(prefix, self.region, self.device_id, suffix)

    def status(self, state: str = "online") -> bytes:
        return json.dumps({"schema_name": "tepat.status", "schema_version": 1, "device_id": self.device_id, "state": state,
                           "at": datetime.now(timezone.utc).isoformat()}).encode()


def fleet(n: int, regions: int = 10, per_point: int = 2, prefix: str = "light") -> list[LightTerminal]:
    """``n`` terminals, ``per_point`` at each distribution point (as at a real point: one or a few), points spread over
    ``regions``; positions on a small grid around Bandung so the dashboard map has something to show."""
    out = []
    for i in range(n):
        point = i // per_point
        r = point % regions
        out.append(LightTerminal(device_id=f"{prefix}-{i + 1:04d}", region=f"reg{r + 1:02d}", point=f"titik-{point + 1:04d}",
                                 lat=-7.2 + 0.04 * r + 0.003 * (point // regions % 20), lon=107.4 + 0.03 * (point // regions // 20) + 0.004 * r))
    return out


def recipient_for(t: LightTerminal, i: int) -> str:
    """A recipient id unique per terminal and record (no accidental double payouts in load runs)."""
    return f"R{t.device_id.replace('-', '')}-{i:05d}"[:64]


# --- driving the central service with many light terminals ------------------------------------
@dataclass
class LightReport:
    devices: int
    records_per_device: int
    expected: int
    stored: int
    duplicates_rows: int
    workers: int
    database: str
    wall_s: float
    records_per_s: float
    commit_p50_ms: float | None
    commit_p95_ms: float | None
    dashboard_p50_ms: float | None
    dashboard_p95_ms: float | None
    broker: str

    def as_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def format_light(r: LightReport) -> str:
    ms = lambda v: "n/a" if v is None else f"{v:.0f} ms"  # noqa: E731
    return "\n".join([
        f"fleet (light): {r.devices} terminals x {r.records_per_device} signed records via {r.broker}",
        f"  central        {r.workers} ingest worker(s) into {r.database}",
        f"  stored         {r.stored}/{r.expected} (duplicate rows {r.duplicates_rows})",
        f"  throughput     {r.records_per_s:.1f} records/s into the database over {r.wall_s:.1f} s",
        f"  latency        decision -> committed: p50 {ms(r.commit_p50_ms)}, p95 {ms(r.commit_p95_ms)}",
        f"                 decision -> dashboard API: p50 {ms(r.dashboard_p50_ms)}, p95 {ms(r.dashboard_p95_ms)}",
    ])


def publisher_main(argv: list[str] | None = None) -> int:
    """One publisher process: connect its share of the light terminals, then publish their records."""
    import argparse
    import time

    import paho.mqtt.client as mqtt
    from cryptography.hazmat.primitives import serialization
    from paho.mqtt.enums import CallbackAPIVersion

    p = argparse.ArgumentParser(prog="python -m simulator.lightfleet", description="light fleet publisher (started by 'edge-sim fleet --light')")
    p.add_argument("--spec", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--records", type=int, default=5)
    p.add_argument("--rate", type=float, default=0.0, help="records per second per terminal (0: as fast as possible)")
    p.add_argument("--period", default="2026-11")
    p.add_argument("--go-file", required=True, help="start publishing when this file exists (all processes connected)")
    args = p.parse_args(argv)
    spec = json.loads(open(args.spec, encoding="utf-8").read())  # noqa: PTH123, SIM115
    terms, clients = [], []
    for s in spec:
        key = serialization.load_pem_private_key(s.pop("key_pem").encode(), password=None)
        t = LightTerminal(key=key, **s)  # type: ignore[arg-type]
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=t.device_id, protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(100)
        c.will_set(t.topic("tepat/v1", "status"), t.status("offline"), qos=1, retain=True)
        c.connect(args.host, args.port, 60)
        c.loop_start()
        c.publish(t.topic("tepat/v1", "status"), t.status("online"), qos=1, retain=True)
        terms.append(t)
        clients.append(c)
    print(f"connected {len(clients)}", flush=True)
    from pathlib import Path

    while not Path(args.go_file).exists():
        time.sleep(0.05)
    interval = 1.0 / args.rate if args.rate > 0 else 0.0
    start = time.monotonic()
    infos = []
    for i in range(args.records):
        for t, c in zip(terms, clients):
            suffix, payload = t.decision(recipient_for(t, i), args.period)
            infos.append(c.publish(t.topic("tepat/v1", suffix), payload, qos=1))
        if interval:
            time.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))
    for info in infos:
        info.wait_for_publish(120)
    for c in clients:
        c.disconnect()
        c.loop_stop()
    print(f"published {len(infos)}", flush=True)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(publisher_main())
