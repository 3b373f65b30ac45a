"""Issue 11 regressions, each against a real `edge run` process (and a real Mosquitto where the link matters).

1 descriptors and threads stay flat over hundreds of claims, and the uploader reconnects after a link cut;
2 a second `edge run` on the same state directory refuses (exit 2) and the first keeps serving;
3 a full disk answers with the storage message (507), never a traceback or a half-recorded payout;
4 a damaged database: `edge outbox check` says FAILED (exit 1), `edge run` one line naming the file (exit 2), salvage;
5 MQTT 3.1.1 ACL refusal is auth_failed (no tight loop); a quarantined row is an alarm; record sequence numbers
  have no gaps across kill -9 and health has its own stream;
6 `request_id` makes a retried claim return the stored decision; `edge outbox list --json` filters.
"""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edge.monitor import Consumer
from simulator.netfault import FaultProxy
from tests.support.mqtt import mqtt_config
from tests.service_harness import ROOT, EdgeRun, outbox_records, payouts, write_terminal


def edge(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge", "--config", str(config), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def wait(predicate, timeout: float, what: str, step: float = 0.2):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def consumer_for(broker) -> Consumer:  # noqa: ANN001
    c = Consumer(mqtt_config(broker, "operator", reconnect_min_s=0.1, reconnect_max_s=1.0), client_id=f"day-{time.monotonic_ns()}")
    c.start()
    assert c.wait_connected(20), c.last_error
    return c


def test_descriptors_flat_and_uploader_recovers(tmp_path: Path, mosquitto_fresh) -> None:
    """Item 1: 400 claims over HTTP leave descriptors and threads where they were; after a link cut the backlog drains."""
    with FaultProxy(target=(mosquitto_fresh.host, mosquitto_fresh.port)) as proxy:
        run = EdgeRun(write_terminal(tmp_path, broker=mosquitto_fresh, mqtt_port=proxy.port)).start()
        consumer = consumer_for(mosquitto_fresh)
        try:
            keys = [run.claim(f"X-{i}")[1]["idempotency_key"] for i in range(20)]
            wait(lambda: set(keys) <= consumer.state.seen, 60, "the first records at the consumer")
            start = run.vitals()
            proxy.cut()
            for i in range(380):
                status, body = run.claim(f"Y-{i}")
                assert status == 200, body
                keys.append(body["idempotency_key"])
            mid = run.vitals()
            proxy.restore()
            t0 = time.monotonic()
            wait(lambda: set(keys) <= consumer.state.seen, 60, "the backlog to drain after the link came back")
            drain_s = time.monotonic() - t0
            end = run.vitals()
        finally:
            consumer.stop()
            code = run.stop()
    assert mid["fds"] <= start["fds"] + 4 and end["fds"] <= start["fds"] + 4, (start, mid, end)
    assert mid["threads"] <= start["threads"] + 2 and end["threads"] <= start["threads"] + 2, (start, mid, end)
    assert drain_s < 30, f"backlog took {drain_s:.1f} s to drain"
    assert code == 0 and "Traceback" not in run.log_text(), run.log_text()[-3000:]


def test_wedged_uploader_is_seen_and_healed(tmp_path: Path, notify_socket) -> None:
    """Item 1: records pending, the broker's port answering, the publisher never connected: the uploader_stuck alarm on
    the status page and /metrics, then no more watchdog keep-alives (systemd would restart the service)."""
    import socket

    mute = socket.socket()  # accepts TCP like a broker but never answers CONNECT: the publisher cannot connect
    mute.bind(("127.0.0.1", 0))
    mute.listen(50)
    broker = type("Mute", (), {"host": "127.0.0.1", "port": mute.getsockname()[1], "passwords": {}})()
    config = write_terminal(tmp_path, broker=broker, service={"uploader_stuck_alarm_s": 1, "uploader_stuck_restart_s": 4})
    run = EdgeRun(config, env={"NOTIFY_SOCKET": str(notify_socket.path)}).start()
    try:
        notify_socket.wait_for(lambda m: "WATCHDOG=1" in m, 60)  # keep-alives flow while healthy
        assert run.claim("X-1")[0] == 200
        wait(lambda: "uploader_stuck" in run.request("GET", "/api/status")[1]["alarms"], 60, "the uploader_stuck alarm")
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{run.port}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        assert 'tepat_alarm{device_id="dev-1",alarm="uploader_stuck"} 1' in metrics
        wait(lambda: run.request("GET", "/api/status")[1]["service_state"] == "degraded", 60, "service degraded")
        notify_socket.drain(1.0)
        silent = notify_socket.drain(3.0)
        assert not any(m.startswith("WATCHDOG=1") for m in silent), silent
        assert "uploader stuck" in run.log_text()
    finally:
        run.stop()
        mute.close()


def test_second_instance_refused(tmp_path: Path, mosquitto_fresh) -> None:
    """Item 2: a second `edge run` on the same state directory (another port) exits 2 with one line; the first keeps
    serving, and central receives exactly one payout for the recipient."""
    config = write_terminal(tmp_path, broker=mosquitto_fresh)
    first = EdgeRun(config).start()
    consumer = consumer_for(mosquitto_fresh)
    try:
        second = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "run", "--port", "0"], cwd=ROOT,
                                capture_output=True, text=True, timeout=120, env={**os.environ, "NOTIFY_SOCKET": ""})
        assert second.returncode == 2, second.stderr[-2000:]
        lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "already running" in lines[0] and str(tmp_path / "state") in lines[0], second.stderr
        status, body = first.claim("PKH-00001")
        assert status == 200 and body["outcome"] == "refer", body
        status, paid = first.override_accept(body["idempotency_key"])
        assert status == 200, paid
        status, again = first.claim("PKH-00001")
        assert status == 200 and again["reason_code"] == "already_claimed", again
        records = outbox_records(tmp_path / "state")
        wait(lambda: {r["idempotency_key"] for r in records} <= consumer.state.seen, 60, "the records at the consumer")
    finally:
        consumer.stop()
        assert first.stop() == 0, first.log_text()[-3000:]
    assert [len(v) for v in payouts(records).values()] == [1]
    assert view(consumer).outcomes.get("accept", 0) == 1, view(consumer).outcomes


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 24 MiB tmpfs (needs mount rights: root, as on the CI runner and the dev machine)."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if out.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the disk-full test: {out.stderr.strip()}")
        pytest.skip(f"cannot mount a tmpfs (needs root): {out.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(folder: Path, leave_bytes: int) -> Path:
    """Fill ``folder``'s file system until only ``leave_bytes`` are free (SQLite's own writes then fill the rest)."""
    import shutil

    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while shutil.disk_usage(folder).free > leave_bytes + 65536:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    return filler


def test_disk_full_is_the_storage_message(tmp_path: Path, small_disk: Path, mosquitto_fresh) -> None:
    """Item 3: claims and payouts on a full disk get 507 + the bilingual storage message; nothing half-recorded; recovers."""
    work = small_disk / "t"
    config = write_terminal(work, broker=mosquitto_fresh, store={"min_free_mb": 1}, service={"health_interval_s": 1})
    run = EdgeRun(config, log=tmp_path / "edge-run.log").start()
    try:
        status, refer = run.claim("PKH-00001")
        assert status == 200
        filler = fill(small_disk, leave_bytes=1_300_000)  # above the 1 MiB reserve: the WAL growing hits the real ENOSPC
        codes = []
        for i in range(300):
            status, body = run.claim(f"FULL-{i}")
            codes.append(status)
            assert status in (200, 507), body
            if status == 507:
                assert "storage" in body["error"] and "Penyimpanan" in body["error"], body
                break
        assert 507 in codes, "the disk never filled up"
        status, body = run.override_accept(refer["idempotency_key"])
        assert status == 507 and "Penyimpanan" in body["error"], body
        time.sleep(3)  # several health intervals while full
        filler.unlink()
        status, body = run.override_accept(refer["idempotency_key"])
        assert status == 200, body
        status, body = run.claim("AFTER-1")
        assert status == 200, body
    finally:
        code = run.stop()
    log = run.log_text()
    assert code == 0 and "Traceback" not in log, log[-3000:]
    assert log.count("health report not queued") <= 2, log[-3000:]
    records = outbox_records(work / "state")
    assert all(len(v) == 1 for v in payouts(records).values()), payouts(records)
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(1, len(seqs) + 1)), "record sequence has gaps after the full disk"
    ledger = sqlite3.connect(str(work / "state" / "ledger.sqlite"))
    paid = {r[0] for r in ledger.execute("SELECT idempotency_key FROM disbursements WHERE source = 'local'")}
    decided = {r[0] for r in ledger.execute("SELECT idempotency_key FROM decisions")}
    ledger.close()
    assert paid == {k for v in payouts(records).values() for k in v}, "ledger and outbox disagree on payouts"
    assert decided == {r["idempotency_key"] for r in records}, "ledger and outbox disagree on records"


def test_sqlite_disk_full_refuses_before_publishing(small_disk: Path) -> None:
    """Item 3, SQLite's own "database or disk is full" (no reserve): StorageFullError, and ledger and outbox still agree."""
    from edge.claim.flow.ledger import Ledger
    from edge.errors import StorageFullError
    from edge.store.outbox import Outbox

    ledger = Ledger(small_disk / "ledger.sqlite", "dev-1", "dev-point")
    outbox = Outbox(small_disk / "outbox.sqlite", "dev-1", min_free_mb=0)
    filler = fill(small_disk, leave_bytes=0)
    refused = None
    for i in range(2000):
        draft = {"idempotency_key": f"key-{i:06d}", "seq": 1, "schema": "tepat.decision", "outcome": "accept",
                 "recipient_id": f"R-{i}", "period": "2026-12", "time": {"wall": "2026-12-01T08:00:00+07:00"}, "pad": "x" * 2000}
        try:
            ledger.record_with(draft, True, lambda d=draft: {**d, "seq": outbox.append(
                "decision", lambda seq, d=d: {**d, "seq": seq}, idempotency_key=d["idempotency_key"]).stream_seq})
        except StorageFullError as exc:
            refused = exc
            break
    assert refused is not None and "Penyimpanan penuh" in str(refused), "the disk never filled"
    filler.unlink()
    stored = {i.key for i in outbox.items(limit=10_000)}
    paid = {r[0] for r in ledger._db.execute("SELECT idempotency_key FROM disbursements")}
    ledger.close()
    outbox.close()
    assert paid <= stored and len(stored - paid) <= 1, "a payout is in the ledger but not the outbox (or the reverse)"


def test_corrupt_outbox(tmp_path: Path) -> None:
    """Item 4: a flipped page → `edge outbox check` FAILED (exit 1); `edge run` one line naming the file (exit 2); salvage."""
    config = write_terminal(tmp_path)
    run = EdgeRun(config).start()
    for i in range(300):
        assert run.claim(f"C-{i}", request_id=f"c-{i}")[0] == 200
    assert run.stop() == 0
    db = tmp_path / "state" / "outbox.sqlite"
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    data = bytearray(db.read_bytes())
    page = 4096
    assert len(data) > 10 * page
    data[5 * page: 6 * page] = bytes((b ^ 0x5A) for b in data[5 * page: 6 * page])
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    check = edge(config, "outbox", "check")
    assert check.returncode == 1 and "integrity FAILED" in check.stdout and "Traceback" not in check.stderr, (check.stdout, check.stderr)
    started = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "run", "--port", "0"], cwd=ROOT,
                             capture_output=True, text=True, timeout=120, env={**os.environ, "NOTIFY_SOCKET": ""})
    lines = [ln for ln in started.stderr.splitlines() if ln.strip()]
    assert started.returncode == 2 and len(lines) == 1 and str(db) in lines[0] and "damaged" in lines[0], started.stderr
    assert db.read_bytes() == before, "the damaged file must be kept as it was"
    salvage = edge(config, "outbox", "salvage")
    assert salvage.returncode == 0, salvage.stderr
    report = json.loads(salvage.stdout)
    assert 0 < report["rows_copied"] <= 301 and Path(report["damaged_kept_as"]).read_bytes() == before, report
    assert edge(config, "outbox", "check").returncode == 0
    run = EdgeRun(config).start()
    try:
        status, body = run.claim("AFTER-SALVAGE")
        assert status == 200 and body["seq"] > 300, body  # numbering continues past every record ever made
    finally:
        assert run.stop() == 0


def test_mqtt311_acl_refusal_is_auth_failed(tmp_path: Path, mosquitto_fresh) -> None:
    """Item 5: under MQTT 3.1.1 a publish the ACL refuses gives link auth_failed, with backoff rather than a tight loop."""
    config = write_terminal(tmp_path, device="dev-9", broker=mosquitto_fresh, protocol="3.1.1",
                            mqtt={"username": "dev-1", "password": mosquitto_fresh.password("dev-1"), "reconnect_max_s": 10.0})
    run = EdgeRun(config).start()
    try:
        assert run.claim("X-1")[0] == 200
        wait(lambda: run.request("GET", "/api/status")[1]["link_state"] == "auth_failed", 90, "link auth_failed")
        before = mosquitto_fresh.log_text().count("New client connected")
        time.sleep(10)
        connects = mosquitto_fresh.log_text().count("New client connected") - before
        assert run.request("GET", "/api/status")[1]["link_state"] in ("auth_failed", "up")
    finally:
        assert run.stop() == 0
    assert connects <= 3, f"{connects} reconnects in 10 s after auth_failed"


def test_quarantine_is_loud_and_seq_has_no_gaps(tmp_path: Path, mosquitto_fresh) -> None:
    """Item 5: a corrupt row is quarantined with an alarm and listed; kill -9 mid-claims leaves no record-sequence gap;
    health travels on its own stream."""
    with FaultProxy(target=(mosquitto_fresh.host, mosquitto_fresh.port)) as proxy:
        config = write_terminal(tmp_path, broker=mosquitto_fresh, mqtt_port=proxy.port, service={"health_interval_s": 1})
        run = EdgeRun(config).start()
        consumer = consumer_for(mosquitto_fresh)
        try:
            stop = threading.Event()

            def hammer(n: int) -> None:
                i = 0
                while not stop.is_set():
                    try:
                        run.claim(f"K{n}-{i}", request_id=f"k{n}-{i}")
                    except (OSError, http.client.HTTPException):  # kill -9 can land mid-response (IncompleteRead)
                        pass
                    i += 1

            threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
            for t in threads:
                t.start()
            time.sleep(3)
            run.kill9()
            stop.set()
            for t in threads:
                t.join()
            proxy.cut()
            run.start()
            key = run.claim("TO-BE-DAMAGED")[1]["idempotency_key"]
            conn = sqlite3.connect(str(tmp_path / "state" / "outbox.sqlite"), timeout=30)
            conn.execute("UPDATE outbox SET payload_json = payload_json || ' ' WHERE key = ?", (key,))
            conn.commit()
            conn.close()
            proxy.restore()
            wait(lambda: "outbox_quarantined" in run.request("GET", "/api/status")[1]["alarms"], 60, "the quarantine alarm")
            listed = edge(config, "outbox", "list", "--quarantined", "--json")
            rows = [json.loads(line) for line in listed.stdout.splitlines()]
            assert [r["key"] for r in rows] == [key] and rows[0]["error"] == "checksum mismatch", listed.stdout
            records = outbox_records(tmp_path / "state")
            wanted = {r["idempotency_key"] for r in records if r["_state"] != "quarantined"}
            wait(lambda: wanted <= consumer.state.seen, 60, "every record at the consumer")
            wait(lambda: view(consumer).pending is not None, 30, "a health message")
        finally:
            consumer.stop()
            run.stop()
    seqs = [r["seq"] for r in records]
    assert seqs == list(range(1, len(seqs) + 1)), f"record sequence has gaps: {sorted(set(range(1, max(seqs) + 1)) - set(seqs))[:10]}"
    assert all(r["stream"] == "record" for r in records)
    dev = view(consumer)
    assert dev.gaps <= 1 and dev.out_of_order == 0, dev  # health interleaved, yet only the quarantined record's number is missing


def view(consumer: Consumer):  # noqa: ANN201
    return consumer.state.devices.get("dev-1") or type("Nothing", (), {"pending": None})()


def test_request_id_replays_and_outbox_list(tmp_path: Path, mosquitto_fresh) -> None:
    """Item 6: a retry with the same request_id (also after kill -9) returns the stored decision; the response has the outbox seq."""
    config = write_terminal(tmp_path, broker=mosquitto_fresh)
    consumer = consumer_for(mosquitto_fresh)
    run = EdgeRun(config).start()
    status, first = run.claim("PKH-00002", request_id="counter-1-0001")
    assert status == 200 and first["replayed"] is False and first["seq"] == 1, first
    run.kill9()
    run.start()
    status, again = run.claim("PKH-00002", request_id="counter-1-0001")
    assert status == 200 and again["replayed"] is True, again
    assert (again["idempotency_key"], again["seq"], again["outcome"]) == (first["idempotency_key"], first["seq"], first["outcome"])
    status, other = run.claim("PKH-00002", request_id="counter-1-0002")
    assert status == 200 and other["seq"] == 2 and other["idempotency_key"] != first["idempotency_key"]
    wait(lambda: {first["idempotency_key"], other["idempotency_key"]} <= consumer.state.seen, 60, "both records at the consumer")
    consumer.stop()
    assert run.stop() == 0
    assert view(consumer).outcomes == {"refer": 2} and view(consumer).last_seq == 2 and view(consumer).gaps == 0
    records = outbox_records(tmp_path / "state")
    assert [r["idempotency_key"] for r in records] == [first["idempotency_key"], other["idempotency_key"]]
    assert records[0]["seq"] == records[0]["payload"]["seq"] == 1
    listed = edge(config, "outbox", "list", "--json", "--key", first["idempotency_key"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 1 and rows[0]["seq"] == 1 and rows[0]["state"] == "delivered" and rows[0]["created_at"].endswith("+00:00"), listed.stdout
    future = edge(config, "outbox", "list", "--json", "--since", "2999-01-01T00:00:00Z")
    assert future.returncode == 0 and future.stdout.strip() == ""
