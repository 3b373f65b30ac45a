"""Distribution day: roster trust, keys, decision bands, evidence thumbnails."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from edge.config.base import Section


class IssuerConfig(Section):
    """One trusted roster issuer: its key, the name it must sign as, and the points it may sign for."""

    key: Path = Field(..., description="PEM Ed25519 public key file of this issuer.")
    name: str = Field(..., min_length=1, max_length=64, description="The roster 'issuer' value this key must carry.")
    points: list[str] = Field(..., min_length=1, description="Distribution points this key may sign rosters for ('*' = any).")


class ClaimConfig(Section):
    issuer_keys: list[Path] = Field(default_factory=list, description="PEM Ed25519 public keys of trusted roster issuers; rosters signed by any other key are refused. Prefer [[claim.issuers]], which also binds the issuer name and points.")
    issuers: list[IssuerConfig] = Field(default_factory=list, description="Trusted roster issuers with the name each key signs as and the distribution points it may sign for.")
    require_sealed_rosters: bool = Field(False, description="Refuse rosters not sealed to this terminal's roster key (edge roster seal), so the broker never sees names or photos. Turn on once the programme office seals rosters.")
    roster_min_version: int = Field(1, ge=1, le=2**31 - 1, description="Floor: rosters with a lower version are refused, even on a terminal with no roster installed (set it to the programme's current version when provisioning).")
    central_keys: list[Path] = Field(default_factory=list, description="PEM Ed25519 public keys of the operations centre that signs cmd/ledger; empty: the roster issuer keys.")
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
    http_api: bool = Field(True, description="Serve the officer's claim API (/api/session, /api/claim, /api/enrol, /api/override, GET /api/ledger/<id>) on the local status server.")
    mqtt_commands: bool = Field(True, description="Handle the central side's cmd/roster and cmd/ledger MQTT commands. With http_api and this both off, edge run is monitoring only.")
    officers_path: Path | None = Field(None, description="Installed officer list and failed-PIN counters; default <state_dir>/officers.sqlite.")
    session_idle_s: float = Field(900.0, ge=30, le=86400, description="An officer's session ends after this long without a request.")
    session_max_s: float = Field(8 * 3600.0, ge=60, le=86400, description="An officer's session ends this long after sign-in in any case.")
    pin_max_failures: int = Field(5, ge=1, le=100, description="Wrong PINs in a row before the officer is locked out.")
    pin_lockout_s: float = Field(300.0, ge=1, le=86400, description="How long a locked-out officer must wait.")
    active_check_frames: int = Field(12, ge=3, le=60, description="Frames captured for the officer's head-turn check on a liveness referral (docs/LIVENESS.md).")
    active_check_seconds: float = Field(3.0, ge=0, le=15, description="How long the head-turn check captures (frames spread evenly over it).")
    active_check_min_turn_deg: float = Field(20.0, ge=5, le=90, description="Yaw spread (degrees) over the recipient's frames that passes the head-turn check.")
    two_person_needs_supervisor: bool = Field(True, description="Two-person actions (void, reject to accept, paying again) need one of the two officers to be a supervisor.")
