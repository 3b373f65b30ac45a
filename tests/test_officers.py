"""Officer list, PIN checks, lockout, sessions and the two-person rule, over real SQLite and real scrypt."""

from __future__ import annotations

import copy
import json
import stat

import pytest

from edge.claim.flow.officer_actions import two_person_reason
from edge.claim.officers.accounts import AuthError, OfficerStore, SignedIn
from edge.claim.officers.officer_list import OfficersRejected, hash_pin, open_signed_officers, pin_matches
from edge.claim.officers.sessions import SessionManager
from tests.fixtures_claim import NOW, signed_officer_list


def test_pin_hash_verifies_only_the_right_pin():
    """scrypt hash with a random salt: the PIN matches, anything else (or no officer) does not; short PINs are refused."""
    h = hash_pin("24681357", n=2**10)
    assert pin_matches("24681357", h) and not pin_matches("24681358", h) and not pin_matches("", h)
    assert not pin_matches("24681357", None)
    assert hash_pin("24681357", n=2**10).salt != h.salt
    with pytest.raises(Exception, match="6 to 128"):
        hash_pin("123")


@pytest.mark.parametrize("change, code", [
    (lambda d: d["officers"]["officers"][0].update(role="supervisor"), "bad_signature"),
    (lambda d: d["signature"].update(key_id="0" * 16), "unknown_issuer"),
    (lambda d: d.pop("signature"), "bad_format"),
])
def test_forged_or_altered_list_refused(issuer_key, trusted_keys, change, code):
    """Promoting oneself to supervisor, another key or a missing signature: refused with the reason."""
    signed, _ = signed_officer_list(issuer_key)
    bad = copy.deepcopy(signed)
    change(bad)
    with pytest.raises(OfficersRejected) as exc:
        open_signed_officers(json.dumps(bad), trusted_keys, distribution_point="dev-point", now=NOW)
    assert exc.value.code == code


def test_list_for_another_point_expired_or_stale_refused(issuer_key, trusted_keys, tmp_path):
    """A list for another point, outside its dates, or not newer than the installed one is refused."""
    other, _ = signed_officer_list(issuer_key, point="other-point")
    with pytest.raises(OfficersRejected, match="wrong_point"):
        open_signed_officers(other, trusted_keys, distribution_point="dev-point", now=NOW)
    signed, _ = signed_officer_list(issuer_key)
    with pytest.raises(OfficersRejected, match="not_valid_now"):
        open_signed_officers(signed, trusted_keys, distribution_point="dev-point", now=NOW.replace(year=NOW.year + 1))
    with OfficerStore(tmp_path / "o.sqlite", trusted_keys, "dev-point") as store:
        store.install(signed)
        with pytest.raises(OfficersRejected, match="stale_version"):
            store.install(signed)
        assert store.install(signed_officer_list(issuer_key, version=2)[0]).version == 2


def test_tampered_store_file_gives_nobody_a_sign_in(officer_store):
    """Editing the stored list on the SD card (e.g. adding a role) breaks its signature: no sign-in at all."""
    row = officer_store._db.execute("SELECT value FROM meta WHERE key = 'signed'").fetchone()[0]
    doc = json.loads(row)
    doc["officers"]["officers"][0]["role"] = "supervisor"
    officer_store._db.execute("UPDATE meta SET value = ? WHERE key = 'signed'", (json.dumps(doc),))
    with pytest.raises(AuthError) as exc:
        officer_store.authenticate("OFF-7", officer_store.pins["OFF-7"])
    assert exc.value.error_id == "no_officer_list"


def test_lockout_after_repeated_failures_survives_restart(issuer_key, trusted_keys, tmp_path):
    """Five wrong PINs lock the officer out (even with the right PIN), across a reopen, until the lockout passes."""
    now = [NOW.timestamp()]
    signed, pins = signed_officer_list(issuer_key)
    with OfficerStore(tmp_path / "o.sqlite", trusted_keys, "dev-point", clock=lambda: now[0]) as store:
        store.install(signed)
        assert store.authenticate("OFF-7", pins["OFF-7"]).role == "officer"
        for _ in range(5):
            with pytest.raises(AuthError, match="wrong PIN"):
                store.authenticate("OFF-7", "99999999" if pins["OFF-7"] != "99999999" else "11111111")
    with OfficerStore(tmp_path / "o.sqlite", trusted_keys, "dev-point", clock=lambda: now[0]) as store:
        with pytest.raises(AuthError) as exc:
            store.authenticate("OFF-7", pins["OFF-7"])
        assert (exc.value.error_id, exc.value.http_status) == ("locked_out", 429)
        assert store.authenticate("SUP-1", pins["SUP-1"]).role == "supervisor"  # others unaffected
        now[0] += 301
        assert store.authenticate("OFF-7", pins["OFF-7"]).officer_id == "OFF-7"
        for _ in range(5):  # an id not on the list answers exactly like a real one, lockout included
            with pytest.raises(AuthError, match="wrong PIN"):
                store.authenticate("NOBODY-1", "12345678")
        with pytest.raises(AuthError) as exc:
            store.authenticate("NOBODY-1", "12345678")
        assert exc.value.error_id == "locked_out"


def test_sessions_end_when_idle_at_max_age_and_on_sign_out():
    """Idle timeout, absolute lifetime and sign-out each end a session; only the token's hash is kept."""
    now = [1000.0]
    sm = SessionManager(idle_s=60, max_s=300, clock=lambda: now[0])
    off = SignedIn("OFF-7", "Ani", "officer")
    token, _ = sm.create(off)
    assert token not in repr(sm._by_digest)
    for _ in range(4):
        now[0] += 59
        assert sm.get(token) is not None  # each use restarts the idle timer
    now[0] += 70
    assert sm.get(token) is None
    token, _ = sm.create(off)
    for _ in range(6):
        now[0] += 50
        sm.get(token)
    assert sm.get(token) is None  # past max_s although never idle
    token, _ = sm.create(off)
    assert sm.end(token) and sm.get(token) is None


@pytest.mark.parametrize("effective, new, pays_now, voided, reason", [
    ("reject", "accept", False, False, "reject_to_accept"),
    ("refer", "accept", False, False, None),
    ("refer", "accept", False, True, "pay_after_void"),
    ("accept", "reject", True, False, "void"),
    ("refer", "reject", False, False, None),
    ("accept", "accept", True, False, None),
    ("reject", "accept", False, True, "pay_after_void"),
])
def test_two_person_rule_table(effective, new, pays_now, voided, reason):
    """Which overrides need a second officer."""
    assert two_person_reason(effective, new, pays_now, voided) == reason


def test_officers_cli_build_generates_pins_privately(tmp_path, monkeypatch, capsys):
    """`edge officers build` hashes PINs; generated ones go only to a 0600 file; sign + import + show work end to end."""
    from edge.cli import main

    monkeypatch.setenv("TEPAT__DEVICE__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TEPAT__DEVICE__DISTRIBUTION_POINT", "desa-a")
    monkeypatch.setenv("TEPAT__CLAIM__ISSUER_KEYS", json.dumps([str(tmp_path / "issuer.pub.pem")]))
    csv = tmp_path / "officers.csv"
    csv.write_text("officer_id,name,role,pin\nOFF-1,Ani,officer,\nSUP-1,Sari,supervisor,\n")
    assert main(["roster", "keygen", str(tmp_path / "issuer.pem")]) == 0
    assert main(["officers", "build", str(csv), "--point", "desa-a", "--version", "1", "-o", str(tmp_path / "o.json")]) == 2
    assert "--pins-out" in capsys.readouterr().err
    assert main(["officers", "build", str(csv), "--point", "desa-a", "--version", "1", "-o", str(tmp_path / "o.json"),
                 "--pins-out", str(tmp_path / "pins.csv")]) == 0
    pins = dict(line.split(",") for line in (tmp_path / "pins.csv").read_text().splitlines()[1:])
    assert stat.S_IMODE((tmp_path / "pins.csv").stat().st_mode) == 0o600
    listed = (tmp_path / "o.json").read_text()
    assert all(p not in listed for p in pins.values())
    assert main(["officers", "sign", str(tmp_path / "o.json"), "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "os.json")]) == 0
    assert main(["officers", "import", str(tmp_path / "os.json")]) == 0
    capsys.readouterr()
    assert main(["officers", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == 1 and [o["role"] for o in shown["officers"]] == ["officer", "supervisor"]
    assert main(["officers", "import", str(tmp_path / "os.json")]) == 2
    assert "stale_version" in capsys.readouterr().err


def test_a_new_list_applies_to_live_sessions(issuer_key, trusted_keys, tmp_path):
    """A supervisor demoted by a new list acts as an officer at once; a removed officer's session ends."""
    from edge.claim.api.sign_in import OfficerAuth
    from edge.claim.officers.sessions import SessionManager
    from edge.service.http_guard import HttpRequest

    signed, pins = signed_officer_list(issuer_key)
    with OfficerStore(tmp_path / "o.sqlite", trusted_keys, "dev-point") as store:
        store.install(signed)
        auth = OfficerAuth(store, SessionManager())

        def bearer(officer_id):
            status, body, _ = auth.sign_in(HttpRequest(officer_id=officer_id, pin=pins[officer_id], bearer=True))
            assert status == 200, body
            req = HttpRequest()
            req.headers = {"Authorization": f"Bearer {body['token']}"}
            return req

        sup, off = bearer("SUP-1"), bearer("OFF-7")
        assert auth.current(sup).officer.role == "supervisor"
        store.install(signed_officer_list(issuer_key, officers=(("SUP-1", "Sari", "officer"),), version=2)[0])
        assert auth.current(sup).officer.role == "officer"
        with pytest.raises(AuthError) as exc:
            auth.current(off)
        assert exc.value.error_id == "not_signed_in"
