"""What the ingest checks before anything is written: topic, size, JSON, schema, device registry, Ed25519 signature.

Pure: bytes and a device lookup in, a :class:`Checked` out. A message that fails is *kept apart*
(quarantine table, with the reason) and counted, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from edge.claim.records.crypto import KeyFileError, parse_public_key
from edge.claim.records.signed import parse_record, verify_record
from edge.claim.records.wire import LedgerResync
from edge.messages import Envelope, StatusPayload
from edge.transport.topics import parse_topic

MAX_MESSAGE_BYTES = 256 * 1024
SIGNED_KINDS = {"decision", "override", "conflict"}
UNSIGNED_KINDS = {"roster_ack", "ledger_resync", "heartbeat", "telemetry"}


@dataclass(frozen=True)
class DeviceEntry:
    device_id: str
    region: str
    distribution_point: str
    public_key: str
    revoked: bool = False


@dataclass
class Checked:
    """The verdict on one message. ``reason`` is '' when it may be stored."""

    topic: str
    channel: str = ""  # event | status | health
    region: str = ""
    device_id: str | None = None
    kind: str = ""
    reason: str = ""
    detail: str = ""
    envelope: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] | None = None
    status: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.reason

    def refuse(self, reason: str, detail: str) -> "Checked":
        self.reason, self.detail = reason, detail[:500]
        return self


def _schema_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{where}: {first['msg']}"


def utc_iso(value: Any) -> str:
    """ISO-8601 UTC text for a datetime or ISO string (so both databases sort times alike)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def check_message(prefix: str, topic: str, payload: bytes, lookup: Callable[[str], DeviceEntry | None]) -> Checked:
    parsed = parse_topic(prefix, topic)
    c = Checked(topic=topic)
    if parsed is None:
        return c.refuse("bad_topic", f"not under {prefix}/<region>/<device>/…")
    c.region, c.device_id, rest = parsed
    c.channel = rest.split("/", 1)[0]
    if c.channel not in ("event", "status", "health"):
        return c.refuse("bad_topic", f"unexpected topic level {rest!r}")
    if len(payload) > MAX_MESSAGE_BYTES:
        return c.refuse("too_large", f"{len(payload)} bytes, limit {MAX_MESSAGE_BYTES}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return c.refuse("not_json", f"not valid JSON ({str(exc)[:120]})")
    dev = lookup(c.device_id)
    if dev is None:
        return c.refuse("unknown_device", f"device {c.device_id[:64]!r} is not in the device registry")
    if dev.revoked:
        return c.refuse("revoked_device", f"device {c.device_id} was revoked")
    if dev.region != c.region:
        return c.refuse("wrong_region", f"device {c.device_id} is registered in region {dev.region}, published under {c.region[:32]!r}")
    if c.channel == "status":
        try:
            st = StatusPayload.model_validate(data)
        except ValidationError as exc:
            return c.refuse("bad_schema", _schema_error(exc))
        if st.device_id != c.device_id:
            return c.refuse("device_mismatch", f"status names {st.device_id}, topic {c.device_id}")
        c.status = st.model_dump(mode="json")
        return c
    try:
        env = Envelope.model_validate(data)
    except ValidationError as exc:
        return c.refuse("bad_schema", _schema_error(exc))
    c.envelope = env.model_dump(mode="json")
    c.kind = "health" if c.channel == "health" else env.kind
    if env.device_id != c.device_id:
        return c.refuse("device_mismatch", f"envelope names {env.device_id}, topic {c.device_id}")
    if c.channel == "event" and rest != f"event/{env.kind}":
        return c.refuse("bad_topic", f"kind {env.kind} published on {rest}")
    if c.channel == "health":
        return c
    if env.kind in SIGNED_KINDS:
        try:
            rec = parse_record(env.payload)
        except ValueError as exc:
            return c.refuse("bad_schema", str(exc).splitlines()[0])
        if rec.device_id != c.device_id or rec.idempotency_key != env.idempotency_key:
            return c.refuse("device_mismatch", "record device or key differs from its envelope")
        try:
            key = parse_public_key(dev.public_key.encode(), f"registered key of {c.device_id}")
        except KeyFileError as exc:
            return c.refuse("bad_registry_key", str(exc))
        if not verify_record(env.payload, key):
            return c.refuse("bad_signature", f"{env.kind} {env.idempotency_key} is not signed by {c.device_id}'s registered key")
        c.record = env.payload
        return c
    if env.kind == "ledger_resync":
        try:
            ask = LedgerResync.model_validate(env.payload)
        except ValidationError as exc:
            return c.refuse("bad_schema", _schema_error(exc))
        if ask.device_id != c.device_id:
            return c.refuse("device_mismatch", "resync request names another device")
        return c
    if env.kind not in UNSIGNED_KINDS:
        return c.refuse("unknown_kind", f"record kind {env.kind!r} is not one the centre knows")
    return c
