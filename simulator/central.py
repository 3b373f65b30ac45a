"""The central side, as the simulator plays it: the programme office that signs the roster, and the
operations centre — the product's own :mod:`edge.central` service (ingest into a database, device
registry, signed ``cmd/ledger`` relay), run in-process on the simulated broker.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edge.claim.records.crypto import generate_signing_key, public_key_pem
from edge.claim.roster.document import sign_roster
from edge.claim.roster.from_photos import build_roster
from edge.config import MqttConfig
from edge.messages import new_key
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

    from edge.claim.officers.officer_list import generate_pin, hash_pin, sign_officers

    now = datetime.now(timezone.utc)
    pins = {oid: generate_pin() for oid, _, _ in DEMO_OFFICERS}
    doc = {"schema": "tepat.officers", "schema_version": 1, "issuer": "sim-programme-office", "distribution_points": sorted(set(points)),
           "version": version, "issued_at": now.isoformat(), "valid_from": (now - timedelta(hours=1)).isoformat(),
           "valid_until": (now + timedelta(days=2)).isoformat(),
           "officers": [{"officer_id": o, "name": n, "role": r, "pin": hash_pin(pins[o]).model_dump()} for o, n, r in DEMO_OFFICERS]}
    return sign_officers(doc, key), pins


class CentralOffice:
    """The product's operations centre (:mod:`edge.central`) run in-process: ingest worker(s) on the simulated broker,
    the central database (SQLite in the work folder unless ``db_url`` names PostgreSQL), the ledger relay and the
    device registry. Context manager."""

    def __init__(self, endpoint: Endpoint, *, work_dir: Path, db_url: str | None = None, prefix: str = "tepat/v1",
                 client_id: str | None = None, workers: int = 1) -> None:
        from edge.central.db import Database
        from edge.central.ingest import IngestWorker
        from edge.claim.records.crypto import private_key_pem, write_private_file

        self.dir = work_dir / "central"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = generate_signing_key()
        key_file = self.dir / f"central_ed25519-{new_key()[:8]}.pem"
        write_private_file(key_file, private_key_pem(self.key))
        self.public_key_file = self.dir / "central_ed25519.pub.pem"
        self.public_key_file.write_bytes(public_key_pem(self.key.public_key()))
        self.db_url = db_url or f"sqlite:///{(self.dir / 'central.sqlite').resolve()}"
        self.db = Database(self.db_url)
        self.db.migrate()
        self.mqtt_cfg = MqttConfig(host=endpoint.host, port=endpoint.port, protocol=endpoint.protocol,
                                   topic_prefix=prefix, reconnect_min_s=0.2, reconnect_max_s=2.0, keepalive_s=10)
        base = client_id or f"tepat-sim-central-{new_key()[:8]}"
        self.workers = [IngestWorker(self.mqtt_cfg, self.db_url, self.key, group=f"sim-{new_key()[:6]}", client_id=f"{base}-{i + 1}",
                                     shared=workers > 1) for i in range(workers)]
        self._lock = threading.Lock()

    def __enter__(self) -> "CentralOffice":
        for w in self.workers:
            w.start()
        if not all(w.wait_connected(15) for w in self.workers):
            self.__exit__()
            from edge.errors import EdgeError

            raise EdgeError(f"central ingest could not subscribe at {self.mqtt_cfg.host}:{self.mqtt_cfg.port}")
        return self

    def __exit__(self, *exc: object) -> None:
        for w in self.workers:
            w.stop()
        self.db.close()

    # --- the registry ----------------------------------------------------------------------
    def register(self, device_id: str, region: str, point: str, public_key_pem: str) -> None:
        from edge.central.store import add_device

        with self._lock:
            add_device(self.db, device_id, region, point, public_key_pem)

    def add_roster(self, signed: dict[str, Any], region: str = REGION) -> None:
        from edge.central.store import add_roster

        with self._lock:
            add_roster(self.db, signed, region)

    # --- what arrived ----------------------------------------------------------------------
    @property
    def seen(self) -> set[str]:
        with self._lock:
            return {r["idempotency_key"] for r in self.db.query("SELECT idempotency_key FROM records")}

    def count(self, kind: str) -> int:
        with self._lock:
            return int(self.db.one("SELECT COUNT(*) AS n FROM records WHERE kind = ?", (kind,))["n"])

    def received(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(r["envelope"]) for r in self.db.query("SELECT envelope FROM records WHERE kind = ? ORDER BY received_at", (kind,))]

    def timeline(self) -> list[tuple[float, float]]:
        """(record created, stored at central) per record, epoch seconds."""
        with self._lock:
            rows = self.db.query("SELECT created_at, received_at FROM records")
        return [(_ts(r["created_at"]), _ts(r["received_at"])) for r in rows]

    @property
    def latencies_s(self) -> list[float]:
        return [max(0.0, got - made) for made, got in self.timeline()]

    def relay_pending(self) -> int:
        """Ledger messages kept but not yet published to their terminal."""
        with self._lock:
            return int(self.db.one("SELECT COUNT(*) AS n FROM ledger_out WHERE sent_at IS NULL")["n"])

    def relayed_seq(self) -> dict[str, int]:
        """Last ledger sequence number sent to each terminal."""
        with self._lock:
            return {r["device_id"]: int(r["s"]) for r in self.db.query("SELECT device_id, MAX(seq) AS s FROM ledger_out GROUP BY device_id")}

    def screenshot(self, out: Path) -> Path:
        """Serve the product's dashboard on a free port and photograph it with headless Chromium."""
        from edge.central.screenshot import screenshot
        from edge.central.web import DashboardServer

        server = DashboardServer(self.db_url, "127.0.0.1", 0).start()
        try:
            return screenshot(server.url, out)
        finally:
            server.stop()

    def status(self) -> dict[str, Any]:
        from edge.central.views import status

        with self._lock:
            return status(self.db)


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
