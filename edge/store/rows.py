"""Outbox rows: the item and statistics types, payload encoding, checksums and corrupt-row detection (pure)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from edge.errors import EdgeError
from edge.messages import Envelope

COLUMNS = "seq, key, kind, topic_suffix, durable_class, payload_json, checksum, created_at, attempts, state, error"


class StoreError(EdgeError):
    """The outbox file cannot be opened or used (not a database, belongs to another device, …)."""


@dataclass(frozen=True)
class OutboxItem:
    """One outbox row. ``payload_json`` is the exact wire message: the :class:`Envelope` JSON."""

    key: str
    seq: int
    kind: str
    topic_suffix: str
    payload_json: str
    created_at: float
    attempts: int
    state: str
    durable_class: str = "record"
    stream_seq: int | None = None  # the envelope's per-stream sequence number
    error: str | None = None
    delivered_at: float | None = None

    def envelope(self) -> Envelope:
        return Envelope.model_validate_json(self.payload_json)


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    oldest_pending_age_s: float | None
    delivered: int
    quarantined: int
    last_seq: int
    db_bytes: int
    telemetry_evicted: int


def checksum(payload_json: str) -> str:
    return hashlib.sha256(payload_json.encode("utf-8")).hexdigest()


def topic_suffix_for(kind: str) -> str:
    """Where a kind is published below the device prefix: ``health`` -> ``health``, else ``event/<kind>``."""
    return "health" if kind == "health" else f"event/{kind}"


def payload_dict(payload: BaseModel | dict) -> tuple[dict[str, Any], str | None]:
    if isinstance(payload, BaseModel):
        body = payload.model_dump(mode="json", by_alias=True)
        schema = body.get("schema_name") or body.get("schema")
        return body, schema if isinstance(schema, str) else type(payload).__name__
    if isinstance(payload, dict):
        try:
            body = json.loads(json.dumps(payload, ensure_ascii=False, default=json_default))
        except (TypeError, ValueError) as exc:
            raise EdgeError(f"outbox: payload is not JSON-serialisable: {exc}") from None
        schema = body.get("schema_name") or body.get("schema")
        return body, schema if isinstance(schema, str) else None
    raise EdgeError(f"outbox: payload must be a pydantic model or a dict, not {type(payload).__name__}")


def json_default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def row_problem(row: Sequence[Any]) -> str | None:
    payload_json, digest = row[5], row[6]
    if not isinstance(payload_json, str):
        return f"payload is {type(payload_json).__name__}, not text"
    if checksum(payload_json) != digest:
        return "checksum mismatch"
    try:
        Envelope.model_validate_json(payload_json)
    except ValueError as exc:
        return f"payload is not a valid envelope: {str(exc).splitlines()[0]}"
    return None


def row_item(row: Sequence[Any]) -> OutboxItem:
    """An item from a ``COLUMNS`` row (optionally followed by ``delivered_at``)."""
    stream_seq = None
    if isinstance(row[5], str):
        try:
            stream_seq = json.loads(row[5]).get("seq")
        except ValueError:
            pass
    return OutboxItem(
        key=row[1], seq=row[0], kind=row[2], topic_suffix=row[3], payload_json=row[5],
        created_at=row[7], attempts=row[8], state=row[9], durable_class=row[4],
        stream_seq=stream_seq, error=row[10], delivered_at=row[11] if len(row) > 11 else None,
    )


def chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
