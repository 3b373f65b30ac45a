"""A whole distribution day through the public surfaces: `edge run`, POST /api/claim, a real Mosquitto behind a fault proxy.

Claims come from several client threads (every claim carries a request_id); one in ten is for a roster recipient,
referred and then paid by an officer override; the recipient's later claims are refused as already paid. Link cuts
and broker restarts fire at fixed points of progress. Descriptors, threads and RSS of the service are sampled from
/proc every half second; after every recovery the time until the consumer holds every record made before it is
measured. Used by tests/test_service_soak.py (short run in the default suite, the full run under ``-m soak``).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from edge.monitor import Consumer
from simulator.netfault import FaultProxy
from tests.support.mqtt import mqtt_config
from tests.service_harness import EdgeRun, outbox_records, payouts, write_terminal


@dataclass
class DayReport:
    claims: int
    cuts: int
    restarts: int
    seconds: float = 0.0
    claims_per_s: float = 0.0
    payouts: int = 0
    already_paid_refusals: int = 0
    http_errors: int = 0
    start: dict = field(default_factory=dict)
    peak: dict = field(default_factory=dict)
    end: dict = field(default_factory=dict)
    drain_s: list[float] = field(default_factory=list)
    missing: int = 0
    duplicate_payouts: int = 0
    seq_gaps: int = 0
    out_of_order: int = 0
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def run_day(broker, work: Path, *, claims: int, cuts: int, restarts: int, clients: int = 4, cut_s: float = 2.0) -> DayReport:  # noqa: ANN001
    report = DayReport(claims=claims, cuts=cuts, restarts=restarts)
    roster_size = max(10, claims // 20)  # every recipient comes twice: paid once, refused once
    with FaultProxy(target=(broker.host, broker.port)) as proxy:
        config = write_terminal(work, broker=broker, mqtt_port=proxy.port, recipients=roster_size)
        run = EdgeRun(config).start()
        consumer = Consumer(mqtt_config(broker, "operator", reconnect_min_s=0.1, reconnect_max_s=1.0), client_id=f"day-{time.monotonic_ns()}")
        consumer.start()
        assert consumer.wait_connected(20), consumer.last_error
        keys: list[str] = []
        lock = threading.Lock()
        counter = itertools.count()
        done = threading.Event()
        samples: list[dict] = []

        def sample() -> None:
            while not done.wait(0.5):
                try:
                    samples.append(run.vitals())
                except (OSError, AssertionError):
                    pass

        def client(n: int) -> None:
            while True:
                i = next(counter)
                if i >= claims:
                    return
                rid = f"PKH-{(i // 10) % roster_size + 1:05d}" if i % 10 == 0 else f"WALKIN-{i}"
                try:
                    status, body = run.claim(rid, request_id=f"c{n}-{i}")
                    if status == 200 and body.get("reason_code") == "no_template":
                        with lock:
                            keys.append(body["idempotency_key"])
                        status, body = run.override_accept(body["idempotency_key"])
                        if status == 200:
                            with lock:
                                report.payouts += 1
                                keys.append(body["idempotency_key"])
                        elif "already" in str(body.get("error", "")):
                            with lock:
                                report.already_paid_refusals += 1
                        else:
                            report.http_errors += 1
                    elif status == 200:
                        with lock:
                            keys.append(body["idempotency_key"])
                            report.already_paid_refusals += body.get("reason_code") == "already_claimed"
                    else:
                        report.http_errors += 1
                except OSError:
                    report.http_errors += 1

        def drained_after(mark: str) -> None:
            with lock:
                wanted = set(keys)
            t0 = time.monotonic()
            if consumer.wait_for(lambda s: wanted <= s.seen, 120):
                report.drain_s.append(round(time.monotonic() - t0, 2))
            else:
                report.drain_s.append(float("inf"))
            report.events.append(f"{mark}: {len(wanted)} records delivered {report.drain_s[-1]} s after recovery")

        for _ in range(50):  # warm up before the baseline sample
            run.claim("WARMUP")
        report.start = run.vitals()
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t_start = time.monotonic()
        workers = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for w in workers:
            w.start()
        plan = sorted([(i / (cuts + 1) - 0.03, "cut") for i in range(1, cuts + 1)] + [(i / (restarts + 1) + 0.03, "restart") for i in range(1, restarts + 1)])
        drains: list[threading.Thread] = []
        for at, what in plan:
            while len(keys) < at * claims and any(w.is_alive() for w in workers):
                time.sleep(0.05)
            if what == "cut":
                proxy.cut()
                time.sleep(cut_s)
                proxy.restore()
            else:
                broker.restart(down_s=0.5)
            report.events.append(f"{time.monotonic() - t_start:7.1f}s {what} at {len(keys)} records")
            d = threading.Thread(target=drained_after, args=(f"after {what} at {len(keys)}",))
            d.start()
            drains.append(d)
        for w in workers:
            w.join()
        report.seconds = round(time.monotonic() - t_start, 1)
        report.claims_per_s = round(claims / report.seconds, 1)
        for d in drains:
            d.join()
        wanted = set(keys)
        consumer.wait_for(lambda s: wanted <= s.seen, 120)
        done.set()
        sampler.join()
        report.end = run.vitals()
        report.peak = {k: max(s[k] for s in samples + [report.start]) for k in report.start}
        code = run.stop()
        consumer.stop()
    report.missing = len(wanted - consumer.state.seen)
    records = outbox_records(work / "state")
    report.duplicate_payouts = sum(len(v) - 1 for v in payouts(records).values())
    seqs = [r["seq"] for r in records]
    report.seq_gaps = len(set(range(1, max(seqs) + 1)) - set(seqs))
    view = consumer.state.devices.get("dev-1")
    report.out_of_order = view.out_of_order if view else -1
    assert code == 0, run.log_text()[-3000:]
    assert "Traceback" not in run.log_text(), run.log_text()[-3000:]
    return report
