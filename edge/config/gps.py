"""Position source and the policy for decisions without a fix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from edge.config.base import Section


class GpsConfig(Section):
    backend: Literal["gpsdclient", "gpsd-py3", "none"] = Field("gpsdclient", description="gpsd client library, or 'none' (no receiver: every record says no_fix).")
    host: str = Field("127.0.0.1", description="gpsd host.")
    port: int = Field(2947, ge=1, le=65535, description="gpsd port.")
    max_fix_age_s: float = Field(300.0, gt=0, description="A fix older than this counts as no fix for the disbursement policy.")
    no_fix_policy: Literal["flag", "refuse"] = Field("flag", description="'refuse': no disbursement without a fix younger than max_fix_age_s; 'flag': record and flag it.")
    stale_after_s: float = Field(5.0, gt=0, le=3600, description="A fix not refreshed for this long is 'stale' (gpsd or the receiver went quiet).")
    connect_timeout_s: float = Field(3.0, gt=0, le=60, description="Socket timeout for connecting to gpsd and for each gpsd-py3 poll.")
    poll_interval_s: float = Field(1.0, gt=0, le=60, description="How often the gpsd-py3 backend polls gpsd (gpsdclient streams instead).")
    reconnect_min_s: float = Field(0.5, gt=0, description="First retry delay after gpsd went away; doubles up to reconnect_max_s.")
    reconnect_max_s: float = Field(30.0, gt=0, description="Longest retry delay.")

    @model_validator(mode="after")
    def _consistent(self) -> "GpsConfig":
        if self.backend == "none" and self.no_fix_policy == "refuse":
            raise ValueError("no_fix_policy 'refuse' needs a GPS backend (backend is 'none', so nothing could ever be disbursed)")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        return self
