"""The store-and-forward chaos run: records produced while the publisher is killed, the broker restarted and the link cut.

Used by tests/test_chaos.py (a bounded run in the normal suite, the full run under ``-m soak``).
The publisher is a real separate process (``python -m edge.transport.worker``), so ``kill -9`` is
real; the broker is the real Mosquitto from tests/fixtures_mqtt.py; the link goes through
:class:`simulator.netfault.FaultProxy`; the consumer is :class:`edge.monitor.Consumer`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


from edge.monitor import Consumer
from edge.store import Outbox
from simulator.netfault import FaultProxy
from tests.fixtures_mqtt import MosquittoServer, mqtt_config
from tests.support.terminal import write_terminal_config

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ChaosReport:
    records: int
    devices: int
    kills: int
    broker_restarts: int
    link_cuts: int
    received_unique: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    missing: int = 0
    unexpected: int = 0
    invalid: int = 0
    pending_left: int = 0
    integrity_ok: bool = False
    drain_s: float = 0.0
    total_s: float = 0.0
    events: list[str] = field(default_factory=list)
    order_ok: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


class PublisherProcess:
    """The worker process for one device; ``kill9()`` and ``start()`` at will."""

    def __init__(self, config: Path, log: Path) -> None:
        self.config, self.log = config, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "edge.transport.worker", "--config", str(self.config), "--report-s", "5"],
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None


def _write_config(path: Path, broker: MosquittoServer, device: str, port: int, state: Path) -> None:
    cfg = mqtt_config(broker, device, port=port, reconnect_min_s=0.1, reconnect_max_s=1.0, keepalive_s=5)
    write_terminal_config(path, device, state, mqtt=cfg, device={"region": "chaos", "log_format": "text"},
                          store={"path": state / "outbox.sqlite", "min_free_mb": 1})


def run_chaos(broker: MosquittoServer, work: Path, *, records: int, devices: int = 2, kills: int = 3, restarts: int = 1,
              cuts: int = 2, rate_per_s: float = 40.0, seed: int = 1, drain_timeout_s: float = 120.0) -> ChaosReport:
    """Produce ``records`` (split over ``devices``) while faults fire at random moments; then drain and check."""
    rng = random.Random(seed)
    t0 = time.monotonic()
    names = [f"dev-{i + 1}" for i in range(devices)]
    report = ChaosReport(records=records, devices=devices, kills=kills, broker_restarts=restarts, link_cuts=cuts)
    produced: dict[str, list[str]] = {d: [] for d in names}
    with FaultProxy(target=(broker.host, broker.port)) as proxy:
        pubs: dict[str, PublisherProcess] = {}
        for d in names:
            state = work / d
            state.mkdir(parents=True)
            _write_config(state / "edge.toml", broker, d, proxy.port, state)
            pubs[d] = PublisherProcess(state / "edge.toml", state / "worker.log")
        consumer = Consumer(mqtt_config(broker, "operator", reconnect_min_s=0.1, reconnect_max_s=1.0), client_id=f"chaos-monitor-{seed}")
        consumer.start()
        assert consumer.wait_connected(15), f"monitor could not subscribe: {consumer.last_error}"
        for p in pubs.values():
            p.start()

        def produce(device: str, count: int) -> None:
            with Outbox(work / device / "outbox.sqlite", device, min_free_mb=1) as box:
                for i in range(count):
                    item = box.append("verification", {"outcome": rng.choice(["accept", "reject", "refer"]), "n": i})
                    produced[device].append(item.key)
                    time.sleep(devices / rate_per_s)

        per_device = [records // devices + (1 if i < records % devices else 0) for i in range(devices)]
        producers = [threading.Thread(target=produce, args=(d, n)) for d, n in zip(names, per_device)]
        for t in producers:
            t.start()
        plan = ["kill"] * kills + ["restart"] * restarts + ["cut"] * cuts
        rng.shuffle(plan)
        production_s = max(per_device) * devices / rate_per_s
        gap = production_s / (len(plan) + 1)
        for event in plan:
            time.sleep(rng.uniform(0.5, 1.5) * gap)
            if event == "kill":
                d = rng.choice(names)
                pubs[d].kill9()
                report.events.append(f"{time.monotonic() - t0:6.2f}s kill -9 publisher {d}")
                time.sleep(rng.uniform(0.05, 0.5))
                pubs[d].start()
            elif event == "restart":
                report.events.append(f"{time.monotonic() - t0:6.2f}s restart broker")
                broker.restart(down_s=rng.uniform(0.2, 1.0))
            else:
                span = rng.uniform(0.3, 2.0)
                report.events.append(f"{time.monotonic() - t0:6.2f}s cut link {span:.1f}s")
                proxy.cut()
                time.sleep(span)
                proxy.restore()
        for t in producers:
            t.join()
        t_drain = time.monotonic()
        want = {k for keys in produced.values() for k in keys}
        consumer.wait_for(lambda s: want <= s.seen, drain_timeout_s)
        report.drain_s = time.monotonic() - t_drain
        time.sleep(0.5)  # let late redeliveries be counted
        for p in pubs.values():
            p.stop()
        consumer.stop()
    state = consumer.state
    report.received_unique = len(want & state.seen)
    report.missing = len(want - state.seen)
    report.unexpected = len(state.seen - want)
    report.duplicates = sum(v.duplicates for v in state.devices.values())
    report.out_of_order = sum(v.out_of_order for v in state.devices.values())
    report.invalid = state.invalid
    order_ok = True
    integrity = True
    for d in names:
        got = [k for _, k in state.keys_in_order.get(d, [])]
        seqs = [s for s, _ in state.keys_in_order.get(d, [])]
        order_ok &= got == produced[d] and seqs == sorted(seqs)
        with Outbox(work / d / "outbox.sqlite", d, min_free_mb=1) as box:
            integrity &= box.integrity_ok()
            report.pending_left += box.stats().pending
        conn = sqlite3.connect(work / d / "outbox.sqlite")
        stored = [r[0] for r in conn.execute("SELECT key FROM outbox ORDER BY seq")]
        conn.close()
        order_ok &= stored == produced[d]
    report.order_ok = order_ok
    report.integrity_ok = integrity
    report.total_s = time.monotonic() - t0
    return report
