"""Outbox and MQTT benchmarks for docs/BENCHMARKS.md: ``python -m benchmarks.transport`` (from a checkout).

Measures durable appends/s (synchronous FULL and NORMAL), drain msgs/s to a private local
Mosquitto (MQTT 5, 3.1.1, TLS), a 10,000-record backlog drained after an outage, and the
publisher worker's peak RSS. Starts its own Mosquitto (simulator/mosquitto.py, the launcher the tests share).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_appends(folder: Path, n: int, synchronous: str) -> float:
    from edge.store import Outbox

    with Outbox(folder / f"append-{synchronous}.sqlite", "bench-1", synchronous=synchronous, min_free_mb=1) as box:
        payload = {"outcome": "accept", "recipient_id": "R-0001", "scores": {"top": 0.71}, "pad": "x" * 600}
        t = time.perf_counter()
        for _ in range(n):
            box.append("verification", payload)
        return n / (time.perf_counter() - t)


def _fill(path: Path, device: str, n: int) -> None:
    from edge.store import Outbox

    with Outbox(path, device, synchronous="NORMAL", min_free_mb=1) as box:
        for i in range(n):
            box.append("verification", {"outcome": "accept", "i": i, "pad": "x" * 600})


def _drain(cfg, device: str, path: Path, n: int, timeout: float = 300) -> float:  # noqa: ANN001
    from edge.config import DeviceConfig
    from edge.transport.mqtt import MqttPublisher

    pub = MqttPublisher(cfg, DeviceConfig(device_id=device, region="bench", state_dir=path.parent), path)
    t = time.perf_counter()
    with pub:
        end = time.monotonic() + timeout
        while pub.stats().acked < n and time.monotonic() < end:
            time.sleep(0.01)
        elapsed = time.perf_counter() - t
        if pub.stats().acked < n:
            raise RuntimeError(f"drain did not finish: {pub.stats()}")
    return n / elapsed


def bench_outage(broker, folder: Path, n: int) -> tuple[float, int]:  # noqa: ANN001
    """Publisher running, link cut, n records appended, link restored: seconds until the monitor has all n."""
    from edge.config import DeviceConfig
    from edge.monitor import Consumer
    from edge.store import Outbox
    from edge.transport.mqtt import MqttPublisher
    from simulator.mosquitto import mqtt_config
    from simulator.netfault import FaultProxy

    path = folder / "outage.sqlite"
    with FaultProxy(target=(broker.host, broker.port)) as proxy, Consumer(mqtt_config(broker, "operator"), client_id="bench-mon", keep_keys=False) as mon:
        mon.wait_connected(10)
        cfg = mqtt_config(broker, "dev-3", port=proxy.port, reconnect_min_s=0.5, reconnect_max_s=2)
        with MqttPublisher(cfg, DeviceConfig(device_id="dev-3", region="bench", state_dir=folder), path) as pub:
            while pub.link_state != "up":
                time.sleep(0.01)
            proxy.cut()
            with Outbox(path, "dev-3", min_free_mb=1) as box:
                for i in range(n):
                    box.append("verification", {"outcome": "accept", "i": i, "pad": "x" * 600})
            t = time.perf_counter()
            proxy.restore()
            mon.wait_for(lambda s: s.totals()["unique"] >= n, 600)
            elapsed = time.perf_counter() - t
        return elapsed, mon.state.totals()["duplicates"]


def bench_worker_rss(broker, folder: Path, n: int) -> float:  # noqa: ANN001
    """Peak RSS (MiB) of ``python -m edge.transport.worker`` while it drains n records."""
    import psutil
    import tomli_w

    from simulator.mosquitto import mqtt_config

    state = folder / "rss"
    state.mkdir()
    _fill(state / "outbox.sqlite", "dev-4", n)
    cfg = mqtt_config(broker, "dev-4")
    conf = state / "edge.toml"
    conf.write_text(tomli_w.dumps({"device": {"device_id": "dev-4", "region": "bench", "state_dir": str(state)},
                                   "mqtt": {k: v for k, v in cfg.model_dump(mode="json").items() if v is not None}}))
    proc = subprocess.Popen([sys.executable, "-m", "edge.transport.worker", "-c", str(conf), "--report-s", "1"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    p = psutil.Process(proc.pid)
    peak = 0
    from edge.store import Outbox

    end = time.monotonic() + 300
    with Outbox(state / "outbox.sqlite", "dev-4", min_free_mb=1) as box:
        while time.monotonic() < end:
            peak = max(peak, p.memory_info().rss)
            if box.stats().pending == 0:
                break
            time.sleep(0.05)
    peak = max(peak, p.memory_info().rss)
    proc.terminate()
    proc.wait(15)
    return peak / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.transport", description=__doc__.splitlines()[0])
    ap.add_argument("--appends", type=int, default=2000, help="records per append benchmark (default 2000)")
    ap.add_argument("--drain", type=int, default=10000, help="records per drain benchmark (default 10000)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from simulator.mosquitto import MosquittoFailed, MosquittoServer, find_mosquitto, mqtt_config

    binary = find_mosquitto()
    if binary is None:
        raise SystemExit("python -m benchmarks.transport: mosquitto is not installed (apt install mosquitto)")

    results: dict[str, object] = {"python": platform.python_version(), "machine": platform.machine()}
    with tempfile.TemporaryDirectory(prefix="tepat-bench-", dir=None) as tmp:
        folder = Path(tmp)
        results["appends_per_s_FULL"] = round(bench_appends(folder, args.appends, "FULL"))
        results["appends_per_s_NORMAL"] = round(bench_appends(folder, args.appends, "NORMAL"))
        print(json.dumps(results), flush=True)
        broker = MosquittoServer(binary, folder / "broker")
        try:
            broker.configure()
            broker.start()
        except MosquittoFailed as exc:
            raise SystemExit(f"python -m benchmarks.transport: {exc}") from None
        try:
            for label, dev, kw in (("v5", "dev-1", {}), ("v311", "dev-2", {"protocol": "3.1.1"}), ("v5_tls", "dev-5", {"tls": True})):
                path = folder / f"drain-{label}.sqlite"
                _fill(path, dev, args.drain)
                results[f"drain_msgs_per_s_{label}"] = round(_drain(mqtt_config(broker, dev, **kw), dev, path, args.drain))
                print(json.dumps(results), flush=True)
            secs, dups = bench_outage(broker, folder, args.drain)
            results["backlog_after_outage_s"] = round(secs, 2)
            results["backlog_after_outage_duplicates"] = dups
            results["worker_peak_rss_mib"] = round(bench_worker_rss(broker, folder, args.drain), 1)
        finally:
            broker.stop()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
