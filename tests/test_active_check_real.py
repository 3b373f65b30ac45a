"""The officer's head-turn check with the real TFLite detector and embedder on real photographs.

* ClaimService with the simulator's folder camera: a still photo of the recipient FAILS the check; the
  recipient's photo frontal while *another person* turns FAILS (the other face's frames are not counted);
  a turning sequence PASSES. The turning sequence is honest data, not a warp: eight LFW photographs of
  the same person (Megawati Sukarnoputri) whose measured yaw runs from about -27 to +18 degrees, served
  frame by frame as the claimant "turns". The liveness referral itself is forced with a passive check
  set so strict (threshold 0.9999) that these genuine photos fail it, since a genuine person is what
  the active check is for.
* A real `edge run` (folder camera, real Mosquitto): the recipient's reference photo and the camera are
  the tablet-screen replay attack sample (hard/spoof/attack_image_F2.jpg), so the claim is a genuine
  liveness referral on a matching face. The check needs a session and a same-origin request, fails on
  the screen (it cannot turn), one officer cannot accept after that, and the officer's reject is
  published with the check's result, signed, and passes the central ingest's checks.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil

import pytest

from edge.claim.flow.active_check import run_active_check
from edge.claim.flow.officer_actions import override
from edge.claim.records.signed import verify_record
from tests.fixtures_claim import PERIOD
from tests.support import free_port
from tests.support.served_terminal import provision, serve, write_edge_toml

pytestmark = pytest.mark.shared

PERSON, OTHER = "Megawati_Sukarnoputri", "Paradorn_Srichaphan"
TURN = [6, 24, 14, 33, 10, 2, 16, 11]  # yaw about +1, -24, -27, -18, +1, +18, +18, +18 degrees (YuNet landmarks)
OTHER_TURNING = [7, 10, 6]  # the other person: about -26, -5, +20 degrees


@pytest.fixture(scope="module")
def strict_engine(models_dir):
    """The real pipeline with a liveness check so strict that genuine photos are referred."""
    from edge.app.face_adapter import PipelineFaceEngine
    from edge.config.face import FaceConfig
    from edge.face.liveness import LivenessChecker
    from edge.face.pipeline import FacePipeline

    pipeline = FacePipeline.from_config(FaceConfig(models_dir=models_dir), require_calibration=True)
    return PipelineFaceEngine(pipeline, LivenessChecker(models_dir, threads=1, threshold=0.9999))


def test_turning_recipient_passes_still_photo_and_swap_fail(datasets_dir, strict_engine, make_terminal, officers):
    from edge.claim.roster.from_photos import build_roster
    from simulator.camera import FolderCamera

    faces = datasets_dir / "faces"
    roster = build_roster(faces, distribution_point="dev-point", period=PERIOD, version=1, ids=[PERSON, OTHER])
    cam = FolderCamera()
    cam.start()
    svc = make_terminal(strict_engine, camera=cam, roster=roster, active_check_seconds=0, active_check_frames=8)
    photo = [faces / PERSON / "6.jpg"]
    cam.present(photo)
    assert svc.claim(PERSON, attempt=1).decision.reason_code == "liveness_retake"
    ref = svc.claim(PERSON, attempt=2)
    assert (ref.decision.outcome, ref.decision.reason_code) == ("refer", "liveness_failed"), ref.as_dict()
    assert ref.record.scores.top_score >= ref.record.scores.accept_threshold  # a matching face
    key = ref.record.idempotency_key

    cam.present(photo)  # the same photo in every frame: one face that does not turn
    still = run_active_check(svc, key, officers["OFF-7"])
    assert not still["passed"] and still["code"] == "active_check_no_turn", still
    assert still["frames_total"] == 8 and still["frames_matched"] == 8 and still["turn_deg"] < 5

    cam.present([faces / PERSON / "6.jpg"] * 3 + [faces / OTHER / f"{n}.jpg" for n in OTHER_TURNING])
    swap = run_active_check(svc, key, officers["OFF-7"])
    assert not swap["passed"] and swap["frames_with_face"] == 8 and swap["frames_matched"] < 8, swap
    assert "another face" in swap["reason"] or swap["code"] == "active_check_no_match"

    cam.present([faces / PERSON / f"{n}.jpg" for n in TURN])
    turned = run_active_check(svc, key, officers["OFF-8"])
    assert turned["passed"] and turned["turn_deg"] >= 20 and turned["frames_matched"] >= 7, turned
    rec = override(svc, key, "accept", "active_check_passed", officers["OFF-8"])
    assert rec.active_check.passed and rec.active_check.officer_id == "OFF-8" and rec.active_check.turn_deg == turned["turn_deg"]
    assert verify_record(rec.model_dump(mode="json", by_alias=True), svc.key.public_key())
    cam.close()


@pytest.fixture(scope="module")
def screen_terminal(datasets_dir, tmp_path_factory, mosquitto):
    """A provisioned `edge run` whose camera shows the tablet-screen replay sample, which is also the reference photo
    of PKH-SCREEN-1 and PKH-SCREEN-2 (a matching face that fails the passive check); officers OFF-1 and SUP-1."""
    tmp = tmp_path_factory.mktemp("active-check")
    spoof = datasets_dir / "hard" / "spoof" / "attack_image_F2.jpg"
    photos, camera = tmp / "photos", tmp / "camera"
    for rid in ("PKH-SCREEN-1", "PKH-SCREEN-2"):
        (photos / rid).mkdir(parents=True)
        shutil.copy(spoof, photos / rid / "1.jpg")
    camera.mkdir()
    shutil.copy(spoof, camera / "0.jpg")
    port = free_port()
    config = write_edge_toml(tmp, port, mosquitto, "dev-4", tmp / "issuer.pub.pem", camera,
                             claim="active_check_seconds = 0.5\nactive_check_frames = 6")
    officers = (("OFF-1", "Ani Officer", "officer"), ("SUP-1", "Citra Supervisor", "supervisor"))
    pins = {oid: f"{secrets.randbelow(10**8):08d}" for oid, _, _ in officers}
    provision(config, tmp, photos, officers, pins, period=PERIOD)
    with serve(config, port, pins) as term:
        yield term
    assert "head-turn check" in term.log.read_text()


def test_edge_run_screen_replay_fails_the_check(screen_terminal, central):
    """The whole path on a real `edge run`: referral, session and Origin guard, failed check, the signed reject published."""
    from edge.central.verify import DeviceEntry, check_message
    from edge.claim.records.crypto import load_public_key

    term, port = screen_terminal, screen_terminal.port
    term.sign_in("OFF-1")
    first = term.claim("OFF-1", "PKH-SCREEN-1")
    assert first["reason_code"] == "liveness_retake", first
    status, ref, _ = term.request("POST", "/api/claim", {"recipient_id": "PKH-SCREEN-1", "attempt": 2}, officer="OFF-1")
    assert status == 200 and (ref["outcome"], ref["reason_code"]) == ("refer", "liveness_failed"), ref
    key = ref["idempotency_key"]

    status, err, _ = term.request("POST", "/api/active-check", {"original_key": key})
    assert status == 401 and err["error_id"] == "not_signed_in", err
    status, _, _ = term.request("POST", "/api/active-check", {"original_key": key}, officer="OFF-1", origin="http://evil.example")
    assert status == 403
    status, got, _ = term.request("POST", "/api/active-check", {"original_key": key}, officer="OFF-1", origin=f"http://127.0.0.1:{port}")
    assert status == 200 and not got["passed"] and got["code"] == "active_check_no_turn", got
    assert got["frames_total"] == 6 and got["officer_id"] == "OFF-1" and "photo or screen" in got["message"]["en"]

    status, err = term.override("OFF-1", key, "accept", "active_check_passed")
    assert status == 400 and "passed head-turn check" in err["error"], err
    status, err = term.override("OFF-1", key, "accept")
    assert status == 403 and err["error_id"] == "second_officer_required" and "head-turn" in err["error"], err
    status, rec = term.override("OFF-1", key, "reject", "suspected_fraud")
    assert status == 200 and rec["active_check"]["passed"] is False and rec["schema_version"] == 2, rec

    keys_dir = term.config.parent / "state" / "keys"
    hits = central.wait_for(lambda t, e: t.endswith("dev-4/event/override") and e["payload"]["idempotency_key"] == rec["idempotency_key"],
                            timeout=60)
    assert hits, "the override with the check was not published"
    topic, envelope = hits[0]
    assert envelope["payload"]["active_check"] == rec["active_check"]
    assert verify_record(envelope["payload"], load_public_key(keys_dir / "device_ed25519.pub.pem"))
    pem = (keys_dir / "device_ed25519.pub.pem").read_text()
    checked = check_message("tepat/v1", topic, json.dumps(envelope).encode(),
                            lambda d: DeviceEntry(d, "jabar", "dev-point", pem) if d == "dev-4" else None)
    assert checked.ok and checked.record["active_check"]["officer_id"] == "OFF-1", checked.detail


def test_counter_head_turn_check_on_a_liveness_referral(screen_terminal, tmp_path):
    """In Chromium: the referral screen offers the head-turn check, shows its failure in words, and the reject records it."""
    from tests.support.counter_browser import by_id, claim_typed, counter_browser, screen, sign_in, text, wait_for

    term = screen_terminal
    with counter_browser(term.port, tmp_path / "chromium") as driver:
        screen(driver, "lock", 60)
        sign_in(driver, term, "OFF-1")
        assert claim_typed(driver, "PKH-SCREEN-2") == "refer"  # the page retakes once by itself, then shows the referral
        assert "liveness failed" in text(driver, "reason")
        assert driver.execute_script("return !document.getElementById('active-box').hidden")
        assert driver.execute_script("return document.getElementById('opt-active').disabled")
        by_id(driver, "active-go").click()
        wait_for(driver, "document.getElementById('active-result').dataset.passed", 120)
        assert driver.execute_script("return document.getElementById('active-result').dataset.passed") == "no"
        result = text(driver, "active-result")
        assert "GAGAL" in result and "FAILED" in result and "photo or screen" in result, result
        assert driver.execute_script("return document.getElementById('opt-active').disabled")  # a failed check cannot be the reason
        from selenium.webdriver.support.ui import Select

        Select(by_id(driver, "reason-code")).select_by_value("suspected_fraud")
        by_id(driver, "do-reject").click()
        wait_for(driver, "document.getElementById('banner').dataset.outcome === 'reject'", 60)
        assert "head-turn check: gagal / failed" in text(driver, "message-en")
        import sqlite3

        with contextlib.closing(sqlite3.connect(f"file:{term.config.parent / 'state' / 'ledger.sqlite'}?mode=ro", uri=True)) as db:
            stored = [json.loads(r[0]) for r in db.execute("SELECT record FROM decisions WHERE schema = 'tepat.override'")]
        mine = [r for r in stored if r["recipient_id"] == "PKH-SCREEN-2"]  # the signed record the terminal keeps
        assert len(mine) == 1 and mine[0]["active_check"]["passed"] is False and mine[0]["officer_id"] == "OFF-1", mine
