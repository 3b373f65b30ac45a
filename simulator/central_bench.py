"""The ingest's own cost, without MQTT: checks + store + relay for signed decision records, in batches.

``python -m simulator.central_bench --db URL --records 3000 --batch 100`` (the database must be empty).
Prints records/s and per-stage milliseconds. The end-to-end figure with a broker and 1,000 terminals
is ``edge-sim fleet --light`` (docs/BENCHMARKS.md, "Central service").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from types import SimpleNamespace


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.central_bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--db", help="database URL (default: a fresh SQLite file in a temporary folder)")
    p.add_argument("--records", type=int, default=3000)
    p.add_argument("--batch", type=int, default=100, help="messages per transaction (the ingest takes up to 200)")
    p.add_argument("--devices", type=int, default=1000)
    args = p.parse_args(argv)

    from edge.central.db import Database, describe
    from edge.central.ingest import IngestWorker
    from edge.claim.records.crypto import generate_signing_key
    from edge.config import MqttConfig
    from simulator.fleet import _register_all
    from simulator.lightfleet import fleet, recipient_for

    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='tepat-central-bench-')}/central.sqlite"
    db = Database(url)
    db.migrate()
    if int(db.one("SELECT COUNT(*) AS n FROM records")["n"]):
        print(f"{describe(url)} already holds records; use an empty database", file=sys.stderr)
        return 2
    terms = fleet(args.devices)
    _register_all(db, terms)
    msgs = []
    for i in range(args.records):
        t = terms[i % len(terms)]
        suffix, payload = t.decision(recipient_for(t, i // len(terms)), "2026-11")
        msgs.append(SimpleNamespace(topic=t.topic("tepat/v1", suffix), payload=payload))
    worker = IngestWorker(MqttConfig(), url, generate_signing_key())
    t0 = time.perf_counter()
    for i in range(0, len(msgs), args.batch):
        worker._handle_batch(msgs[i:i + args.batch])
    wall = time.perf_counter() - t0
    stored = int(db.one("SELECT COUNT(*) AS n FROM records")["n"])
    relayed = int(db.one("SELECT COUNT(*) AS n FROM ledger_out")["n"])
    print(f"{describe(url).split('?')[0]}: {stored}/{len(msgs)} records stored, {relayed} ledger messages signed, "
          f"batch {args.batch}: {stored / wall:.0f} records/s ({1000 * wall / max(stored, 1):.2f} ms per record, one core)")
    db.close()
    worker.db.close()
    return 0 if stored == len(msgs) else 1


if __name__ == "__main__":
    sys.exit(main())
