"""Inbound command routing: ``…/cmd/<name>`` messages are checked (size, JSON, schema) before a handler sees them."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from edge.errors import EdgeError
from edge.messages import CommandEnvelope
from edge.safejson import loads_bounded

logger = logging.getLogger(__name__)

Handler = Callable[[BaseModel, CommandEnvelope], Any]


@dataclass
class RouterStats:
    handled: int = 0
    refused: int = 0
    duplicates: int = 0
    failed: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)


def inbound_problem(topic: str, payload: bytes, cmd_head: str, max_bytes: int) -> tuple[str, str]:
    """``(command name, problem)`` for an inbound message under ``cmd_head`` (``…/cmd/``); problem is '' when acceptable."""
    name = topic[len(cmd_head):] if topic.startswith(cmd_head) else ""
    if not name:
        return "", "not a command topic"
    if len(payload) > max_bytes:
        return name, f"message is {len(payload)} bytes, larger than mqtt.max_inbound_bytes ({max_bytes})"
    try:
        loads_bounded(payload, what="message")
    except EdgeError as exc:
        return name, str(exc).removeprefix("message: ")
    return name, ""


class CommandRouter:
    """Maps command names to (args model, handler). ``handle(name, payload)`` never raises."""

    def __init__(self, max_bytes: int = 4 * 1024 * 1024, remember: int = 1000) -> None:
        self.max_bytes = max_bytes
        self._routes: dict[str, tuple[type[BaseModel], Handler]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self.stats = RouterStats()

    def register(self, name: str, model: type[BaseModel], handler: Handler) -> None:
        """Route ``cmd/<name>``: ``handler(args: model, envelope: CommandEnvelope)``."""
        if not name or "/" in name or "#" in name or "+" in name:
            raise ValueError(f"invalid command name {name!r}")
        self._routes[name] = (model, handler)

    @property
    def names(self) -> list[str]:
        return sorted(self._routes)

    def _refuse(self, name: str, problem: str) -> None:
        self.stats.refused += 1
        self.stats.last_error = f"cmd/{name}: {problem}"
        self.stats.errors = (self.stats.errors + [self.stats.last_error])[-20:]
        logger.error("command refused on cmd/%s: %s", name, problem)

    def handle(self, name: str, payload: bytes) -> bool:
        """Validate and dispatch one inbound command; True if a handler ran successfully."""
        try:
            return self._handle(name, payload)
        except Exception as exc:  # noqa: BLE001 - never raise into paho's callback
            self.stats.failed += 1
            self.stats.last_error = f"cmd/{name}: handler failed: {exc}"
            logger.exception("command cmd/%s: handler failed: %s", name, exc)
            return False

    def _handle(self, name: str, payload: bytes) -> bool:
        if len(payload) > self.max_bytes:
            self._refuse(name, f"message is {len(payload)} bytes, larger than the {self.max_bytes}-byte limit")
            return False
        route = self._routes.get(name)
        if route is None:
            self._refuse(name, f"unknown command (known: {', '.join(self.names) or 'none'})")
            return False
        try:
            data = loads_bounded(payload, what="message")  # depth-bounded: no RecursionError from [[[[…]]]]
        except EdgeError as exc:
            self._refuse(name, str(exc).removeprefix("message: "))
            return False
        try:
            envelope = CommandEnvelope.model_validate(data)
            args = route[0].model_validate(envelope.args)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            self._refuse(name, f"does not match the schema: {where}: {first['msg']} ({exc.error_count()} problem(s))")
            return False
        if envelope.command_id in self._seen:
            self.stats.duplicates += 1
            logger.info("command cmd/%s %s already handled; ignoring the repeat", name, envelope.command_id)
            return False
        route[1](args, envelope)
        self._seen[envelope.command_id] = None
        while len(self._seen) > self._remember:
            self._seen.popitem(last=False)
        self.stats.handled += 1
        logger.info("command cmd/%s %s from %s handled", name, envelope.command_id, envelope.issuer)
        return True
