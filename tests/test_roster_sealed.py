"""Confidential rosters (issue 13 item 6): a signed roster sealed to the terminal's X25519 key travels as
ciphertext; the broker and the operator account never see names or photos."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from edge.claim.roster.confidential import seal_roster
from edge.claim.roster.document import IssuerTrust, RosterRejected, open_signed_roster, sign_roster
from edge.config import DeviceConfig
from tests.fixtures_claim import NOW, publisher_for, wait_until_linked


@pytest.fixture()
def terminal_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def _trust(issuer_key, terminal_key=None, require=False) -> IssuerTrust:
    t = IssuerTrust()
    t.add(issuer_key.public_key())
    t.roster_key, t.require_sealed = terminal_key, require
    return t


def test_sealed_roster_opens_only_on_its_terminal(roster_doc, issuer_key, terminal_key):
    sealed = seal_roster(sign_roster(roster_doc(), issuer_key), terminal_key.public_key())
    text = json.dumps(sealed)
    assert "Penerima" not in text and "KK-0001" not in text and "PKH-00001" not in text
    assert open_signed_roster(text, _trust(issuer_key, terminal_key), None, NOW, "dev-point").version == 1
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(text, _trust(issuer_key, X25519PrivateKey.generate()), None, NOW, "dev-point")
    assert err.value.code == "not_for_this_terminal"
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(text, _trust(issuer_key, None), None, NOW, "dev-point")
    assert err.value.code == "no_roster_key"


def test_tampered_ciphertext_and_forged_inner_roster(roster_doc, issuer_key, terminal_key):
    import base64

    sealed = seal_roster(sign_roster(roster_doc(), issuer_key), terminal_key.public_key())
    ct = bytearray(base64.b64decode(sealed["sealed_roster"]["ct"]))
    ct[10] ^= 1
    bad = {"sealed_roster": {**sealed["sealed_roster"], "ct": base64.b64encode(bytes(ct)).decode()}}
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(bad, _trust(issuer_key, terminal_key), None, NOW, "dev-point")
    assert err.value.code == "bad_seal"
    # anyone can seal to a public key: sealing never replaces the issuer's signature
    forged = sign_roster(roster_doc(), issuer_key)
    forged["roster"]["recipients"][0]["display_name"] = "Orang Lain"
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(seal_roster(forged, terminal_key.public_key()), _trust(issuer_key, terminal_key), None, NOW, "dev-point")
    assert err.value.code == "bad_signature"


def test_plain_roster_refused_when_sealing_required(roster_doc, issuer_key, terminal_key):
    with pytest.raises(RosterRejected) as err:
        open_signed_roster(sign_roster(roster_doc(), issuer_key), _trust(issuer_key, terminal_key, require=True), None, NOW, "dev-point")
    assert err.value.code == "not_sealed"


def test_sealed_roster_over_mqtt_operator_sees_no_names(mosquitto, mqtt_config_for, make_terminal, scripted_face, roster_doc,
                                                       issuer_key, terminal_key, central):
    """Real Mosquitto: a terminal requiring sealed rosters refuses a plain one and installs the sealed one; cmd/roster carries
    only ciphertext (what any reader of cmd/# or the broker's store gets)."""
    import paho.mqtt.client as mqtt

    dev = DeviceConfig(device_id="dev-3", region="jabar", distribution_point="dev-point")
    svc = make_terminal(scripted_face, device_id="dev-3", roster=roster_doc())
    trust = _trust(issuer_key, terminal_key, require=True)
    seen: list[bytes] = []
    spy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="spy-w13b", protocol=mqtt.MQTTv5)
    spy.username_pw_set("operator", mosquitto.password("operator"))
    spy.on_message = lambda c, u, m: seen.append(m.payload)
    spy.connect(mosquitto.host, mosquitto.port)
    spy.subscribe("tepat/v1/+/dev-3/cmd/#", qos=1)
    spy.loop_start()
    pub = publisher_for(svc, dev, mosquitto, mqtt_config_for, trust).start()
    try:
        wait_until_linked(pub)
        central.command(dev, "roster", sign_roster(roster_doc(version=2, n=4), issuer_key))  # plain: refused
        refused = central.wait_for(lambda t, e: t.endswith("dev-3/event/roster_ack") and not e["payload"]["accepted"])
        assert refused and refused[0][1]["payload"]["code"] == "not_sealed"
        central.command(dev, "roster", seal_roster(sign_roster(roster_doc(version=2, n=5), issuer_key), terminal_key.public_key()))
        ok = central.wait_for(lambda t, e: t.endswith("dev-3/event/roster_ack") and e["payload"]["accepted"])
        assert ok and ok[0][1]["payload"]["recipients"] == 5 and svc.roster.installed().version == 2
        # whatever a cmd/# reader gets (the shipped ACL may refuse the operator cmd/# altogether) holds no sealed names
        sealed_seen = [p for p in seen if b"sealed_roster" in p]
        assert all(b"Penerima" not in p for p in sealed_seen)
    finally:
        pub.stop()
        spy.loop_stop()
        spy.disconnect()


def test_cli_keys_seal_import(tmp_path, roster_doc, issuer_key, capsys, monkeypatch):
    """`edge keys init` makes the roster key; `edge roster seal --to` + `edge roster import` on a terminal requiring sealing."""
    from edge.claim.records.crypto import private_key_pem, public_key_pem, write_private_file
    from edge.cli import main

    monkeypatch.delenv("TEPAT_TEMPLATE_KEY", raising=False)
    pub = tmp_path / "issuer.pub.pem"
    pub.write_bytes(public_key_pem(issuer_key.public_key()))
    write_private_file(tmp_path / "issuer.pem", private_key_pem(issuer_key))
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n[claim]\nrequire_sealed_rosters = true\n'
                   f'[[claim.issuers]]\nkey = "{pub}"\nname = "kemensos-jabar"\npoints = ["dev-point"]\n[mqtt]\nenabled = false\n')
    assert main(["--config", str(cfg), "keys", "init"]) == 0
    roster_pub = json.loads(capsys.readouterr().out)["roster_public_key"]
    (tmp_path / "r.json").write_text(json.dumps(roster_doc()))
    assert main(["roster", "sign", str(tmp_path / "r.json"), "--key", str(tmp_path / "issuer.pem"), "-o", str(tmp_path / "s.json")]) == 0
    assert main(["roster", "seal", str(tmp_path / "s.json"), "--to", roster_pub, "-o", str(tmp_path / "sealed.json")]) == 0
    capsys.readouterr()
    assert "Penerima" not in (tmp_path / "sealed.json").read_text()
    assert main(["--config", str(cfg), "roster", "import", "--no-recompute", str(tmp_path / "s.json")]) != 0
    assert "not_sealed" in capsys.readouterr().err
    assert main(["--config", str(cfg), "roster", "import", "--no-recompute", str(tmp_path / "sealed.json")]) == 0
    assert json.loads(capsys.readouterr().out)["recipients"] == 3
