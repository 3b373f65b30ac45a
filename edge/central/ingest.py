"""The ingest worker: an MQTT 5 shared subscription, checks, one transaction per message, ack after commit.

Several workers (processes or machines) with the same ``group`` split the messages between them
(``$share/<group>/…``); a clustered broker does the same across nodes. Each worker keeps a persistent
session and acknowledges a message (manual PUBACK) only after its transaction committed, so a worker
killed mid-stream leaves its unacknowledged messages with the broker, which delivers them again;
the idempotency key makes the repeat a no-op. While the database is down the worker stops acknowledging
(the broker's in-flight window then stops the flow) and retries until it is back.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.central.db import Database, DatabaseUnavailable, DuplicateRow, describe
from edge.central.relay import command_payload, mark_sent, resend_from, unsent
from edge.central.store import Stored, device_lookup, quarantine, store_checked, touch_devices
from edge.central.verify import check_message
from edge.config import MqttConfig
from edge.transport import topics

logger = logging.getLogger(__name__)

FILTERS = ("+/+/event/#", "+/+/status", "+/+/health")


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    acked: int = 0
    relayed: int = 0
    conflicts: int = 0
    db_retries: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    db_down_since: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def shared_filters(prefix: str, group: str) -> list[str]:
    return [f"$share/{group}/{prefix.rstrip('/')}/{f}" for f in FILTERS]


class IngestWorker:
    """One worker; ``start()``/``stop()`` or a context manager. Database work happens on its own thread."""

    def __init__(self, mqtt_cfg: MqttConfig, db_url: str, key: Ed25519PrivateKey, *, group: str = "tepat-central",
                 client_id: str = "tepat-central-ingest-1", relay_scope: str = "point", shared: bool = True) -> None:
        self.cfg, self.db_url, self.key, self.group, self.client_id, self.scope = mqtt_cfg, db_url, key, group, client_id, relay_scope
        # Mosquitto 2.0 does not keep a shared subscription across a broker restart (messages published before the
        # worker subscribes again are dropped), while a plain persistent subscription survives: one worker uses a plain one.
        self.shared = shared and mqtt_cfg.protocol == "5"
        self.stats = IngestStats()
        self.batch_max = 200
        self._q: queue.Queue[tuple[int, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._generation = 0
        self._client: Any = None
        self._thread: threading.Thread | None = None
        self.db = Database(db_url)

    # --- MQTT ------------------------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            logger.error("Ingest %s: broker refused the connection (%s)", self.client_id, reason)
            return
        from paho.mqtt.subscribeoptions import SubscribeOptions

        self._generation += 1
        if self.shared:
            client.subscribe([(f, SubscribeOptions(qos=1)) for f in shared_filters(self.cfg.topic_prefix, self.group)])
        else:
            client.subscribe([(f"{self.cfg.topic_prefix.rstrip('/')}/{f}", 1) for f in FILTERS])
        logger.info("Ingest %s connected to %s:%d (session %s), %s", self.client_id, self.cfg.host, self.cfg.port,
                    "resumed" if getattr(flags, "session_present", False) else "new",
                    f"shared group {self.group}" if self.shared else "one worker (plain persistent subscription)")

    def _on_subscribe(self, *args: Any) -> None:
        self._connected.set()

    def _on_disconnect(self, *args: Any) -> None:
        self._connected.clear()
        self._generation += 1  # acks for messages of the old connection would name the wrong packet ids

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        self._q.put((self._generation, msg))

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> "IngestWorker":
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        from edge.transport.client import SESSION_EXPIRY_S, read_password

        v5 = self.cfg.protocol == "5"
        if not v5:  # e.g. the simulator's amqtt fallback broker: one worker, no shared subscription
            logger.warning("Ingest %s on MQTT 3.1.1: no shared subscription, so run a single worker", self.client_id)
        client = (mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5, manual_ack=True) if v5 else
                  mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv311, clean_session=False, manual_ack=True))
        if self.cfg.username:
            client.username_pw_set(self.cfg.username, read_password(self.cfg))
        if self.cfg.tls is not None:
            import ssl

            t = self.cfg.tls
            client.tls_set(ca_certs=str(t.ca_file) if t.ca_file else None, certfile=str(t.cert_file) if t.cert_file else None,
                           keyfile=str(t.key_file) if t.key_file else None, cert_reqs=ssl.CERT_REQUIRED, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.max_inflight_messages_set(max(self.cfg.inflight, 100))
        client.reconnect_delay_set(int(max(1, self.cfg.reconnect_min_s)), int(max(1, self.cfg.reconnect_max_s)))
        client.on_connect, client.on_subscribe, client.on_disconnect, client.on_message = (
            self._on_connect, self._on_subscribe, self._on_disconnect, self._on_message)
        self._client = client
        self._thread = threading.Thread(target=self._run, name=f"ingest-{self.client_id}", daemon=True)
        self._thread.start()
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, clean_start=False, properties=props)
        else:
            client.connect_async(self.cfg.host, self.cfg.port, self.cfg.keepalive_s)
        client.loop_start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
        if self._thread is not None:
            self._thread.join(10)
        self.db.close()

    def __enter__(self) -> "IngestWorker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the work --------------------------------------------------------------------------
    def _run(self) -> None:
        next_sweep = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_sweep and self._connected.is_set():
                self._with_db(self._publish_unsent)  # relay messages kept but not yet sent (e.g. after a crash)
                next_sweep = time.monotonic() + 30.0
            try:
                batch = [self._q.get(timeout=0.5)]
            except queue.Empty:
                continue
            while len(batch) < self.batch_max:  # group commit: what is already waiting goes into the same transaction
                try:
                    batch.append(self._q.get_nowait())
                except queue.Empty:
                    break
            results = self._with_db(lambda: self._handle_batch([m for _, m in batch]))
            if results is None:
                continue  # stopping: nothing acknowledged, the broker delivers it again
            for (gen, msg) in batch:
                if msg.qos > 0 and gen == self._generation and self._client is not None:
                    self._client.ack(msg.mid, msg.qos)
                    self.stats.acked += 1
            self._after_commit(results)

    def _with_db(self, work: Any) -> Any:
        """Run ``work`` until it succeeds; while the database is away, log once, back off, retry."""
        delay = 0.2
        while not self._stop.is_set():
            try:
                result = work()
                if self.stats.db_down_since is not None:
                    logger.warning("Central database %s is back after %.0f s; acknowledging again", describe(self.db_url),
                                   time.monotonic() - self.stats.db_down_since)
                    self.stats.db_down_since = None
                return result
            except DuplicateRow:
                self.stats.db_retries += 1  # another worker wrote the same row at the same moment: read again
                continue
            except DatabaseUnavailable as exc:
                self.stats.db_retries += 1
                if self.stats.db_down_since is None:
                    self.stats.db_down_since = time.monotonic()
                    logger.error("Central database unavailable (%s): not acknowledging messages, retrying until it is back", exc)
                self.db.reset()
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
        return None

    def _handle_batch(self, msgs: list[Any]) -> list[Stored]:
        """All messages in one transaction; on any problem (a race on a unique row, data the store cannot use)
        the transaction is rolled back and the messages are handled one by one."""
        if len(msgs) > 1:
            lookup = device_lookup(self.db)
            checked = [check_message(self.cfg.topic_prefix, m.topic, m.payload, lookup) for m in msgs]
            try:
                out = []
                with self.db.transaction():
                    for c, m in zip(checked, msgs):
                        if c.ok:
                            out.append(store_checked(self.db, c, self.key, self.scope, touch=c.channel == "status"))
                        else:
                            quarantine(self.db, c, m.payload)
                            out.append(None)
                    touch_devices(self.db, {c.device_id for c in checked if c.ok and c.channel != "status" and c.device_id})
            except DatabaseUnavailable:
                raise
            except Exception:  # noqa: BLE001 - fall back to one transaction per message
                pass
            else:
                for c, st in zip(checked, out):
                    self._count(c, st)
                return [st for st in out if st is not None]
        return [self._handle(m.topic, m.payload) for m in msgs]

    def _count(self, c: Any, stored: Stored | None) -> None:
        self.stats.received += 1
        if stored is None:
            self.stats.quarantined += 1
            self.stats.reasons[c.reason] = self.stats.reasons.get(c.reason, 0) + 1
            logger.warning("Kept apart (%s) from %s: %s", c.reason, c.device_id or c.topic[:80], c.detail)
            return
        if stored.new:
            self.stats.stored += 1
        elif c.channel == "event":
            self.stats.duplicates += 1
        if stored.conflict:
            self.stats.conflicts += 1

    def _handle(self, topic: str, payload: bytes) -> Stored:
        c = check_message(self.cfg.topic_prefix, topic, payload, device_lookup(self.db))
        if c.ok:
            try:
                with self.db.transaction():
                    stored = store_checked(self.db, c, self.key, self.scope)
            except (DatabaseUnavailable, DuplicateRow):
                raise
            except Exception as exc:  # noqa: BLE001 - data the checks let through but the store could not use
                c.refuse("store_failed", f"{type(exc).__name__}: {exc}")
        if not c.ok:
            with self.db.transaction():
                quarantine(self.db, c, payload)
            self._count(c, None)
            return Stored()
        self._count(c, stored)
        return stored

    def _after_commit(self, results: list[Stored]) -> None:
        rows = []
        for stored in results:
            rows += stored.outgoing
            if stored.resync:
                dev, from_seq = stored.resync
                again = self._with_db(lambda: resend_from(self.db, dev, from_seq)) or []
                logger.info("Resync for %s: resending ledger messages from %d (%d message(s))", dev, from_seq, len(again))
                rows += again
        if rows:
            self._publish(rows)

    def _publish_unsent(self) -> None:
        self._publish(unsent(self.db))

    def _publish(self, rows: list[dict[str, Any]]) -> None:
        """Publish kept ledger messages (QoS 1), then mark those the broker acknowledged; the rest go again later."""
        sent = []
        for row in rows:
            if not row.get("region") or self._client is None:
                continue
            topic = topics.cmd_topic(self.cfg.topic_prefix, row["region"], row["device_id"], "ledger")
            sent.append((row, self._client.publish(topic, command_payload(row), qos=1)))
            self.stats.relayed += 1
        done = []
        for row, info in sent:
            try:
                info.wait_for_publish(5)
            except (RuntimeError, ValueError):
                continue
            if info.is_published():
                done.append(row)
        if done:
            def mark() -> None:
                with self.db.transaction():
                    for r in done:
                        mark_sent(self.db, r["device_id"], r["seq"])
            self._with_db(mark)
