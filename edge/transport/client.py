"""Building a configured paho-mqtt 2.x client (protocol, credentials, TLS, session) from ``MqttConfig``."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge.config import MqttConfig
from edge.errors import ConfigError

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps queued commands for a week of outage


def read_password(mqtt_cfg: MqttConfig) -> str | None:
    """The MQTT password from the config, ``password_file`` or ``$TEPAT_MQTT_PASSWORD``."""
    if mqtt_cfg.password:
        return mqtt_cfg.password
    if mqtt_cfg.password_file:
        try:
            return mqtt_cfg.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"mqtt.password_file: cannot read {mqtt_cfg.password_file}: {exc}") from None
    return os.environ.get("TEPAT_MQTT_PASSWORD") or None


def make_client(mqtt_cfg: MqttConfig, client_id: str, *, clean: bool, session_expiry_s: int = SESSION_EXPIRY_S) -> tuple[mqtt.Client, Properties | None]:
    """A configured paho client (protocol, credentials, TLS) and its MQTT 5 CONNECT properties."""
    v5 = mqtt_cfg.protocol == "5"
    if v5:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else session_expiry_s
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=clean)
        props = None
    if mqtt_cfg.username:
        client.username_pw_set(mqtt_cfg.username, read_password(mqtt_cfg))
    if mqtt_cfg.tls is not None:
        tls = mqtt_cfg.tls
        for name, path in (("ca_file", tls.ca_file), ("cert_file", tls.cert_file), ("key_file", tls.key_file)):
            if path is not None and not Path(path).is_file():
                raise ConfigError(f"mqtt.tls.{name}: file not found: {path}")
        client.tls_set(
            ca_certs=str(tls.ca_file) if tls.ca_file else None,
            certfile=str(tls.cert_file) if tls.cert_file else None,
            keyfile=str(tls.key_file) if tls.key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.connect_timeout = 5.0
    client.max_inflight_messages_set(mqtt_cfg.inflight)
    client.max_queued_messages_set(0)
    return client, props


def connect_options(props: Properties | None) -> dict:
    """Keyword arguments for ``connect``: clean_start/properties exist only under MQTT 5."""
    return {"clean_start": False, "properties": props} if props is not None else {}
