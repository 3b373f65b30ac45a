"""Every MQTT topic the terminal uses, built in one place (see docs/MQTT.md "Topics").

``<prefix>/<region>/<device>/event/<kind>``  records (QoS 1, not retained)
``<prefix>/<region>/<device>/status``        'online' / 'offline' (QoS 1, retained, last will)
``<prefix>/<region>/<device>/health``        health snapshot (QoS 1, retained)
``<prefix>/<region>/<device>/cmd/<name>``    inbound commands (QoS 1)
"""

from __future__ import annotations


def device_prefix(prefix: str, region: str, device: str) -> str:
    return f"{prefix.rstrip('/')}/{region}/{device}"


def status_topic(prefix: str, region: str, device: str) -> str:
    return f"{device_prefix(prefix, region, device)}/status"


def cmd_topic(prefix: str, region: str, device: str, name: str = "#") -> str:
    """``…/cmd/<name>``; the default ``#`` is the subscription filter for all commands."""
    return f"{device_prefix(prefix, region, device)}/cmd/{name}"


def suffix_topic(prefix: str, region: str, device: str, suffix: str) -> str:
    """The topic for an outbox item's ``topic_suffix`` (``event/verification``, ``health``)."""
    return f"{device_prefix(prefix, region, device)}/{suffix.strip('/')}"


def parse_topic(prefix: str, topic: str) -> tuple[str, str, str] | None:
    """``(region, device, rest)`` for a topic under ``prefix``, else None."""
    head = prefix.rstrip("/") + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head):].split("/", 2)
    if len(parts) < 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]
