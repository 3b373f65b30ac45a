"""Fixtures for the distribution-day tests: keys, signed rosters, a ledger file."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest

from edge.claim.crypto import SecretBox, generate_signing_key, new_template_key, public_key_id

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone(timedelta(hours=7)))
FAKE_SHA = "ab" * 32


def unit_vector(seed: int, dim: int = 128) -> list[float]:
    """A reproducible L2-normalised vector (stands in for a template in pure-logic tests)."""
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return [float(x) for x in v / np.linalg.norm(v)]


@pytest.fixture(scope="session")
def issuer_key():
    """The programme office's Ed25519 signing key."""
    return generate_signing_key()


@pytest.fixture(scope="session")
def trusted_keys(issuer_key):
    """The device's trust store: key id -> issuer public key."""
    return {public_key_id(issuer_key.public_key()): issuer_key.public_key()}


@pytest.fixture(scope="session")
def device_key():
    """This terminal's Ed25519 record-signing key."""
    return generate_signing_key()


@pytest.fixture()
def template_box() -> SecretBox:
    """A fresh AES-GCM box for templates at rest."""
    return SecretBox(new_template_key())


@pytest.fixture()
def roster_doc() -> Callable[..., dict[str, Any]]:
    """Factory: an unsigned roster object for point 'dev-point', period 2026-11, with three recipients."""

    def make(version: int = 1, n: int = 3, **over: Any) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": "tepat.roster", "schema_version": 1, "kind": "full", "issuer": "kemensos-jabar",
            "distribution_point": "dev-point", "period": "2026-11", "version": version,
            "issued_at": "2026-11-01T00:00:00+07:00", "valid_from": "2026-11-01T00:00:00+07:00",
            "valid_until": "2026-12-01T00:00:00+07:00", "enrolment_allowed": False,
            "recipients": [
                {"recipient_id": f"PKH-{i:05d}", "display_name": f"Penerima {i}", "household_id": f"KK-{i:04d}",
                 "entitlement": {"programme": "PKH", "period": "2026-11", "amount": 600000},
                 "templates": [{"model_sha256": FAKE_SHA, "vector": unit_vector(i)}]}
                for i in range(1, n + 1)
            ],
        }
        doc.update(copy.deepcopy(over))
        return doc

    return make
