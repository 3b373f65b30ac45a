"""Telling "the broker refuses what we publish" from "the link is bad" under MQTT 3.1.1 (pure logic).

MQTT 3.1.1 has no negative PUBACK. Mosquitto closes the connection after a QoS 1 publish its
ACL denies, so to the client a refused topic looks like a flaky link: connect, publish, dropped,
again and again. :class:`RefusalTracker` counts sessions in a row that were dropped while a
publish was outstanding and nothing was acknowledged; at ``threshold`` the link is reported as
``auth_failed``. Any acknowledgement resets it.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUS_MESSAGE = -1  # the "outstanding" marker for the retained status message (records use their seq)


@dataclass
class RefusalTracker:
    threshold: int = 3
    streak: int = 0
    last_outstanding: int = 0

    @property
    def refused(self) -> bool:
        return self.streak >= self.threshold

    def acknowledged(self) -> None:
        """The broker acknowledged a record: whatever was wrong is not a refusal."""
        self.streak, self.last_outstanding = 0, 0

    def dropped(self, outstanding: int, progressed: bool) -> bool:
        """A session ended; ``outstanding`` is the oldest unacknowledged publish (0 if none). Returns :attr:`refused`."""
        if not outstanding or progressed:
            self.acknowledged()
            return False
        self.streak += 1
        self.last_outstanding = outstanding
        return self.refused

    def what(self) -> str:
        return "the status message" if self.last_outstanding == STATUS_MESSAGE else f"record seq {self.last_outstanding}"
