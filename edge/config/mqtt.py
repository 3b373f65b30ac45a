"""Connection to the central MQTT broker."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import Section


class TlsConfig(Section):
    ca_file: Path | None = Field(None, description="CA certificate that signed the broker's certificate.")
    cert_file: Path | None = Field(None, description="Client certificate (optional, for mutual TLS).")
    key_file: Path | None = Field(None, description="Client private key (with cert_file).")

    @model_validator(mode="after")
    def _cert_needs_key(self) -> "TlsConfig":
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file must be given together")
        return self


class MqttConfig(Section):
    enabled: bool = Field(True, description="Publish records when a link exists.")
    host: str = Field("localhost", description="Broker host name.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual for TLS).")
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version.")
    username: str | None = Field(None, description="Per-device user name.")
    password: str | None = Field(None, description="Password; prefer password_file or $TEPAT_MQTT_PASSWORD.")
    password_file: Path | None = Field(None, description="File holding the password (e.g. a systemd credential).")
    tls: TlsConfig | None = Field(None, description="Enable TLS by giving this section.")
    topic_prefix: str = Field("tepat/v1", description="Root of every topic.")
    keepalive_s: int = Field(30, ge=5, le=3600)
    inflight: int = Field(20, ge=1, le=1000, description="Unacknowledged QoS 1 messages at most.")
    reconnect_min_s: float = Field(1.0, gt=0)
    reconnect_max_s: float = Field(60.0, gt=0)
    max_inbound_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Larger command messages are refused.")

    @model_validator(mode="after")
    def _password_needs_user(self) -> "MqttConfig":
        if (self.password or self.password_file) and not self.username:
            raise ValueError("a password needs a username")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self

    def security_warnings(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """Settings that work but expose a secret: a password sent over plain MQTT to a host that is not loopback.

        ``environ`` is checked for ``$TEPAT_MQTT_PASSWORD`` (the password's third source). Pure: the
        caller logs the lines (``load_config`` does, once per load).
        """
        has_password = bool(self.password or self.password_file or (self.username and (environ or {}).get("TEPAT_MQTT_PASSWORD")))
        if not self.enabled or self.tls is not None or not has_password or is_loopback(self.host):
            return []
        return [f"mqtt: the password goes to {self.host}:{self.port} over plain MQTT (no TLS): anyone on the network path can "
                "read it and log in as this terminal; add an [mqtt.tls] section (port 8883)"]


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); a name that needs DNS is not."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
