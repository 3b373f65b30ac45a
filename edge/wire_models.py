"""Every model that travels over MQTT, in one list: the envelope and status (:mod:`edge.messages`),
the claim flow's records and commands (:mod:`edge.claim.records.wire`) and the health snapshot
(:mod:`edge.service.health`).

It sits above those packages, so :mod:`edge.messages` never imports the claim flow.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from edge import messages
from edge.claim.records.wire import CLAIM_WIRE_MODELS
from edge.service.health import HealthSnapshot


def all_wire_models() -> list[type[BaseModel]]:
    """:data:`edge.messages.WIRE_MODELS` with every area's models registered."""
    for model in (*CLAIM_WIRE_MODELS, HealthSnapshot):
        messages.register_wire_model(model)
    return list(messages.WIRE_MODELS)


def payload_models() -> dict[str, type[BaseModel]]:
    """Schema name (e.g. ``tepat.decision``) -> model, over every area's wire models."""
    all_wire_models()
    return messages.payload_models()


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema for every wire model (what ``edge schema`` exports)."""
    all_wire_models()
    return messages.json_schemas()
