"""Counting what happened in a simulated day and checking it against the scenario's expectations.

Pure: no I/O. The runner fills a :class:`Tally` from the terminals' decisions and from what the
central consumer received; :func:`check` compares it with ``[expect]``; :func:`table` formats the
summary printed at the end of ``edge-sim run`` / ``edge-sim demo``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from simulator.scenario import Expect, Range

ROWS = (
    ("accepted", "accepted"),
    ("rejected", "rejected"),
    ("referred", "referred to officer"),
    ("duplicate_refused", "duplicate claims refused"),
    ("retake_prompts", "retake prompts (quality)"),
    ("gps_flagged", "decisions without GPS fix"),
    ("queued_offline", "queued offline"),
    ("conflicts", "conflicts surfaced"),
    ("head_turn_checks", "head-turn checks (officer)"),
    ("head_turn_passed", "  passed, officer accepted"),
    ("records", "records written"),
    ("delivered", "in the central database"),
    ("lost", "lost"),
)


@dataclass
class Tally:
    accepted: int = 0
    rejected: int = 0
    referred: int = 0
    duplicate_refused: int = 0
    retake_prompts: int = 0
    gps_flagged: int = 0
    queued_offline: int = 0
    conflicts: int = 0
    records: int = 0  # records the terminals committed to their outboxes
    delivered: int = 0  # distinct records stored in the central database (edge.central)
    lost: int = 0  # committed records the central database never stored
    genuine_claims: int = 0  # claims by enrolled recipients showing their own, unfiltered photos
    genuine_referred: int = 0  # ... that the gates sent to the officer
    genuine_rejected: int = 0  # ... that were refused outright (should not happen)
    head_turn_checks: int = 0  # liveness referrals the simulated officer ran the head-turn check on
    head_turn_passed: int = 0  # ... that passed (the officer then accepted)
    mismatches: list[str] = field(default_factory=list)  # per-claim expectation failures

    def count_decision(self, outcome: str, reason_code: str, flags: tuple[str, ...] | list[str] = ()) -> None:
        """Count one final decision (``outcome`` accept / reject / refer)."""
        if outcome == "accept":
            self.accepted += 1
        elif outcome == "reject":
            self.rejected += 1
            if reason_code == "already_claimed":
                self.duplicate_refused += 1
        elif outcome == "refer":
            self.referred += 1
        if any(f.startswith("gps_") for f in flags):
            self.gps_flagged += 1

    def count_genuine(self, outcome: str) -> None:
        """Count one final decision on a genuine claimant (own face, photos drawn without any filter)."""
        self.genuine_claims += 1
        self.genuine_referred += outcome == "refer"
        self.genuine_rejected += outcome == "reject"

    @property
    def genuine_referral_rate(self) -> float | None:
        return self.genuine_referred / self.genuine_claims if self.genuine_claims else None

    def as_dict(self) -> dict:
        return asdict(self)


def _check_one(name: str, want: int | Range | str | None, got: int, records: int) -> str | None:
    if want is None:
        return None
    if want == "all":
        return None if got == records else f"{name}: expected all {records}, got {got}"
    if isinstance(want, int):
        return None if got == want else f"{name}: expected {want}, got {got}"
    if isinstance(want, Range):
        if want.min is not None and got < want.min:
            return f"{name}: expected at least {want.min}, got {got}"
        if want.max is not None and got > want.max:
            return f"{name}: expected at most {want.max}, got {got}"
    return None


def check(expect: Expect, tally: Tally) -> list[str]:
    """Every expectation that does not hold, as a readable line; empty when all hold."""
    problems = list(tally.mismatches)
    for name in Expect.model_fields:
        problem = _check_one(name, getattr(expect, name), getattr(tally, name), tally.records)
        if problem:
            problems.append(problem)
    return problems


def table(tally: Tally, expect: Expect | None = None) -> str:
    """The end-of-day summary as an aligned text table (with the expected value when one is set)."""
    lines = [f"{'':28s} {'count':>6s}  expected", f"{'-' * 28} {'-' * 6}  {'-' * 8}"]
    for key, label in ROWS:
        want = getattr(expect, key, None) if expect is not None else None
        if isinstance(want, Range):
            shown = f"{want.min if want.min is not None else ''}..{want.max if want.max is not None else ''}"
        elif want == "all":
            shown = f"all ({tally.records})"
        else:
            shown = "" if want is None else str(want)
        lines.append(f"{label:28s} {getattr(tally, key):6d}  {shown}")
    if tally.genuine_claims:
        lines.append(f"genuine claimants referred: {tally.genuine_referred} of {tally.genuine_claims} "
                     f"({100 * tally.genuine_referral_rate:.0f} %), rejected: {tally.genuine_rejected} "
                     "(their photos are drawn without any quality or liveness filter: the gates decide)")
    return "\n".join(lines)
