"""The disbursement ledger: one payout per recipient per period, central updates, conflicts."""

from __future__ import annotations

import pytest

from edge.claim.flow.ledger import AlreadyPaidError, Disbursement, Ledger


def rec(key: str, rid: str = "PKH-1", period: str = "2026-11", wall: str = "2026-11-23T03:00:00Z") -> dict:
    return {"idempotency_key": key, "seq": 1, "schema": "tepat.decision", "outcome": "accept", "recipient_id": rid,
            "period": period, "time": {"wall": wall, "source": "gps"}}


@pytest.fixture()
def ledger(tmp_path):
    """A fresh ledger file for terminal t-1 at point desa-a."""
    with Ledger(tmp_path / "ledger.sqlite", "t-1", "desa-a") as led:
        yield led


def test_second_local_payout_refused__invalid(ledger):
    """The same recipient cannot be paid twice in one period on this terminal, even if the rules were bypassed."""
    ledger.save_record(rec("k1aaaaaa"), disburse=True)
    with pytest.raises(AlreadyPaidError):
        ledger.save_record(rec("k2aaaaaa"), disburse=True)
    assert ledger.prior_claim("PKH-1", "2026-11").device_id == "t-1"


def test_next_period_payout__valid(ledger):
    """Paying in the next period is allowed."""
    ledger.save_record(rec("k1aaaaaa"), disburse=True)
    ledger.save_record(rec("k2aaaaaa", period="2026-12"), disburse=True)
    assert ledger.prior_claim("PKH-1", "2026-12") is not None


def test_central_update_blocks_claim_elsewhere(ledger):
    """A payout reported by the central side from another terminal makes the recipient already paid here."""
    assert ledger.apply_central([Disbursement("other-1", "PKH-9", "2026-11", "t-2", "desa-b", "2026-11-22T02:00:00Z")]) == []
    prior = ledger.prior_claim("PKH-9", "2026-11")
    assert (prior.device_id, prior.distribution_point) == ("t-2", "desa-b")


def test_conflict_detected_once(ledger):
    """Two terminals paying the same recipient offline is a conflict, reported exactly once."""
    ledger.save_record(rec("mine0001"), disburse=True)
    other = Disbursement("theirs01", "PKH-1", "2026-11", "t-2", "desa-b", "2026-11-23T02:00:00Z")
    conflicts = ledger.apply_central([other])
    assert len(conflicts) == 1 and conflicts[0].local.idempotency_key == "mine0001" and conflicts[0].other.device_id == "t-2"
    assert ledger.apply_central([other]) == []


def test_own_echo_is_not_a_conflict(ledger):
    """The central side echoing this terminal's own payout is not a conflict."""
    ledger.save_record(rec("mine0001"), disburse=True)
    assert ledger.apply_central([Disbursement("mine0001", "PKH-1", "2026-11", "t-1", "desa-a", "2026-11-23T03:00:00Z")]) == []


def test_void_keeps_history(ledger):
    """Voiding a payout frees the period but keeps both records in the history."""
    ledger.save_record(rec("k1aaaaaa"), disburse=True)
    ledger.void("k1aaaaaa", by_key="ov000001")
    assert ledger.prior_claim("PKH-1", "2026-11") is None
    hist = ledger.history("PKH-1")
    assert hist["disbursements"][0]["voided_by"] == "ov000001" and len(hist["decisions"]) == 1


def test_latest_time_per_boot_survives_reopen(tmp_path):
    """The newest decision time under a boot id is read back after a restart, so the clock can resume from it; another boot has none."""
    from datetime import datetime, timezone

    with Ledger(tmp_path / "l.sqlite", "t-1", "p") as led:
        for n, wall in enumerate(["2026-11-23T03:00:00Z", "2026-11-23T03:05:00Z"], start=1):
            r = rec(f"key{n:05d}", rid=f"PKH-{n}", wall=wall)
            r["seq"], r["time"]["boot_id"] = n, "boot-a"
            led.save_record(r, disburse=False)
    with Ledger(tmp_path / "l.sqlite", "t-1", "p") as led:
        assert led.latest_time("boot-a") == datetime(2026, 11, 23, 3, 5, tzinfo=timezone.utc)
        assert led.latest_time("boot-b") is None


def test_restarted_time_source_never_goes_before_recorded_time():
    """A TimeSource given the ledger's latest time holds a lagging clock at that time instead of going back."""
    from datetime import datetime, timedelta, timezone

    from edge.timesource import LinuxClock, TimeSource

    future = datetime.now(timezone.utc) + timedelta(hours=1)
    stamp = TimeSource(None, clock=LinuxClock(), not_before=future).now()
    assert stamp.wall >= future and stamp.held_s > 3000
