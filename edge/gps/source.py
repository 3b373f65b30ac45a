"""The PositionSource interface every position provider implements, and the factory for config."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, runtime_checkable

from edge.config.gps import GpsConfig
from edge.gps.model import PositionStamp, SourceState


@runtime_checkable
class PositionSource(Protocol):
    """Where the terminal is. ``latest()`` never blocks: it returns what is known right now."""

    @property
    def state(self) -> SourceState: ...

    def start(self) -> None: ...

    def latest(self) -> PositionStamp: ...

    def close(self) -> None: ...

    def __enter__(self) -> "PositionSource": ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None: ...


class DisabledSource:
    """``backend = "none"``: no receiver; every stamp says no_fix."""

    state: SourceState = "disabled"

    def start(self) -> None:
        pass

    def latest(self) -> PositionStamp:
        return PositionStamp.no_fix("none")

    def close(self) -> None:
        pass

    def __enter__(self) -> "DisabledSource":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        pass


def make_position_source(config: GpsConfig) -> PositionSource:
    """The source ``config.backend`` names (not yet started: use it as a context manager or call start())."""
    if config.backend == "none":
        return DisabledSource()
    from edge.gps.reader import GpsdReader

    return GpsdReader(config)
