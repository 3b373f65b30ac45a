"""Wire models: every payload the terminal publishes or accepts over MQTT, as pydantic models.

Each published event is an :class:`Envelope` around a kind-specific payload. ``WIRE_MODELS``
lists the registered wire models; other areas append theirs with :func:`register_wire_model`.
This package imports no other area: :mod:`edge.wire_models`, above it, registers the claim
flow's records and commands and the health snapshot, for ``edge schema`` and the monitor.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ENVELOPE_SCHEMA = "tepat.envelope"
ENVELOPE_VERSION = 1
STATUS_SCHEMA = "tepat.status"
COMMAND_SCHEMA = "tepat.command"
TELEMETRY_SCHEMA = "tepat.telemetry"

# The same words as edge.timesource.Timestamp.source; "unsynchronised" when nothing vouches for the clock.
TimeSource = Literal["gps", "ntp", "rtc", "unsynchronised"]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def new_key() -> str:
    """A fresh idempotency key (UUID4, 36 characters)."""
    return str(uuid.uuid4())


class WireModel(BaseModel):
    """Base for wire messages: unknown fields are refused, so a forged or mistyped message fails loudly."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Envelope(WireModel):
    """What every ``…/event/<kind>`` (and outbox-published ``…/health``) message looks like on the wire."""

    schema_name: Literal["tepat.envelope"] = Field(ENVELOPE_SCHEMA, description="Always 'tepat.envelope'.")
    schema_version: int = Field(ENVELOPE_VERSION, ge=1, description="Envelope layout version; consumers refuse versions they do not know.")
    idempotency_key: str = Field(..., min_length=8, max_length=80, description="Unique per record; consumers de-duplicate on it.")
    device_id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")
    seq: int = Field(..., ge=1, description="Per-device, per-stream sequence number: records are numbered 1, 2, 3, … with no gaps; telemetry counts separately.")
    stream: Literal["record", "telemetry"] = Field("record", description="Which sequence 'seq' belongs to: 'record' (every record, gap-free) or 'telemetry' (health; may be superseded or evicted).")
    created_at: datetime = Field(..., description="When the terminal accepted the record (UTC).")
    time_source: TimeSource = Field("unsynchronised", description="How far to trust created_at: gps | ntp | rtc | unsynchronised.")
    kind: str = Field(..., pattern=r"^[a-z][a-z0-9_]{0,31}$", description="Payload kind, also the last topic level.")
    payload_schema: str | None = Field(None, description="Schema name of the payload, when it carries one.")
    payload: dict[str, Any] = Field(..., description="The kind-specific body (see the payload schemas).")


class StatusPayload(WireModel):
    """Retained ``…/status``: 'online' on every (re)connect, 'offline' as the last will or on clean stop."""

    schema_name: Literal["tepat.status"] = STATUS_SCHEMA
    schema_version: int = 1
    device_id: str
    state: Literal["online", "offline"]
    at: datetime = Field(default_factory=utc_now, description="When the state was set (for the will: when the session started).")
    reason: str | None = Field(None, description="e.g. 'shutdown', 'connection lost' (will).")
    software: str | None = Field(None, description="tepat-edge version.")


class TelemetryPayload(WireModel):
    """Low-value periodic telemetry (e.g. a heartbeat); may be evicted oldest-first when storage is short."""

    schema_name: Literal["tepat.telemetry"] = TELEMETRY_SCHEMA
    schema_version: int = 1
    name: str = Field(..., max_length=64)
    values: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class CommandEnvelope(WireModel):
    """Inbound ``…/cmd/<name>``: who sent which command; ``args`` is validated by the command's own model."""

    schema_name: Literal["tepat.command"] = COMMAND_SCHEMA
    schema_version: int = 1
    command_id: str = Field(..., min_length=8, max_length=80, description="Unique per command; repeats are ignored.")
    issued_at: datetime
    issuer: str = Field(..., min_length=1, max_length=64, description="Operator or system that sent it.")
    args: dict[str, Any] = Field(default_factory=dict)


class PingArgs(WireModel):
    """``cmd/ping``: ask the terminal to publish its health now (a built-in command for checking the path)."""

    note: str | None = Field(None, max_length=200)


WIRE_MODELS: list[type[BaseModel]] = [Envelope, StatusPayload, TelemetryPayload, CommandEnvelope, PingArgs]


def register_wire_model(model: type[BaseModel]) -> type[BaseModel]:
    """Add ``model`` to :data:`WIRE_MODELS` (idempotent); usable as a class decorator."""
    if model not in WIRE_MODELS:
        WIRE_MODELS.append(model)
    return model


def payload_models() -> dict[str, type[BaseModel]]:
    """Schema name (e.g. ``tepat.decision``) -> model, for every registered wire model that declares one as a default.

    :func:`edge.wire_models.payload_models` registers every area's models first.
    """
    out: dict[str, type[BaseModel]] = {}
    for model in WIRE_MODELS:
        for name, info in model.model_fields.items():
            if (info.alias or name) in ("schema", "schema_name") and isinstance(info.default, str):
                out.setdefault(info.default, model)
    return out


def schema_file_name(model: type[BaseModel]) -> str:
    """``Envelope`` -> ``envelope.schema.json``."""
    name = model.__name__
    snake = "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))
    return f"{snake}.schema.json"


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema for every model in :data:`WIRE_MODELS`."""
    return {schema_file_name(m): m.model_json_schema() for m in WIRE_MODELS}
