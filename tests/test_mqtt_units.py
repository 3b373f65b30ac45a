"""Pure parts of the transport: backoff, topics, command router, monitor de-duplication and order checks."""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from edge.messages import Envelope, StatusPayload
from edge.monitor import ConsumerState
from edge.transport import topics
from edge.transport.backoff import backoff_delay
from edge.transport.router import CommandRouter


@given(st.integers(min_value=1, max_value=200), st.floats(0.1, 5), st.floats(5, 120), st.integers(0, 2**32))
def test_backoff_within_bounds(attempt: int, lo: float, hi: float, seed: int) -> None:
    """Every delay lies in [min/2, min(max, min*2^(attempt-1))]."""
    d = backoff_delay(attempt, lo, hi, random.Random(seed))
    assert lo / 2 <= d <= min(hi, lo * 2 ** (attempt - 1)) + 1e-9


def test_backoff_grows_and_jitters() -> None:
    """The cap doubles per attempt up to max, and delays for one attempt differ (jitter)."""
    rng = random.Random(3)
    caps = [max(backoff_delay(a, 1, 60, rng) for _ in range(200)) for a in (1, 2, 3, 4, 10)]
    assert caps[0] <= 1 and 1 < caps[1] <= 2 and 2 < caps[2] <= 4 and 4 < caps[3] <= 8 and 30 < caps[4] <= 60
    assert len({round(backoff_delay(5, 1, 60, rng), 6) for _ in range(20)}) > 15
    assert backoff_delay(0, 1, 60) == 0


def test_topic_builders() -> None:
    """All topics are built under <prefix>/<region>/<device>/ and parse back."""
    assert topics.suffix_topic("tepat/v1", "jabar", "t-1", "event/verification") == "tepat/v1/jabar/t-1/event/verification"
    assert topics.status_topic("tepat/v1/", "jabar", "t-1") == "tepat/v1/jabar/t-1/status"
    assert topics.suffix_topic("tepat/v1", "jabar", "t-1", "/health") == "tepat/v1/jabar/t-1/health"
    assert topics.cmd_topic("tepat/v1", "jabar", "t-1") == "tepat/v1/jabar/t-1/cmd/#"
    assert topics.cmd_topic("tepat/v1", "jabar", "t-1", "roster") == "tepat/v1/jabar/t-1/cmd/roster"
    assert topics.parse_topic("tepat/v1", "tepat/v1/jabar/t-1/event/x") == ("jabar", "t-1", "event/x")
    assert topics.parse_topic("tepat/v1", "other/jabar/t-1/status") is None


class RosterArgs(BaseModel):
    version: int = Field(..., ge=1)


def _cmd(args: dict, command_id: str | None = None) -> bytes:
    return json.dumps({"command_id": command_id or str(uuid.uuid4()), "issued_at": datetime.now(timezone.utc).isoformat(),
                       "issuer": "ops", "args": args}).encode()


@pytest.fixture
def router_with_roster() -> tuple[CommandRouter, list]:
    """A router with a 'roster' command whose handler records its calls."""
    calls: list = []
    router = CommandRouter(max_bytes=2048)
    router.register("roster", RosterArgs, lambda args, env: calls.append((args.version, env.issuer)))
    return router, calls


def test_router_dispatches_valid_command(router_with_roster) -> None:
    """A valid command reaches its handler once; a repeat of the same command_id is ignored."""
    router, calls = router_with_roster
    msg = _cmd({"version": 3}, "cmd-00000001")
    assert router.handle("roster", msg) is True
    assert router.handle("roster", msg) is False
    assert calls == [(3, "ops")]
    assert router.stats.duplicates == 1


@pytest.mark.parametrize(
    ("name", "payload", "problem"),
    [
        ("roster", b"x" * 5000, "larger than the 2048-byte limit"),
        ("roster", b"{not json", "not valid JSON"),
        ("roster", b"\xff\xfe", "not valid JSON"),
        ("roster", _cmd({"version": 0}), "version: Input should be greater than or equal to 1"),
        ("roster", b'{"command_id": "short"}', "does not match the schema"),
        ("reboot", _cmd({}), "unknown command"),
    ],
)
def test_router_refuses_bad_input(router_with_roster, caplog: pytest.LogCaptureFixture, name: str, payload: bytes, problem: str) -> None:
    """Oversized, non-JSON, schema-invalid and unknown commands are refused with a log line naming the topic and problem."""
    router, calls = router_with_roster
    with caplog.at_level("ERROR"):
        assert router.handle(name, payload) is False
    assert calls == []
    assert router.stats.refused == 1
    text = " ".join(r.getMessage() for r in caplog.records)
    assert f"cmd/{name}" in text and problem in text


def test_router_handler_exception_is_contained(caplog: pytest.LogCaptureFixture) -> None:
    """A handler that raises is logged and counted; handle() itself does not raise."""
    router = CommandRouter()

    def boom(args, env):  # noqa: ANN001, ANN202
        raise RuntimeError("disk on fire")

    router.register("roster", RosterArgs, boom)
    with caplog.at_level("ERROR"):
        assert router.handle("roster", _cmd({"version": 1})) is False
    assert router.stats.failed == 1 and "disk on fire" in caplog.text


def _env(device: str, seq: int, key: str | None = None, outcome: str = "accept") -> bytes:
    return Envelope(idempotency_key=key or str(uuid.uuid4()), device_id=device, seq=seq, created_at=datetime.now(timezone.utc),
                    kind="verification", payload={"outcome": outcome}).model_dump_json().encode()


def test_consumer_dedups_and_checks_order() -> None:
    """Duplicates are counted not re-applied; a lower seq after a higher one is flagged out of order; outcomes are counted."""
    s = ConsumerState("tepat/v1")
    t = "tepat/v1/jabar/dev-1/event/verification"
    a, b = _env("dev-1", 1, "k-aaaaaaaa"), _env("dev-1", 2, "k-bbbbbbbb", "reject")
    assert [s.handle(t, m) for m in (a, b, a, b)] == ["new", "new", "duplicate", "duplicate"]
    assert s.handle(t, _env("dev-1", 5)) == "new"
    assert s.devices["dev-1"].gaps == 1
    assert s.handle(t, _env("dev-1", 4)) == "new"
    view = s.devices["dev-1"]
    assert (view.unique, view.duplicates, view.out_of_order, view.accepted, view.rejected) == (4, 2, 1, 3, 1)


def test_consumer_rejects_invalid_and_mismatched() -> None:
    """Messages that fail the envelope schema or claim another device are counted invalid and not accepted."""
    s = ConsumerState("tepat/v1")
    assert s.handle("tepat/v1/jabar/dev-1/event/verification", b'{"seq": 1}') == "invalid"
    assert s.handle("tepat/v1/jabar/dev-2/event/verification", _env("dev-1", 1)) == "invalid"
    assert s.handle("tepat/v1/jabar/dev-1/status", StatusPayload(device_id="dev-1", state="online").model_dump_json().encode()) == "status"
    assert s.devices["dev-1"].status == "online"
    assert s.invalid == 2 and s.totals()["unique"] == 0


def test_publisher_treats_failed_puback_as_error(tmp_path) -> None:  # noqa: ANN001
    """A PUBACK carrying a failure reason code (MQTT 5 'Not authorized') is counted as refused and never marked delivered."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.reasoncodes import ReasonCode

    from edge.config import DeviceConfig, MqttConfig
    from edge.transport.mqtt import MqttPublisher

    pub = MqttPublisher(MqttConfig(), DeviceConfig(device_id="dev-1", state_dir=tmp_path), tmp_path / "o.sqlite")
    pub._inflight = {7: ("key-refused", 3, "tepat/v1/dev/dev-1/event/verification"), 8: ("key-ok", 4, "tepat/v1/dev/dev-1/event/verification")}
    pub._on_publish(None, None, 7, ReasonCode(PacketTypes.PUBACK, "Not authorized"), None)
    pub._on_publish(None, None, 8, ReasonCode(PacketTypes.PUBACK, "Success"), None)
    assert pub._acked == ["key-ok"]
    assert pub.stats().refused == 1 and pub.link_state == "auth_failed"
    assert "record seq 3" in (pub.stats().last_error or "") and "Not authorized" in pub._session_failed


def test_consumer_checks_payload_against_its_schema() -> None:
    """An envelope whose payload names a known schema but does not match it is invalid; a matching one is accepted."""
    s = ConsumerState("tepat/v1")
    t = "tepat/v1/jabar/dev-1/event/heartbeat"

    def env(payload: dict, seq: int) -> bytes:
        return Envelope(idempotency_key=str(uuid.uuid4()), device_id="dev-1", seq=seq, created_at=datetime.now(timezone.utc),
                        kind="heartbeat", payload_schema="tepat.telemetry", payload=payload).model_dump_json().encode()

    assert s.handle(t, env({"schema_name": "tepat.telemetry", "name": "hb", "values": {"t": 1}}, 1)) == "new"
    assert s.handle(t, env({"schema_name": "tepat.telemetry", "values": "not-a-dict"}, 2)) == "invalid"
    assert "does not match tepat.telemetry" in s.errors[-1]


@pytest.mark.parametrize(
    ("topic", "payload", "name", "problem"),
    [
        ("tepat/v1/r/d/cmd/roster", b"{}", "roster", ""),
        ("tepat/v1/r/d/cmd/roster", b"x" * 2000, "roster", "larger than mqtt.max_inbound_bytes (1024)"),
        ("tepat/v1/r/d/cmd/roster", b"\x00garbage", "roster", "not valid JSON"),
        ("tepat/v1/r/d/status", b"{}", "", "not a command topic"),
    ],
)
def test_inbound_problem(topic: str, payload: bytes, name: str, problem: str) -> None:
    """The publisher's first inbound check names the command and the problem (size, JSON, topic)."""
    from edge.transport.router import inbound_problem

    got_name, got_problem = inbound_problem(topic, payload, "tepat/v1/r/d/cmd/", 1024)
    assert got_name == name
    assert (problem in got_problem) if problem else got_problem == ""
