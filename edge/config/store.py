"""Durable local storage (SQLite outbox, gallery, ledger)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config.base import Section


class StoreConfig(Section):
    path: Path | None = Field(None, description="Outbox database file; default <state_dir>/outbox.sqlite.")
    synchronous: Literal["FULL", "NORMAL"] = Field("FULL", description="SQLite synchronous mode; FULL survives power loss with WAL.")
    min_free_mb: int = Field(64, ge=1, description="Refuse new decisions when the state disk has less free space than this.")
    telemetry_max_rows: int = Field(10_000, ge=100, description="Telemetry rows kept while offline; oldest evicted first.")
