"""Typed position data every decision record carries: a GPS fix and the stamp built from it."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FixMode = Literal["no_fix", "2d", "3d"]
StampStatus = Literal["fix", "stale", "no_fix"]
SourceState = Literal["connected", "reconnecting", "disabled"]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return value.astimezone(timezone.utc)


class GpsFix(BaseModel):
    """One position report from the receiver, as gpsd gave it (SI units, WGS84 degrees)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lat: float = Field(..., ge=-90, le=90, description="Latitude, degrees (south negative).")
    lon: float = Field(..., ge=-180, le=180, description="Longitude, degrees (west negative).")
    alt_m: float | None = Field(None, description="Altitude above mean sea level, metres; None without a 3D fix.")
    mode: FixMode = Field(..., description="Fix dimension reported by the receiver.")
    satellites_used: int | None = Field(None, ge=0, le=255, description="Satellites used in the solution.")
    hdop: float | None = Field(None, ge=0, description="Horizontal dilution of precision.")
    eph_m: float | None = Field(None, ge=0, description="Estimated horizontal position error, metres (95%).")
    epv_m: float | None = Field(None, ge=0, description="Estimated vertical error, metres (95%).")
    speed_mps: float | None = Field(None, ge=0, description="Speed over ground, m/s.")
    fix_time: datetime | None = Field(None, description="UTC time of the fix according to the receiver.")

    @field_validator("fix_time")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)


class PositionStamp(BaseModel):
    """Where a decision happened: the current fix, or an explicit "no fix" with the last known position.

    ``status``: ``fix`` (a current 2D/3D fix, ``fix`` and ``age_s`` set), ``stale`` (the last fix
    stopped being refreshed: gpsd or the receiver went quiet) or ``no_fix`` (the receiver reports
    no position, or never did). Without a current fix, ``last_known``/``last_known_age_s`` carry
    the last fix seen, if any. Ages are seconds since the reader received the report, measured
    on the monotonic clock, so a wrong wall clock cannot make a fix look fresh.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: StampStatus
    fix: GpsFix | None = None
    age_s: float | None = Field(None, ge=0)
    last_known: GpsFix | None = None
    last_known_age_s: float | None = Field(None, ge=0)
    source: str = Field(..., description="Position source: gpsdclient, gpsd-py3, none, or a simulator name.")
    gps_time: datetime | None = Field(None, description="Latest UTC time the receiver reported (also without a position).")
    gps_time_age_s: float | None = Field(None, ge=0, description="Seconds since gps_time was received.")

    @field_validator("gps_time")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        return _utc(value)

    @classmethod
    def no_fix(cls, source: str) -> "PositionStamp":
        """A stamp with nothing known at all."""
        return cls(status="no_fix", source=source)
