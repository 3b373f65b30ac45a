"""Benchmark the claim flow's own costs (face core excluded): roster verify+install, and per-decision record overhead.

Run: ``python -m benchmarks.claim_flow [--recipients 10000] [--claims 200]``. Prints one JSON object.
The face core is replaced by fixed scores here on purpose: its costs are measured by ``edge bench``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from edge.claim.flow.claim_service import ClaimService, Where
from edge.claim.flow.decide import GpsVerdict, MatchResult, QualityResult
from edge.claim.flow.face_engine import BurstAnalysis
from edge.claim.flow.ledger import Ledger
from edge.claim.flow.outbox_access import SharedOutbox
from edge.claim.records.crypto import SecretBox, generate_signing_key, new_template_key, public_key_id
from edge.claim.roster.document import open_signed_roster, sign_roster
from edge.claim.roster.installed import RosterStore
from edge.config import ClaimConfig
from edge.gps.model import PositionStamp
from edge.timesource import TimeSource

SHA = "0" * 64


class FixedScores:
    """Face core stand-in with constant results (this benchmark measures everything but the face core)."""

    model_sha256 = SHA

    def thresholds(self, mode: str) -> tuple[float, float]:
        return 0.4, 0.05

    def analyse(self, frames: list) -> BurstAnalysis:
        return BurstAnalysis(QualityResult(True, None, 1, 1), None, [np.ones(128, np.float32) / np.sqrt(128)])

    def verify(self, burst: BurstAnalysis, templates: np.ndarray) -> float:
        return 0.9

    def identify(self, burst: BurstAnalysis, gallery: dict) -> MatchResult:
        return MatchResult(None, None)

    def embed_photo(self, data: bytes) -> np.ndarray:
        raise NotImplementedError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--recipients", type=int, default=10_000)
    ap.add_argument("--claims", type=int, default=200)
    args = ap.parse_args(argv)
    from edge.store.outbox import Outbox

    rng = np.random.default_rng(0)
    now = datetime.now(timezone.utc)
    period = now.strftime("%Y-%m")
    vecs = rng.standard_normal((args.recipients, 128)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    doc = {"schema": "tepat.roster", "schema_version": 1, "kind": "full", "issuer": "bench", "distribution_point": "p",
           "period": period, "version": 1, "issued_at": now.isoformat(), "valid_from": (now - timedelta(days=1)).isoformat(),
           "valid_until": (now + timedelta(days=30)).isoformat(),
           "recipients": [{"recipient_id": f"R{i:07d}", "display_name": f"R {i}", "household_id": f"H{i}",
                           "entitlement": {"programme": "PKH", "period": period, "amount": 1},
                           "templates": [{"model_sha256": SHA, "vector": vecs[i].tolist()}]} for i in range(args.recipients)]}
    issuer = generate_signing_key()
    out: dict[str, object] = {"recipients": args.recipients, "claims": args.claims}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        signed = json.dumps(sign_roster(doc, issuer))
        t1 = time.perf_counter()
        roster = open_signed_roster(signed, {public_key_id(issuer.public_key()): issuer.public_key()}, None, now, "p")
        t2 = time.perf_counter()
        with RosterStore(d / "r.sqlite", SecretBox(new_template_key())) as store, Ledger(d / "l.sqlite", "bench-1", "p") as ledger, \
                SharedOutbox(lambda: Outbox(d / "o.sqlite", "bench-1", min_free_mb=1)) as outbox:
            store.install(roster, SHA)
            t3 = time.perf_counter()
            gallery = store.gallery(SHA)
            t4 = time.perf_counter()
            out.update(roster_bytes=len(signed), sign_s=round(t1 - t0, 3), verify_parse_s=round(t2 - t1, 3),
                       install_s=round(t3 - t2, 3), decrypt_gallery_s=round(t4 - t3, 3), gallery_size=len(gallery))
            ts = TimeSource()
            where = lambda: Where(PositionStamp.no_fix("bench"), GpsVerdict(True, "no_fix"), ts.now())  # noqa: E731
            svc = ClaimService(device_id="bench-1", distribution_point="p", config=ClaimConfig(), face=FixedScores(), roster=store,
                               ledger=ledger, outbox=outbox, signing_key=generate_signing_key(), where=where)
            times = []
            for i in range(args.claims):
                s = time.perf_counter()
                res = svc.claim(f"R{i:07d}", frames=[])
                times.append((time.perf_counter() - s) * 1000)
                assert res.decision.outcome == "accept"
            out.update(claim_overhead_ms_median=round(statistics.median(times), 2),
                       claim_overhead_ms_p95=round(sorted(times)[int(0.95 * len(times)) - 1], 2))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
