"""Health snapshot, alarms, Prometheus text and the collector with injected sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from edge.service import sysinfo
from edge.service.collector import HealthCollector
from edge.service.health import HealthLimits, HealthSnapshot, alarms, decode_throttled, to_prometheus


def snapshot(**overrides) -> HealthSnapshot:
    base = dict(device_id="dev-1", uptime_s=12.5, version="0.1.0", camera_state="ok", gps_state="fix", link_state="up")
    return HealthSnapshot(**{**base, **overrides})


def test_decode_throttled_bits() -> None:
    """0x50005 means under-voltage now and throttled now, and both have occurred since boot."""
    flags = decode_throttled(0x50005)
    assert flags.raw == 0x50005
    assert flags.under_voltage_now and flags.throttled_now and flags.under_voltage_occurred and flags.throttled_occurred
    assert not flags.freq_capped_now and not flags.soft_temp_limit_occurred
    assert decode_throttled(None).raw is None and not decode_throttled(0).under_voltage_now


@pytest.mark.parametrize("text,value", [("throttled=0x50005\n", 0x50005), ("50000\n", 0x50000), ("0", 0), ("garbage", None)])
def test_parse_throttled(text: str, value: int | None) -> None:
    """Both the vcgencmd and the sysfs spellings parse; garbage gives None."""
    assert sysinfo.parse_throttled(text) == value


def test_no_alarms_when_healthy() -> None:
    """A fresh, cool terminal with an empty outbox raises nothing."""
    assert alarms(snapshot(disk_free_mb=5000, outbox_backlog=0, cpu_temp_c=50.0), HealthLimits()) == []


def test_alarms_for_each_limit() -> None:
    """Stale backlog, low disk, heat, under-voltage, throttling and a failed camera each raise their alarm."""
    limits = HealthLimits(backlog_max_age_s=600, disk_low_mb=100, cpu_hot_c=80)
    bad = snapshot(outbox_backlog=40, outbox_oldest_age_s=601, disk_free_mb=99.5, cpu_temp_c=80.0,
                   throttled=decode_throttled(0x5), camera_state="failed")
    assert alarms(bad, limits) == ["backlog_stale", "disk_low", "cpu_hot", "under_voltage", "throttled", "camera_down"]
    edge = snapshot(outbox_oldest_age_s=600, disk_free_mb=100, cpu_temp_c=79.9, camera_state="recovering")
    assert alarms(edge, limits) == []


def test_prometheus_text_parses_and_carries_values() -> None:
    """The exposition parses with the Prometheus client parser and one-hot encodes states."""
    snap = snapshot(cpu_temp_c=61.5, disk_free_mb=2.0, outbox_backlog=7, outbox_oldest_age_s=90.0,
                    model_sha256="ab" * 32, alarms=["disk_low"], link_state='we"ird')
    families = {f.name: f for f in text_string_to_metric_families(to_prometheus(snap))}
    value = {f.name: f.samples[0].value for f in families.values() if len(f.samples) == 1}
    assert value["tepat_cpu_temperature_celsius"] == 61.5
    assert value["tepat_disk_free_bytes"] == 2 * 1024 * 1024
    assert value["tepat_outbox_backlog"] == 7 and value["tepat_outbox_oldest_age_seconds"] == 90
    camera = {s.labels["state"]: s.value for s in families["tepat_camera_state"].samples}
    assert camera["ok"] == 1 and sum(camera.values()) == 1
    link = {s.labels["state"]: s.value for s in families["tepat_link_state"].samples}
    assert link['we"ird'] == 1
    alarm = {s.labels["alarm"]: s.value for s in families["tepat_alarm"].samples}
    assert alarm["disk_low"] == 1 and alarm["cpu_hot"] == 0
    assert families["tepat_build_info"].samples[0].labels["model_sha256"] == "ab" * 32


def test_prometheus_omits_unknown_values() -> None:
    """Values that cannot be read off a Pi (temperature) are left out rather than reported as 0."""
    text = to_prometheus(snapshot())
    assert "tepat_cpu_temperature_celsius" not in text and "tepat_outbox_backlog" not in text


def test_collector_uses_injected_sources(tmp_path: Path) -> None:
    """Backlog, states, temperature and throttling come from the injected callables and alarms are computed."""
    now = [100.0]
    collector = HealthCollector(
        device_id="dev-1", version="9.9", state_dir=tmp_path / "not" / "yet", limits=HealthLimits(backlog_max_age_s=60),
        model_sha256="cd" * 32, outbox_stats=lambda: (3, 75.0), gps_state=lambda: "no_fix",
        camera_state=lambda: "ok", link_state=lambda: "down", read_cpu_temp=lambda: 55.0,
        read_throttled=lambda: 0x1, clock=lambda: now[0], started_at=40.0,
    )
    snap = collector.collect()
    assert (snap.outbox_backlog, snap.outbox_oldest_age_s, snap.gps_state, snap.link_state) == (3, 75.0, "no_fix", "down")
    assert snap.uptime_s == 60.0 and snap.cpu_temp_c == 55.0 and snap.throttled.under_voltage_now
    assert snap.disk_free_mb is not None and snap.disk_free_mb > 0
    assert snap.alarms == ["backlog_stale", "under_voltage"]
    assert HealthSnapshot.model_validate_json(snap.model_dump_json()) == snap


def test_collector_survives_broken_sources(tmp_path: Path) -> None:
    """A source that raises is reported as 'error' (or missing numbers), never breaks the report."""
    def boom():
        raise RuntimeError("database is locked")

    snap = HealthCollector(device_id="dev-1", version="1", state_dir=tmp_path, outbox_stats=boom, camera_state=boom).collect()
    assert snap.camera_state == "error" and snap.outbox_backlog is None and snap.gps_state == "unknown"


def test_cpu_temp_reads_millidegrees(tmp_path: Path) -> None:
    """The thermal zone's millidegrees become degrees; a missing file gives None."""
    zone = tmp_path / "temp"
    zone.write_text("48312\n")
    assert sysinfo.cpu_temp_c(zone) == pytest.approx(48.312)
    assert sysinfo.cpu_temp_c(tmp_path / "missing") is None


def test_edge_health_cli_reports_the_outbox_backlog(tmp_path: Path) -> None:
    """`edge health` prints a valid snapshot including the backlog of an existing outbox, and Prometheus text on request."""
    import subprocess
    import sys

    from edge.store.outbox import Outbox

    config = tmp_path / "edge.toml"
    config.write_text(f'[device]\ndevice_id = "dev-9"\nstate_dir = "{tmp_path}"\n')
    with Outbox(tmp_path / "outbox.sqlite", "dev-9") as outbox:
        outbox.append("verification", {"n": 1})
    out = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "health"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    snap = HealthSnapshot.model_validate_json(out.stdout)
    assert snap.device_id == "dev-9" and snap.outbox_backlog == 1 and snap.disk_free_mb > 0
    prom = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), "health", "--prometheus"],
                          capture_output=True, text=True, timeout=60)
    assert 'tepat_outbox_backlog{device_id="dev-9"} 1' in prom.stdout


def test_firmware_flags_read_at_most_every_10_s(tmp_path: Path) -> None:
    """Throttling flags (possibly a vcgencmd process) are re-read only every firmware_every_s, not every tick."""
    now, reads = [0.0], []

    def read():
        reads.append(now[0])
        return 0x4 if now[0] >= 10 else 0

    collector = HealthCollector(device_id="d1", version="1", state_dir=tmp_path, read_throttled=read, clock=lambda: now[0])
    for t in (0.0, 1.0, 9.9):
        now[0] = t
        assert not collector.collect().throttled.throttled_now
    now[0] = 10.0
    assert collector.collect().throttled.throttled_now
    assert reads == [0.0, 10.0]
