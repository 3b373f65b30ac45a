"""The reference consumer (the operator's view): subscribe, check schemas, de-duplicate, count per device.

:class:`ConsumerState` is the pure logic (feed it ``(topic, payload)``); :class:`Consumer` wires it to
a paho client with a persistent session, so messages queued while the monitor or the broker was
down are still delivered. ``edge monitor`` and the chaos tests both use it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import ValidationError

from edge.config import MqttConfig
from edge.messages import Envelope, StatusPayload
from edge.monitor.registry import DeviceKeys
from edge.transport.topics import parse_topic
from edge.wire_models import payload_models

logger = logging.getLogger(__name__)


@dataclass
class DeviceView:
    """What the operator sees for one terminal."""

    device_id: str
    region: str = "?"
    status: str = "unknown"
    last_seen: float | None = None
    unique: int = 0
    duplicates: int = 0
    last_seq: int = 0
    out_of_order: int = 0
    gaps: int = 0
    pending: int | None = None
    bad_signatures: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        return self.outcomes.get("accept", 0)

    @property
    def rejected(self) -> int:
        return self.outcomes.get("reject", 0)

    @property
    def referred(self) -> int:
        return self.outcomes.get("refer", 0)


class ConsumerState:
    """De-duplication by idempotency key and per-device order checking; no I/O."""

    def __init__(self, prefix: str = "tepat/v1", keep_keys: bool = True, validate_payloads: bool = True,
                 device_keys: DeviceKeys | None = None) -> None:
        self.prefix = prefix
        self.device_keys = device_keys  # when set, records with a missing/bad signature are counted as bad, not as outcomes
        self.payload_models = payload_models() if validate_payloads else {}
        self.devices: dict[str, DeviceView] = {}
        self.seen: set[str] = set()
        self.keys_in_order: dict[str, list[tuple[int, str]]] = {}
        self.keep_keys = keep_keys
        self.invalid = 0
        self.received = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()

    def _error(self, text: str) -> None:
        self.invalid += 1
        self.errors = (self.errors + [text])[-50:]
        logger.warning("monitor: %s", text)

    def _device(self, region: str, device: str) -> DeviceView:
        view = self.devices.get(device)
        if view is None:
            view = self.devices[device] = DeviceView(device_id=device, region=region)
        return view

    def handle(self, topic: str, payload: bytes) -> str:
        """Account for one message; returns 'new', 'duplicate', 'status', 'health', 'ignored' or 'invalid'."""
        with self._lock:
            self.received += 1
            parsed = parse_topic(self.prefix, topic)
            if parsed is None:
                return "ignored"
            region, device, rest = parsed
            if rest.startswith("cmd/"):
                return "ignored"
            if rest == "status":
                if not payload:
                    return "ignored"  # retained status cleared
                try:
                    status = StatusPayload.model_validate_json(payload)
                except ValidationError as exc:
                    self._error(f"{topic}: bad status payload: {exc.errors()[0]['msg']}")
                    return "invalid"
                view = self._device(region, device)
                view.status = status.state
                return "status"
            try:
                env = Envelope.model_validate_json(payload)
            except ValidationError as exc:
                if rest == "health":
                    return self._raw_health(region, device, payload)
                first = exc.errors()[0]
                self._error(f"{topic}: not a valid envelope: {'.'.join(map(str, first['loc']))}: {first['msg']}")
                return "invalid"
            model = self.payload_models.get(env.payload_schema or "")
            if model is not None:
                try:
                    model.model_validate(env.payload)
                except ValidationError as exc:
                    first = exc.errors()[0]
                    self._error(f"{topic}: payload does not match {env.payload_schema}: {'.'.join(map(str, first['loc']))}: {first['msg']}")
                    return "invalid"
            if env.device_id != device:
                self._error(f"{topic}: envelope device_id {env.device_id!r} does not match the topic")
                return "invalid"
            view = self._device(region, device)
            view.last_seen = time.time()
            if self.device_keys is not None:
                problem = self.device_keys.check(device, env.kind, env.payload)
                if problem:
                    view.bad_signatures += 1
                    self._error(f"{topic}: {problem}; not counted")
                    return "bad_signature"
            if env.idempotency_key in self.seen:
                view.duplicates += 1
                return "duplicate"
            self.seen.add(env.idempotency_key)
            view.unique += 1
            if env.stream != "record":
                pass  # telemetry has its own sequence and may be superseded: not part of the completeness proof
            elif env.seq <= view.last_seq:
                view.out_of_order += 1
                self._error(f"{device}: seq {env.seq} arrived after seq {view.last_seq} (out of order)")
            else:
                if view.last_seq and env.seq > view.last_seq + 1:
                    view.gaps += 1
                view.last_seq = env.seq
            if self.keep_keys:
                self.keys_in_order.setdefault(device, []).append((env.seq, env.idempotency_key))
            outcome = env.payload.get("outcome") or env.payload.get("new_outcome")
            if isinstance(outcome, str):
                view.outcomes[outcome] = view.outcomes.get(outcome, 0) + 1
            self._note_backlog(view, env.payload)
            return "new"

    def _raw_health(self, region: str, device: str, payload: bytes) -> str:
        try:
            data = json.loads(payload)
        except ValueError:
            self._error(f"{device}: health is not JSON")
            return "invalid"
        view = self._device(region, device)
        view.last_seen = time.time()
        if isinstance(data, dict):
            self._note_backlog(view, data)
        return "health"

    @staticmethod
    def _note_backlog(view: DeviceView, data: dict) -> None:
        backlog = data.get("outbox_backlog")
        if isinstance(backlog, int):
            view.pending = backlog

    def totals(self) -> dict[str, int]:
        with self._lock:
            return {
                "devices": len(self.devices),
                "unique": sum(v.unique for v in self.devices.values()),
                "duplicates": sum(v.duplicates for v in self.devices.values()),
                "out_of_order": sum(v.out_of_order for v in self.devices.values()),
                "invalid": self.invalid,
                "bad_signatures": sum(v.bad_signatures for v in self.devices.values()),
            }

    def snapshot(self) -> list[DeviceView]:
        with self._lock:
            return [DeviceView(**{**v.__dict__, "outcomes": dict(v.outcomes)}) for v in sorted(self.devices.values(), key=lambda v: v.device_id)]


class Consumer:
    """A live subscriber to ``<prefix>/#`` (QoS 1, persistent session) feeding a :class:`ConsumerState`."""

    def __init__(self, mqtt_cfg: MqttConfig, *, client_id: str = "tepat-monitor", keep_keys: bool = True,
                 on_message: Callable[[str, bytes, str], None] | None = None, device_keys: DeviceKeys | None = None) -> None:
        self.cfg = mqtt_cfg
        self.client_id = client_id
        self.state = ConsumerState(mqtt_cfg.topic_prefix, keep_keys=keep_keys, device_keys=device_keys)
        self.on_message = on_message
        self.connected = threading.Event()
        self.last_error: str | None = None
        self._client = None

    def start(self) -> "Consumer":
        from edge.transport.mqtt import connect_options, make_client

        client, props = make_client(self.cfg, self.client_id, clean=False)
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(self.cfg.reconnect_min_s, self.cfg.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, **connect_options(props))
        client.loop_start()
        self._client = client
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def __enter__(self) -> "Consumer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """True once connected and subscribed (the broker has acknowledged the subscription)."""
        return self.connected.wait(timeout)

    def wait_for(self, predicate: Callable[[ConsumerState], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate(self.state):
                return True
            time.sleep(0.05)
        return predicate(self.state)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            self.last_error = f"broker refused the monitor: {reason_code}"
            logger.error("monitor: %s", self.last_error)
            return
        client.subscribe(f"{self.cfg.topic_prefix.rstrip('/')}/#", qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # noqa: ANN001
        if any(rc.is_failure for rc in reason_codes):
            self.last_error = f"broker refused the monitor's subscription: {reason_codes[0]}"
            logger.error("monitor: %s", self.last_error)
            return
        self.connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        self.connected.clear()

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        try:
            verdict = self.state.handle(message.topic, message.payload)
            if self.on_message is not None:
                self.on_message(message.topic, message.payload, verdict)
        except Exception as exc:  # noqa: BLE001 - never raise into paho
            logger.exception("monitor: cannot handle %s: %s", message.topic, exc)
