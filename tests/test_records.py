"""Signed decision records: the central side can tell genuine records from forged or altered ones."""

from __future__ import annotations

import json

import pytest

from edge.claim.records.crypto import generate_signing_key
from edge.claim.records.signed import DecisionRecord, OverrideRecord, Scores, parse_record, sign_record, verify_record
from edge.gps.model import GpsFix, PositionStamp
from edge.timesource import Timestamp


def make_record(**over) -> DecisionRecord:
    base = dict(
        idempotency_key="9f1c2a7e4b6d4f0e8a1b2c3d4e5f6a7b", seq=7, device_id="terminal-01", distribution_point="desa-a",
        time=Timestamp(wall="2026-11-23T03:00:00Z", source="gps", monotonic_ns=123, boot_id="b1"), position=PositionStamp(status="fix", fix=GpsFix(lat=-6.9, lon=107.6, mode="3d"), age_s=0.4, source="test"),
        outcome="accept", reason_code="match", message={"id": "ok", "en": "ok"}, recipient_id="PKH-1", claimed_id="PKH-1",
        period="2026-11", roster_version=3, officer_id="OFF-12", model_sha256="ab" * 32, quality=None,
        scores=Scores(mode="1:1", top_id="PKH-1", top_score=0.61, accept_threshold=0.4, refer_threshold=0.3),
    )
    base.update(over)
    return DecisionRecord(**base)


def test_signed_record_verifies__valid(device_key):
    """A record signed by the device verifies with its public key, also after a JSON round trip."""
    rec = sign_record(make_record(), device_key)
    assert verify_record(rec, device_key.public_key())
    assert verify_record(json.loads(rec.model_dump_json(by_alias=True)), device_key.public_key())


@pytest.mark.parametrize("path,value", [
    (("outcome",), "reject"),
    (("scores", "top_score"), 0.99),
    (("recipient_id",), "PKH-2"),
    (("seq",), 8),
    (("position", "fix", "lat"), -6.0),
])
def test_altered_record__invalid(device_key, path, value):
    """Changing any field after signing makes verification fail."""
    data = json.loads(sign_record(make_record(), device_key).model_dump_json(by_alias=True))
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert not verify_record(data, device_key.public_key())


def test_record_signed_by_other_key__invalid(device_key):
    """A record signed by another device's key does not verify as this device's."""
    rec = sign_record(make_record(), generate_signing_key())
    assert not verify_record(rec, device_key.public_key())


@pytest.mark.parametrize("junk", [None, [], "x", {"signature": "abc"}, {"signature": {"alg": "ed25519", "key_id": 1, "sig": 2}}])
def test_verify_record_never_raises__invalid(device_key, junk):
    """Garbage given to the verifier is simply not valid."""
    assert verify_record(junk, device_key.public_key()) is False


def test_override_references_original(device_key):
    """An override record carries the original's idempotency key and parses back by its schema."""
    original = make_record(outcome="refer", reason_code="borderline_match")
    ov = sign_record(OverrideRecord(
        idempotency_key="0123456789abcdef0123456789abcdef", seq=8, device_id="terminal-01", distribution_point="desa-a",
        time=original.time, position=original.position, original_key=original.idempotency_key, original_outcome="refer",
        new_outcome="accept", reason_code="id_card_checked", officer_id="OFF-12", recipient_id="PKH-1", period="2026-11"), device_key)
    back = parse_record(json.loads(ov.model_dump_json(by_alias=True)))
    assert isinstance(back, OverrideRecord) and back.original_key == original.idempotency_key
    assert verify_record(back, device_key.public_key())
