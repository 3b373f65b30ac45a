"""End to end: every shipped scenario plays against real terminals and a real broker and meets its expectations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.runner import RunOptions, run_scenario
from simulator.scenario import builtin_dir, load_scenario, parse_scenario
from simulator.tally import table
from tests.conftest import require_binary

SCENARIOS = sorted(p.name for p in builtin_dir().glob("*.toml"))

pytestmark = pytest.mark.shared


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_meets_its_expectations(name: str, sim_broker: Any, sim_faces: Any, sim_face_engine: Any, tmp_path: Path) -> None:
    """The scenario's per-claim outcomes and totals hold, and no committed record is lost."""
    sc = load_scenario(builtin_dir() / name)
    if any(t.gps.kind == "gpsd" for t in sc.terminals):
        require_binary("gpsfake")
    lines: list[str] = []
    result = run_scenario(sc, sim_faces, sim_broker, RunOptions(work_dir=tmp_path, face=sim_face_engine), progress=lines.append)
    report = "\n".join(lines) + "\n" + table(result.tally, sc.expect)
    assert result.problems == [], report
    assert result.tally.lost == 0 and result.tally.delivered == result.tally.records > 0, report


def test_a_failed_expectation_is_reported(sim_broker: Any, sim_faces: Any, sim_face_engine: Any, tmp_path: Path) -> None:
    """A scenario whose expectation is wrong comes back with the problem named (so scenarios can fail)."""
    sc = parse_scenario({"name": "wrong", "seed": 1, "roster": {"recipients": 2},
                         "queue": [{"kind": "unknown", "expect": "accept"}], "expect": {"rejected": 0}})
    result = run_scenario(sc, sim_faces, sim_broker, RunOptions(work_dir=tmp_path, face=sim_face_engine), progress=lambda _: None)
    assert any("expected accept, got reject" in p for p in result.problems)
    assert "rejected: expected 0, got 1" in result.problems


def test_outage_records_wait_in_the_outbox_until_the_link_returns(sim_broker: Any, sim_faces: Any, sim_face_engine: Any, tmp_path: Path) -> None:
    """Claims made while the link is cut are counted as queued offline and all reach central afterwards."""
    sc = parse_scenario({"name": "cut", "seed": 3, "roster": {"recipients": 3},
                         "queue": [{"kind": "unknown", "count": 3}], "outages": [{"from_claim": 0}]})
    result = run_scenario(sc, sim_faces, sim_broker, RunOptions(work_dir=tmp_path, face=sim_face_engine), progress=lambda _: None)
    assert result.tally.queued_offline == 3
    assert result.tally.delivered == 3 and result.tally.lost == 0
    assert result.latencies_s and max(result.latencies_s) > 0


def test_amqtt_fallback_carries_a_day(sim_faces: Any, sim_face_engine: Any, tmp_path: Path) -> None:
    """With the in-process amqtt broker (MQTT 3.1.1), terminals publish through an outage and nothing is lost."""
    pytest.importorskip("amqtt", reason="amqtt (the [sim] extra) is not installed")
    from simulator.broker import SimBroker

    sc = parse_scenario({"name": "amqtt", "seed": 2, "roster": {"recipients": 3},
                         "queue": [{"kind": "genuine", "count": 2}, {"kind": "unknown", "count": 2}], "outages": [{"from_claim": 1, "to_claim": 3}]})
    with SimBroker(prefer="amqtt", probe_localhost=False) as broker:
        assert broker.endpoint is not None and broker.endpoint.protocol == "3.1.1"
        result = run_scenario(sc, sim_faces, broker, RunOptions(work_dir=tmp_path, face=sim_face_engine), progress=lambda _: None)
    assert result.tally.queued_offline == 2
    assert result.tally.delivered == result.tally.records == 4 and result.tally.lost == 0
