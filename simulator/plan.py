"""Turn a scenario into concrete people and claims: pure, seeded, no I/O beyond the face index.

The roster takes identities with at least ``enrol_photos + 2`` photographs: the first
``enrol_photos`` make the template (the central side's enrolment photo), the others are what
the terminal's camera sees on distribution day. Impostors and unknown claimants are identities
that are not on the roster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import ConfigError
from simulator.faces import FaceLibrary
from simulator.scenario import ClaimWindow, Outcome, Scenario


Usable = Callable[[Path], bool]


@dataclass(frozen=True)
class Person:
    recipient_id: str
    identity: str
    enrol: tuple[Path, ...]
    live: tuple[Path, ...]


@dataclass(frozen=True)
class PlannedClaim:
    index: int
    kind: str
    terminal: str
    claimed_id: str | None  # None in 1:N mode
    identity: str  # whose face is in front of the camera
    images: tuple[Path, ...]
    degradations: tuple[str, ...] = ()
    other: Path | None = None  # second person in frame
    expect: Outcome | list[Outcome] | None = None
    recipient_id: str | None = None  # the roster entry this claim is about, if any


@dataclass
class Plan:
    roster: list[Person]
    outsiders: list[Person]
    claims: list[PlannedClaim] = field(default_factory=list)

    def person(self, recipient_id: str) -> Person:
        return next(p for p in self.roster if p.recipient_id == recipient_id)


def recipient_id(i: int) -> str:
    return f"SIM-{i + 1:04d}"


def pick_people(sc: Scenario, lib: FaceLibrary, usable: Usable | None = None) -> tuple[list[Person], list[Person]]:
    """Seeded choice of roster identities and of outsiders (impostors / unknowns).

    ``usable(photo)`` (the product's enrolment check) decides which photos can make a template;
    every other photo of the person is shown at the counter **unfiltered** (no quality or liveness
    pre-check: the terminal's gates decide, and the summary shows how many genuine claimants they
    refer). An identity without ``enrol_photos`` usable photos and one more photo is passed over.
    """
    need = sc.roster.enrol_photos + 2
    k = sc.roster.enrol_photos
    rng = np.random.default_rng(sc.seed)
    if sc.roster.names:
        missing = [n for n in sc.roster.names if n not in lib.identities]
        if missing:
            raise ConfigError(f"roster.names not in {lib.origin}: {missing}")
        candidates = list(sc.roster.names)
    else:
        eligible = lib.with_at_least(need)
        if len(eligible) < sc.roster.recipients:
            raise ConfigError(
                f"{lib.origin} has {len(eligible)} identities with >= {need} photos; the scenario enrols {sc.roster.recipients}"
            )
        candidates = [eligible[i] for i in rng.permutation(len(eligible))]
    roster: list[Person] = []
    for name in candidates:
        photos = lib.identities[name]
        enrol = [p for p in photos if usable is None or usable(p)][:k] if usable else photos[:k]
        if len(enrol) < k or len(photos) - k < 1:
            continue
        live = tuple(p for p in photos if p not in enrol)
        if not live:
            continue
        roster.append(Person(recipient_id(len(roster)), name, tuple(enrol), live))
        if len(roster) == sc.roster.recipients:
            break
    if len(roster) < sc.roster.recipients:
        raise ConfigError(f"{lib.origin}: only {len(roster)} identities have usable enrolment photos; the scenario enrols {sc.roster.recipients}")
    chosen = {p.identity for p in roster}
    others = [n for n in lib.with_at_least(2) if n not in chosen]
    n_out = min(len(others), max(4, sum(q.count for q in sc.queue if q.kind in ("impostor", "unknown"))))
    picks = [others[i] for i in rng.choice(len(others), size=n_out, replace=False)] if n_out else []
    outsiders = [Person(f"SIM-X{i + 1:03d}", n, (), tuple(lib.identities[n])) for i, n in enumerate(picks)]
    return roster, outsiders


def make_plan(sc: Scenario, lib: FaceLibrary, usable: Usable | None = None) -> Plan:
    """Expand the queue into claims, assigning recipients in roster order per kind."""
    roster, outsiders = pick_people(sc, lib, usable)
    plan = Plan(roster, outsiders)
    one_to_one = sc.roster.mode == "1:1"
    first_terminal = sc.terminals[0].id
    next_fresh = 0  # genuine / degraded / spoof take the next recipient who has not come yet
    next_victim = len(roster) - 1  # impostors claim ids from the end of the roster
    claimed: list[str] = []  # recipients already presented by a genuine-looking claim, in order
    repeated = 0
    next_out = 0
    idx = 0
    for q in sc.queue:
        for _ in range(q.count):
            term = q.terminal or first_terminal
            if q.kind in ("genuine", "degraded", "spoof", "impostor"):
                if q.recipient is not None:
                    r = q.recipient
                elif q.kind == "impostor":
                    r = next_victim % len(roster)
                    next_victim -= 1
                else:
                    r = next_fresh % len(roster)
                    next_fresh += 1
                person = roster[r]
                if q.kind == "impostor":
                    out = outsiders[next_out % len(outsiders)]
                    next_out += 1
                    claim = PlannedClaim(idx, q.kind, term, person.recipient_id if one_to_one else None, out.identity,
                                         out.live, (), None, q.expect, person.recipient_id)
                else:
                    degr = tuple(q.degradations)
                    if q.kind == "spoof" and not degr:
                        degr = ("printed_photo",)
                    other = outsiders[0].live[0] if "second_face" in degr and outsiders else None
                    claim = PlannedClaim(idx, q.kind, term, person.recipient_id if one_to_one else None, person.identity,
                                         person.live, degr, other, q.expect, person.recipient_id)
                    if person.recipient_id not in claimed:
                        claimed.append(person.recipient_id)
            elif q.kind == "repeat":
                if q.recipient is not None:
                    rid = roster[q.recipient].recipient_id
                elif claimed:
                    rid = claimed[repeated % len(claimed)]
                    repeated += 1
                else:
                    raise ConfigError(f"queue entry {idx}: a 'repeat' claim needs an earlier genuine claim (or recipient = N)")
                person = plan.person(rid)
                claim = PlannedClaim(idx, q.kind, term, rid if one_to_one else None, person.identity,
                                     tuple(reversed(person.live)), (), None, q.expect, rid)
            else:  # unknown: not on the roster at all
                out = outsiders[next_out % len(outsiders)]
                next_out += 1
                claim = PlannedClaim(idx, q.kind, term, out.recipient_id if one_to_one else None, out.identity,
                                     out.live, (), None, q.expect, None)
            plan.claims.append(claim)
            idx += 1
    return plan


def in_window(w: ClaimWindow, claim_index: int, terminal: str) -> bool:
    """True if the claim at ``claim_index`` on ``terminal`` falls inside the window."""
    if w.terminals is not None and terminal not in w.terminals:
        return False
    return claim_index >= w.from_claim and (w.to_claim is None or claim_index < w.to_claim)
