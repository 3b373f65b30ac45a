"""The terminal's health: the retained ``…/health`` payload, its alarms, and Prometheus text.

Everything here is pure: a snapshot is plain data, :func:`alarms` compares it with limits,
:func:`to_prometheus` renders it. Gathering the numbers lives in :mod:`edge.service.collector`.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field

HEALTH_SCHEMA = "tepat.health"
HEALTH_SCHEMA_VERSION = 1


class ThrottleFlags(BaseModel):
    """The Raspberry Pi firmware's ``get_throttled`` bits, decoded (``raw`` is None off a Pi)."""

    model_config = ConfigDict(extra="forbid")

    raw: int | None = Field(None, description="The raw bit field, e.g. 0x50005.")
    under_voltage_now: bool = False
    freq_capped_now: bool = False
    throttled_now: bool = False
    soft_temp_limit_now: bool = False
    under_voltage_occurred: bool = False
    freq_capped_occurred: bool = False
    throttled_occurred: bool = False
    soft_temp_limit_occurred: bool = False


_THROTTLE_BITS = {
    "under_voltage_now": 0,
    "freq_capped_now": 1,
    "throttled_now": 2,
    "soft_temp_limit_now": 3,
    "under_voltage_occurred": 16,
    "freq_capped_occurred": 17,
    "throttled_occurred": 18,
    "soft_temp_limit_occurred": 19,
}


def decode_throttled(raw: int | None) -> ThrottleFlags:
    """Decode the firmware bit field (``vcgencmd get_throttled``); None gives all-false flags."""
    if raw is None:
        return ThrottleFlags()
    return ThrottleFlags(raw=raw, **{name: bool(raw >> bit & 1) for name, bit in _THROTTLE_BITS.items()})


class HealthSnapshot(BaseModel):
    """The ``…/health`` payload (published retained) and the source of ``/metrics``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    schema_name: str = HEALTH_SCHEMA
    schema_version: int = HEALTH_SCHEMA_VERSION
    device_id: str
    at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc), description="When collected (UTC).")
    uptime_s: float = Field(ge=0, description="Seconds since the service started.")
    cpu_temp_c: float | None = Field(None, description="SoC temperature; None where not readable.")
    throttled: ThrottleFlags = Field(default_factory=ThrottleFlags)
    disk_free_mb: float | None = Field(None, description="Free space on the state disk, MiB.")
    outbox_backlog: int | None = Field(None, ge=0, description="Records waiting to be published.")
    outbox_oldest_age_s: float | None = Field(None, ge=0, description="Age of the oldest unpublished record.")
    gps_state: str = "unknown"
    camera_state: str = "unknown"
    link_state: str = "unknown"
    outbox_quarantined: int | None = Field(None, ge=0, description="Rows set aside as corrupt or refused (never published); see edge outbox list --quarantined.")
    uploader_stuck_s: float | None = Field(None, ge=0, description="How long records have waited while the broker answers but the publisher is not connected.")
    open_fds: int | None = Field(None, ge=0, description="Open file descriptors of the service process.")
    threads: int | None = Field(None, ge=0, description="Threads of the service process.")
    model_sha256: str | None = None
    version: str
    alarms: list[str] = Field(default_factory=list)


class HealthLimits(BaseModel):
    """When health turns into an alarm."""

    model_config = ConfigDict(extra="forbid")

    backlog_max_age_s: float = Field(3600.0, gt=0)
    disk_low_mb: float = Field(256.0, ge=0)
    cpu_hot_c: float = Field(80.0, gt=0)
    uploader_stuck_s: float = Field(60.0, gt=0)
    fds_high: int = Field(512, gt=0)


ALARM_TEXT = {
    "backlog_stale": "records waiting too long to upload / data lama belum terkirim",
    "disk_low": "disk almost full / penyimpanan hampir penuh",
    "cpu_hot": "device too hot / perangkat terlalu panas",
    "under_voltage": "power supply too weak / catu daya kurang",
    "throttled": "CPU slowed down / CPU diperlambat",
    "camera_down": "camera not working / kamera tidak berfungsi",
    "uploader_stuck": "records waiting, server reachable, uploader not connected / data tertahan, pengirim tidak terhubung",
    "outbox_quarantined": "damaged records set aside, call support / ada data rusak yang disisihkan, hubungi dukungan",
    "fds_high": "too many open files / terlalu banyak berkas terbuka",
}


def alarms(snapshot: HealthSnapshot, limits: HealthLimits) -> list[str]:
    """Alarm codes for this snapshot, in a fixed order (see ``ALARM_TEXT`` for what each means)."""
    found: list[str] = []
    if snapshot.outbox_oldest_age_s is not None and snapshot.outbox_oldest_age_s > limits.backlog_max_age_s:
        found.append("backlog_stale")
    if snapshot.disk_free_mb is not None and snapshot.disk_free_mb < limits.disk_low_mb:
        found.append("disk_low")
    if snapshot.cpu_temp_c is not None and snapshot.cpu_temp_c >= limits.cpu_hot_c:
        found.append("cpu_hot")
    if snapshot.throttled.under_voltage_now:
        found.append("under_voltage")
    if snapshot.throttled.throttled_now or snapshot.throttled.soft_temp_limit_now:
        found.append("throttled")
    if snapshot.camera_state == "failed":
        found.append("camera_down")
    if snapshot.uploader_stuck_s is not None and snapshot.uploader_stuck_s > limits.uploader_stuck_s:
        found.append("uploader_stuck")
    if snapshot.outbox_quarantined:
        found.append("outbox_quarantined")
    if snapshot.open_fds is not None and snapshot.open_fds > limits.fds_high:
        found.append("fds_high")
    return found


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float | int | bool) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


STATE_VALUES = {
    "camera": ("ok", "recovering", "failed", "stopped", "unknown"),
    "gps": ("connected", "reconnecting", "disabled", "fix", "stale", "no_fix", "unknown"),
    "link": ("up", "down", "auth_failed", "disabled", "unknown"),
}


def to_prometheus(snapshot: HealthSnapshot, prefix: str = "tepat") -> str:
    """The snapshot in the Prometheus text exposition format (version 0.0.4)."""
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[dict[str, str], float | int | bool]]) -> None:
        full = f"{prefix}_{name}"
        out.append(f"# HELP {full} {help_text}")
        out.append(f"# TYPE {full} {kind}")
        for labels, value in samples:
            text = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
            out.append(f"{full}{{{text}}} {_num(value)}" if text else f"{full} {_num(value)}")

    device = {"device_id": snapshot.device_id}
    metric("build_info", "gauge", "Software version and embedder model hash.",
           [({**device, "version": snapshot.version, "model_sha256": snapshot.model_sha256 or ""}, 1)])
    metric("uptime_seconds", "gauge", "Seconds since the service started.", [(device, snapshot.uptime_s)])
    if snapshot.cpu_temp_c is not None:
        metric("cpu_temperature_celsius", "gauge", "SoC temperature.", [(device, snapshot.cpu_temp_c)])
    flags = snapshot.throttled.model_dump(exclude={"raw"})
    metric("throttled", "gauge", "Raspberry Pi firmware throttling flags (1 = set).",
           [({**device, "flag": name}, value) for name, value in flags.items()])
    if snapshot.disk_free_mb is not None:
        metric("disk_free_bytes", "gauge", "Free bytes on the state disk.", [(device, snapshot.disk_free_mb * 1024 * 1024)])
    if snapshot.outbox_backlog is not None:
        metric("outbox_backlog", "gauge", "Records waiting to be published.", [(device, snapshot.outbox_backlog)])
    if snapshot.outbox_oldest_age_s is not None:
        metric("outbox_oldest_age_seconds", "gauge", "Age of the oldest unpublished record.", [(device, snapshot.outbox_oldest_age_s)])
    for name, value, help_text in (("outbox_quarantined", snapshot.outbox_quarantined, "Outbox rows set aside as corrupt or refused."),
                                   ("uploader_stuck_seconds", snapshot.uploader_stuck_s, "Seconds records have waited while the broker answers but the publisher is not connected."),
                                   ("open_fds", snapshot.open_fds, "Open file descriptors."), ("threads", snapshot.threads, "Threads.")):
        if value is not None:
            metric(name, "gauge", help_text, [(device, value)])
    for part, current in (("camera", snapshot.camera_state), ("gps", snapshot.gps_state), ("link", snapshot.link_state)):
        values = STATE_VALUES[part] if current in STATE_VALUES[part] else (*STATE_VALUES[part], current)
        metric(f"{part}_state", "gauge", f"{part.capitalize()} state (1 = current).",
               [({**device, "state": v}, v == current) for v in values])
    metric("alarm", "gauge", "Active alarms (1 = raised).",
           [({**device, "alarm": code}, code in snapshot.alarms) for code in (*ALARM_TEXT, *(a for a in snapshot.alarms if a not in ALARM_TEXT))])
    return "\n".join(out) + "\n"


def _register_wire_model() -> None:
    """Let ``edge schema`` export the health payload's JSON Schema with the other wire models."""
    try:
        from edge.messages import register_wire_model
    except ImportError:  # pragma: no cover - the messages package is part of every build
        return
    register_wire_model(HealthSnapshot)


_register_wire_model()
