"""Durable local storage: the SQLite outbox every accepted record is written to before it is shown."""

from edge.store.outbox import Outbox, OutboxItem, OutboxStats

__all__ = ["Outbox", "OutboxItem", "OutboxStats"]
