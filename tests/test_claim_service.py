"""ClaimService orchestration over real SQLite files and the real outbox (face core scripted; see test_claim_e2e for the real one)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.claim.flow.decide import MatchResult, QualityResult
from edge.claim.flow.ledger import AlreadyPaidError
from edge.claim.flow.officer_actions import enrol, override
from edge.claim.inbound.handlers import LedgerCommand, apply_ledger_update, handle_roster_command
from edge.claim.officers.accounts import AuthError
from edge.claim.records.signed import verify_record
from edge.claim.roster.document import sign_roster
from edge.errors import EdgeError, NotFoundError
from edge.face.types import LivenessResult
from tests.fixtures_claim import NOW, PERIOD
from tests.support.http_json import call_json


def outbox_records(svc, kind=None):
    return [json.loads(i.payload_json)["payload"] for i in svc.outbox.items(limit=1000) if kind in (None, i.kind)]


def test_genuine_claim_is_recorded_signed_and_paid(make_terminal, scripted_face, roster_doc):
    """An accepted claim is one signed decision record in the outbox and a disbursement in the ledger."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    res = svc.claim("PKH-00001", officer_id="OFF-1")
    assert res.decision.outcome == "accept"
    recs = outbox_records(svc, "decision")
    assert len(recs) == 1 and recs[0]["idempotency_key"] == res.record.idempotency_key
    assert verify_record(recs[0], svc.key.public_key())
    pos = recs[0]["position"]  # the terminal's GPS is a fixed point at Monas, so the record has a fix there
    assert pos["status"] == "fix" and abs(pos["fix"]["lat"] - -6.1754) < 1e-4 and abs(pos["fix"]["lon"] - 106.8272) < 1e-4, pos
    assert recs[0]["time"]["source"]
    assert recs[0]["scores"]["accept_threshold"] == 0.40 and recs[0]["model_sha256"] == scripted_face.model_sha256
    assert svc.ledger.prior_claim("PKH-00001", PERIOD) is not None


def test_second_claim_refused_with_first_time_and_place(make_terminal, scripted_face, roster_doc):
    """A second claim in the period is refused (without using the camera) naming the first claim's time and place."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    first = svc.claim("PKH-00001")
    second = svc.claim("PKH-00001")
    assert second.decision.outcome == "reject" and second.decision.reason_code == "already_claimed"
    first_at = first.record.model_dump(mode="json")["time"]["wall"]
    assert first_at in second.decision.message["en"] and "dev-point" in second.decision.message["en"]
    assert second.burst is None


def test_impostor_rejected_and_not_paid(make_terminal, scripted_face, roster_doc):
    """A low score is rejected and pays nothing."""
    scripted_face.score = 0.05
    svc = make_terminal(scripted_face, roster=roster_doc())
    assert svc.claim("PKH-00002").decision.reason_code == "face_mismatch"
    assert svc.ledger.prior_claim("PKH-00002", PERIOD) is None


def test_retake_is_a_prompt_not_a_record(make_terminal, scripted_face, roster_doc):
    """A burst without a usable face prompts a retake and writes nothing; the last attempt refers."""
    scripted_face.quality = QualityResult(False, "too_dark", 0, 5)
    svc = make_terminal(scripted_face, roster=roster_doc())
    r1 = svc.claim("PKH-00001", attempt=1)
    assert r1.decision.outcome == "retake" and "light" in r1.decision.message["en"] and r1.record is None
    assert outbox_records(svc) == [r for r in outbox_records(svc) if r.get("schema") == "tepat.roster_ack"]
    r3 = svc.claim("PKH-00001", attempt=3)
    assert (r3.decision.outcome, r3.decision.reason_code) == ("refer", "quality_failed")


def test_unknown_claimant_rejected(make_terminal, scripted_face, roster_doc):
    """An id not on the roster is rejected with that reason."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    assert svc.claim("PKH-99999").decision.reason_code == "unknown_recipient"


def test_one_to_n_identifies_and_pays(make_terminal, scripted_face, roster_doc):
    """Without an id the identified recipient is paid once; a repeat is refused."""
    scripted_face.identified = MatchResult("PKH-00003", 0.7, "PKH-00001", 0.1)
    svc = make_terminal(scripted_face, roster=roster_doc())
    assert svc.claim(None).decision.outcome == "accept"
    assert svc.claim(None).decision.reason_code == "already_claimed"


def test_override_keeps_original_and_is_published(make_terminal, scripted_face, roster_doc, officers):
    """An officer override is its own signed record referencing the original, which stays in the outbox."""
    scripted_face.score = 0.35
    svc = make_terminal(scripted_face, roster=roster_doc())
    orig = svc.claim("PKH-00001")
    assert orig.decision.outcome == "refer"
    ov = override(svc, orig.record.idempotency_key, "accept", "id_card_checked", officers["OFF-7"])  # refer → accept: one officer
    assert (ov.officer_id, ov.second_officer_id, ov.two_person_reason) == ("OFF-7", None, None)
    kinds = [i.kind for i in svc.outbox.items(limit=100)]
    assert "decision" in kinds and "override" in kinds
    assert ov.original_key == orig.record.idempotency_key and verify_record(ov, svc.key.public_key())
    assert svc.ledger.prior_claim("PKH-00001", PERIOD) is not None
    with pytest.raises(EdgeError):
        override(svc, orig.record.idempotency_key, "accept", "not_a_code", officers["OFF-7"])
    with pytest.raises(NotFoundError):
        override(svc, "no-such-key-000", "accept", "id_card_checked", officers["OFF-7"])
    with pytest.raises(AuthError):  # a typed id is not a signed-in officer
        override(svc, orig.record.idempotency_key, "accept", "id_card_checked", "OFF-7")


def test_override_to_accept_refused_when_already_paid(make_terminal, scripted_face, roster_doc, officers):
    """An override cannot pay a recipient twice in one period, not even with two officers."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    svc.claim("PKH-00001")
    dup = svc.claim("PKH-00001")
    with pytest.raises(AuthError, match="second officer"):
        override(svc, dup.record.idempotency_key, "accept", "other", officers["OFF-7"])
    with pytest.raises(AlreadyPaidError):
        override(svc, dup.record.idempotency_key, "accept", "other", officers["OFF-7"], second=officers["SUP-1"])


def test_enrolment_month_one(make_terminal, scripted_face, roster_doc, officers):
    """With enrolment allowed, a recipient without templates is enrolled by an officer, paid, and then verifies normally."""
    doc = roster_doc(enrolment_allowed=True)
    for r in doc["recipients"]:
        r["templates"] = []
    svc = make_terminal(scripted_face, roster=doc)
    assert svc.claim("PKH-00002").decision.reason_code == "enrolment_required"
    res = enrol(svc, "PKH-00002", officers["OFF-8"])
    assert res.decision.outcome == "accept" and res.record.officer_id == "OFF-8"
    assert svc.roster.recipient("PKH-00002", scripted_face.model_sha256).has_template
    with pytest.raises(EdgeError):
        enrol(svc, "PKH-00002", officers["OFF-8"])


def test_spoof_is_referred(make_terminal, scripted_face, roster_doc):
    """A failed liveness check on a matching face asks for one retake, then goes to the officer, even with a high face score."""
    scripted_face.liveness = LivenessResult(live_score=0.1, is_live=False, threshold=0.5)
    svc = make_terminal(scripted_face, roster=roster_doc())
    first = svc.claim("PKH-00001")
    assert (first.decision.outcome, first.decision.reason_code, first.record) == ("retake", "liveness_retake", None)
    second = svc.claim("PKH-00001", attempt=2)
    assert (second.decision.outcome, second.decision.reason_code) == ("refer", "liveness_failed")
    assert second.record.scores.liveness_score == 0.1


def test_conflicting_offline_claims_surface(make_terminal, scripted_face, roster_doc, issuer_key, trusted_keys):
    """Two terminals paying the same recipient offline each emit one signed conflict record once the central side relays the other's payout."""
    from edge.central.relay import sign_ledger
    from edge.claim.inbound.ledger_update import LedgerGuard

    a = make_terminal(scripted_face, device_id="t-a", roster=roster_doc())
    b = make_terminal(scripted_face, device_id="t-b", roster=roster_doc())
    ra, rb = a.claim("PKH-00001"), b.claim("PKH-00001")
    assert ra.decision.outcome == rb.decision.outcome == "accept"

    def relay(rec, to, seq):
        return LedgerCommand.model_validate(sign_ledger({
            "schema": "tepat.ledger", "schema_version": 2, "device_id": to, "seq": seq, "issued_at": rec.time.wall.isoformat(),
            "entries": [{"recipient_id": rec.recipient_id, "period": rec.period, "idempotency_key": rec.idempotency_key, "device_id": rec.device_id,
                         "distribution_point": rec.distribution_point, "decided_at": rec.time.wall.isoformat()}]}, issuer_key))

    ga, gb = LedgerGuard(keys=trusted_keys), LedgerGuard(keys=trusted_keys)
    ca = apply_ledger_update(a, relay(rb.record, "t-a", 1), ga)
    cb = apply_ledger_update(b, relay(ra.record, "t-b", 1), gb)
    assert len(ca) == len(cb) == 1 and ca[0].other_device_id == "t-b" and cb[0].other_device_id == "t-a"
    assert [r["schema"] for r in outbox_records(a, "conflict")] == ["tepat.conflict"]
    assert apply_ledger_update(a, relay(rb.record, "t-a", 2), ga) == []  # reported once
    assert apply_ledger_update(a, relay(rb.record, "t-a", 2), ga) == [] and ga.refused == {"replay": 1}
    # the recipient is now paid elsewhere per the central ledger: at terminal a it was paid locally (already_claimed);
    # a third terminal that only heard of it from the centre refers to a supervisor with the entry shown
    c = make_terminal(scripted_face, device_id="t-c", roster=roster_doc())
    gc = LedgerGuard(keys=trusted_keys)
    assert apply_ledger_update(c, relay(ra.record, "t-c", 1), gc) == []
    seen = c.claim("PKH-00001").decision
    assert (seen.outcome, seen.reason_code) == ("refer", "paid_elsewhere") and ra.record.idempotency_key in seen.message["en"]


def test_roster_command_refusals_are_acknowledged(make_terminal, scripted_face, roster_doc, issuer_key, trusted_keys):
    """A tampered roster over MQTT is refused, the old roster stays, and a roster_ack says why."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    bad = sign_roster(roster_doc(version=2), issuer_key)
    bad["roster"]["recipients"][0]["entitlement"]["amount"] = 9_999_999
    ack = handle_roster_command(svc, trusted_keys, bad, now=NOW)
    assert not ack.accepted and ack.code == "bad_signature" and svc.roster.installed().version == 1
    good = handle_roster_command(svc, trusted_keys, sign_roster(roster_doc(version=2), issuer_key), now=NOW)
    assert good.accepted and svc.roster.installed().version == 2
    acks = outbox_records(svc, "roster_ack")
    assert [a["accepted"] for a in acks] == [False, True]


PAYLOADS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=16),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["roster", "signature", "entries", "recipient_id", "period", "version", "schema", "x"]), c, max_size=4),
    max_leaves=15)


def test_fuzzed_commands_never_crash_or_lose_records(make_terminal, scripted_face, roster_doc, trusted_keys):
    """Arbitrary cmd/roster and cmd/ledger payloads never raise and never remove an accepted record."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    svc.claim("PKH-00001")
    before = outbox_records(svc, "decision")

    @settings(max_examples=80, deadline=None)
    @given(payload=PAYLOADS)
    def check(payload):
        handle_roster_command(svc, trusted_keys, payload, now=NOW)
        apply_ledger_update(svc, payload)
        assert outbox_records(svc, "decision") == before
        assert svc.ledger.prior_claim("PKH-00001", PERIOD) is not None and svc.roster.installed().version == 1

    check()


def test_evidence_thumbnail_encrypted_and_capped(make_terminal, scripted_face, roster_doc):
    """With evidence on, a size-capped thumbnail is stored encrypted with the decision and is not in the published record."""
    from edge.claim.flow.evidence import open_thumbnail

    face_rgb = np.random.default_rng(0).integers(0, 255, (200, 160, 3), dtype=np.uint8)  # noisy: hard to compress

    class FaceWithCrop(type(scripted_face)):
        def analyse(self, frames):
            b = super().analyse(frames)
            b.best_face_rgb = face_rgb
            return b

    svc = make_terminal(FaceWithCrop(), roster=roster_doc(), evidence_thumbnail=True, thumbnail_max_bytes=4096)
    res = svc.claim("PKH-00001")
    blob = svc.ledger.evidence(res.record.idempotency_key)
    jpeg = open_thumbnail(svc.roster.box, res.record.idempotency_key, blob)
    assert jpeg[:2] == b"\xff\xd8" and len(jpeg) <= 4096 and jpeg not in blob
    assert "evidence" not in json.dumps(outbox_records(svc, "decision")[0])


def test_http_api_claim_override_ledger(make_terminal, scripted_face, roster_doc, officer_store):
    """The local HTTP API runs the same flow for a signed-in officer (bearer token): claim, override, ledger look-up, clear errors."""

    from edge.claim.api.claim_routes import register_routes
    from edge.claim.api.sign_in import OfficerAuth
    from edge.claim.officers.sessions import SessionManager
    from edge.service.http import LocalHttpServer

    token = None

    scripted_face.score = 0.35
    svc = make_terminal(scripted_face, roster=roster_doc())

    def call(server, method, path, body=None):
        return call_json(server.url + path, method, body, token=token, timeout=10)

    with LocalHttpServer(port=0) as server:
        register_routes(server, svc, OfficerAuth(officer_store, SessionManager()))
        assert call(server, "POST", "/api/claim", {"recipient_id": "PKH-00001"})[0] == 401
        status, me = call(server, "POST", "/api/session", {"officer_id": "OFF-7", "pin": officer_store.pins["OFF-7"], "bearer": True})
        assert status == 200 and me["role"] == "officer", me
        token = me["token"]
        status, res = call(server, "POST", "/api/claim", {"recipient_id": "PKH-00001", "officer_id": "OFF-7"})
        assert status == 200 and res["outcome"] == "refer" and res["reason_code"] == "borderline_match"
        status, ov = call(server, "POST", "/api/override", {"original_key": res["idempotency_key"], "outcome": "accept",
                                                             "reason_code": "id_card_checked"})
        assert status == 200 and ov["original_key"] == res["idempotency_key"] and ov["officer_id"] == "OFF-7"
        status, led = call(server, "GET", "/api/ledger/PKH-00001")
        assert status == 200 and led["paid_this_period"] and len(led["decisions"]) == 2
        assert call(server, "GET", "/api/ledger/NOPE-1")[0] == 404
        status, err = call(server, "POST", "/api/claim", {"recipient_id": "bad id!"})
        assert status == 400 and "recipient_id" in err["error"] and err["error_id"] == "bad_request"
        assert call(server, "POST", "/api/override", {"original_key": "missing-key-1", "outcome": "accept",
                                                      "reason_code": "id_card_checked"})[0] == 404


def test_override_reject_then_accept_pays_once(make_terminal, scripted_face, roster_doc, officers):
    """accept → void (two officers) → accept again (two officers) pays again exactly once; every record stays and names both."""
    svc = make_terminal(scripted_face, roster=roster_doc())
    orig = svc.claim("PKH-00001")
    with pytest.raises(AuthError, match="second officer"):
        override(svc, orig.record.idempotency_key, "reject", "suspected_fraud", officers["OFF-7"])
    with pytest.raises(AuthError, match="supervisor"):
        override(svc, orig.record.idempotency_key, "reject", "suspected_fraud", officers["OFF-7"], second=officers["OFF-8"])
    void = override(svc, orig.record.idempotency_key, "reject", "suspected_fraud", officers["OFF-7"], second=officers["SUP-1"])
    assert (void.second_officer_id, void.two_person_reason) == ("SUP-1", "void")
    assert svc.ledger.prior_claim("PKH-00001", PERIOD) is None
    assert svc.claim("PKH-00001").decision.reason_code == "already_claimed"  # no automatic payout after a void
    with pytest.raises(AuthError, match="second officer"):
        override(svc, orig.record.idempotency_key, "accept", "id_card_checked", officers["OFF-7"])
    again = override(svc, orig.record.idempotency_key, "accept", "id_card_checked", officers["OFF-7"], second=officers["SUP-1"])
    assert again.two_person_reason == "pay_after_void"
    hist = svc.ledger.history("PKH-00001")
    assert len([d for d in hist["disbursements"] if d["voided_by"] is None]) == 1
    assert [d["schema"] for d in hist["decisions"]] == ["tepat.decision", "tepat.override", "tepat.decision", "tepat.override"]
    dup = svc.claim("PKH-00001")
    assert dup.decision.reason_code == "already_claimed"
    with pytest.raises(AlreadyPaidError):
        override(svc, dup.record.idempotency_key, "accept", "other", officers["OFF-7"], second=officers["SUP-1"])
