"""Position source and the policy for decisions without a fix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from edge.config.base import Section


class GpsConfig(Section):
    backend: Literal["gpsdclient", "gpsd-py3", "none"] = Field("gpsdclient", description="gpsd client library, or 'none'.")
    host: str = Field("127.0.0.1", description="gpsd host.")
    port: int = Field(2947, ge=1, le=65535, description="gpsd port.")
    max_fix_age_s: float = Field(300.0, gt=0, description="A fix older than this counts as no fix.")
    no_fix_policy: Literal["flag", "refuse"] = Field("flag", description="'refuse': no disbursement without a fresh fix; 'flag': record and flag it.")
