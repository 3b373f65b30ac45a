"""Scenario files (TOML): who is on the roster, who queues at which terminal, what the network does,
and what must come out. Pure data + validation; :mod:`simulator.runner` plays them.

Example::

    name = "genuine-day"
    description = "Six recipients collect once each; all accepted and delivered."
    seed = 1

    [roster]
    recipients = 6

    [[terminals]]
    id = "pos-01"

    [[queue]]
    kind = "genuine"
    count = 6

    [expect]
    accepted = 6
    lost = 0

Network events and outages are keyed to the queue position (``before_claim`` = index of the
claim they precede, 0-based), so a scenario plays the same way on a fast or a slow machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edge.config import format_validation_error
from edge.errors import ConfigError, NotFoundError

ClaimKind = Literal["genuine", "impostor", "repeat", "unknown", "degraded", "spoof"]
Degradation = Literal["blur", "dark", "noise", "occlusion", "second_face", "printed_photo", "screen_replay", "cutout_mask"]
Outcome = Literal["accept", "reject", "refer", "retake"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixedGps(_Strict):
    kind: Literal["fixed"] = "fixed"
    lat: float = Field(-6.9175, ge=-90, le=90, description="Latitude (default: Bandung).")
    lon: float = Field(107.6191, ge=-180, le=180)
    alt_m: float = 700.0


class RouteGps(_Strict):
    kind: Literal["route"] = "route"
    file: Path = Field(..., description="Route file (relative to the scenario file).")
    speed_mps: float = Field(10.0, gt=0)


class NoGps(_Strict):
    kind: Literal["none"] = "none"


class GpsdGps(_Strict):
    """A real gpsd fed by gpsfake replaying this NMEA log; the terminal uses its real gpsd reader."""

    kind: Literal["gpsd"] = "gpsd"
    nmea: Path = Field(..., description="NMEA log (relative to the scenario file).")


GpsSpec = Annotated[Union[FixedGps, RouteGps, NoGps, GpsdGps], Field(discriminator="kind")]


class ClaimWindow(_Strict):
    """A span of the queue: from claim ``from_claim`` up to (not including) ``to_claim``."""

    from_claim: int = Field(..., ge=0)
    to_claim: int | None = Field(None, ge=0, description="Default: until the end of the queue.")
    terminals: list[str] | None = Field(None, description="Affected terminals; default all.")

    @model_validator(mode="after")
    def _order(self) -> "ClaimWindow":
        if self.to_claim is not None and self.to_claim <= self.from_claim:
            raise ValueError("to_claim must be after from_claim")
        return self


class Terminal(_Strict):
    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")
    distribution_point: str = Field("sim-point-1", min_length=1, max_length=64)
    gps: GpsSpec = Field(default_factory=FixedGps)
    gps_loss: list[ClaimWindow] = Field(default_factory=list, description="Spans of the queue with no GPS fix.")
    no_fix_policy: Literal["flag", "refuse"] = "flag"
    max_fix_age_s: float = Field(300.0, gt=0, description="gps.max_fix_age_s of this terminal; a lost fix counts as lost for 15 minutes.")


class Roster(_Strict):
    recipients: int = Field(6, ge=1, le=500, description="Enrolled recipients, picked (seeded) from identities with >= 3 photos.")
    names: list[str] | None = Field(None, description="Exact identities to enrol instead of a seeded pick.")
    enrol_photos: int = Field(1, ge=1, le=5, description="Photos per recipient used for the template; the rest are live captures.")
    period: str = Field("2026-11", pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", description="Aid period, YYYY-MM.")
    mode: Literal["1:1", "1:N"] = Field("1:1", description="1:1: claimants show an id; 1:N: identified by face alone.")


class QueueEntry(_Strict):
    kind: ClaimKind
    count: int = Field(1, ge=1, le=1000)
    terminal: str | None = Field(None, description="Default: the first terminal.")
    recipient: int | None = Field(None, ge=0, description="Roster index claimed; default: the next one for this kind.")
    degradations: list[Degradation] = Field(default_factory=list, description="For kind 'degraded' / 'spoof'.")
    expect: Outcome | list[Outcome] | None = Field(None, description="Outcome (or any of these outcomes) each of these claims must get, after retakes.")


class NetworkEvent(_Strict):
    before_claim: int = Field(..., ge=0)
    action: Literal["cut", "restore", "stall", "throttle", "broker_restart"]
    seconds: float = Field(1.0, ge=0, le=600, description="stall: how long; broker_restart: time down.")
    bytes_per_s: int = Field(2000, ge=1, description="throttle: link speed.")
    terminals: list[str] | None = None



class Range(_Strict):
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)


class Expect(_Strict):
    """Totals that must hold at the end; an int is exact, ``{min, max}`` is a range. Missing = not checked."""

    accepted: int | Range | None = None
    rejected: int | Range | None = None
    referred: int | Range | None = None
    duplicate_refused: int | Range | None = None
    retake_prompts: int | Range | None = None
    queued_offline: int | Range | None = None
    conflicts: int | Range | None = None
    gps_flagged: int | Range | None = None
    head_turn_checks: int | Range | None = None
    head_turn_passed: int | Range | None = None
    delivered: int | Range | Literal["all"] | None = "all"
    lost: int | Range | None = 0


class Scenario(_Strict):
    name: str = Field(..., min_length=1, max_length=80)
    description: str = ""
    seed: int = 0
    drain_timeout_s: float = Field(60.0, gt=0, le=3600, description="Wait at most this long for every outbox to drain.")
    roster: Roster = Field(default_factory=Roster)
    terminals: list[Terminal] = Field(default_factory=lambda: [Terminal(id="pos-01")], min_length=1)
    queue: list[QueueEntry] = Field(..., min_length=1)
    outages: list[ClaimWindow] = Field(default_factory=list, description="Link down (fault proxy cut) for a span of the queue.")
    network: list[NetworkEvent] = Field(default_factory=list)
    officer_head_turn: bool = Field(
        False, description="On a liveness referral the simulated officer runs the head-turn check (docs/LIVENESS.md): a real "
        "claimant 'turns' (their photos in order, so a turn made of different photos of one person), a spoof shows its one "
        "picture; a pass is accepted by the officer (a signed override), a failure stays referred.")
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _terminals_known(self) -> "Scenario":
        ids = [t.id for t in self.terminals]
        if len(set(ids)) != len(ids):
            raise ValueError(f"terminal ids must be unique: {ids}")
        named = [q.terminal for q in self.queue] + [
            t for ev in [*self.outages, *self.network] for t in (ev.terminals or [])
        ]
        unknown = sorted({t for t in named if t is not None and t not in ids})
        if unknown:
            raise ValueError(f"unknown terminal(s) {unknown}; declared: {ids}")
        for q in self.queue:
            if q.recipient is not None and q.recipient >= self.roster.recipients:
                raise ValueError(f"queue recipient {q.recipient} is outside the roster (0..{self.roster.recipients - 1})")
        return self

    @property
    def total_claims(self) -> int:
        return sum(q.count for q in self.queue)


def load_scenario(path: Path | str) -> Scenario:
    """Parse and validate a scenario file; :class:`ConfigError` names the file and the key."""
    from edge.config import read_toml

    path = Path(path)
    data = read_toml(path, "scenario file", missing=NotFoundError)
    return parse_scenario(data, str(path), base_dir=path.resolve().parent)


def parse_scenario(data: dict, source: str = "scenario", base_dir: Path | None = None) -> Scenario:
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    if base_dir is not None:
        for t in sc.terminals:
            if isinstance(t.gps, RouteGps) and not t.gps.file.is_absolute():
                t.gps.file = base_dir / t.gps.file
            if isinstance(t.gps, GpsdGps) and not t.gps.nmea.is_absolute():
                t.gps.nmea = base_dir / t.gps.nmea
    return sc


def builtin_dir() -> Path:
    """The scenario files shipped with the simulator."""
    return Path(__file__).resolve().parent / "scenarios"


def spread_over(sc: Scenario, devices: int) -> Scenario:
    """The same day spread round-robin over ``devices`` terminals at one distribution point.

    Repeat claims without an explicit recipient go back to the first recipient's terminal,
    so they are still refused there (a repeat at another offline desk would be a conflict).
    """
    point = sc.terminals[0].distribution_point
    terminals = [Terminal(id=f"pos-{i + 1:02d}", distribution_point=point) for i in range(devices)]
    queue: list[QueueEntry] = []
    for q in sc.queue:
        for _ in range(q.count):
            i = len(queue)
            entry = q.model_copy(update={"count": 1, "terminal": terminals[i % devices].id})
            if q.kind == "repeat" and q.recipient is None:
                entry = entry.model_copy(update={"recipient": 0, "terminal": terminals[0].id})
            queue.append(entry)
    outages = [w.model_copy(update={"terminals": None}) for w in sc.outages]
    return sc.model_copy(update={"terminals": terminals, "queue": queue, "outages": outages,
                                 "name": f"{sc.name} ({devices} terminals)"})
