"""Issue 13, item 1: the officer-identity attacks, replayed against a real `edge run` (real TFLite face
pipeline, folder camera showing a real photograph, real Mosquitto) and now refused.

The terminal is provisioned the way the programme office does it: `edge roster build/sign/import`,
`edge officers build/sign/import` (PINs generated for this run, never stored in the repository).
The camera always shows Paradorn Srichaphan: a claim for him is accepted, a claim for Thaksin
Shinawatra is a face-mismatch reject.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path

import pytest

from tests.fixtures_claim import PERIOD
from tests.fixtures_mqtt import free_port
from tests.support.served_terminal import Terminal, provision, serve, write_edge_toml

pytestmark = pytest.mark.shared

SHOWN = "Paradorn_Srichaphan"  # the face in front of the camera
OTHER = "Thaksin_Shinawatra"  # on the roster, not the face shown
ENROL = "PKH-ENROL-1"  # on the roster without a photo: month-one enrolment
OFFICERS = (("OFF-1", "Ani Officer", "officer"), ("OFF-2", "Budi Officer", "officer"),
            ("SUP-1", "Citra Supervisor", "supervisor"), ("OFF-LOCK", "Dedi Officer", "officer"))


@pytest.fixture(scope="module")
def terminal(datasets_dir, tmp_path_factory, mosquitto):
    """A provisioned terminal under `edge run`: roster (3 recipients, enrolment allowed), four officers, MQTT to the test broker."""
    tmp = tmp_path_factory.mktemp("officer-attacks")
    photos, camera = tmp / "photos", tmp / "camera"
    for name in (SHOWN, OTHER):
        (photos / name).mkdir(parents=True)
        shutil.copy(datasets_dir / "faces" / name / "1.jpg", photos / name / "1.jpg")
    (photos / ENROL).mkdir()
    camera.mkdir()
    shutil.copy(datasets_dir / "faces" / SHOWN / "2.jpg", camera / "0.jpg")
    port = free_port()
    config = write_edge_toml(tmp, port, mosquitto, "dev-4", tmp / "issuer.pub.pem", camera)
    pins = {oid: f"{secrets.randbelow(10**8):08d}" for oid, _, _ in OFFICERS}
    # the officer list at the default scrypt cost; sign-in below fails loudly if provisioning did
    provision(config, tmp, photos, OFFICERS, pins, period=PERIOD, enrolment=True, scrypt_n=None, check=False)
    with serve(config, port, pins) as term:
        yield term
    log = term.log.read_text()
    errors = [line for line in log.splitlines() if '"logger": "edge.claim' in line and '"level": "error"' in line]
    assert not errors, errors


def _records(term: Terminal, officer: str, rid: str) -> list[dict]:
    return term.ledger(officer, rid)["decisions"]


def test_unauthenticated_claim_enrol_override_refused(terminal):
    """Without a session every state-changing route is 401 with the JSON error shape, and nothing is recorded."""
    for path, body in (("/api/claim", {"recipient_id": OTHER}),
                       ("/api/enrol", {"recipient_id": ENROL, "officer_id": "OFF-1", "confirmed": True}),
                       ("/api/override", {"original_key": "0" * 32, "outcome": "accept", "reason_code": "id_card_checked",
                                          "officer_id": "OFF-1"})):
        status, err, _ = terminal.request("POST", path, body)
        assert status == 401, (path, err)
        assert err["error_id"] == "not_signed_in" and err["error"], err
    assert terminal.request("GET", f"/api/ledger/{OTHER}")[0] == 401
    terminal.sign_in("SUP-1")
    assert _records(terminal, "SUP-1", OTHER) == [] and _records(terminal, "SUP-1", ENROL) == []


def test_unrelated_local_user_cannot_claim(terminal):
    """Another local account (uid nobody) reaching the loopback port gets 401, not a decision."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to act as another local user")
    code = ("import http.client,json;c=http.client.HTTPConnection('127.0.0.1',%d,timeout=60);"
            "c.request('POST','/api/claim',body=json.dumps({'recipient_id':'%s'}),headers={'Content-Type':'application/json'});"
            "print(c.getresponse().status)") % (terminal.port, OTHER)
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable  # readable by uid nobody
    out = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python, "-I", "-c", code],
                         capture_output=True, text=True, timeout=60, cwd="/")
    if out.returncode != 0 and "ermission denied" in out.stderr:
        pytest.skip(f"uid nobody cannot run {python} here: {out.stderr.strip()[-200:]}")
    assert out.stdout.strip() == "401", out.stderr[-1000:]


def test_caller_typed_officer_id_is_not_what_is_recorded(terminal):
    """The record carries the signed-in officer; a body naming another officer is refused."""
    terminal.sign_in("OFF-1")
    status, err, _ = terminal.request("POST", "/api/claim", {"recipient_id": OTHER, "officer_id": "SUP-1"}, officer="OFF-1")
    assert status == 403 and err["error_id"] == "officer_mismatch", err
    res = terminal.claim("OFF-1", OTHER)
    assert (res["outcome"], res["reason_code"]) == ("reject", "face_mismatch"), res
    assert res["record"]["officer_id"] == "OFF-1"


def test_face_mismatch_reject_needs_two_officers_to_become_accept(terminal):
    """reject → accept is refused for one officer, the same officer twice, a wrong PIN or two plain officers; a supervisor's PIN makes it."""
    for o in ("OFF-1", "OFF-2", "SUP-1"):
        terminal.sign_in(o)
    rej = terminal.claim("OFF-2", OTHER)
    assert rej["reason_code"] in ("face_mismatch", "already_claimed") and rej["outcome"] == "reject", rej
    key = rej["idempotency_key"]
    status, err = terminal.override("OFF-2", key, "accept")
    assert status == 403 and err["error_id"] == "second_officer_required", err
    status, err = terminal.override("OFF-2", key, "accept", second=("OFF-2", terminal.pins["OFF-2"]))
    assert status == 403 and err["error_id"] == "second_officer_same", err
    status, err = terminal.override("OFF-2", key, "accept", second=("SUP-1", "00000000" if terminal.pins["SUP-1"] != "00000000" else "1"))
    assert status == 403 and err["error_id"] == "second_officer_bad_credentials", err
    status, err = terminal.override("OFF-2", key, "accept", second=("OFF-1", terminal.pins["OFF-1"]))
    assert status == 403 and err["error_id"] == "supervisor_required", err
    assert terminal.ledger("OFF-2", OTHER)["paid_this_period"] is None
    status, rec = terminal.override("OFF-2", key, "accept", second=("SUP-1", terminal.pins["SUP-1"]))
    assert status == 200, rec
    assert (rec["officer_id"], rec["second_officer_id"], rec["new_outcome"]) == ("OFF-2", "SUP-1", "accept")
    assert terminal.ledger("OFF-2", OTHER)["paid_this_period"]


def test_accept_void_accept_never_pays_twice_without_two_officers(terminal, central):
    """accept → void → accept: every step that would pay again (or void) needs two officers; the signed records that
    reach the central side through Mosquitto name both."""
    for o in ("OFF-1", "SUP-1"):
        terminal.sign_in(o)
    paid = terminal.claim("OFF-1", SHOWN)
    assert paid["outcome"] == "accept", paid
    status, err = terminal.override("OFF-1", paid["idempotency_key"], "reject", "suspected_fraud")
    assert status == 403 and err["error_id"] == "second_officer_required", err
    status, void = terminal.override("OFF-1", paid["idempotency_key"], "reject", "suspected_fraud", second=("SUP-1", terminal.pins["SUP-1"]))
    assert status == 200 and void["second_officer_id"] == "SUP-1", void
    again = terminal.claim("OFF-1", SHOWN)  # the same face, after the void: no automatic second payout
    assert again["outcome"] != "accept", again
    for key in (paid["idempotency_key"], again["idempotency_key"]):
        status, err = terminal.override("OFF-1", key, "accept")
        assert status == 403 and err["error_id"] == "second_officer_required", (key, err)
    view = terminal.ledger("OFF-1", SHOWN)
    assert view["paid_this_period"] is None
    status, repay = terminal.override("OFF-1", again["idempotency_key"], "accept", second=("SUP-1", terminal.pins["SUP-1"]))
    assert status == 200 and repay["second_officer_id"] == "SUP-1", repay
    status, err = terminal.override("OFF-1", paid["idempotency_key"], "accept", second=("SUP-1", terminal.pins["SUP-1"]))
    assert status == 409 and err["error_id"] == "already_paid", err  # never two payouts in force, even with two officers
    view = terminal.ledger("OFF-1", SHOWN)
    in_force = [d for d in view["disbursements"] if d["voided_by"] is None]
    assert len(in_force) == 1 and len(view["disbursements"]) == 2, view
    accepts = [d for d in view["decisions"] if d["outcome"] == "accept"]
    assert len(accepts) == 2  # the original (voided) and the two-officer repayment
    from edge.claim.records.crypto import load_public_key
    from edge.claim.records.signed import verify_record

    device_pub = load_public_key(terminal.config.parent / "state" / "keys" / "device_ed25519.pub.pem")
    keys = {void["idempotency_key"], repay["idempotency_key"]}
    central.wait_for(lambda t, e: keys <= {e2["payload"]["idempotency_key"] for t2, e2 in central.events if t2.endswith("dev-4/event/override")},
                     timeout=60)
    got = {e["payload"]["idempotency_key"]: e["payload"] for t, e in central.events if t.endswith("dev-4/event/override")}
    assert keys <= set(got), sorted(got)
    assert {got[k]["two_person_reason"] for k in keys} == {"void", "pay_after_void"}
    assert all(got[k]["officer_id"] == "OFF-1" and got[k]["second_officer_id"] == "SUP-1" for k in keys)
    assert all(verify_record(got[k], device_pub) for k in keys)


def test_enrolment_needs_a_session_and_records_the_officer(terminal):
    """Enrolment with a session records the signed-in officer as the confirming officer."""
    terminal.sign_in("OFF-1")
    status, res, _ = terminal.request("POST", "/api/enrol", {"recipient_id": ENROL, "confirmed": True}, officer="OFF-1")
    assert status == 200 and (res["outcome"], res["reason_code"]) == ("accept", "enrolled"), res
    assert res["record"]["officer_id"] == "OFF-1"


def test_origin_from_another_local_port_refused(terminal):
    """A page served from another localhost port (same site for SameSite cookies) cannot post with the officer's cookie."""
    terminal.sign_in("OFF-1")
    other = free_port()
    for origin in (f"http://127.0.0.1:{other}", f"http://localhost:{other}", f"https://127.0.0.1:{terminal.port}", "null",
                   "http://127.0.0.1"):
        status, err, _ = terminal.request("POST", "/api/claim", {"recipient_id": OTHER}, officer="OFF-1", origin=origin)
        assert status == 403 and err["error_id"] == "origin_refused", (origin, err)
    status, body, _ = terminal.request("GET", "/api/session", officer="OFF-1", origin=f"http://localhost:{terminal.port}")
    assert status == 200 and body["officer_id"] == "OFF-1"


def test_session_lifecycle_and_lockout(terminal):
    """Sign in sets an HttpOnly SameSite=Strict cookie; sign out ends it; repeated bad PINs lock the officer out."""
    assert terminal.request("GET", "/api/session")[0] == 401
    status, body, resp = terminal.request("POST", "/api/session", {"officer_id": "OFF-1", "pin": terminal.pins["OFF-1"]})
    assert status == 200 and set(body) >= {"officer_id", "name", "role", "expires_at"}, body
    assert (body["name"], body["role"]) == ("Ani Officer", "officer")
    cookie = resp.getheader("Set-Cookie")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie, cookie
    terminal.cookies["OFF-1"] = SimpleCookie(cookie)["tepat_session"].value
    assert terminal.request("GET", "/api/session", officer="OFF-1")[1]["officer_id"] == "OFF-1"
    assert terminal.request("DELETE", "/api/session", officer="OFF-1")[0] == 200
    status, err, _ = terminal.request("GET", "/api/session", officer="OFF-1")
    assert status == 401 and err["error_id"] == "not_signed_in"
    assert terminal.request("POST", "/api/claim", {"recipient_id": OTHER}, officer="OFF-1")[0] == 401
    for _ in range(5):
        status, err, _ = terminal.request("POST", "/api/session", {"officer_id": "OFF-LOCK", "pin": "wrong-pin"})
        assert status == 401 and err["error_id"] == "bad_credentials", err
    status, err, _ = terminal.request("POST", "/api/session", {"officer_id": "OFF-LOCK", "pin": terminal.pins["OFF-LOCK"]})
    assert status == 429 and err["error_id"] == "locked_out", err
    status, err, _ = terminal.request("POST", "/api/session", {"officer_id": "NOBODY", "pin": "12345678"})
    assert status == 401 and err["error_id"] == "bad_credentials"
