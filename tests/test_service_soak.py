"""Issue 11 "What it must show": one `edge run` process through a distribution day (see tests/day_soak.py).

Default suite: 1,000 claims, one link cut, one broker restart. ``make soak``: 5,000 claims, three cuts, three restarts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.day_soak import DayReport, run_day


def check(report: DayReport) -> None:
    text = json.dumps(report.as_dict(), indent=1)
    print(text)
    assert report.missing == 0, text
    assert report.duplicate_payouts == 0 and report.payouts > 0 and report.already_paid_refusals > 0, text
    assert report.seq_gaps == 0 and report.out_of_order == 0, text
    assert report.http_errors == 0, text
    assert report.peak["fds"] <= report.start["fds"] + 6, text
    assert report.peak["threads"] <= report.start["threads"] + 3, text
    assert report.end["fds"] <= report.start["fds"] + 3 and report.end["threads"] <= report.start["threads"] + 2, text
    assert len(report.drain_s) == report.cuts + report.restarts and max(report.drain_s) <= 10.0, text


def test_day_short(mosquitto_fresh, tmp_path: Path) -> None:
    check(run_day(mosquitto_fresh, tmp_path, claims=1000, cuts=1, restarts=1))


@pytest.mark.soak
def test_day_soak(mosquitto_fresh, tmp_path: Path) -> None:
    report = run_day(mosquitto_fresh, tmp_path, claims=5000, cuts=3, restarts=3)
    (Path(__file__).parents[1] / "build").mkdir(exist_ok=True)
    (Path(__file__).parents[1] / "build" / "soak-day.json").write_text(json.dumps(report.as_dict(), indent=1))
    check(report)
