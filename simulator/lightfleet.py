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

from edge.claim.crypto import generate_signing_key, public_key_pem
from edge.claim.records import DecisionRecord, Scores, sign_record
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


def fleet(n: int, regions: int = 5, points_per_region: int = 4, prefix: str = "light") -> list[LightTerminal]:
    """``n`` terminals spread over regions and distribution points (positions on a small grid around Bandung)."""
    out = []
    for i in range(n):
        r = i % regions
        p = (i // regions) % points_per_region
        out.append(LightTerminal(device_id=f"{prefix}-{i + 1:04d}", region=f"reg{r + 1}", point=f"reg{r + 1}-titik{p + 1}",
                                 lat=-6.9 + 0.05 * r + 0.01 * p, lon=107.6 + 0.05 * p + 0.01 * r))
    return out


def recipient_for(t: LightTerminal, i: int) -> str:
    """A recipient id unique per terminal and record (no accidental double payouts in load runs)."""
    return f"R{t.device_id.replace('-', '')}-{i:05d}"[:64]
