"""The outbox publisher: drains the SQLite outbox to the broker in sequence order, in its own thread.

A record leaves the outbox (is marked delivered) only after the broker's PUBACK; under MQTT 5
a PUBACK whose reason code is a failure (e.g. 135 "Not authorized": the ACL refused the topic)
is an error, not a delivery. After any disconnect the publisher starts a fresh session and
re-sends everything still pending from the oldest, so the broker sees each device's records in
order; records that were published but whose PUBACK was lost arrive twice (consumers
de-duplicate by idempotency key). See docs/MQTT.md.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from edge import __version__
from edge.config import DeviceConfig, MqttConfig, StoreConfig
from edge.errors import ConfigError
from edge.messages import StatusPayload
from edge.store.outbox import Outbox
from edge.transport import topics
from edge.transport.backoff import backoff_delay
from edge.transport.refusal import STATUS_MESSAGE, RefusalTracker
from edge.transport.client import SESSION_EXPIRY_S, connect_options, make_client, read_password
from edge.transport.router import inbound_problem

logger = logging.getLogger(__name__)

__all__ = ["MqttPublisher", "PublisherStats", "SESSION_EXPIRY_S", "connect_options", "make_client", "read_password"]

RETAINED_SUFFIXES = frozenset({"health"})
ACK_FLUSH_S = 0.05
CONNACK_TIMEOUT_S = 10.0
AUTH_CODES_311 = {4: "bad user name or password", 5: "not authorised"}
AUTH_CODES_5 = {134, 135, 138, 140}  # bad user/password, not authorized, banned, bad auth method
REFUSED_STREAK = 3  # MQTT 3.1.1 has no negative PUBACK: see edge.transport.refusal
FD_SETSIZE = 1024  # paho 2.x waits with select(), which cannot watch a descriptor >= 1024 (docs/MQTT.md)


@dataclass(frozen=True)
class PublisherStats:
    link_state: str
    connected_since: float | None
    sessions: int
    published: int
    acked: int
    refused: int
    inflight: int
    inbound_refused: int
    last_error: str | None


class MqttPublisher:
    """Drains the outbox to MQTT in a background thread; never blocks the caller.

    ``on_command(name, payload)`` receives inbound ``…/cmd/<name>`` messages that passed the size
    and JSON checks (typically :meth:`CommandRouter.handle`); it runs on the publisher thread.
    """

    def __init__(
        self,
        mqtt: MqttConfig,
        device: DeviceConfig,
        outbox_path: Path,
        *,
        on_command: Callable[[str, bytes], object] | None = None,
        store: StoreConfig | None = None,
        rng: random.Random | None = None,
        row_verifier: Callable[[str, str], str | None] | None = None,
    ) -> None:
        self.row_verifier = row_verifier  # checks each record's signature before publishing (edge.claim.records.row_check)
        self.cfg = mqtt
        self.device = device
        self.outbox_path = Path(outbox_path)
        self.store = store or StoreConfig()
        self.on_command = on_command
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats = PublisherStats("down", None, 0, 0, 0, 0, 0, 0, None)
        self._lock = threading.Lock()
        d = device
        self.status_topic = topics.status_topic(mqtt.topic_prefix, d.region, d.device_id)
        self.cmd_filter = topics.cmd_topic(mqtt.topic_prefix, d.region, d.device_id)
        self._cmd_head = self.cmd_filter[:-1]
        # per-session state (publisher thread only)
        self._inflight: dict[int, tuple[str, int, str]] = {}
        self._acked: list[str] = []
        self._sent_seq = 0
        self._connack: int | None = None  # None = waiting, 0 = accepted, >0 = refused
        self._connack_reason = ""
        self._session_failed = ""
        self._refusal = RefusalTracker(REFUSED_STREAK)
        self._mark_error = ""
        self._progress = False
        self._failed_seq = 0
        self._session_started: float | None = None

    # -- public ------------------------------------------------------------
    @property
    def link_state(self) -> str:
        """'up' (connected), 'down' (no link, retrying) or 'auth_failed' (broker refused login or a topic)."""
        return self._stats.link_state

    def stats(self) -> PublisherStats:
        with self._lock:
            return replace(self._stats, inflight=len(self._inflight))

    def start(self) -> "MqttPublisher":
        if self._thread is not None:
            return self
        read_password(self.cfg)  # fail early on an unreadable password file
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Tell the publisher a record was appended (it also polls, so this only shortens latency)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Publish 'offline', disconnect, and join the thread. Pending records stay in the outbox."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("MQTT publisher did not stop within %.0f s", timeout)
            self._thread = None

    def __enter__(self) -> "MqttPublisher":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _set(self, **changes: object) -> None:
        with self._lock:
            self._stats = replace(self._stats, **changes)  # type: ignore[arg-type]

    # -- thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            outbox = Outbox(self.outbox_path, self.device.device_id, synchronous=self.store.synchronous,
                            min_free_mb=self.store.min_free_mb, telemetry_max_rows=self.store.telemetry_max_rows,
                            row_verifier=self.row_verifier)
        except Exception as exc:  # noqa: BLE001 - reported, the thread ends
            logger.error("MQTT publisher cannot open the outbox: %s", exc)
            self._set(last_error=str(exc))
            return
        attempt = 0
        with outbox:
            while not self._stop.is_set():
                try:
                    ok = self._session(outbox)
                except Exception as exc:  # noqa: BLE001 - the publisher must outlive any single failure
                    logger.exception("MQTT publisher session failed unexpectedly: %s", exc)
                    self._set(link_state="down", connected_since=None, last_error=f"internal error: {exc}")
                    ok = False
                if self._stop.is_set():
                    break
                attempt = 1 if ok and self._session_progress() else attempt + 1  # a session dropped at once is no progress
                delay = backoff_delay(attempt, self.cfg.reconnect_min_s, self.cfg.reconnect_max_s, self._rng)
                if self.link_state == "auth_failed":
                    delay = max(delay, min(self.cfg.reconnect_max_s, 10.0))
                pending = outbox.stats().pending
                logger.warning("MQTT link to %s:%d down (%s); %d records waiting, retrying in %.1f s",
                               self.cfg.host, self.cfg.port, self._stats.last_error or "no reason", pending, delay)
                self._stop.wait(delay)
        self._set(link_state="down", connected_since=None)

    def _session(self, outbox: Outbox) -> bool:
        """One connection: connect, drain, until the link fails or stop is asked. True if it got connected."""
        self._inflight.clear()
        self._acked.clear()
        self._sent_seq = 0
        self._progress = False
        self._failed_seq = 0
        self._session_started = time.monotonic()
        self._connack = None
        self._session_failed = ""
        try:
            client, props = make_client(self.cfg, self.device.device_id, clean=False)
        except (ConfigError, ssl.SSLError, OSError, ValueError) as exc:
            self._set(link_state="down", last_error=f"client setup: {exc}")
            logger.error("MQTT client setup failed: %s", exc)
            return False
        offline = StatusPayload(device_id=self.device.device_id, state="offline", reason="connection lost", software=__version__)
        client.will_set(self.status_topic, offline.model_dump_json(), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        connected = False
        try:
            try:
                client.connect(self.cfg.host, self.cfg.port, self.cfg.keepalive_s, **connect_options(props))
            except (OSError, ssl.SSLError, ValueError) as exc:
                self._set(link_state="down", last_error=f"connect: {exc}")
                return False
            sock = client.socket()
            fd = sock.fileno() if sock is not None else -1
            if fd >= FD_SETSIZE:
                msg = (f"socket descriptor {fd} is above select()'s limit of {FD_SETSIZE - 1}: the MQTT client cannot use it "
                       "(too many files open in this process)")
                logger.error("MQTT %s", msg)
                self._set(link_state="down", last_error=msg)
                return False
            deadline = time.monotonic() + CONNACK_TIMEOUT_S
            last_flush = time.monotonic()
            while not self._stop.is_set():
                rc = client.loop(timeout=0.02 if self._inflight else 0.1)
                if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    self._set(last_error=self._session_failed or f"connection lost ({mqtt.error_string(rc)})")
                    break
                if self._connack is None:
                    if time.monotonic() > deadline:
                        self._set(last_error="no CONNACK from the broker")
                        break
                    continue
                if self._connack != 0:
                    break
                if not connected:
                    connected = True
                    self._on_session_up(client)
                if self._session_failed:
                    self._set(last_error=self._session_failed)
                    break
                now = time.monotonic()
                if self._acked and (now - last_flush > ACK_FLUSH_S or len(self._acked) >= 500):
                    self._flush_acks(outbox)
                    last_flush = now
                self._pump(client, outbox)
            self._flush_acks(outbox)
            if self._stop.is_set() and connected:
                self._say_goodbye(client, outbox)
        finally:
            unacked = [key for key, _, _ in self._inflight.values() if key]
            if connected and not self._stop.is_set():
                outstanding = [seq if key else STATUS_MESSAGE for key, seq, _ in self._inflight.values()]
                outstanding += [self._failed_seq] if self._failed_seq else []
                self._note_drop(min(outstanding, default=0))
            if unacked:
                outbox.record_attempt(unacked)
            self._inflight.clear()
            try:
                client.disconnect()
            except Exception:  # noqa: BLE001 - the socket may already be gone
                pass
            client._reset_sockets()  # release the socket pair now rather than at garbage collection
            if self.link_state == "up":
                self._set(link_state="down", connected_since=None)
        return connected

    def _session_progress(self) -> bool:
        """The last session delivered something or lasted a while (so the backoff may start again from the minimum)."""
        since = self._session_started
        return self._progress or (since is not None and time.monotonic() - since > 5.0)

    def _note_drop(self, oldest_unacked: int) -> None:
        """MQTT 3.1.1: repeated drops with a publish outstanding and nothing acknowledged mean the broker refuses it."""
        if self.cfg.protocol != "3.1.1":
            return
        if self._refusal.dropped(oldest_unacked, self._progress):
            msg = (f"broker closed the connection {self._refusal.streak} times in a row with {self._refusal.what()} outstanding: "
                   f"it refuses the topic (check the broker ACL for user {self.cfg.username})")
            if self.link_state != "auth_failed":
                logger.error("MQTT %s; records stay in the outbox", msg)
            with self._lock:
                self._stats = replace(self._stats, refused=self._stats.refused + 1, link_state="auth_failed", last_error=msg)

    def _on_session_up(self, client: mqtt.Client) -> None:
        online = StatusPayload(device_id=self.device.device_id, state="online", software=__version__)
        info = client.publish(self.status_topic, online.model_dump_json(), qos=1, retain=True)
        self._inflight[info.mid] = ("", 0, self.status_topic)  # records wait until the broker accepts our status
        client.subscribe(self.cmd_filter, qos=1)
        refused = self._refusal.refused  # stays auth_failed until something is acknowledged
        with self._lock:
            self._stats = replace(self._stats, link_state="auth_failed" if refused else "up", connected_since=time.time(),
                                  sessions=self._stats.sessions + 1, last_error=self._stats.last_error if refused else None)
        tls = ", TLS" if self.cfg.tls else ""
        logger.info("MQTT link up: %s:%d (MQTT %s%s) as %s", self.cfg.host, self.cfg.port, self.cfg.protocol, tls, self.device.device_id)

    def _pump(self, client: mqtt.Client, outbox: Outbox) -> None:
        room = self.cfg.inflight - len(self._inflight)
        if room <= 0 or any(not key for key, _, _ in self._inflight.values()):
            return
        items = outbox.pending(room, after_seq=self._sent_seq)
        for item in items:
            topic = topics.suffix_topic(self.cfg.topic_prefix, self.device.region, self.device.device_id, item.topic_suffix)
            info = client.publish(topic, item.payload_json, qos=1, retain=item.topic_suffix in RETAINED_SUFFIXES)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._session_failed = f"publish failed ({mqtt.error_string(info.rc)})"
                self._failed_seq = item.seq
                return
            self._inflight[info.mid] = (item.key, item.seq, topic)
            self._sent_seq = item.seq
        if items:
            with self._lock:
                self._stats = replace(self._stats, published=self._stats.published + len(items))

    def _flush_acks(self, outbox: Outbox) -> None:
        if not self._acked:
            return
        keys, self._acked = self._acked, []
        try:
            outbox.mark_delivered(keys)
        except sqlite3.OperationalError as exc:  # e.g. the disk is full: they stay pending and are sent again later
            if not self._mark_error:
                logger.warning("MQTT publisher cannot mark %d records delivered (%s); they will be sent again", len(keys), exc)
            self._mark_error = str(exc)
            return
        self._mark_error = ""
        self._refusal.acknowledged()
        self._progress = True
        if self.link_state == "auth_failed" and not self._session_failed:
            self._set(link_state="up", last_error=None)
        with self._lock:
            self._stats = replace(self._stats, acked=self._stats.acked + len(keys))

    def _say_goodbye(self, client: mqtt.Client, outbox: Outbox) -> None:
        """Clean stop: wait briefly for outstanding PUBACKs, then replace the retained status with 'offline'."""
        end = time.monotonic() + 2.0
        while any(key for key, _, _ in self._inflight.values()) and time.monotonic() < end:
            if client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
        self._flush_acks(outbox)
        bye = StatusPayload(device_id=self.device.device_id, state="offline", reason="shutdown", software=__version__)
        info = client.publish(self.status_topic, bye.model_dump_json(), qos=1, retain=True)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            return
        while not info.is_published() and time.monotonic() < end + 1.0:
            if client.loop(timeout=0.05) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return
        logger.info("MQTT publisher stopped; status 'offline' published")

    # -- paho callbacks (run on the publisher thread inside client.loop) ----
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if not reason_code.is_failure:
            self._connack = 0
            return
        self._connack = int(reason_code.value) or 1
        code = int(reason_code.value)
        auth = code in AUTH_CODES_5 or (self.cfg.protocol == "3.1.1" and code in AUTH_CODES_311)
        reason = str(reason_code)
        if auth:
            msg = f"broker refused login for {self.cfg.username or '(no user)'}: {reason}; check mqtt.username / password"
            if self.link_state != "auth_failed":
                logger.error("MQTT %s", msg)
            self._set(link_state="auth_failed", last_error=msg)
        else:
            self._set(link_state="down", last_error=f"broker refused the connection: {reason}")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # noqa: ANN001
        if reason_code is not None and reason_code.is_failure and not self._session_failed:
            self._session_failed = f"connection closed: {reason_code}"

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:  # noqa: ANN001
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return  # the status message
        key, seq, topic = entry
        if reason_code is not None and reason_code.is_failure:
            what = f"record seq {seq}" if key else "the status message"
            msg = f"broker refused {what} on {topic}: {reason_code} (check the broker ACL for user {self.cfg.username})"
            logger.error("MQTT %s; it stays in the outbox", msg)
            with self._lock:
                self._stats = replace(self._stats, refused=self._stats.refused + 1, link_state="auth_failed", last_error=msg)
            self._session_failed = msg
            return
        if key:
            self._acked.append(key)

    def _on_message(self, client, userdata, message) -> None:  # noqa: ANN001
        try:
            topic = message.topic
            payload = message.payload
            name, problem = inbound_problem(topic, payload, self._cmd_head, self.cfg.max_inbound_bytes)
            if problem:
                logger.error("MQTT inbound message on %s refused: %s", topic, problem)
                with self._lock:
                    self._stats = replace(self._stats, inbound_refused=self._stats.inbound_refused + 1)
                return
            if self.on_command is None:
                logger.warning("MQTT command on %s ignored: no command handler installed", topic)
                return
            self.on_command(name, payload)
        except Exception as exc:  # noqa: BLE001 - never raise into paho
            logger.exception("MQTT command handler failed on %s: %s", getattr(message, "topic", "?"), exc)
