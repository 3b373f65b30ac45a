"""Distribution day: roster trust, keys, decision bands, evidence thumbnails."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config.base import Section


class ClaimConfig(Section):
    issuer_keys: list[Path] = Field(default_factory=list, description="PEM Ed25519 public keys of trusted roster issuers; rosters signed by any other key are refused.")
    keys_dir: Path | None = Field(None, description="Folder of this terminal's keys (mode 0700); default <state_dir>/keys.")
    device_key_file: Path | None = Field(None, description="Ed25519 private key that signs records; default <keys_dir>/device_ed25519.pem.")
    template_key_file: Path | None = Field(None, description="AES-256 key for templates at rest (base64); default <keys_dir>/template.key; $TEPAT_TEMPLATE_KEY wins.")
    roster_path: Path | None = Field(None, description="Installed roster database; default <state_dir>/roster.sqlite.")
    ledger_path: Path | None = Field(None, description="Disbursement ledger database; default <state_dir>/ledger.sqlite.")
    refer_band: float = Field(0.08, ge=0, le=1, description="1:1/1:N scores this far below the accept threshold go to officer review instead of reject.")
    max_attempts: int = Field(3, ge=1, le=10, description="Bursts with no usable face before the claim is referred to the officer.")
    evidence_thumbnail: bool = Field(False, description="Keep a small encrypted face thumbnail with each decision for audit (never published).")
    thumbnail_px: int = Field(96, ge=32, le=256, description="Thumbnail side in pixels.")
    thumbnail_max_bytes: int = Field(8192, ge=1024, le=65536, description="Thumbnails larger than this (JPEG) are re-encoded smaller or dropped.")
    http_api: bool = Field(True, description="Serve POST /api/claim, POST /api/override, GET /api/ledger/<id> on the local status server.")
