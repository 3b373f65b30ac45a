"""The outbox from several threads: one ``Outbox`` connection per thread (SQLite connections are per-thread).

Claims run on the caller's thread; ``cmd/roster`` / ``cmd/ledger`` handlers run on the MQTT
publisher's thread and append acknowledgements and conflict records from there.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class PerThreadOutbox:
    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._opened: list[Any] = []
        self._lock = threading.Lock()
        self._here()  # open (and check) the file now, on the creating thread

    def _here(self) -> Any:
        ob = getattr(self._local, "outbox", None)
        if ob is None:
            ob = self._factory()
            self._local.outbox = ob
            with self._lock:
                self._opened.append(ob)
        return ob

    def append(self, *args: Any, **kwargs: Any) -> Any:
        return self._here().append(*args, **kwargs)

    def items(self, *args: Any, **kwargs: Any) -> Any:
        return self._here().items(*args, **kwargs)

    def stats(self) -> Any:
        return self._here().stats()

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for ob in opened:
            try:
                ob.close()
            except sqlite3.ProgrammingError:  # opened by another thread; SQLite closes it when that object is collected
                pass

    def __enter__(self) -> "PerThreadOutbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
