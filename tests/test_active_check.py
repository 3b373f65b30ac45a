"""The officer's head-turn check on a liveness referral: policy, records and the HTTP route (face core scripted;
tests/test_active_check_real.py runs the real detector on real photos and a real `edge run`)."""

from __future__ import annotations

import json

import pytest

from edge.claim.flow.active_check import run_active_check
from edge.claim.flow.officer_actions import override, two_person_reason
from edge.claim.officers.accounts import AuthError
from edge.claim.records.signed import OverrideRecord, parse_record, sign_record, verify_record
from edge.errors import EdgeError
from edge.face.active import FrameLook, judge_recipient_turn
from edge.face.types import LivenessResult
from tests.fixtures_claim import ScriptedFace
from tests.support.http_json import call_json

TURNING = [FrameLook(0, 0.8), FrameLook(-15, 0.7), FrameLook(-26, 0.6), FrameLook(2, 0.8), FrameLook(19, 0.6)]
STILL = [FrameLook(-9.2, 1.0)] * 5


class TurningFace(ScriptedFace):
    """The scripted face core plus the active check's per-frame looks (yaw, score), set by the test."""

    def __init__(self) -> None:
        super().__init__()
        self.looks = STILL
        self.seen_frames = 0

    def recipient_turn(self, frames, templates, match_threshold, min_turn_deg):
        self.seen_frames = len(frames)
        return judge_recipient_turn(self.looks, match_threshold, min_turn_deg)


@pytest.fixture()
def face():
    return TurningFace()


def referral(svc, face, rid="PKH-00001"):
    """A claim referred because liveness failed on a matching face, after the retake."""
    face.liveness = LivenessResult(live_score=0.004, is_live=False, threshold=0.5)
    assert svc.claim(rid, attempt=1).decision.reason_code == "liveness_retake"
    res = svc.claim(rid, attempt=2)
    assert (res.decision.outcome, res.decision.reason_code) == ("refer", "liveness_failed")
    return res.record.idempotency_key


def test_expired_checks_are_forgotten_when_a_new_one_is_held():
    """Checks past KEEP_S are dropped (not only ignored), so a terminal that runs for months keeps few of them."""
    from edge.claim.flow.active_check import KEEP_S, HeldCheck, forget_expired

    held = {f"k{i}": HeldCheck(info=None, code="x", recipient_id="R", at_monotonic=float(i)) for i in range(5)}
    forget_expired(held, now=KEEP_S + 2.5)  # k0, k1, k2 are older than KEEP_S
    assert sorted(held) == ["k3", "k4"]


def test_two_person_reason_after_a_failed_check():
    assert two_person_reason("refer", "accept", False, False, failed_check=True) == "accept_after_failed_check"
    assert two_person_reason("refer", "accept", False, False, failed_check=False) is None
    assert two_person_reason("refer", "reject", False, False, failed_check=True) is None  # rejecting stays one officer's call


def test_passed_check_lets_one_officer_accept_and_the_record_carries_it(make_terminal, face, roster_doc, officers):
    svc = make_terminal(face, roster=roster_doc(), active_check_seconds=0, active_check_frames=7)
    key = referral(svc, face)
    face.looks = TURNING
    got = run_active_check(svc, key, officers["OFF-7"])
    assert face.seen_frames == 7  # captured from the service's camera, as configured
    assert got["passed"] and got["code"] == "active_check_passed" and got["turn_deg"] == 45.0, got
    assert got["officer_id"] == "OFF-7" and got["message"]["id"] and got["message"]["en"] and got["prompt"]["id"]
    rec = override(svc, key, "accept", "active_check_passed", officers["OFF-8"])
    assert rec.schema_version == 2 and rec.two_person_reason is None
    assert rec.active_check.passed and rec.active_check.officer_id == "OFF-7" and rec.active_check.turn_deg == 45.0
    stored = [json.loads(i.payload_json)["payload"] for i in svc.outbox.items(limit=100) if i.kind == "override"]
    assert stored[0]["active_check"]["frames_matched"] == 5 and verify_record(stored[0], svc.key.public_key())
    assert svc.ledger.history("PKH-00001")["disbursements"], "the accepted referral pays"
    with pytest.raises(EdgeError, match="already decided"):
        run_active_check(svc, key, officers["OFF-7"])


def test_failed_check_needs_a_second_officer_to_accept(make_terminal, face, roster_doc, officers):
    svc = make_terminal(face, roster=roster_doc(), active_check_seconds=0)
    key = referral(svc, face)
    face.looks = STILL  # a photo held up: the face does not turn
    got = run_active_check(svc, key, officers["OFF-7"])
    assert not got["passed"] and got["code"] == "active_check_no_turn" and got["turn_deg"] == 0.0
    with pytest.raises(EdgeError, match="passed head-turn check"):
        override(svc, key, "accept", "active_check_passed", officers["OFF-7"])
    with pytest.raises(AuthError) as refused:
        override(svc, key, "accept", "id_card_checked", officers["OFF-7"])
    assert refused.value.error_id == "second_officer_required"
    rec = override(svc, key, "accept", "id_card_checked", officers["OFF-7"], second=officers["SUP-1"])
    assert rec.two_person_reason == "accept_after_failed_check" and rec.active_check.passed is False


def test_reject_after_a_failed_check_records_it(make_terminal, face, roster_doc, officers):
    svc = make_terminal(face, roster=roster_doc(), active_check_seconds=0)
    key = referral(svc, face)
    run_active_check(svc, key, officers["OFF-7"])
    rec = override(svc, key, "reject", "suspected_fraud", officers["OFF-7"])
    assert rec.active_check is not None and not rec.active_check.passed and rec.schema_version == 2


def test_check_only_for_unresolved_liveness_referrals(make_terminal, face, roster_doc, officers):
    svc = make_terminal(face, roster=roster_doc(), active_check_seconds=0)
    face.score = 0.35  # borderline: referred for the face score, not for liveness
    border = svc.claim("PKH-00002").record.idempotency_key
    with pytest.raises(EdgeError, match="referred for liveness"):
        run_active_check(svc, border, officers["OFF-7"])
    with pytest.raises(EdgeError, match="no decision"):
        run_active_check(svc, "missing-key-1", officers["OFF-7"])
    with pytest.raises(AuthError):
        run_active_check(svc, border, "OFF-7")  # a typed id is not a signed-in officer
    rec = override(svc, border, "accept", "id_card_checked", officers["OFF-7"])  # no check run: a version-1 record, as before
    assert rec.active_check is None and rec.schema_version == 1


def test_records_without_a_check_serialise_as_version_1(device_key):
    """Old overrides keep their exact signed form; a check needs schema_version 2; both parse and verify."""
    from tests.test_records import make_record

    original = make_record(outcome="refer", reason_code="liveness_failed")

    def _override_fields():
        return dict(idempotency_key="0123456789abcdef0123456789abcdef", seq=8, device_id="terminal-01", distribution_point="desa-a",
                    time=original.time, position=original.position, original_key=original.idempotency_key, original_outcome="refer",
                    new_outcome="accept", reason_code="active_check_passed", officer_id="OFF-12", recipient_id="PKH-1", period="2026-11")

    old = sign_record(OverrideRecord(**_override_fields()), device_key)
    data = old.model_dump(mode="json", by_alias=True)
    assert "active_check" not in data and data["schema_version"] == 1
    assert verify_record(old, device_key.public_key()) and verify_record(data, device_key.public_key())
    assert verify_record(parse_record(data), device_key.public_key())  # re-parsed by a new reader: same bytes
    check = {"passed": True, "turn_deg": 31.5, "min_turn_deg": 20, "frames_total": 12, "frames_with_face": 12, "frames_matched": 11,
             "best_match_score": 0.71, "officer_id": "OFF-7", "checked_at": "2026-12-01T10:00:00+07:00", "reason": "turned"}
    with pytest.raises(ValueError, match="schema_version 2"):
        OverrideRecord(**_override_fields(), active_check=check)
    new = sign_record(OverrideRecord(**_override_fields(), active_check=check, schema_version=2), device_key)
    data = new.model_dump(mode="json", by_alias=True)
    assert data["active_check"]["turn_deg"] == 31.5 and verify_record(data, device_key.public_key())
    assert not verify_record(dict(data, active_check=dict(check, passed=False)), device_key.public_key())
    with pytest.raises(ValueError):
        parse_record(dict(data, active_check=dict(check, extra_field=1)))  # extra="forbid" holds inside the check too
    from edge.wire_models import payload_models

    assert payload_models()["tepat.override"].model_validate(data).active_check.turn_deg == 31.5  # what the monitor checks


def test_http_route_needs_a_session_and_names_the_officer(make_terminal, face, roster_doc, officer_store):
    from edge.claim.api.claim_routes import register_routes
    from edge.claim.api.sign_in import OfficerAuth
    from edge.claim.officers.sessions import SessionManager
    from edge.service.http import LocalHttpServer

    svc = make_terminal(face, roster=roster_doc(), active_check_seconds=0)
    key = referral(svc, face)
    face.looks = TURNING

    def call(server, path, body, token=None, origin=None):
        return call_json(server.url + path, "POST", body, token=token, origin=origin, timeout=10)

    with LocalHttpServer(port=0) as server:
        register_routes(server, svc, OfficerAuth(officer_store, SessionManager()))
        status, err = call(server, "/api/active-check", {"original_key": key})
        assert status == 401 and err["error_id"] == "not_signed_in"
        _, me = call(server, "/api/session", {"officer_id": "OFF-7", "pin": officer_store.pins["OFF-7"], "bearer": True})
        token = me["token"]
        assert call(server, "/api/active-check", {"original_key": key}, token, origin="http://evil.example")[0] == 403
        status, err = call(server, "/api/active-check", {"original_key": key, "officer_id": "OFF-8"}, token)
        assert status == 403 and err["error_id"] == "officer_mismatch"
        assert call(server, "/api/active-check", {"original_key": "bad key!"}, token)[0] == 400
        assert key not in svc.active_checks, "refused calls must not run the check"
        status, got = call(server, "/api/active-check", {"original_key": key}, token)
        assert status == 200 and got["passed"] and got["officer_id"] == "OFF-7", got
        status, rec = call(server, "/api/override", {"original_key": key, "outcome": "accept", "reason_code": "active_check_passed"}, token)
        assert status == 200 and rec["active_check"]["passed"] and rec["schema_version"] == 2, rec
        status, err = call(server, "/api/active-check", {"original_key": key}, token)
        assert status == 400 and "already decided" in err["error"]
