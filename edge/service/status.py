"""What the officer at the counter sees: a thread-safe board the claim flow and the runner update."""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class LastDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(description="accept, reject, refer or retake.")
    reason_code: str
    message_id: str = Field("", description="Officer message in Bahasa Indonesia.")
    message_en: str = Field("", description="The same message in English.")
    recipient_id: str | None = None
    flags: list[str] = Field(default_factory=list)
    at: datetime


class StatusView(BaseModel):
    """The ``/api/status`` document."""

    model_config = ConfigDict(extra="forbid")

    device_id: str
    distribution_point: str
    last_decision: LastDecision | None = None
    camera_state: str = "unknown"
    gps_state: str = "unknown"
    link_state: str = "unknown"
    pending_uploads: int | None = None
    oldest_pending_age_s: float | None = None
    alarms: list[str] = Field(default_factory=list)
    service_state: str = Field("starting", description="starting, running, degraded or stopping.")
    updated_at: datetime


def _now() -> datetime:
    return datetime.now(timezone.utc)


class StatusBoard:
    """Holds the latest status; every method is safe to call from any thread."""

    def __init__(self, device_id: str, distribution_point: str) -> None:
        self._lock = threading.Lock()
        self._view = StatusView(device_id=device_id, distribution_point=distribution_point, updated_at=_now())

    def set_last_decision(
        self,
        outcome: str,
        reason_code: str,
        *,
        message: dict[str, str] | str | None = None,
        recipient_id: str | None = None,
        flags: tuple[str, ...] | list[str] = (),
        at: datetime | None = None,
    ) -> None:
        """Show a decision: ``message`` is ``{"id": ..., "en": ...}`` (the claim flow's officer message) or one string."""
        if isinstance(message, dict):
            msg_id, msg_en = message.get("id", ""), message.get("en", "")
        else:
            msg_id, msg_en = message or "", ""
        decision = LastDecision(
            outcome=outcome, reason_code=reason_code, message_id=msg_id, message_en=msg_en,
            recipient_id=recipient_id, flags=list(flags), at=at or _now(),
        )
        self._update(last_decision=decision)

    def show_decision(self, decision: Any) -> None:
        """Show an ``edge.claim.flow.decide.Decision`` (anything with outcome, reason_code, message, recipient_id, flags)."""
        self.set_last_decision(
            decision.outcome, decision.reason_code, message=decision.message,
            recipient_id=getattr(decision, "recipient_id", None), flags=tuple(getattr(decision, "flags", ()) or ()),
        )

    def set_states(
        self,
        *,
        camera: str | None = None,
        gps: str | None = None,
        link: str | None = None,
        pending_uploads: int | None = None,
        oldest_pending_age_s: float | None = None,
        alarms: list[str] | None = None,
        service: str | None = None,
    ) -> None:
        """Update the component states; arguments left None keep their value."""
        changes: dict[str, Any] = {}
        for key, value in (("camera_state", camera), ("gps_state", gps), ("link_state", link),
                           ("pending_uploads", pending_uploads), ("oldest_pending_age_s", oldest_pending_age_s),
                           ("alarms", alarms), ("service_state", service)):
            if value is not None:
                changes[key] = value
        self._update(**changes)

    def snapshot(self) -> StatusView:
        with self._lock:
            return self._view.model_copy(deep=True)

    def _update(self, **changes: Any) -> None:
        with self._lock:
            self._view = self._view.model_copy(update={**changes, "updated_at": _now()})
