"""Fleet mode: N terminal processes against one broker, for load figures.

Each worker process is a real terminal (:class:`simulator.terminal.SimTerminal`: ClaimService,
SQLite outbox with fsync, MqttPublisher) with its own state folder and keys. It runs ``records``
claims whose decisions need no camera (ids the roster does not hold, and recipients whose roster
entry has no template: ``reject unknown_recipient`` / ``refer no_template``), so the figures
measure the record path: decision → signed record → outbox → MQTT → central consumer. Face
inference costs are measured separately (docs/BENCHMARKS.md, face pipeline).

The parent process runs the broker and the central consumer (the product's monitor), and reports
records/s and the latency from each record's ``created_at`` to its receipt (p50/p95).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from simulator.broker import Endpoint

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
ROSTER_SIZE = 20


@dataclass
class FleetOptions:
    devices: int
    records: int
    rate: float
    work_dir: Path
    timeout_s: float = 600.0


@dataclass
class FleetReport:
    devices: int
    records_per_device: int
    expected: int
    delivered: int
    lost: int
    duplicates: int
    wall_s: float
    records_per_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_max_ms: float | None
    broker: str

    def as_dict(self) -> dict:
        return asdict(self)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation; None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def format_report(r: FleetReport) -> str:
    ms = lambda v: "n/a" if v is None else f"{v:.0f} ms"  # noqa: E731
    return "\n".join([
        f"fleet: {r.devices} terminals x {r.records_per_device} records via {r.broker}",
        f"  delivered      {r.delivered}/{r.expected} (lost {r.lost}, duplicates seen {r.duplicates})",
        f"  throughput     {r.records_per_s:.1f} records/s over {r.wall_s:.1f} s",
        f"  latency        p50 {ms(r.latency_p50_ms)}, p95 {ms(r.latency_p95_ms)}, max {ms(r.latency_max_ms)} (record created -> consumer)",
    ])


def _roster_file(work_dir: Path) -> tuple[Path, Path]:
    """A signed roster without photos (no templates) and the issuer's public key."""
    from edge.claim.roster import sign_roster
    from edge.claim.roster_build import build_roster
    from simulator.central import Issuer

    issuer = Issuer(work_dir)
    empty = work_dir / "issuer" / "no-photos"
    for i in range(ROSTER_SIZE):
        (empty / f"FLEET-{i + 1:04d}").mkdir(parents=True, exist_ok=True)
    doc = build_roster(empty, distribution_point="fleet-point", period="2026-11", version=1, issuer="sim-programme-office")
    path = work_dir / "issuer" / "roster.signed.json"
    path.write_text(json.dumps(sign_roster(doc, issuer.key)), encoding="utf-8")
    officers, pins = issuer.signed_officers(["fleet-point"])
    (work_dir / "issuer" / "officers.signed.json").write_text(json.dumps(officers), encoding="utf-8")
    from edge.claim.crypto import write_private_file
    from simulator.central import DEMO_OFFICERS

    pin_file = work_dir / "issuer" / "desk.pin"
    pin_file.unlink(missing_ok=True)
    write_private_file(pin_file, pins[DEMO_OFFICERS[0][0]].encode())  # generated for this run; 0600
    return path, issuer.public_key_file


def run_fleet(endpoint: Endpoint, opts: FleetOptions, progress: Progress = print) -> FleetReport:
    """Start the workers, collect at the central consumer, report."""
    from simulator.central import CentralOffice

    opts.work_dir.mkdir(parents=True, exist_ok=True)
    roster, issuer_pub = _roster_file(opts.work_dir)
    expected = opts.devices * opts.records
    with CentralOffice(endpoint, client_id="tepat-fleet-central") as central:
        progress(f"starting {opts.devices} terminal processes ({opts.records} records each)")
        procs = []
        for i in range(opts.devices):
            dev = f"fleet-{i + 1:03d}"
            cmd = [sys.executable, "-m", "simulator.fleet", "--device", dev, "--host", endpoint.host, "--port", str(endpoint.port),
                   "--protocol", endpoint.protocol, "--records", str(opts.records), "--rate", str(opts.rate),
                   "--work-dir", str(opts.work_dir), "--roster", str(roster), "--issuer-pub", str(issuer_pub)]
            log = open(opts.work_dir / f"{dev}.log", "wb")
            procs.append((dev, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}), log))
        end = time.monotonic() + opts.timeout_s
        last = 0.0
        while time.monotonic() < end:
            got = len(central.received("decision"))
            if got >= expected:
                break
            if all(p.poll() is not None for _, p, _ in procs) and time.monotonic() - last > 5:
                break
            if time.monotonic() - last > 5:
                running = sum(1 for _, p, _ in procs if p.poll() is None)
                progress(f"  {got}/{expected} records at central; {running} terminals running")
                last = time.monotonic()
            time.sleep(0.2)
        for dev, p, log in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            log.close()
            if p.returncode:
                progress(f"  {dev} exited with status {p.returncode}: see {opts.work_dir / (dev + '.log')}")
        records = central.received("decision")
        latencies = [lat * 1000 for lat in central.latencies_s]
        duplicates = central.consumer.state.totals()["duplicates"]
        timeline = list(central.timeline)
    wall = max((max(r for _, r in timeline) - min(c for c, _ in timeline)) if timeline else 0.0, 1e-6)
    return FleetReport(
        devices=opts.devices, records_per_device=opts.records, expected=expected, delivered=len(records),
        lost=max(0, expected - len(records)), duplicates=duplicates, wall_s=wall, records_per_s=len(records) / wall,
        latency_p50_ms=percentile(latencies, 50), latency_p95_ms=percentile(latencies, 95),
        latency_max_ms=max(latencies) if latencies else None, broker=f"{endpoint.kind} {endpoint.host}:{endpoint.port} (MQTT {endpoint.protocol})",
    )


# --- worker process ------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> int:
    """One terminal: install the roster, make ``records`` decisions at ``rate``, wait for the outbox to drain."""
    from edge.claim.face_adapter import make_face_engine
    from simulator.scenario import Terminal
    from simulator.terminal import SimTerminal, with_environment

    endpoint = Endpoint(args.host, args.port, args.protocol, "configured")
    face = make_face_engine(with_environment({}))
    spec = Terminal(id=args.device, distribution_point="fleet-point")
    with SimTerminal(spec, work_dir=Path(args.work_dir), endpoint=endpoint, issuer_pub=Path(args.issuer_pub), face=face) as term:
        term.install_roster(json.loads(Path(args.roster).read_text(encoding="utf-8")))
        issuer_dir = Path(args.roster).parent
        from simulator.central import DEMO_OFFICERS

        term.install_officers(json.loads((issuer_dir / "officers.signed.json").read_text(encoding="utf-8")), DEMO_OFFICERS[0][0],
                              (issuer_dir / "desk.pin").read_text(encoding="utf-8").strip())
        deadline = time.monotonic() + 30
        while term.link_state != "up" and time.monotonic() < deadline:
            time.sleep(0.05)
        interval = 1.0 / args.rate if args.rate > 0 else 0.0
        start = time.monotonic()
        for i in range(args.records):
            # alternate an id the roster lacks (reject) and a recipient without a template (refer)
            claimed = f"STRANGER-{i:05d}" if i % 2 == 0 else f"FLEET-{(i // 2) % ROSTER_SIZE + 1:04d}"
            term.claim(claimed, 1)
            if interval:
                time.sleep(max(0.0, start + (i + 1) * interval - time.monotonic()))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _, pending = term.outbox_keys()
            if pending == 0:
                break
            time.sleep(0.1)
        print(f"{args.device}: {args.records} decisions made, {pending} still pending", flush=True)
    return 0 if pending == 0 else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.fleet", description="one fleet terminal (started by 'edge-sim fleet')")
    p.add_argument("--device", required=True)
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    p.add_argument("--records", type=int, default=50)
    p.add_argument("--rate", type=float, default=0.0)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--roster", required=True)
    p.add_argument("--issuer-pub", required=True)
    args = p.parse_args(argv)
    from edge.logs import setup_logging

    setup_logging("WARNING", "text")
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())
