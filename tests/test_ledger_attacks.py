"""Issue 13 item 4, against a real ``edge run`` and a real Mosquitto: every forged or hostile ``cmd/ledger`` is refused.

The audit's attacks: an unsigned ledger entry, a ghost device, a year-0 time, an id not on the roster, NUL and
right-to-left characters, and one 875 KB message with 5,000 entries. Now a ledger update must carry the
central key's signature and this terminal's next sequence number, and every entry is checked; a recipient
blocked by a genuine central entry is referred to a supervisor with the entry shown.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge.central.relay import sign_ledger
from edge.claim.records.crypto import generate_signing_key, public_key_pem
from edge.claim.roster.document import sign_roster
from tests.fixtures_claim import PERIOD
from tests.fixtures_mqtt import free_port
from tests.support.http_json import call_json
from tests.support.served_terminal import write_edge_toml

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "dev-1"


def _entry(rid: str, key: str | None = None, **over) -> dict:
    e = {"recipient_id": rid, "period": PERIOD, "idempotency_key": key or str(uuid.uuid4()), "device_id": "dev-2",
         "distribution_point": "dev-point", "decided_at": datetime.now(timezone.utc).isoformat()}
    e.update(over)
    return e


def _body(seq: int, entries: list[dict]) -> dict:
    return {"schema": "tepat.ledger", "schema_version": 2, "device_id": DEVICE, "seq": seq,
            "issued_at": datetime.now(timezone.utc).isoformat(), "entries": entries}


def _signed_raw(body: dict, key) -> dict:
    """Sign without the relay's own schema check (a hostile or buggy signer)."""
    from edge.claim.records.canonical import canonical_json
    from edge.claim.records.crypto import public_key_id, sign

    return {"ledger": body, "signature": {"alg": "ed25519", "key_id": public_key_id(key.public_key()), "sig": sign(key, canonical_json(body))}}


def _service_config(tmp: Path, broker, issuer_pub: Path, central_pub: Path, http_port: int) -> Path:
    frames = tmp / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "0.png"), np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    return write_edge_toml(tmp, http_port, broker, DEVICE, issuer_pub, frames, claim=f'central_keys = ["{central_pub}"]')


TOKEN: dict[str, str] = {}


def _http(port: int, method: str, path: str, body: dict | None = None, timeout: float = 30.0) -> tuple[int, dict]:
    return call_json(f"http://127.0.0.1:{port}{path}", method, body, token=TOKEN.get("t"), timeout=timeout)


def test_hostile_ledger_updates_are_refused_by_a_running_terminal(tmp_path, mosquitto, issuer_key, roster_doc):
    issuer_pub = tmp_path / "issuer.pub.pem"
    issuer_pub.write_bytes(public_key_pem(issuer_key.public_key()))
    central = generate_signing_key()
    central_pub = tmp_path / "central.pub.pem"
    central_pub.write_bytes(public_key_pem(central.public_key()))
    port = free_port()
    cfg = _service_config(tmp_path, mosquitto, issuer_pub, central_pub, port)
    roster = tmp_path / "roster.json"
    roster.write_text(json.dumps(sign_roster(roster_doc(n=3), issuer_key)))
    subprocess.run([sys.executable, "-m", "edge", "--config", str(cfg), "roster", "import", str(roster), "--no-recompute"],
                   cwd=ROOT, check=True, capture_output=True, timeout=180)
    from tests.fixtures_claim import signed_officer_list

    officers, pins = signed_officer_list(issuer_key)
    (tmp_path / "officers.json").write_text(json.dumps(officers))
    subprocess.run([sys.executable, "-m", "edge", "--config", str(cfg), "officers", "import", str(tmp_path / "officers.json")],
                   cwd=ROOT, check=True, capture_output=True, timeout=180)
    TOKEN.clear()

    op = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"op-{uuid.uuid4().hex[:6]}", protocol=mqtt.MQTTv5)
    op.username_pw_set("operator", mosquitto.password("operator"))
    resyncs: list[dict] = []
    op.on_message = lambda c, u, m: resyncs.append(json.loads(m.payload))
    op.connect(mosquitto.host, mosquitto.port)
    op.subscribe(f"tepat/v1/jabar/{DEVICE}/event/ledger_resync", qos=1)
    op.loop_start()
    log = open(tmp_path / "service.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(cfg), "run"], cwd=ROOT,
                            env={**os.environ, "NOTIFY_SOCKET": ""}, stdout=subprocess.DEVNULL, stderr=log)

    def send(args: dict | bytes) -> None:
        env = {"schema_name": "tepat.command", "schema_version": 1, "command_id": uuid.uuid4().hex,
               "issued_at": datetime.now(timezone.utc).isoformat(), "issuer": "attacker", "args": args}
        op.publish(f"tepat/v1/jabar/{DEVICE}/cmd/ledger", json.dumps(env), qos=1).wait_for_publish(10)

    def log_text() -> str:
        if not log.closed:
            log.flush()
        return (tmp_path / "service.log").read_text(errors="replace")

    def wait_log(text: str, n: int = 1, timeout: float = 60.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if log_text().count(text) >= n:
                return
            assert proc.poll() is None, f"edge run exited: {log_text()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} (x{n}) in the service log: {log_text()[-3000:]}")

    try:
        end = time.monotonic() + 120
        while time.monotonic() < end:  # the officer signs in once the service answers
            try:
                status, session = _http(port, "POST", "/api/session", {"officer_id": "OFF-7", "pin": pins["OFF-7"], "bearer": True}, timeout=5)
                if status == 200:
                    TOKEN["t"] = session["token"]
                    break
            except OSError:
                pass
            time.sleep(0.3)
        assert TOKEN.get("t"), "the officer could not sign in"
        time.sleep(1.5)
        attacker = generate_signing_key()
        genuine = _entry("PKH-00002")
        send(_body(1, [_entry("PKH-00001", device_id="ghost-terminal")]) | {})                    # old habit: not even wrapped
        send({"ledger": _body(1, [_entry("PKH-00001", device_id="ghost-terminal")])})             # unsigned, ghost device
        send(sign_ledger(_body(1, [_entry("PKH-00001")]), attacker))                               # signed by a key nobody trusts
        send(sign_ledger(_body(1, [genuine]), central))                                            # genuine: applied
        send(sign_ledger(_body(1, [genuine]), central))                                            # replayed
        send(_signed_raw(_body(2, [_entry("PKH-99999"),                                            # not on the roster
                                   _entry("PKH-00003", decided_at="0001-01-01T00:00:00+00:00"),     # year-1 time
                                   _entry("PKH-00003", decided_at="0000-01-01T00:00:00+00:00")]), central))  # year 0: malformed
        send(_signed_raw(_body(2, [_entry("PKH-99999"), _entry("PKH-00003", decided_at="0001-01-01T00:00:00+00:00")]), central))
        send(_signed_raw(_body(3, [_entry("PKH-00001", distribution_point="desa\x00hidden")]), central))  # NUL
        send(_signed_raw(_body(3, [_entry("PKH-00001", distribution_point="desa\u202eatok")]), central))  # right-to-left override
        big = [_entry("PKH-00001", device_id=f"ghost-{i:04d}", distribution_point="x" * 60) for i in range(5000)]
        send({"ledger": _body(3, big)})                                                            # 875 KB, unsigned
        send(_signed_raw(_body(3, big), central))                                                  # 875 KB, signed
        t0 = time.monotonic()
        status, _ = _http(port, "GET", "/api/ledger/PKH-00001", timeout=30)                       # the API still answers
        api_wait = time.monotonic() - t0
        assert status == 200
        send(sign_ledger(_body(7, [_entry("PKH-00003")]), central))                                # a gap: 3..6 missing
        for code in ("does not match the schema", "(unsigned)", "(unknown_signer)", "(replay)", "(too_many_entries)", "(gap)"):
            wait_log(code)
        wait_log("(malformed)", 3)
        wait_log("is not on this terminal's roster")
        wait_log("is not a plausible time")
        end = time.monotonic() + 30
        while not resyncs and time.monotonic() < end:
            time.sleep(0.2)
        assert resyncs and resyncs[0]["payload"]["from_seq"] == 3 and resyncs[0]["payload"]["seen_seq"] == 7
        # the genuine central entry blocks PKH-00002: referred to a supervisor with the entry shown, never silently refused
        status, view = _http(port, "GET", "/api/ledger/PKH-00002")
        assert status == 200 and [d["idempotency_key"] for d in view["disbursements"]] == [genuine["idempotency_key"]]
        status, claim = _http(port, "POST", "/api/claim", {"recipient_id": "PKH-00002"})
        assert status == 200 and (claim["outcome"], claim["reason_code"]) == ("refer", "paid_elsewhere"), claim
        assert genuine["idempotency_key"] in claim["message"]["id"] and genuine["idempotency_key"] in claim["message"]["en"]
        print(f"claim API answered in {api_wait:.2f} s after two 875 KB ledger messages")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        op.loop_stop()
        op.disconnect()
        log.close()
    assert "Traceback" not in log_text()
    db = sqlite3.connect(tmp_path / "state" / "ledger.sqlite")
    central_rows = db.execute("SELECT recipient_id, device_id, distribution_point FROM disbursements WHERE source = 'central'").fetchall()
    assert central_rows == [("PKH-00002", "dev-2", "dev-point")]
    assert db.execute("SELECT COUNT(*) FROM conflicts").fetchone()[0] == 0
    assert db.execute("SELECT value FROM counters WHERE name = 'ledger_seq'").fetchone()[0] == 2
    db.close()


@pytest.mark.parametrize("n", [5000])
def test_entry_cap_is_checked_before_the_signature_work(n):
    """The per-message cap is enforced on the raw list, so a huge message costs one length check, not 5,000 validations."""
    from edge.claim.inbound.ledger_update import LedgerRefused, open_ledger

    key = generate_signing_key()
    body = _body(1, [_entry("PKH-00001") for _ in range(n)])
    with pytest.raises(LedgerRefused) as exc:
        open_ledger(_signed_raw(body, key), {__import__("edge.claim.records.crypto", fromlist=["public_key_id"]).public_key_id(key.public_key()): key.public_key()}, DEVICE)
    assert exc.value.code == "too_many_entries"
