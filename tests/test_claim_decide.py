"""Decision rules, table-driven: every rule fires with the expected outcome and reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from edge.claim.flow.decide import (
    ClaimFacts, GpsVerdict, MatchResult, PriorClaim, QualityResult, Thresholds, decide,
)
from edge.claim.roster.document import RecipientInfo, RosterState
from edge.face.types import LivenessResult

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
ROSTER = RosterState(True, "2026-11", NOW + timedelta(days=7), enrolment_allowed=False)
SITI = RecipientInfo("PKH-1", "Siti", entitlement_period="2026-11")
T = Thresholds(accept=0.40, refer=0.30, margin=0.05)
GOOD_Q = QualityResult(True, None, 5, 5)

BASE_11 = ClaimFacts("1:1", NOW, ROSTER, claimed_id="PKH-1", recipient=SITI, quality=GOOD_Q,
                     liveness=LivenessResult(live_score=0.9, is_live=True, threshold=0.5), match=MatchResult("PKH-1", 0.62), thresholds=T)
BASE_1N = ClaimFacts("1:N", NOW, ROSTER, recipient=SITI, quality=GOOD_Q, liveness=None,
                     match=MatchResult("PKH-1", 0.62, "PKH-2", 0.20), thresholds=T)

CASES_11 = [
    ("genuine__valid", {}, "accept", "match"),
    ("exactly_at_threshold__valid", {"match": MatchResult("PKH-1", 0.40)}, "accept", "match"),
    ("borderline__refer", {"match": MatchResult("PKH-1", 0.35)}, "refer", "borderline_match"),
    ("impostor__invalid", {"match": MatchResult("PKH-1", 0.05)}, "reject", "face_mismatch"),
    ("unknown_id__invalid", {"recipient": None}, "reject", "unknown_recipient"),
    ("ineligible__invalid", {"recipient": replace(SITI, eligible=False, ineligible_reason="graduated")}, "reject", "ineligible"),
    ("other_period__invalid", {"recipient": replace(SITI, entitlement_period="2026-10")}, "reject", "ineligible"),
    ("second_claim__invalid", {"prior": PriorClaim("2026-11-20T09:00:00+07:00", "desa-a", "t-7")}, "reject", "already_claimed"),
    ("no_roster__invalid", {"roster": RosterState(False)}, "reject", "no_roster"),
    ("roster_expired__invalid", {"roster": replace(ROSTER, valid_until=NOW)}, "reject", "roster_expired"),
    ("gps_refused__invalid", {"gps": GpsVerdict(False, "no_fix")}, "reject", "no_gps_fix"),
    ("bad_quality_first_try__retake", {"quality": QualityResult(False, "face_too_small", 0, 5)}, "retake", "face_too_small"),
    ("bad_quality_last_try__refer", {"quality": QualityResult(False, "too_dark", 0, 5), "attempt": 3}, "refer", "quality_failed"),
    ("no_quality_result__retake", {"quality": None}, "retake", "no_face"),
    ("spoof__retake", {"liveness": LivenessResult(live_score=0.1, is_live=False, threshold=0.5)}, "retake", "liveness_retake"),
    ("spoof_second_try__refer", {"liveness": LivenessResult(live_score=0.1, is_live=False, threshold=0.5), "attempt": 2}, "refer", "liveness_failed"),
    ("no_template__refer", {"recipient": replace(SITI, has_template=False)}, "refer", "no_template"),
    ("no_template_enrolment_month__refer", {"recipient": replace(SITI, has_template=False), "roster": replace(ROSTER, enrolment_allowed=True)}, "refer", "enrolment_required"),
    ("duplicate_beats_good_match__invalid", {"prior": PriorClaim("x", "p", "d"), "match": MatchResult("PKH-1", 0.99)}, "reject", "already_claimed"),
]


@pytest.mark.parametrize("name,changes,outcome,code", CASES_11, ids=[c[0] for c in CASES_11])
def test_decide_1to1(name, changes, outcome, code):
    """1:1 rules give the expected outcome and reason code."""
    d = decide(replace(BASE_11, **changes))
    assert (d.outcome, d.reason_code) == (outcome, code)
    assert d.message["id"] and d.message["en"] and "?" not in d.message["en"]


CASES_1N = [
    ("identified__valid", {}, "accept", "identified"),
    ("below_refer__invalid", {"match": MatchResult("PKH-1", 0.25, "PKH-2", 0.1)}, "reject", "not_recognised"),
    ("empty_gallery__invalid", {"match": MatchResult(None, None)}, "reject", "not_recognised"),
    ("borderline__refer", {"match": MatchResult("PKH-1", 0.36, "PKH-2", 0.1)}, "refer", "borderline_match"),
    ("runner_up_too_close__refer", {"match": MatchResult("PKH-1", 0.62, "PKH-2", 0.60)}, "refer", "ambiguous_match"),
    ("single_identity_gallery__valid", {"match": MatchResult("PKH-1", 0.62)}, "accept", "identified"),
    ("identified_but_paid__invalid", {"prior": PriorClaim("2026-11-20T09:00:00+07:00", "desa-a", "t-7")}, "reject", "already_claimed"),
    ("identified_but_ineligible__invalid", {"recipient": replace(SITI, eligible=False)}, "reject", "ineligible"),
    ("quality__retake", {"quality": QualityResult(False, "head_turned")}, "retake", "head_turned"),
    ("spoof__retake", {"liveness": LivenessResult(live_score=0.2, is_live=False, threshold=0.5)}, "retake", "liveness_retake"),
    ("spoof_second_try__refer", {"liveness": LivenessResult(live_score=0.2, is_live=False, threshold=0.5), "attempt": 2}, "refer", "liveness_failed"),
    ("no_roster__invalid", {"roster": RosterState(False)}, "reject", "no_roster"),
]


@pytest.mark.parametrize("name,changes,outcome,code", CASES_1N, ids=[c[0] for c in CASES_1N])
def test_decide_1toN(name, changes, outcome, code):
    """1:N rules give the expected outcome and reason code."""
    d = decide(replace(BASE_1N, **changes))
    assert (d.outcome, d.reason_code) == (outcome, code)


def test_duplicate_message_names_time_and_place():
    """A second claim is refused with the time and place of the first, in both languages."""
    d = decide(replace(BASE_11, prior=PriorClaim("2026-11-20T09:00:00+07:00", "desa-a", "t-7")))
    for text in d.message.values():
        assert "2026-11-20T09:00:00+07:00" in text and "desa-a" in text


def test_quality_prompt_is_actionable():
    """A too-small face asks the officer to have the claimant move closer."""
    d = decide(replace(BASE_11, quality=QualityResult(False, "face_too_small")))
    assert "closer" in d.message["en"] and "mendekat" in d.message["id"]


def test_gps_flag_is_carried_not_blocking():
    """Under the 'flag' policy a missing fix is recorded as a flag and the claim still decides on the face."""
    d = decide(replace(BASE_11, gps=GpsVerdict(True, "no_fix")))
    assert d.outcome == "accept" and d.flags == ("gps_no_fix",)


def test_thresholds__invalid():
    """A refer threshold above the accept threshold is a configuration error."""
    with pytest.raises(ValueError):
        Thresholds(accept=0.3, refer=0.4)


# --- face match vs liveness: which check decides, and what it says -----------------------------
SPOOF = LivenessResult(live_score=0.12, is_live=False, threshold=0.5)
LIVE = LivenessResult(live_score=0.97, is_live=True, threshold=0.5)

POLICY_11 = [
    # (name, match score, liveness, attempt, outcome, reason)
    ("match_live__accept", 0.62, LIVE, 1, "accept", "match"),
    ("match_spoof_first_try__retake", 0.62, SPOOF, 1, "retake", "liveness_retake"),
    ("match_spoof_second_try__refer", 0.62, SPOOF, 2, "refer", "liveness_failed"),
    ("borderline_live__refer", 0.35, LIVE, 1, "refer", "borderline_match"),
    ("borderline_spoof_first_try__retake", 0.35, SPOOF, 1, "retake", "liveness_retake"),
    ("borderline_spoof_second_try__refer", 0.35, SPOOF, 2, "refer", "liveness_failed"),
    ("mismatch_live__reject", 0.075, LIVE, 1, "reject", "face_mismatch"),
    # the demo's impostor: match score 0.075 and a failed liveness check was shown as "refer: liveness"
    ("mismatch_spoof__reject", 0.075, SPOOF, 1, "reject", "face_mismatch"),
    ("mismatch_spoof_last_try__reject", 0.075, SPOOF, 3, "reject", "face_mismatch"),
    ("match_no_liveness_check__accept", 0.62, None, 1, "accept", "match"),
]


@pytest.mark.parametrize("name,score,live,attempt,outcome,code", POLICY_11, ids=[c[0] for c in POLICY_11])
def test_match_and_liveness_1to1(name, score, live, attempt, outcome, code):
    """A clear mismatch is a reject whatever liveness says; a liveness failure on a (borderline) match retakes once, then refers."""
    d = decide(replace(BASE_11, match=MatchResult("PKH-1", score), liveness=live, attempt=attempt))
    assert (d.outcome, d.reason_code) == (outcome, code)
    assert d.check == ("liveness" if code.startswith("liveness") else "face")


POLICY_1N = [
    ("identified_live__accept", MatchResult("PKH-1", 0.62, "PKH-2", 0.2), LIVE, 1, "accept", "identified"),
    ("identified_spoof_first_try__retake", MatchResult("PKH-1", 0.62, "PKH-2", 0.2), SPOOF, 1, "retake", "liveness_retake"),
    ("identified_spoof_second_try__refer", MatchResult("PKH-1", 0.62, "PKH-2", 0.2), SPOOF, 2, "refer", "liveness_failed"),
    ("not_recognised_spoof__reject", MatchResult("PKH-1", 0.1, "PKH-2", 0.05), SPOOF, 1, "reject", "not_recognised"),
    ("ambiguous_spoof_second_try__refer", MatchResult("PKH-1", 0.62, "PKH-2", 0.61), SPOOF, 2, "refer", "liveness_failed"),
]


@pytest.mark.parametrize("name,match,live,attempt,outcome,code", POLICY_1N, ids=[c[0] for c in POLICY_1N])
def test_match_and_liveness_1toN(name, match, live, attempt, outcome, code):
    """1:N: nobody recognised is a reject whatever liveness says; a liveness failure on a candidate retakes once, then refers."""
    d = decide(replace(BASE_1N, match=match, liveness=live, attempt=attempt))
    assert (d.outcome, d.reason_code) == (outcome, code)


def test_liveness_retake_message_is_actionable():
    """The liveness retake prompt tells the officer what to ask of the claimant."""
    d = decide(replace(BASE_11, liveness=SPOOF))
    assert d.outcome == "retake" and "camera" in d.message["en"] and d.message["id"]


def test_shown_score_belongs_to_the_deciding_check():
    """The score shown next to a reason is the score of the check that gave the reason."""
    from edge.claim.flow.decide import shown_score

    mismatch = decide(replace(BASE_11, match=MatchResult("PKH-1", 0.075), liveness=SPOOF))
    assert shown_score(mismatch, face_score=0.075, liveness_score=0.12) == ("face", 0.075)
    spoof = decide(replace(BASE_11, liveness=SPOOF, attempt=2))
    assert shown_score(spoof, face_score=0.62, liveness_score=0.12) == ("liveness", 0.12)


def test_demo_summary_shows_the_deciding_checks_score():
    """The simulator's line for a claim shows the live score beside a liveness reason and the match score beside a face reason."""
    from types import SimpleNamespace

    from edge.claim.records.signed import Scores
    from simulator.runner import _shown

    scores = Scores(mode="1:1", top_id="PKH-1", top_score=0.62, liveness_score=0.12, live=False)
    referred = SimpleNamespace(decision=decide(replace(BASE_11, liveness=SPOOF, attempt=2)), record=SimpleNamespace(scores=scores))
    assert _shown(referred) == " live score 0.12"
    impostor = SimpleNamespace(decision=decide(replace(BASE_11, match=MatchResult("PKH-1", 0.075), liveness=SPOOF)),
                               record=SimpleNamespace(scores=scores.model_copy(update={"top_score": 0.075})))
    assert _shown(impostor) == " match score 0.07"


def test_the_face_cores_liveness_result_is_what_the_decision_reads():
    """One LivenessResult (issue 12): the face core's fused burst result goes into the claim decision as it is,
    with no second type to convert to; a spoof there is a retake, a live face an accept."""
    from edge.face.liveness import decide as liveness_of, fuse_burst

    spoof = fuse_burst([liveness_of({"a": 0.01, "b": 0.02}, 0.027), liveness_of({"a": 0.02, "b": 0.01}, 0.027)])
    live = fuse_burst([liveness_of({"a": 0.9, "b": 0.8}, 0.027)])
    assert (decide(replace(BASE_11, liveness=spoof)).reason_code, decide(replace(BASE_11, liveness=live)).reason_code) == \
        ("liveness_retake", "match")
    assert decide(replace(BASE_11, liveness=spoof)).outcome == "retake"
