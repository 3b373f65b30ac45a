"""The long-running service: main loop, watchdog, health reports and the local status page."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from edge.config.base import Section


class ServiceConfig(Section):
    http_enabled: bool = Field(True, description="Serve the officer's status page, /api and /metrics.")
    http_host: str = Field("127.0.0.1", description="Address for the status page; keep loopback unless a LAN kiosk needs it.")
    http_tls_cert: Path | None = Field(None, description="PEM certificate for the status page; required when http_host is not loopback.")
    http_tls_key: Path | None = Field(None, description="PEM private key for http_tls_cert (mode 0600).")
    http_server_names: list[str] = Field(default_factory=list, max_length=16, description="Extra host names/addresses clients use for this terminal (Host and Origin checks); loopback names are always allowed.")
    http_port: int = Field(8080, ge=0, le=65535, description="Port for the status page (0 = any free port).")
    loop_interval_s: float = Field(1.0, gt=0, le=60, description="Main-loop tick: health checks and watchdog keep-alives.")
    camera_probe_s: float = Field(10.0, gt=0, le=3600, description="Capture a probe frame when the camera has been idle this long.")
    camera_grace_s: float = Field(60.0, ge=0, le=3600, description="How long the camera may be recovering before watchdog keep-alives stop (systemd then restarts the service).")
    health_interval_s: float = Field(60.0, ge=1, le=86400, description="How often the retained health message is published.")
    backlog_alarm_age_s: float = Field(3600.0, gt=0, description="Alarm when the oldest unpublished record is older than this.")
    disk_alarm_mb: float = Field(256.0, ge=0, description="Alarm when the state disk has less free space than this (MiB).")
    cpu_hot_c: float = Field(80.0, gt=0, le=125, description="Alarm at or above this SoC temperature.")
    uploader_stuck_alarm_s: float = Field(60.0, gt=0, description="Alarm when records wait this long while the broker answers but the publisher is not connected.")
    uploader_stuck_restart_s: float = Field(300.0, gt=0, description="After this long stuck, watchdog keep-alives stop so systemd restarts the service.")

    @model_validator(mode="after")
    def _probe_within_grace(self) -> "ServiceConfig":
        if self.loop_interval_s > self.camera_probe_s:
            raise ValueError("loop_interval_s must not exceed camera_probe_s")
        return self

    @model_validator(mode="after")
    def _tls_beyond_loopback(self) -> "ServiceConfig":
        from edge.service.http_guard import check_binding

        if self.http_enabled:
            check_binding(self.http_host, self.http_tls_cert, self.http_tls_key)  # ConfigError: one line naming the fix
        return self
