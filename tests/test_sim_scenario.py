"""Scenario files, the seeded claim plan and the end-of-day tally (pure parts of the simulator)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.errors import ConfigError
from simulator.faces import FaceLibrary
from simulator.plan import make_plan
from simulator.scenario import builtin_dir, load_scenario, parse_scenario, spread_over
from simulator.tally import Tally, check, table


@pytest.fixture
def small_library(tmp_path: Path) -> FaceLibrary:
    """A face index of 30 fake identities with 4 'photos' each (files need not be images here)."""
    lib = FaceLibrary(root=tmp_path, origin="test")
    for i in range(30):
        d = tmp_path / f"Person_{i:02d}"
        d.mkdir()
        lib.identities[d.name] = []
        for n in range(4):
            (d / f"{n + 1}.jpg").write_bytes(b"x")
            lib.identities[d.name].append(d / f"{n + 1}.jpg")
    return lib


def test_every_shipped_scenario_parses_and_plans(small_library: FaceLibrary) -> None:
    """All scenario files in simulator/scenarios validate and expand to their claim count."""
    files = sorted(builtin_dir().glob("*.toml"))
    assert len(files) >= 6
    for path in files:
        sc = load_scenario(path)
        plan = make_plan(sc, small_library)
        assert len(plan.claims) == sc.total_claims, path.name


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    """A typo in a scenario is a ConfigError naming the file and the key."""
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\n[[queue]]\nkind = "genuine"\ncuont = 3\n')
    with pytest.raises(ConfigError, match=r"bad.toml: queue.0.cuont"):
        load_scenario(path)


def test_unknown_terminal_is_refused() -> None:
    """A queue entry naming an undeclared terminal is refused."""
    with pytest.raises(ConfigError, match="unknown terminal"):
        parse_scenario({"name": "x", "queue": [{"kind": "genuine", "terminal": "ghost"}]})


def test_plan_assigns_fresh_recipients_and_repeats(small_library: FaceLibrary) -> None:
    """Genuine claims take new recipients in order; a repeat re-presents the first one; impostors wear another face."""
    sc = parse_scenario({"name": "x", "seed": 1, "roster": {"recipients": 4}, "queue": [
        {"kind": "genuine", "count": 2}, {"kind": "impostor"}, {"kind": "repeat"}, {"kind": "unknown"}]})
    plan = make_plan(sc, small_library)
    g0, g1, imp, rep, unk = plan.claims
    assert (g0.claimed_id, g1.claimed_id) == ("SIM-0001", "SIM-0002")
    assert g0.identity == plan.person("SIM-0001").identity
    assert imp.claimed_id == "SIM-0004" and imp.identity not in {p.identity for p in plan.roster}
    assert rep.claimed_id == "SIM-0001" and rep.identity == g0.identity
    assert unk.recipient_id is None and unk.claimed_id not in {p.recipient_id for p in plan.roster}
    # enrolment photos are never shown to the camera
    person = plan.person("SIM-0001")
    assert not set(person.enrol) & set(g0.images)


def test_plan_is_deterministic(small_library: FaceLibrary) -> None:
    """The same seed picks the same people; another seed picks others."""
    data = {"name": "x", "roster": {"recipients": 5}, "queue": [{"kind": "genuine", "count": 5}]}
    a = make_plan(parse_scenario({**data, "seed": 1}), small_library)
    b = make_plan(parse_scenario({**data, "seed": 1}), small_library)
    c = make_plan(parse_scenario({**data, "seed": 2}), small_library)
    assert [p.identity for p in a.roster] == [p.identity for p in b.roster]
    assert [p.identity for p in a.roster] != [p.identity for p in c.roster]


def test_repeat_without_earlier_claim_is_an_error(small_library: FaceLibrary) -> None:
    """A repeat claim before any genuine claim cannot be planned and says why."""
    sc = parse_scenario({"name": "x", "queue": [{"kind": "repeat"}]})
    with pytest.raises(ConfigError, match="repeat"):
        make_plan(sc, small_library)


def test_spread_over_keeps_repeats_on_the_first_terminal() -> None:
    """Spreading the demo over three terminals round-robins claims but keeps repeat claims where the first payment was."""
    sc = spread_over(load_scenario(builtin_dir() / "demo.toml"), 3)
    assert [t.id for t in sc.terminals] == ["pos-01", "pos-02", "pos-03"]
    assert {q.terminal for q in sc.queue} == {"pos-01", "pos-02", "pos-03"}
    assert all(q.terminal == "pos-01" and q.recipient == 0 for q in sc.queue if q.kind == "repeat")
    assert sc.total_claims == load_scenario(builtin_dir() / "demo.toml").total_claims


def test_tally_counts_and_checks_expectations() -> None:
    """Decisions are counted by outcome; failed expectations are listed, met ones are not."""
    sc = parse_scenario({"name": "x", "queue": [{"kind": "genuine"}],
                         "expect": {"accepted": 2, "duplicate_refused": {"min": 1}, "lost": 0}})
    t = Tally()
    t.count_decision("accept", "match")
    t.count_decision("reject", "already_claimed")
    t.count_decision("refer", "borderline_match", ("gps_no_fix",))
    t.records, t.delivered = 3, 2
    t.lost = 1
    problems = check(sc.expect, t)
    assert "accepted: expected 2, got 1" in problems
    assert "lost: expected 0, got 1" in problems
    assert "delivered: expected all 3, got 2" in problems
    assert not any(p.startswith("duplicate_refused") for p in problems)
    assert t.gps_flagged == 1
    assert "duplicate claims refused" in table(t, sc.expect)


def test_tally_all_met_gives_no_problems() -> None:
    """When every expectation holds, check() returns nothing."""
    sc = parse_scenario({"name": "x", "queue": [{"kind": "genuine"}], "expect": {"accepted": 1}})
    t = Tally(accepted=1, records=1, delivered=1)
    assert check(sc.expect, t) == []
