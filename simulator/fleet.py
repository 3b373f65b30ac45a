"""Fleet mode: N terminal processes against one broker, for load figures.

Each worker process is a real terminal (:class:`simulator.terminal.SimTerminal`: ClaimService,
SQLite outbox with fsync, MqttPublisher) with its own state folder and keys. It runs ``records``
claims whose decisions need no camera (ids the roster does not hold, and recipients whose roster
entry has no template: ``reject unknown_recipient`` / ``refer no_template``), so the figures
measure the record path: decision → signed record → outbox → MQTT → central consumer. Face
inference costs are measured separately (docs/BENCHMARKS.md, face pipeline).

The parent process runs the broker and the central service (:mod:`edge.central`, in-process), and reports
records/s and the latency from each record's ``created_at`` to its commit in the central database (p50/p95).
``--light`` (:func:`run_light_fleet`) replaces the terminal processes by light signed publishers, one MQTT
connection each, so 1,000+ terminals fit on one machine, and runs ``edge central ingest`` as its own process(es).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
    from edge.claim.roster.document import sign_roster
    from edge.claim.roster.from_photos import build_roster
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
    from edge.claim.records.crypto import write_private_file
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
    with CentralOffice(endpoint, work_dir=opts.work_dir, client_id="tepat-fleet-central") as central:
        progress(f"starting {opts.devices} terminal processes ({opts.records} records each)")
        procs = []
        for i in range(opts.devices):
            dev = f"fleet-{i + 1:03d}"
            cmd = [sys.executable, "-m", "simulator.fleet", "--device", dev, "--host", endpoint.host, "--port", str(endpoint.port),
                   "--protocol", endpoint.protocol, "--records", str(opts.records), "--rate", str(opts.rate),
                   "--work-dir", str(opts.work_dir), "--roster", str(roster), "--issuer-pub", str(issuer_pub),
                   "--central-db", central.db_url, "--central-pub", str(central.public_key_file)]
            log = open(opts.work_dir / f"{dev}.log", "wb")
            procs.append((dev, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"}), log))
        end = time.monotonic() + opts.timeout_s
        last = 0.0
        while time.monotonic() < end:
            got = central.count("decision")
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
        timeline = central.timeline()
        latencies = [max(0.0, got - made) * 1000 for made, got in timeline]
        duplicates = sum(w.stats.duplicates for w in central.workers)
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
    from edge.app.face_adapter import make_face_engine
    from simulator.scenario import Terminal
    from simulator.terminal import SimTerminal, with_environment

    endpoint = Endpoint(args.host, args.port, args.protocol, "configured")
    face = make_face_engine(with_environment({}))
    spec = Terminal(id=args.device, distribution_point="fleet-point")
    registrar = _Registrar(args.central_db, Path(args.central_pub))
    with SimTerminal(spec, work_dir=Path(args.work_dir), endpoint=endpoint, issuer_pub=Path(args.issuer_pub), face=face,
                     central=registrar) as term:
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


class _Registrar:
    """What a fleet terminal process needs of the central side: its public key, and a way into the device registry."""

    def __init__(self, db_url: str, public_key_file: Path) -> None:
        self.db_url, self.public_key_file = db_url, public_key_file

    def register(self, device_id: str, region: str, point: str, public_key_pem: str) -> None:
        from edge.central.db import Database
        from edge.central.store import add_device

        with Database(self.db_url) as db:
            add_device(db, device_id, region, point, public_key_pem)


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
    p.add_argument("--central-db", required=True)
    p.add_argument("--central-pub", required=True)
    args = p.parse_args(argv)
    from edge.logs import setup_logging

    setup_logging("WARNING", "text")
    return worker(args)


if __name__ == "__main__":
    sys.exit(main())


# --- light mode: many signed publishers driving the product's central service --------------
@dataclass
class LightOptions:
    devices: int
    records: int
    rate: float
    work_dir: Path
    workers: int = 1
    central_db: str | None = None
    timeout_s: float = 900.0
    per_process: int = 250


def _register_all(db, terms) -> None:  # noqa: ANN001
    from edge.central.db import utc_now
    from edge.claim.records.crypto import public_key_id

    with db.transaction():
        for t in terms:
            db.execute("INSERT INTO devices(device_id, region, distribution_point, public_key, key_id, added_at) VALUES (?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (device_id) DO NOTHING", (t.device_id, t.region, t.point, t.public_pem, public_key_id(t.key.public_key()), utc_now()))


def _sample_dashboard(url: str, stop, samples: list) -> None:  # noqa: ANN001
    import urllib.request

    while not stop.is_set():
        try:
            with urllib.request.urlopen(url + "api/status", timeout=10) as resp:
                samples.append((time.time(), json.loads(resp.read())["records"]))
        except OSError:
            pass
        stop.wait(0.25)


def run_light_fleet(endpoint: Endpoint, opts: LightOptions, progress: Progress = print) -> "Any":
    """N light terminals (one MQTT connection each, spread over publisher processes) → broker → ``edge central ingest``
    with ``opts.workers`` worker processes → the central database; measures records/s and latencies."""
    import threading

    from cryptography.hazmat.primitives import serialization

    from edge.central.db import Database, describe
    from edge.central.web import DashboardServer
    from edge.claim.records.crypto import generate_signing_key, private_key_pem, write_private_file
    from simulator.lightfleet import LightReport, fleet

    work = opts.work_dir
    state = work / "central"
    state.mkdir(parents=True, exist_ok=True)
    key_file = state / "central_ed25519.pem"
    if not key_file.exists():
        write_private_file(key_file, private_key_pem(generate_signing_key()))
    url = opts.central_db or f"sqlite:///{(state / 'central.sqlite').resolve()}"
    db = Database(url)
    db.migrate()
    if int(db.one("SELECT COUNT(*) AS n FROM records")["n"]):
        from edge.errors import EdgeError

        raise EdgeError(f"{describe(url)} already holds records: the light fleet measures into an empty central database")
    terms = fleet(opts.devices)
    _register_all(db, terms)
    progress(f"{opts.devices} light terminals registered in {describe(url)}")
    cfg = work / "central.toml"
    cfg.write_text(f'[mqtt]\nhost = "{endpoint.host}"\nport = {endpoint.port}\nprotocol = "{endpoint.protocol}"\n'
                   'reconnect_min_s = 0.2\nreconnect_max_s = 2.0\ninflight = 200\n[device]\nlog_format = "text"\nlog_level = "WARNING"\n')
    ingest_log = open(work / "ingest.log", "wb")  # noqa: SIM115
    ingest = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(cfg), "central", "--state", str(state), "--db", url, "ingest",
                               "--workers", str(opts.workers), "--client-id", f"fleet-ingest-{os.getpid()}"],
                              stdout=ingest_log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    server = DashboardServer(url, "127.0.0.1", 0).start()
    stop, samples = threading.Event(), []
    pubs: list[tuple[subprocess.Popen, Any]] = []
    go = work / "go"
    go.unlink(missing_ok=True)
    try:
        end = time.monotonic() + 60
        while (work / "ingest.log").read_text(errors="replace").count("subscribed") < opts.workers:
            if time.monotonic() > end or ingest.poll() is not None:
                raise RuntimeError(f"ingest did not start: {(work / 'ingest.log').read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        for n, i in enumerate(range(0, len(terms), opts.per_process)):
            spec = [{"device_id": t.device_id, "region": t.region, "point": t.point, "lat": t.lat, "lon": t.lon,
                     "key_pem": t.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()).decode()} for t in terms[i:i + opts.per_process]]
            path = work / f"light-{n}.json"
            path.write_text(json.dumps(spec))
            path.chmod(0o600)
            log = open(work / f"light-{n}.log", "w+")  # noqa: SIM115
            pubs.append((subprocess.Popen([sys.executable, "-m", "simulator.lightfleet", "--spec", str(path), "--host", endpoint.host,
                                           "--port", str(endpoint.port), "--records", str(opts.records), "--rate", str(opts.rate),
                                           "--go-file", str(go)], stdout=log, stderr=subprocess.STDOUT,
                                          env={**os.environ, "PYTHONUNBUFFERED": "1"}), log))
        end = time.monotonic() + 300
        while not all(open(lg.name).read().startswith("connected") for _, lg in pubs):  # noqa: PTH123, SIM115
            if time.monotonic() > end or any(p.poll() is not None for p, _ in pubs):
                raise RuntimeError("publishers did not connect: " + " | ".join(open(lg.name).read()[-300:] for _, lg in pubs))  # noqa: PTH123, SIM115
            time.sleep(0.2)
        progress(f"{opts.devices} terminals connected ({len(pubs)} publisher processes); publishing {opts.records} records each")
        threading.Thread(target=_sample_dashboard, args=(server.url, stop, samples), daemon=True).start()
        go.write_text("go")
        expected = opts.devices * opts.records
        end = time.monotonic() + opts.timeout_s
        last = 0.0
        while time.monotonic() < end:
            got = int(db.one("SELECT COUNT(*) AS n FROM records WHERE kind = 'decision'")["n"])
            if got >= expected:
                break
            if time.monotonic() - last > 5:
                progress(f"  {got}/{expected} records in the central database")
                last = time.monotonic()
            time.sleep(0.2)
        time.sleep(0.6)  # one more dashboard sample
    finally:
        stop.set()
        go.write_text("go")
        for p, lg in pubs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
            lg.close()
        ingest.send_signal(signal.SIGTERM)
        try:
            ingest.wait(30)
        except subprocess.TimeoutExpired:
            ingest.kill()
        ingest_log.close()
        server.stop()
    rows = db.query("SELECT created_at, received_at FROM records WHERE kind = 'decision'")
    dup = int(db.one("SELECT COUNT(*) - COUNT(DISTINCT idempotency_key) AS n FROM records")["n"])
    db.close()
    ts = lambda s: datetime.fromisoformat(s).timestamp()  # noqa: E731
    pairs = sorted((ts(r["created_at"]), ts(r["received_at"])) for r in rows)
    commit = [(got - made) * 1000 for made, got in pairs]
    by_commit = sorted(pairs, key=lambda p: p[1])
    shown, j = [], 0
    for k, (made, _got) in enumerate(by_commit, start=1):
        while j < len(samples) and samples[j][1] < k:
            j += 1
        if j < len(samples):
            shown.append((samples[j][0] - made) * 1000)
    wall = max((max(g for _, g in pairs) - min(m for m, _ in pairs)) if pairs else 0.0, 1e-6)
    return LightReport(devices=opts.devices, records_per_device=opts.records, expected=opts.devices * opts.records, stored=len(rows),
                       duplicates_rows=dup, workers=opts.workers, database=describe(url).split("?")[0], wall_s=wall,
                       records_per_s=len(rows) / wall, commit_p50_ms=percentile(commit, 50), commit_p95_ms=percentile(commit, 95),
                       dashboard_p50_ms=percentile(shown, 50), dashboard_p95_ms=percentile(shown, 95),
                       broker=f"{endpoint.kind} {endpoint.host}:{endpoint.port} (MQTT {endpoint.protocol})")
