"""Play a scenario: real terminals, simulated people, camera, GPS and network; then compare what the
central side received with the scenario's expectations.

Order of play: sign the roster and install it on every terminal; for each planned claim apply the
network and GPS schedule, put the claimant in front of that terminal's camera and run the claim
(retaking while the terminal asks for it); then restore every link, wait for every outbox to drain
into the central database (the product's ``edge.central`` service, which relays each payout, signed,
to the other terminals as ``cmd/ledger`` so double payments surface as conflicts), wait for the
relay to be applied, drain again and count what is in the central database.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.errors import EdgeError
from simulator.broker import SimBroker
from simulator.central import DEMO_OFFICERS, CentralOffice, Issuer
from simulator.faces import FaceLibrary
from simulator.plan import Plan, PlannedClaim, in_window, make_plan
from simulator.scenario import Scenario
from simulator.tally import Tally, check
from simulator.terminal import SimTerminal

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]
MAX_ATTEMPTS_GUARD = 10


@dataclass
class RunOptions:
    work_dir: Path
    models_dir: Path | None = None
    central_db: str | None = None  # postgresql://… for the central database; default SQLite in the work folder
    screenshot: Path | None = None  # photograph the central dashboard at the end of the day (terminals still online)
    face: Any = None  # a FaceEngine to share; default: the configured pipeline, loaded once


@dataclass
class RunResult:
    tally: Tally
    problems: list[str]
    elapsed_s: float
    latencies_s: list[float] = field(default_factory=list)
    central: dict[str, Any] = field(default_factory=dict)


def _face_engine(opts: RunOptions) -> Any:
    if opts.face is not None:
        return opts.face
    from edge.app.face_adapter import make_face_engine
    from simulator.terminal import with_environment

    return make_face_engine(with_environment({"face": {"models_dir": str(opts.models_dir)}} if opts.models_dir else {}))


def _enrolment_check(face: Any) -> Callable[[Path], bool]:
    """The programme office only enrols photos the terminal's face core accepts as a reference."""

    def usable(path: Path) -> bool:
        try:
            face.embed_photo(path.read_bytes())
        except EdgeError:
            return False
        return True

    return usable


def _describe(c: PlannedClaim, plan: Plan) -> str:
    who = c.identity.replace("_", " ")
    claimed = c.claimed_id or "no id (1:N)"
    extra = f" [{'+'.join(c.degradations)}]" if c.degradations else ""
    return f"{c.kind:8s} {claimed:10s} {who}{extra}"


class _Network:
    """Applies outage windows and network events at claim boundaries."""

    def __init__(self, sc: Scenario, terminals: dict[str, SimTerminal], broker: SimBroker, progress: Progress) -> None:
        self.sc, self.terminals, self.broker, self.progress = sc, terminals, broker, progress
        self.down: set[str] = set()

    def before(self, index: int) -> None:
        for tid, term in self.terminals.items():
            want_down = any(in_window(w, index, tid) for w in self.sc.outages)
            if want_down and tid not in self.down:
                term.proxy.cut()
                self.down.add(tid)
                self.progress(f"      -- link DOWN at {tid} (outage starts)")
            elif not want_down and tid in self.down:
                term.proxy.restore()
                self.down.discard(tid)
                self.progress(f"      -- link UP at {tid} (outage over)")
        for ev in self.sc.network:
            if ev.before_claim != index:
                continue
            targets = [self.terminals[t] for t in (ev.terminals or self.terminals)]
            if ev.action == "broker_restart":
                if not self.broker.can_restart:
                    raise EdgeError("scenario restarts the broker, but the simulator did not start it (use a private broker: --new-broker)")
                self.progress(f"      -- broker restart ({ev.seconds:.1f} s down)")
                self.broker.restart(ev.seconds)
            elif ev.action == "stall":
                self.progress(f"      -- link stall {ev.seconds:.1f} s at {', '.join(t.id for t in targets)}")
                for t in targets:
                    t.proxy.stall(ev.seconds)
            elif ev.action == "throttle":
                self.progress(f"      -- link throttled to {ev.bytes_per_s} B/s at {', '.join(t.id for t in targets)}")
                for t in targets:
                    t.proxy.throttle(ev.bytes_per_s)
            elif ev.action == "cut":
                for t in targets:
                    t.proxy.cut()
                    self.down.add(t.id)
                self.progress(f"      -- link DOWN at {', '.join(t.id for t in targets)}")
            elif ev.action == "restore":
                for t in targets:
                    t.proxy.restore()
                    self.down.discard(t.id)
                self.progress(f"      -- link UP at {', '.join(t.id for t in targets)}")

    def restore_all(self) -> None:
        for term in self.terminals.values():
            term.proxy.restore()
        if self.down:
            self.progress(f"      -- links UP at {', '.join(sorted(self.down))} (end of day)")
        self.down.clear()


def _play_claim(c: PlannedClaim, term: SimTerminal, sc: Scenario, tally: Tally, offline: bool, progress: Progress, plan: Plan) -> None:
    term.camera.present(c.images, degradations=c.degradations, other=c.other, label=c.identity, seed=sc.seed * 10_000 + c.index)
    attempt = 1
    while True:
        result = term.claim(c.claimed_id, attempt)
        d = result.decision
        if d.outcome != "retake" or attempt >= MAX_ATTEMPTS_GUARD:
            break
        tally.retake_prompts += 1
        progress(f"[{c.index:02d}] {term.id:8s} {_describe(c, plan)}  -> retake ({d.reason_code})")
        attempt += 1
    tally.count_decision(d.outcome, d.reason_code, tuple(d.flags))
    if c.kind == "genuine":
        tally.count_genuine(d.outcome)
    if result.record is not None and offline:
        tally.queued_offline += 1
    shown = _shown(result)
    flags = f" flags {','.join(d.flags)}" if d.flags else ""
    where = "  (offline: queued)" if offline else ""
    progress(f"[{c.index:02d}] {term.id:8s} {_describe(c, plan)}  -> {d.outcome.upper()} ({d.reason_code}{',' if shown else ''}{shown}){flags}{where}")
    allowed = [c.expect] if isinstance(c.expect, str) else c.expect
    if allowed and d.outcome not in allowed:
        tally.mismatches.append(f"claim {c.index} ({c.kind}, {c.identity}) at {term.id}: expected {' or '.join(allowed)}, "
                                f"got {d.outcome} ({d.reason_code})")
    if sc.officer_head_turn and result.record is not None and (d.outcome, d.reason_code) == ("refer", "liveness_failed"):
        _officer_head_turn(c, term, sc, tally, progress, result.record.idempotency_key)


def _officer_head_turn(c: PlannedClaim, term: SimTerminal, sc: Scenario, tally: Tally, progress: Progress, key: str) -> None:
    """The desk officer runs the head-turn check on a liveness referral and accepts when it passes.

    The claimant 'turns': a real face shows its photos in order (different photos of one person, at
    whatever yaw they were taken); a spoof is one picture, shown again and again with its degradations.
    """
    from edge.claim.flow.active_check import capture_turn, run_active_check
    from edge.claim.flow.officer_actions import override

    scene = c.images[:1] if c.kind == "spoof" else c.images
    term.camera.present(scene, degradations=c.degradations, other=c.other, label=c.identity, seed=sc.seed * 10_000 + c.index + 5_000)
    officer = term.signed_in()
    try:
        got = run_active_check(term.service, key, officer, capture_turn(term.camera, term.service.cfg.active_check_frames, 0))
        tally.head_turn_checks += 1
        verdict = f"head-turn check {'PASSED' if got['passed'] else 'FAILED'} (turn {got['turn_deg']:.0f} deg, {got['code']})"
        if got["passed"]:
            override(term.service, key, "accept", "active_check_passed", officer)
            tally.head_turn_passed += 1
            term.publisher.wake()
            verdict += " -> accepted by the officer"
    except EdgeError as exc:
        verdict = f"head-turn check not run: {exc}"
    progress(f"[{c.index:02d}] {term.id:8s}   officer: {verdict}")


def _shown(result: Any) -> str:
    """The score of the check that gave the reason: a liveness reason shows the live score, a face reason the match score."""
    from edge.claim.flow.decide import shown_score

    sc = result.record.scores if result.record is not None else None
    if sc is None:
        return ""
    picked = shown_score(result.decision, face_score=sc.top_score, liveness_score=sc.liveness_score)
    if picked is None:
        return ""
    check, value = picked
    return f" {'live score' if check == 'liveness' else 'match score'} {value:.2f}"


def _drain(terminals: dict[str, SimTerminal], central: CentralOffice, timeout_s: float, progress: Progress) -> tuple[set[str], int]:
    """Wait until every committed record reached the central consumer; returns (committed keys, still pending)."""
    end = time.monotonic() + timeout_s
    last_note = 0.0
    while True:
        committed: set[str] = set()
        pending = 0
        for term in terminals.values():
            keys, p = term.outbox_keys()
            committed |= keys
            pending += p
        missing = committed - central.seen
        if not missing and pending == 0:
            return committed, 0
        now = time.monotonic()
        if now > end:
            return committed, pending
        if now - last_note > 2.0:
            progress(f"      .. draining: {pending} record(s) queued on terminals, {len(missing)} not yet in the central database")
            last_note = now
        time.sleep(0.1)


def run_scenario(sc: Scenario, lib: FaceLibrary, broker: SimBroker, opts: RunOptions, progress: Progress = print) -> RunResult:
    """Play ``sc`` with faces from ``lib`` against ``broker``; never raises for failed expectations."""
    t0 = time.monotonic()
    assert broker.endpoint is not None
    progress("loading face models")
    face = _face_engine(opts)
    # Claimants' photos are drawn without any quality or liveness filter: the terminal's gates decide.
    plan = make_plan(sc, lib, usable=_enrolment_check(face))
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    issuer = Issuer(opts.work_dir)
    progress(f"{len(plan.roster)} recipients on the roster, {len(plan.claims)} claimants in the queue, {len(sc.terminals)} terminal(s)")
    tally = Tally()
    with contextlib.ExitStack() as stack:
        central = stack.enter_context(CentralOffice(broker.endpoint, work_dir=opts.work_dir, db_url=opts.central_db))
        terminals: dict[str, SimTerminal] = {}
        for spec in sc.terminals:
            terminals[spec.id] = stack.enter_context(SimTerminal(spec, work_dir=opts.work_dir, endpoint=broker.endpoint, central=central,
                                                                 issuer_pub=issuer.public_key_file, face=face, models_dir=opts.models_dir))
        officers, pins = issuer.signed_officers([spec.distribution_point for spec in sc.terminals])
        desk = DEMO_OFFICERS[0][0]
        for spec in sc.terminals:
            signed = issuer.signed_roster(plan.roster, distribution_point=spec.distribution_point, period=sc.roster.period)
            central.add_roster(signed)
            report = terminals[spec.id].install_roster(signed)
            terminals[spec.id].install_officers(officers, desk, pins[desk])
            progress(f"{spec.id}: roster v{report.version} installed ({report.recipients} recipients); officer {desk} signed in")
        net = _Network(sc, terminals, broker, progress)
        for c in plan.claims:
            net.before(c.index)
            term = terminals[c.terminal]
            lost = any(in_window(w, c.index, term.id) for w in term.spec.gps_loss)
            if lost != term.gps_lost:
                progress(f"      -- GPS fix {'LOST' if lost else 'back'} at {term.id}")
            term.set_gps_lost(lost)
            _play_claim(c, term, sc, tally, term.id in net.down, progress, plan)
        net.restore_all()
        for term in terminals.values():
            term.set_gps_lost(False)
        progress("end of queue: waiting for every terminal's outbox to drain")
        _drain(terminals, central, sc.drain_timeout_s, progress)
        _settle_relay(terminals, central, progress)
        committed, pending = _drain(terminals, central, sc.drain_timeout_s, progress)
        seen = central.seen
        tally.records = len(committed)
        tally.delivered = len(committed & seen)
        tally.lost = len(committed - seen)
        tally.conflicts = len(central.received("conflict"))
        anonymous = [e["idempotency_key"] for e in central.received("decision") if (e.get("payload") or {}).get("officer_id") not in pins]
        if anonymous:
            tally.mismatches.append(f"{len(anonymous)} decision record(s) without the signed-in officer, e.g. {anonymous[0]}")
        if pending:
            tally.mismatches.append(f"{pending} record(s) still queued after {sc.drain_timeout_s:.0f} s")
        latencies = list(central.latencies_s)
        info = central.status() | {"database": central.db_url, "in_database": len(committed & seen), "committed": len(committed)}
        progress(f"central database: {info['in_database']}/{len(committed)} records stored, {info['payouts']} payout(s), "
                 f"{info['conflicts']} double payout(s) caught centrally, {info['quarantined']} message(s) kept apart, "
                 f"{info['ledger_messages']} signed ledger message(s) relayed")
        if opts.screenshot:
            progress(f"dashboard screenshot: {central.screenshot(opts.screenshot)}")
    return RunResult(tally, check(sc.expect, tally), time.monotonic() - t0, latencies, info)


def _settle_relay(terminals: dict[str, SimTerminal], central: CentralOffice, progress: Progress, timeout_s: float = 20.0) -> None:
    """Wait until every signed ledger message the centre kept was published and applied by its terminal."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        want = central.relayed_seq()
        behind = [t for t, seq in want.items() if t in terminals and terminals[t].ledger_seq < seq]
        if not behind and central.relay_pending() == 0:
            if want:
                progress(f"central: relayed {sum(want.values())} signed ledger message(s) to {', '.join(sorted(want))} (cmd/ledger), all applied")
            return
        time.sleep(0.1)
    progress(f"central: ledger relay not applied everywhere after {timeout_s:.0f} s: {central.relayed_seq()}")
