"""Whether a decision may go ahead given where the terminal knows it is; pure logic."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from edge.gps.model import PositionStamp

GeoFlag = Literal["last_known_position", "no_fix"]


class GeoPolicy(Protocol):
    """The two settings the policy reads (``edge.config.GpsConfig`` has them)."""

    no_fix_policy: Literal["flag", "refuse"]
    max_fix_age_s: float


class GeoDecision(BaseModel):
    """``allowed``: may the disbursement proceed; ``flag``: what the record must say about its position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    flag: GeoFlag | None
    reason: str


def evaluate(stamp: PositionStamp, policy: GeoPolicy) -> GeoDecision:
    """Decide from the stamp: a fix (current or last known) younger than ``max_fix_age_s`` is enough.

    - current fix within the age limit: allowed, no flag;
    - no current fix, but the last known one is within the limit (e.g. the receiver lost the sky
      under the roof of the distribution hall a minute ago): allowed, flagged ``last_known_position``;
    - nothing within the limit: ``refuse`` policy refuses, ``flag`` policy allows and flags ``no_fix``.
    """
    limit = policy.max_fix_age_s
    if stamp.status == "fix" and stamp.fix is not None and stamp.age_s is not None and stamp.age_s <= limit:
        return GeoDecision(allowed=True, flag=None, reason=f"{stamp.fix.mode} fix {stamp.age_s:.0f} s old")
    if stamp.last_known is not None and stamp.last_known_age_s is not None and stamp.last_known_age_s <= limit:
        return GeoDecision(
            allowed=True,
            flag="last_known_position",
            reason=f"no current fix ({stamp.status}); using the position from {stamp.last_known_age_s:.0f} s ago",
        )
    if stamp.last_known_age_s is not None:
        missing = f"last fix is {stamp.last_known_age_s:.0f} s old, limit {limit:.0f} s"
    else:
        missing = "no fix since start" if stamp.source != "none" else "GPS disabled in configuration"
    if policy.no_fix_policy == "refuse":
        return GeoDecision(allowed=False, flag="no_fix", reason=f"refused: no GPS fix younger than {limit:.0f} s ({missing})")
    return GeoDecision(allowed=True, flag="no_fix", reason=f"recorded without a position ({missing})")
