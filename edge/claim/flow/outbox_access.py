"""The claim flow's outbox: one shared connection for every thread of the process.

Claims run on the HTTP server's worker threads, ``cmd/roster`` / ``cmd/ledger`` handlers on the
MQTT publisher's thread. Earlier each thread opened its own connection that was never closed
(a thread per HTTP request leaked the database and WAL descriptors of every request); now one
:class:`edge.store.outbox.Outbox` (its connection guarded by its own lock) serves them all and
is closed exactly once, with the claim service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SharedOutbox:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._outbox = factory()  # open (and check) the file now

    @property
    def path(self) -> Any:
        return self._outbox.path

    def _here(self) -> Any:  # the old per-thread accessor, kept for callers that still use it
        return self._outbox

    def append(self, *args: Any, **kwargs: Any) -> Any:
        return self._outbox.append(*args, **kwargs)

    def get(self, key: str) -> Any:
        return self._outbox.get(key)

    def items(self, *args: Any, **kwargs: Any) -> Any:
        return self._outbox.items(*args, **kwargs)

    def stats(self) -> Any:
        return self._outbox.stats()

    def close(self) -> None:
        self._outbox.close()

    def __enter__(self) -> "SharedOutbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
