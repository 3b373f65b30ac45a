"""Distribution day end to end: real photographs, the real TFLite face pipeline, a real Mosquitto, the real outbox.

Must show: genuine claimant accepted, impostor rejected, second claim refused, signed roster accepted,
tampered roster refused, unknown claimant rejected (1:N), conflicting offline claims from two terminals
surfaced at the central side — every record signed and verifiable.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.claim.records.signed import verify_record
from edge.claim.roster.document import sign_roster
from edge.claim.roster.from_photos import build_roster
from edge.config import DeviceConfig
from tests.fixtures_claim import PERIOD
from tests.test_claim_mqtt import publisher_for, wait_until_linked

pytestmark = pytest.mark.shared

ROSTER_IDS = ["Gloria_Macapagal_Arroyo", "Hun_Sen", "Mahathir_Mohamad", "Megawati_Sukarnoputri",
              "Paradorn_Srichaphan", "Susilo_Bambang_Yudhoyono", "Thaksin_Shinawatra", "Xanana_Gusmao"]
UNKNOWN = "Hamzah_Haz"  # a real person who is not on the roster


@pytest.fixture(scope="module")
def face_engine():
    """The configured real face pipeline (TFLite detector, quality gate, embedder, calibrated thresholds)."""
    from edge.app.face_adapter import make_face_engine
    from edge.config import load_config

    return make_face_engine(load_config())  # defaults (+ TEPAT__FACE__… overrides)


@pytest.fixture()
def real_roster(datasets_dir):
    """An unsigned roster of eight real people, each with one reference photo (1.jpg); templates are computed on import."""
    return build_roster(datasets_dir / "faces", distribution_point="dev-point", period=PERIOD, version=1, ids=ROSTER_IDS)


def camera_showing(datasets_dir: Path):
    """A simulated camera (the simulator's folder camera) and a function to put a photo in front of it."""
    from simulator.camera import FolderCamera

    cam = FolderCamera()
    cam.start()

    def show(identity: str, n: int = 2) -> None:
        cam.present([datasets_dir / "faces" / identity / f"{n}.jpg"])

    return cam, show


def test_distribution_day(datasets_dir, face_engine, make_terminal, real_roster, roster_doc, issuer_key, trusted_keys,
                          mosquitto, mqtt_config_for, central):
    """The officer's day on one terminal, with rosters arriving over MQTT and every record verified at the central side."""
    cam, show = camera_showing(datasets_dir)
    dev = DeviceConfig(device_id="dev-5", region="jabar", distribution_point="dev-point")
    svc = make_terminal(face_engine, device_id="dev-5", camera=cam)
    pub = publisher_for(svc, dev, mosquitto, mqtt_config_for, trusted_keys).start()
    try:
        wait_until_linked(pub)
        tampered = sign_roster(real_roster, issuer_key)
        tampered["roster"]["recipients"][0]["entitlement"]["amount"] *= 10
        central.command(dev, "roster", tampered)
        central.command(dev, "roster", sign_roster(real_roster, issuer_key))
        acks = central.wait_for(lambda t, e: t.endswith("dev-5/event/roster_ack") and e["payload"]["accepted"], timeout=60)
        assert acks, "signed roster not acknowledged"
        all_acks = [e["payload"] for t, e in central.events if t.endswith("dev-5/event/roster_ack")]
        assert [(a["accepted"], a["code"]) for a in all_acks] == [(False, "bad_signature"), (True, "installed")]
        assert all_acks[1]["flagged"] == 0, "every reference photo should give a template"

        show("Megawati_Sukarnoputri")
        genuine = svc.claim("Megawati_Sukarnoputri", officer_id="OFF-1")
        assert genuine.decision.outcome == "accept", genuine.as_dict()

        show("Gloria_Macapagal_Arroyo")
        impostor = svc.claim("Susilo_Bambang_Yudhoyono", officer_id="OFF-1")
        assert (impostor.decision.outcome, impostor.decision.reason_code) == ("reject", "face_mismatch"), impostor.as_dict()

        show("Megawati_Sukarnoputri", 3)
        again = svc.claim("Megawati_Sukarnoputri", officer_id="OFF-1")
        assert (again.decision.outcome, again.decision.reason_code) == ("reject", "already_claimed")
        assert "dev-point" in again.decision.message["en"]

        show("Mahathir_Mohamad")
        found = svc.claim(None, officer_id="OFF-1")
        assert (found.decision.outcome, found.decision.recipient_id) == ("accept", "Mahathir_Mohamad"), found.as_dict()

        show(UNKNOWN)
        unknown = svc.claim(None, officer_id="OFF-1")
        assert unknown.decision.outcome == "reject" and unknown.decision.reason_code == "not_recognised", unknown.as_dict()

        keys = [r.record.idempotency_key for r in (genuine, impostor, again, found, unknown)]
        got = central.wait_for(lambda t, e: t.endswith("dev-5/event/decision") and len(
            [1 for t2, e2 in central.events if t2.endswith("dev-5/event/decision")]) >= 5, timeout=30)
        assert got
        published = {e["payload"]["idempotency_key"]: e["payload"] for t, e in central.events if t.endswith("dev-5/event/decision")}
        assert set(keys) <= set(published)
        assert all(verify_record(published[k], svc.key.public_key()) for k in keys)
        assert published[keys[0]]["model_sha256"] == face_engine.model_sha256
        assert published[keys[0]]["scores"]["top_score"] >= published[keys[0]]["scores"]["accept_threshold"]
        forged = dict(published[keys[1]], outcome="accept")
        assert not verify_record(forged, svc.key.public_key())
    finally:
        pub.stop()
        cam.close()


def test_two_offline_terminals_pay_same_recipient(datasets_dir, face_engine, make_terminal, real_roster, issuer_key, trusted_keys,
                                                  mosquitto, mqtt_config_for, central):
    """Two offline terminals accept the same real person; once linked and relayed, both conflicts reach the central side."""
    devs = [DeviceConfig(device_id=f"dev-{i}", region="jabar", distribution_point="dev-point") for i in (2, 3)]
    cams = [camera_showing(datasets_dir) for _ in devs]
    terms = [make_terminal(face_engine, device_id=d.device_id, camera=c[0], roster=real_roster) for d, c in zip(devs, cams)]
    for _, show in cams:
        show("Thaksin_Shinawatra")
    paid = [t.claim("Thaksin_Shinawatra") for t in terms]
    assert [p.decision.outcome for p in paid] == ["accept", "accept"], [p.as_dict() for p in paid]
    pubs = [publisher_for(t, d, mosquitto, mqtt_config_for, trusted_keys).start() for t, d in zip(terms, devs)]
    try:
        for p in pubs:
            wait_until_linked(p)
        from edge.central.relay import sign_ledger

        for dev, other in ((devs[0], paid[1].record), (devs[1], paid[0].record)):
            wall = other.model_dump(mode="json")["time"]["wall"]
            body = {"schema": "tepat.ledger", "schema_version": 2, "device_id": dev.device_id, "seq": 1, "issued_at": wall, "entries": [{
                "recipient_id": other.recipient_id, "period": other.period, "idempotency_key": other.idempotency_key,
                "device_id": other.device_id, "distribution_point": other.distribution_point, "decided_at": wall}]}
            central.command(dev, "ledger", sign_ledger(body, issuer_key))  # signed (the roster issuer key), sequenced
        central.wait_for(lambda t, e: len([1 for t2, e2 in central.events if t2.endswith("/event/conflict")
                                           and e2["payload"]["recipient_id"] == "Thaksin_Shinawatra"]) >= 2, timeout=30)
        conflicts = {e["payload"]["device_id"]: e["payload"] for t, e in central.events
                     if t.endswith("/event/conflict") and e["payload"]["recipient_id"] == "Thaksin_Shinawatra"}
        assert set(conflicts) == {"dev-2", "dev-3"}
        assert all(verify_record(conflicts[d.device_id], t.key.public_key()) for d, t in zip(devs, terms))
    finally:
        for p in pubs:
            p.stop()
        for c, _ in cams:
            c.close()


def test_officer_cli_day(datasets_dir, tmp_path, monkeypatch, capsys):
    """The CLI path: keys, issuer signs a photo roster, terminal imports it, claims from photos, override, ledger."""
    import json

    from edge.cli import main

    faces = tmp_path / "photos"
    for name in ("Paradorn_Srichaphan", "Thaksin_Shinawatra", "Gloria_Macapagal_Arroyo"):
        (faces / name).mkdir(parents=True)
        (faces / name / "1.jpg").write_bytes((datasets_dir / "faces" / name / "1.jpg").read_bytes())
    monkeypatch.setenv("TEPAT__DEVICE__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TEPAT__DEVICE__DISTRIBUTION_POINT", "desa-a")
    monkeypatch.setenv("TEPAT__GPS__BACKEND", "none")
    monkeypatch.setenv("TEPAT__CLAIM__ISSUER_KEYS", json.dumps([str(tmp_path / "issuer.pub.pem")]))
    monkeypatch.delenv("TEPAT_TEMPLATE_KEY", raising=False)

    def run(*argv):
        code = main(list(argv))
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)

    run("keys", "init")
    run("roster", "keygen", str(tmp_path / "issuer.pem"))
    run("roster", "build", str(faces), "--point", "desa-a", "--period", PERIOD, "--version", "1", "-o", str(tmp_path / "r.json"))
    run("roster", "sign", str(tmp_path / "r.json"), "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "rs.json"))
    report = run("roster", "import", str(tmp_path / "rs.json"))
    assert report["templates_recomputed"] == 3 and not report["flagged"]
    assert main(["roster", "import", str(tmp_path / "rs.json")]) == 2  # same version again: refused
    assert "stale_version" in capsys.readouterr().err

    photo = datasets_dir / "faces" / "Paradorn_Srichaphan" / "2.jpg"
    from edge.claim.officers.officer_list import generate_pin

    pins = {"OFF-9": generate_pin(), "SUP-1": generate_pin()}
    (tmp_path / "officers.csv").write_text(f"officer_id,name,role,pin\nOFF-9,Ani,officer,{pins['OFF-9']}\nSUP-1,Sari,supervisor,{pins['SUP-1']}\n")
    run("officers", "build", str(tmp_path / "officers.csv"), "--point", "desa-a", "--version", "1", "-o", str(tmp_path / "o.json"))
    run("officers", "sign", str(tmp_path / "o.json"), "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "os.json"))
    run("officers", "import", str(tmp_path / "os.json"))
    monkeypatch.setenv("TEPAT_OFFICER_PIN", "not-the-pin")
    assert main(["claim", "--id", "Paradorn_Srichaphan", "--officer", "OFF-9", "--image", str(photo)]) == 2
    assert "wrong PIN" in capsys.readouterr().err
    monkeypatch.setenv("TEPAT_OFFICER_PIN", pins["OFF-9"])
    ok = run("claim", "--id", "Paradorn_Srichaphan", "--officer", "OFF-9", "--image", str(photo))
    assert ok["outcome"] == "accept"
    wrong = run("claim", "--id", "Thaksin_Shinawatra", "--officer", "OFF-9", "--image", str(photo))
    assert (wrong["outcome"], wrong["reason_code"]) == ("reject", "face_mismatch")
    assert main(["override", wrong["idempotency_key"], "--outcome", "accept", "--reason", "id_card_checked", "--officer", "OFF-9"]) == 2
    assert "second officer" in capsys.readouterr().err  # reject → accept takes two officers
    monkeypatch.setenv("TEPAT_SECOND_OFFICER_PIN", pins["SUP-1"])
    ov = run("override", wrong["idempotency_key"], "--outcome", "accept", "--reason", "id_card_checked", "--officer", "OFF-9",
             "--second-officer", "SUP-1")
    assert ov["original_key"] == wrong["idempotency_key"] and (ov["officer_id"], ov["second_officer_id"]) == ("OFF-9", "SUP-1")
    led = run("ledger", "Thaksin_Shinawatra", "--officer", "OFF-9")
    assert led["paid_this_period"] and [d["schema"] for d in led["decisions"]] == ["tepat.decision", "tepat.override"]
    assert main(["claim", "--id", "Gloria_Macapagal_Arroyo", "--officer", "OFF-9", "--image", str(tmp_path / "missing.jpg")]) == 3
    assert "image not found" in capsys.readouterr().err
