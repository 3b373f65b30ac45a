"""The SQLite outbox: durable ordered appends, de-duplication, quarantine, disk-full policy, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.errors import StorageFullError
from edge.messages import Envelope, TelemetryPayload
from edge.store import Outbox
from edge.store.outbox import StoreError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def outbox_path(tmp_path: Path) -> Path:
    """Where a fresh outbox file for device dev-1 goes."""
    return tmp_path / "state" / "outbox.sqlite"


def test_sequence_increases_and_survives_reopen(outbox_path: Path) -> None:
    """Sequence numbers are strictly increasing per device and continue after the file is reopened."""
    with Outbox(outbox_path, "dev-1") as box:
        seqs = [box.append("verification", {"i": i}).seq for i in range(5)]
    with Outbox(outbox_path, "dev-1") as box:
        seqs.append(box.append("verification", {"i": 5}).seq)
        assert box.stats().last_seq == 6
    assert seqs == [1, 2, 3, 4, 5, 6]


def test_wire_payload_is_a_valid_envelope(outbox_path: Path) -> None:
    """payload_json is the exact wire message: an Envelope carrying key, device, seq, kind and body."""
    with Outbox(outbox_path, "dev-1") as box:
        item = box.append("verification", {"outcome": "accept"}, time_source="gps")
    env = Envelope.model_validate_json(item.payload_json)
    assert (env.idempotency_key, env.device_id, env.seq, env.kind, env.time_source) == (item.key, "dev-1", 1, "verification", "gps")
    assert env.payload == {"outcome": "accept"}
    assert item.topic_suffix == "event/verification"


def test_pydantic_payload_keeps_its_schema_name(outbox_path: Path) -> None:
    """A pydantic payload is stored as JSON and its schema name is carried in the envelope."""
    with Outbox(outbox_path, "dev-1") as box:
        item = box.append("heartbeat", TelemetryPayload(name="hb", values={"temp_c": 51.5}), durable_class="telemetry")
    env = item.envelope()
    assert env.payload_schema == "tepat.telemetry"
    assert env.payload["values"] == {"temp_c": 51.5}


def test_same_key_is_stored_once(outbox_path: Path) -> None:
    """Appending an idempotency key twice returns the first stored item and adds no row."""
    with Outbox(outbox_path, "dev-1") as box:
        a = box.append("verification", {"v": 1}, idempotency_key="key-00000001")
        b = box.append("verification", {"v": 2}, idempotency_key="key-00000001")
        assert (a.seq, a.payload_json) == (b.seq, b.payload_json)
        assert box.stats().pending == 1


def test_pending_in_order_and_delivery(outbox_path: Path) -> None:
    """pending() returns the oldest first and honours after_seq; delivered items leave the queue."""
    with Outbox(outbox_path, "dev-1") as box:
        items = [box.append("verification", {"i": i}) for i in range(10)]
        assert [i.seq for i in box.pending(4)] == [1, 2, 3, 4]
        assert [i.seq for i in box.pending(3, after_seq=4)] == [5, 6, 7]
        assert box.mark_delivered([i.key for i in items[:6]]) == 6
        assert box.mark_delivered([items[0].key]) == 0  # already delivered
        box.record_attempt([items[6].key])
        left = box.pending(100)
        assert [i.seq for i in left] == [7, 8, 9, 10]
        assert left[0].attempts == 1
        stats = box.stats()
        assert (stats.pending, stats.delivered, stats.last_seq) == (4, 6, 10)
        assert stats.oldest_pending_age_s is not None and stats.oldest_pending_age_s >= 0


def test_wal_and_synchronous_full(outbox_path: Path) -> None:
    """The file is in WAL mode and the connection uses synchronous=FULL (2) by default, NORMAL (1) on request."""
    with Outbox(outbox_path, "dev-1") as box:
        assert box._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2
    with Outbox(outbox_path, "dev-1", synchronous="NORMAL") as box:
        assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_corrupt_row_is_quarantined_not_blocking(outbox_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A row whose payload no longer matches its checksum is quarantined with a logged error; the queue continues."""
    with Outbox(outbox_path, "dev-1") as box:
        keys = [box.append("verification", {"i": i}).key for i in range(3)]
    conn = sqlite3.connect(outbox_path)
    conn.execute("UPDATE outbox SET payload_json = '{not json' WHERE seq = 2")
    conn.commit()
    conn.close()
    with Outbox(outbox_path, "dev-1") as box, caplog.at_level("ERROR"):
        assert [i.seq for i in box.pending(10)] == [1, 3]
        assert box.stats().quarantined == 1
        quarantined = box.items("quarantined")
        assert [q.key for q in quarantined] == [keys[1]]  # kept, not dropped
        assert box.integrity_ok()
    assert any("seq 2" in r.getMessage() and "quarantine" in r.getMessage() for r in caplog.records)


def test_disk_full_refuses_records_keeps_old_ones(outbox_path: Path) -> None:
    """Below the free-space reserve a new record is refused with an operator message; accepted ones stay; telemetry still fits."""
    with Outbox(outbox_path, "dev-1") as box:
        keys = [box.append("verification", {"i": i}).key for i in range(3)]
    huge = 1 << 40  # more MB than any disk here has free
    with Outbox(outbox_path, "dev-1", min_free_mb=huge) as box:
        with pytest.raises(StorageFullError) as err:
            box.append("verification", {"i": 99})
        assert "storage almost full" in str(err.value) and "3 records already accepted are safe" in str(err.value)
        box.append("heartbeat", {"n": 1}, durable_class="telemetry")
        assert [i.key for i in box.pending(10)][:3] == keys
        assert box.stats().pending == 4


def test_telemetry_evicted_oldest_first_records_never(outbox_path: Path) -> None:
    """Past telemetry_max_rows the oldest telemetry rows are evicted; records are never touched."""
    with Outbox(outbox_path, "dev-1", telemetry_max_rows=5) as box:
        record = box.append("verification", {"r": 1})
        tele = [box.append("heartbeat", {"n": i}, durable_class="telemetry") for i in range(8)]
        left = box.pending(100)
        assert record.key in {i.key for i in left}
        assert [i.key for i in left if i.durable_class == "telemetry"] == [t.key for t in tele[-5:]]
        assert box.stats().telemetry_evicted == 3


def test_other_device_file_refused(outbox_path: Path) -> None:
    """Opening another device's outbox is a clear error naming both devices."""
    Outbox(outbox_path, "dev-1").close()
    with pytest.raises(StoreError, match="belongs to device 'dev-1', not 'dev-2'"):
        Outbox(outbox_path, "dev-2")


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not SQLite gives a StoreError naming the file."""
    bad = tmp_path / "outbox.sqlite"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        Outbox(bad, "dev-1")


def test_bad_kind_and_payload_refused(outbox_path: Path) -> None:
    """Invalid kinds and non-JSON payloads are refused before anything is written."""
    from edge.errors import EdgeError

    with Outbox(outbox_path, "dev-1") as box:
        with pytest.raises(EdgeError, match="invalid kind"):
            box.append("Bad/Kind", {})
        with pytest.raises(EdgeError, match="not JSON-serialisable"):
            box.append("verification", {"x": object()})
        assert box.stats().last_seq == 0


WRITER = """
import sys
from pathlib import Path
from edge.store import Outbox
with Outbox(Path(sys.argv[1]), "dev-1") as box:
    while True:
        item = box.append("verification", {"pad": "x" * 300})
        sys.stdout.write(f"{item.seq} {item.key}\\n")
        sys.stdout.flush()
"""


def test_kill9_during_appends_loses_nothing_accepted(outbox_path: Path, tmp_path: Path) -> None:
    """Two writer processes killed with SIGKILL mid-append: every append that returned is present, in order, and the file is intact."""
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    acknowledged: list[tuple[int, str]] = []
    for round_ in range(3):
        procs = [subprocess.Popen([sys.executable, str(script), str(outbox_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        first = [p.stdout.readline() for p in procs]  # both are appending now (start-up time varies with load)
        time.sleep(0.2 + 0.2 * round_)
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
        for p, line in zip(procs, first):
            # Read through the same buffered reader as readline(): communicate(timeout=...) reads the raw
            # pipe and would skip what readline() already buffered, cutting a line in two.
            out = p.stdout.read()
            p.wait(timeout=10)
            lines = [line, *out.splitlines()]
            acknowledged += [(int(s), k) for s, k in (x.split() for x in lines if len(x.split()) == 2)]
    assert len(acknowledged) >= 6
    with Outbox(outbox_path, "dev-1") as box:
        assert box.integrity_ok()
        stored = {i.key: i.seq for i in box.pending(1_000_000)}
        for seq, key in acknowledged:
            assert stored.get(key) == seq
        seqs = sorted(stored.values())
        assert seqs == list(range(1, len(seqs) + 1))  # no gaps, no half-written rows
        assert box.append("verification", {"after": True}).seq == seqs[-1] + 1


def test_sqlite_full_is_storage_full_and_keeps_accepted(outbox_path: Path) -> None:
    """When SQLite itself runs out of room (max_page_count) a record append raises StorageFullError, rolls back, and keeps every earlier record."""
    accepted: list[str] = []
    with Outbox(outbox_path, "dev-1", min_free_mb=1) as box:
        pages = box._db.execute("PRAGMA page_count").fetchone()[0]
        box._db.execute(f"PRAGMA max_page_count = {pages + 8}")
        with pytest.raises(StorageFullError, match="storage full"):
            for i in range(10_000):
                accepted.append(box.append("verification", {"i": i, "pad": "z" * 2000}).key)
    assert 0 < len(accepted) < 10_000
    with Outbox(outbox_path, "dev-1") as box:
        assert box.integrity_ok()
        assert [i.key for i in box.pending(100_000)] == accepted
        assert box.append("verification", {"after": 1}).seq == len(accepted) + 1


def test_unsent_health_is_superseded_by_newer(outbox_path: Path) -> None:
    """Telemetry for the retained health topic keeps only the newest unsent value; records in between are untouched."""
    with Outbox(outbox_path, "dev-1") as box:
        box.append("health", {"n": 1}, durable_class="telemetry")
        record = box.append("verification", {"r": 1})
        newest = box.append("health", {"n": 2}, durable_class="telemetry")
        assert [i.key for i in box.pending(10)] == [record.key, newest.key]
        assert newest.topic_suffix == "health"
        assert box.stats().telemetry_evicted == 1
