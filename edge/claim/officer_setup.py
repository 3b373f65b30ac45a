"""Officer sign-in from the configuration: where the officer list lives, the store and the HTTP auth."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.claim.http_auth import OfficerAuth
from edge.claim.officer_store import OfficerStore
from edge.claim.sessions import SessionManager
from edge.config import EdgeConfig


def officers_path(cfg: EdgeConfig) -> Path:
    return cfg.claim.officers_path or cfg.device.state_dir / "officers.sqlite"


def open_officer_store(cfg: EdgeConfig, trusted: dict[str, Ed25519PublicKey] | None = None) -> OfficerStore:
    """The terminal's officer store (a context manager); ``trusted`` defaults to the roster issuer keys."""
    if trusted is None:
        from edge.claim.keys import trusted_issuer_keys

        trusted = trusted_issuer_keys(cfg)
    return OfficerStore(officers_path(cfg), trusted, cfg.device.distribution_point,
                        max_failures=cfg.claim.pin_max_failures, lockout_s=cfg.claim.pin_lockout_s)


def make_auth(cfg: EdgeConfig, store: OfficerStore) -> OfficerAuth:
    sessions = SessionManager(idle_s=cfg.claim.session_idle_s, max_s=cfg.claim.session_max_s)
    return OfficerAuth(store, sessions, needs_supervisor=cfg.claim.two_person_needs_supervisor)
