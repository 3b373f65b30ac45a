"""The officer/issuer commands: keys, roster keygen/build/sign, clear one-line errors."""

from __future__ import annotations

import json
import stat

import pytest

from edge.cli import main


@pytest.fixture()
def state_env(tmp_path, monkeypatch):
    """A terminal whose state lives in tmp_path/state (via the environment override)."""
    monkeypatch.setenv("TEPAT__DEVICE__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("TEPAT_TEMPLATE_KEY", raising=False)
    return tmp_path


def test_keys_init_creates_private_files_0600(state_env, capsys):
    """`edge keys init` makes the device key pair and template key, owner-only, and keeps them on a second run."""
    assert main(["keys", "init"]) == 0
    first = json.loads(capsys.readouterr().out)
    keys = state_env / "state" / "keys"
    for name in ("device_ed25519.pem", "template.key"):
        assert stat.S_IMODE((keys / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert main(["keys", "init"]) == 0
    assert json.loads(capsys.readouterr().out)["device_key_id"] == first["device_key_id"]


def test_world_readable_key_refused(state_env, capsys):
    """A template key readable by others is refused with one line naming the file and the fix."""
    main(["keys", "init"])
    capsys.readouterr()
    key = state_env / "state" / "keys" / "template.key"
    key.chmod(0o644)
    assert main(["roster", "show"]) == 2
    err = capsys.readouterr().err
    assert "chmod 600" in err and str(key) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_issuer_sign_then_tamper_detected(state_env, roster_doc, capsys):
    """`edge roster sign` output verifies; changing it afterwards is caught by the device's check."""
    from edge.claim.records.crypto import load_public_key, public_key_id
    from edge.claim.roster.document import RosterRejected, open_signed_roster
    from tests.fixtures_claim import NOW

    key = state_env / "issuer.pem"
    assert main(["roster", "keygen", str(key)]) == 0
    src = state_env / "roster.json"
    src.write_text(json.dumps(roster_doc()))
    out = state_env / "roster.signed.json"
    assert main(["roster", "sign", str(src), "--key", str(key), "-o", str(out)]) == 0
    pub = load_public_key(key.with_suffix(".pub.pem"))
    trusted = {public_key_id(pub): pub}
    assert open_signed_roster(out.read_bytes(), trusted, None, NOW, "dev-point").version == 1
    doc = json.loads(out.read_text())
    doc["roster"]["version"] = 99
    with pytest.raises(RosterRejected, match="bad_signature"):
        open_signed_roster(json.dumps(doc), trusted, None, NOW, "dev-point")


def test_sign_refuses_malformed_roster(state_env, roster_doc, capsys):
    """The issuer tool refuses to sign a roster a device would reject, naming the field."""
    key = state_env / "issuer.pem"
    main(["roster", "keygen", str(key)])
    src = state_env / "bad.json"
    src.write_text(json.dumps(roster_doc(period="Nov 2026")))
    assert main(["roster", "sign", str(src), "--key", str(key), "-o", str(state_env / "x.json")]) == 2
    assert "period" in capsys.readouterr().err


def test_roster_build_from_photo_folder(state_env, datasets_dir, capsys):
    """`edge roster build` makes one recipient per photo sub-folder with embedded photos."""
    faces = state_env / "faces"
    for name in ("Megawati_Sukarnoputri", "Gloria_Macapagal_Arroyo"):
        (faces / name).mkdir(parents=True)
        (faces / name / "1.jpg").write_bytes((datasets_dir / "faces" / name / "1.jpg").read_bytes())
    out = state_env / "r.json"
    assert main(["roster", "build", str(faces), "--point", "desa-a", "--period", "2026-11", "--version", "3", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [r["recipient_id"] for r in doc["recipients"]] == ["Gloria_Macapagal_Arroyo", "Megawati_Sukarnoputri"]
    assert all(len(r["photos_b64"]) == 1 for r in doc["recipients"])


def test_keys_from_systemd_credentials(state_env, monkeypatch, capsys):
    """With $CREDENTIALS_DIRECTORY holding the keys (LoadCredentialEncrypted=), no plain key file is read or created."""
    from edge.claim.keys import device_key, template_box
    from edge.config import load_config

    assert main(["keys", "init"]) == 0
    capsys.readouterr()
    keys = state_env / "state" / "keys"
    creds = state_env / "creds"
    creds.mkdir()
    (creds / "tepat-device-key").write_bytes((keys / "device_ed25519.pem").read_bytes())
    (creds / "tepat-template-key").write_bytes((keys / "template.key").read_bytes())
    for f in creds.iterdir():
        f.chmod(0o400)
    expected_box = template_box(load_config())
    (keys / "device_ed25519.pem").unlink()
    (keys / "template.key").unlink()
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_config()
    assert device_key(cfg) and template_box(cfg).key_id == expected_box.key_id
    assert main(["keys", "show"]) == 0
    shown = json.loads(capsys.readouterr().out)["loaded_from"]
    assert shown["device_key"].startswith("credential ") and shown["template_key"].startswith("credential ")
    assert not (keys / "template.key").exists()


def test_plain_key_files_warn(state_env, monkeypatch):
    """Under systemd (INVOCATION_ID set) without credentials, the journal says the keys are plain files."""
    import logging

    from edge.claim import keys as keys_mod
    from edge.config import load_config

    main(["keys", "init"])
    keys_mod._warned.clear()
    monkeypatch.setenv("INVOCATION_ID", "0123")
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    keys_mod.logger.addHandler(handler)
    try:
        keys_mod.device_key(load_config())
    finally:
        keys_mod.logger.removeHandler(handler)
    assert any("plain file" in m and "systemd-creds" in m for m in seen), seen
