"""Claims over a real Mosquitto: records reach the central side signed; cmd/roster and cmd/ledger work end to end."""

from __future__ import annotations

from edge.claim.records.signed import verify_record
from edge.claim.roster.document import sign_roster
from edge.config import DeviceConfig
from tests.fixtures_claim import publisher_for, wait_until_linked


def test_offline_double_payment_surfaces_as_conflict_at_central(mosquitto, mqtt_config_for, central, make_terminal, scripted_face,
                                                                 roster_doc, trusted_keys, issuer_key):
    """Two terminals pay one recipient while offline; once linked, central relays each payout (signed, sequenced) and both conflicts arrive, signed."""
    from edge.central.relay import sign_ledger

    devs = [DeviceConfig(device_id=f"dev-{i}", region="jabar", distribution_point=f"desa-{i}") for i in (2, 3)]
    terms = [make_terminal(scripted_face, device_id=d.device_id, point="dev-point", roster=roster_doc()) for d in devs]
    paid = [t.claim("PKH-00001", officer_id="OFF-1") for t in terms]  # both offline: publishers not started yet
    assert [p.decision.outcome for p in paid] == ["accept", "accept"]
    pubs = [publisher_for(t, d, mosquitto, mqtt_config_for, trusted_keys).start() for t, d in zip(terms, devs)]
    try:
        decisions = central.wait_for(lambda t, e: t.endswith("/event/decision") and len(
            [x for x in central.events if x[0].endswith("/event/decision")]) >= 2)
        recs = {e["payload"]["device_id"]: e["payload"] for t, e in central.events if t.endswith("/event/decision")}
        assert set(recs) == {"dev-2", "dev-3"}, decisions
        assert verify_record(recs["dev-2"], terms[0].key.public_key()) and verify_record(recs["dev-3"], terms[1].key.public_key())
        for dev, other in ((devs[0], recs["dev-3"]), (devs[1], recs["dev-2"])):
            entry = {k: other[k] for k in ("recipient_id", "period", "idempotency_key", "device_id", "distribution_point")} | {"decided_at": other["time"]["wall"]}
            body = {"schema": "tepat.ledger", "schema_version": 2, "device_id": dev.device_id, "seq": 1, "issued_at": other["time"]["wall"],
                    "entries": [entry]}
            central.command(dev, "ledger", sign_ledger(body, issuer_key))  # no claim.central_keys: the roster issuer key signs
        conflicts = central.wait_for(lambda t, e: t.endswith("/event/conflict") and len(
            [x for x in central.events if x[0].endswith("/event/conflict")]) >= 2)
        got = {e["payload"]["device_id"]: e["payload"] for t, e in central.events if t.endswith("/event/conflict")}
        assert set(got) == {"dev-2", "dev-3"}, conflicts
        assert got["dev-2"]["other_device_id"] == "dev-3" and got["dev-2"]["local_key"] == recs["dev-2"]["idempotency_key"]
        assert verify_record(got["dev-3"], terms[1].key.public_key())
    finally:
        for p in pubs:
            p.stop()


def test_roster_over_mqtt_signed_accepted_tampered_refused(mosquitto, mqtt_config_for, central, make_terminal, scripted_face,
                                                         roster_doc, issuer_key, trusted_keys):
    """cmd/roster: a tampered roster is refused with a published reason; the signed one is installed and acknowledged."""
    dev = DeviceConfig(device_id="dev-4", region="jabar", distribution_point="dev-point")
    svc = make_terminal(scripted_face, device_id="dev-4", roster=roster_doc())
    pub = publisher_for(svc, dev, mosquitto, mqtt_config_for, trusted_keys).start()
    try:
        wait_until_linked(pub)
        tampered = sign_roster(roster_doc(version=2), issuer_key)
        tampered["roster"]["recipients"][1]["display_name"] = "Orang Lain"
        central.command(dev, "roster", tampered)
        refused = central.wait_for(lambda t, e: t.endswith("dev-4/event/roster_ack") and not e["payload"]["accepted"])
        assert refused and refused[0][1]["payload"]["code"] == "bad_signature"
        central.command(dev, "roster", sign_roster(roster_doc(version=2, n=5), issuer_key))
        ok = central.wait_for(lambda t, e: t.endswith("dev-4/event/roster_ack") and e["payload"]["accepted"])
        assert ok and ok[0][1]["payload"]["version"] == 2 and ok[0][1]["payload"]["recipients"] == 5
        assert svc.roster.installed().version == 2
    finally:
        pub.stop()
