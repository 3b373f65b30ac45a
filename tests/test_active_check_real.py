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

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.claim.active_check import run_active_check
from edge.claim.officer import override
from edge.claim.officer_store import AuthError
from edge.claim.records import verify_record
from tests.fixtures_claim import PERIOD

pytestmark = pytest.mark.shared

PERSON, OTHER = "Megawati_Sukarnoputri", "Paradorn_Srichaphan"
TURN = [6, 24, 14, 33, 10, 2, 16, 11]  # yaw about +1, -24, -27, -18, +1, +18, +18, +18 degrees (YuNet landmarks)
OTHER_TURNING = [7, 10, 6]  # the other person: about -26, -5, +20 degrees


@pytest.fixture(scope="module")
def strict_engine(models_dir):
    """The real pipeline with a liveness check so strict that genuine photos are referred."""
    from edge.claim.face_adapter import PipelineFaceEngine
    from edge.config.face import FaceConfig
    from edge.face.liveness import LivenessChecker
    from edge.face.pipeline import FacePipeline

    pipeline = FacePipeline.from_config(FaceConfig(models_dir=models_dir), require_calibration=True)
    return PipelineFaceEngine(pipeline, LivenessChecker(models_dir, threads=1, threshold=0.9999))


def test_turning_recipient_passes_still_photo_and_swap_fail(datasets_dir, strict_engine, make_terminal, officers):
    from edge.claim.roster_build import build_roster
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


def test_edge_run_screen_replay_fails_the_check(datasets_dir, tmp_path, mosquitto, central):
    """The whole path on a real `edge run`: referral, session and Origin guard, failed check, the signed reject published."""
    from edge.central.verify import DeviceEntry, check_message
    from edge.claim.crypto import load_public_key
    from tests.fixtures_mqtt import free_port
    from tests.test_officer_attacks import ROOT, Terminal, _config, edge

    spoof = datasets_dir / "hard" / "spoof" / "attack_image_F2.jpg"
    photos, camera = tmp_path / "photos", tmp_path / "camera"
    (photos / "PKH-SCREEN-1").mkdir(parents=True)
    shutil.copy(spoof, photos / "PKH-SCREEN-1" / "1.jpg")
    camera.mkdir()
    shutil.copy(spoof, camera / "0.jpg")
    port = free_port()
    config = _config(tmp_path, port, mosquitto, "dev-4", tmp_path / "issuer.pub.pem", camera)
    config.write_text(config.read_text().replace("[claim]\n", "[claim]\nactive_check_seconds = 0.5\nactive_check_frames = 6\n"))
    edge(config, "roster", "keygen", str(tmp_path / "issuer.pem"))
    edge(config, "roster", "build", str(photos), "--point", "dev-point", "--period", PERIOD, "--version", "1", "-o", str(tmp_path / "r.json"))
    edge(config, "roster", "sign", str(tmp_path / "r.json"), "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "rs.json"))
    edge(config, "roster", "import", str(tmp_path / "rs.json"))
    pins = {"OFF-1": f"{int(time.time()) % 10**8:08d}", "SUP-1": f"{(int(time.time()) * 7) % 10**8:08d}"}
    csv = tmp_path / "officers.csv"
    csv.write_text(f"officer_id,name,role,pin\nOFF-1,Ani Officer,officer,{pins['OFF-1']}\nSUP-1,Citra Supervisor,supervisor,{pins['SUP-1']}\n")
    edge(config, "officers", "build", str(csv), "--point", "dev-point", "--version", "1", "--scrypt-n", "1024", "-o", str(tmp_path / "o.json"))
    edge(config, "officers", "sign", str(tmp_path / "o.json"), "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "os.json"))
    edge(config, "officers", "import", str(tmp_path / "os.json"))
    log = tmp_path / "service.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=fh)
    term = Terminal(port, pins, config, proc, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "edge run did not serve the claim API: " + log.read_text()[-3000:]
            try:
                if not str(term.request("GET", "/api/ledger/nobody")[1].get("error", "")).startswith("no such page"):
                    break
            except OSError:
                pass
            time.sleep(0.5)
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
        status, got, _ = term.request("POST", "/api/active-check", {"original_key": key}, officer="OFF-1",
                                      origin=f"http://127.0.0.1:{port}")
        assert status == 200 and not got["passed"] and got["code"] == "active_check_no_turn", got
        assert got["frames_total"] == 6 and got["officer_id"] == "OFF-1" and "photo or screen" in got["message"]["en"]

        status, err = term.override("OFF-1", key, "accept", "active_check_passed")
        assert status == 400 and "passed head-turn check" in err["error"], err
        status, err = term.override("OFF-1", key, "accept")
        assert status == 403 and err["error_id"] == "second_officer_required" and "head-turn" in err["error"], err
        status, rec = term.override("OFF-1", key, "reject", "suspected_fraud")
        assert status == 200 and rec["active_check"]["passed"] is False and rec["schema_version"] == 2, rec

        device_pub = load_public_key(tmp_path / "state" / "keys" / "device_ed25519.pub.pem")
        hits = central.wait_for(lambda t, e: t.endswith("dev-4/event/override") and e["payload"]["idempotency_key"] == rec["idempotency_key"],
                                timeout=60)
        assert hits, "the override with the check was not published"
        topic, envelope = hits[0]
        assert envelope["payload"]["active_check"] == rec["active_check"] and verify_record(envelope["payload"], device_pub)
        pem = (tmp_path / "state" / "keys" / "device_ed25519.pub.pem").read_text()
        checked = check_message("tepat/v1", topic, json.dumps(envelope).encode(),
                                lambda d: DeviceEntry(d, "jabar", "dev-point", pem) if d == "dev-4" else None)
        assert checked.ok and checked.record["active_check"]["officer_id"] == "OFF-1", checked.detail
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode == 0, log.read_text()[-3000:]
    assert "head-turn check" in log.read_text()
