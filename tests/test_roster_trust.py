"""Roster trust (issue 13 items 6 and 9): versions bounded, a configured floor, issuer name and points bound to
the key, signed roster_ack records."""

from __future__ import annotations

import json
import sqlite3

import pytest

from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import generate_signing_key, public_key_id, public_key_pem, sign
from edge.claim.records.signed import verify_record
from edge.claim.roster.document import IssuerTrust, RosterRejected, open_signed_roster, sign_roster
from tests.fixtures_claim import NOW


def _signed_raw(doc: dict, key) -> dict:
    """Signed exactly as an issuer would, without sign_roster's own schema check (an attacker holding a key)."""
    return {"roster": doc, "signature": {"alg": "ed25519", "key_id": public_key_id(key.public_key()), "sig": sign(key, canonical_json(doc))}}


def test_version_2_pow_62_refused(roster_doc, issuer_key, trusted_keys):
    """A roster with version 2**62 used to be installed and lock out every later roster."""
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(_signed_raw(roster_doc(version=2**62), issuer_key), trusted_keys, None, NOW, "dev-point")
    assert err.value.code == "malformed" and "version" in str(err.value)


def test_floor_refuses_old_roster_on_empty_terminal(roster_doc, issuer_key):
    trust = IssuerTrust(min_version=7)
    trust.add(issuer_key.public_key())
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(sign_roster(roster_doc(version=6), issuer_key), trust, None, NOW, "dev-point")
    assert err.value.code == "below_floor"
    assert open_signed_roster(sign_roster(roster_doc(version=7), issuer_key), trust, None, NOW, "dev-point").version == 7


def test_issuer_name_bound_to_key(roster_doc, issuer_key):
    trust = IssuerTrust()
    trust.add(issuer_key.public_key(), name="kemensos-jabar")
    assert open_signed_roster(sign_roster(roster_doc(), issuer_key), trust, None, NOW, "dev-point")
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(sign_roster(roster_doc(issuer="kemensos-pusat"), issuer_key), trust, None, NOW, "dev-point")
    assert err.value.code == "wrong_issuer"


def test_key_may_sign_only_for_its_points(roster_doc, issuer_key):
    other = generate_signing_key()
    trust = IssuerTrust()
    trust.add(issuer_key.public_key(), points=["*"])
    trust.add(other.public_key(), points=["desa-a"])
    assert open_signed_roster(sign_roster(roster_doc(), issuer_key), trust, None, NOW, "dev-point")
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(sign_roster(roster_doc(), other), trust, None, NOW, "dev-point")
    assert err.value.code == "issuer_not_allowed"


def test_issuers_config(tmp_path, monkeypatch, issuer_key):
    from edge.claim.keys import trusted_issuer_keys
    from edge.config import load_config

    pub = tmp_path / "jabar.pub.pem"
    pub.write_bytes(public_key_pem(issuer_key.public_key()))
    cfg_file = tmp_path / "edge.toml"
    cfg_file.write_text(f'[claim]\nroster_min_version = 2026110101\n[[claim.issuers]]\nkey = "{pub}"\nname = "kemensos-jabar"\n'
                        'points = ["desa-a", "desa-b"]\n')
    trust = trusted_issuer_keys(load_config(cfg_file))
    kid = public_key_id(issuer_key.public_key())
    assert trust.min_version == 2026110101 and trust.names[kid] == "kemensos-jabar" and trust.points[kid] == {"desa-a", "desa-b"}


def test_roster_ack_is_signed(make_terminal, scripted_face, roster_doc, issuer_key, trusted_keys):
    from edge.claim.inbound.handlers import handle_roster_command

    svc = make_terminal(scripted_face, device_id="t-ack", roster=roster_doc())
    handle_roster_command(svc, trusted_keys, sign_roster(roster_doc(version=2), issuer_key), NOW)
    handle_roster_command(svc, trusted_keys, {"roster": {}, "signature": None}, NOW)
    db = sqlite3.connect(svc.outbox._here().path)
    acks = [json.loads(p)["payload"] for (p,) in db.execute("SELECT payload_json FROM outbox WHERE kind = 'roster_ack'")]
    db.close()
    assert [a["accepted"] for a in acks] == [True, False]
    assert all(verify_record(a, svc.key.public_key()) for a in acks)


def test_roster_database_edits_are_detected(make_terminal, scripted_face, roster_doc, issuer_key, trusted_keys):
    """The audit's SD-card edits without the template key: version reset, validity extended, a recipient made eligible."""
    from edge.claim.roster.installed import RosterTampered

    svc = make_terminal(scripted_face, device_id="t-mac", roster=roster_doc())
    path = svc.roster.path
    assert svc.roster.installed().version == 1 and svc.roster.recipient("PKH-00001", "ab" * 32)
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '2099-01-01T00:00:00+07:00' WHERE key = 'valid_until'")
    db.commit()
    with pytest.raises(RosterTampered, match="altered"):
        svc.roster.state()
    with pytest.raises(RosterTampered):
        svc.roster.installed()
    db.execute("UPDATE recipients SET eligible = 1, ineligible_reason = NULL WHERE recipient_id = 'PKH-00002'")
    db.execute("UPDATE recipients SET display_name = 'Orang Lain' WHERE recipient_id = 'PKH-00002'")
    db.commit()
    db.close()
    with pytest.raises(RosterTampered, match="PKH-00002"):
        svc.roster.recipient("PKH-00002", "ab" * 32)
    with pytest.raises(RosterTampered, match="PKH-00002"):
        svc.roster.entitlement("PKH-00002")
