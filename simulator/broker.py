"""Find or start an MQTT broker for the simulator.

Order: a configured broker is used as is; else one already answering MQTT on
localhost:1883; else a private ``mosquitto`` on a free loopback port with a generated
configuration; else an in-process ``amqtt`` broker bound to 127.0.0.1 (MQTT 3.1.1 only, so
terminals must then use ``protocol = "3.1.1"``). If none is possible, one
:class:`BrokerUnavailable` message says what to install.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.errors import EdgeError
from simulator.mosquitto import MosquittoFailed, MosquittoServer, find_mosquitto, free_port

logger = logging.getLogger(__name__)

Kind = Literal["configured", "localhost", "mosquitto", "amqtt"]


class BrokerUnavailable(EdgeError):
    """No MQTT broker is configured, reachable or startable."""


@dataclass(frozen=True)
class Endpoint:
    """Where terminals and the central consumer connect."""

    host: str
    port: int
    protocol: Literal["5", "3.1.1"]
    kind: Kind


def mqtt_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if an MQTT 3.1.1 CONNECT to host:port gets a CONNACK accepting it."""
    client_id = b"tepat-sim-probe"
    var = b"\x00\x04MQTT\x04\x02\x00\x05"  # protocol name, level 4, clean session, keepalive 5 s
    payload = len(client_id).to_bytes(2, "big") + client_id
    body = var + payload
    packet = b"\x10" + bytes([len(body)]) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(packet)
            ack = s.recv(4)
            s.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        return False
    return len(ack) == 4 and ack[0] == 0x20 and ack[3] == 0


class MosquittoBroker(MosquittoServer):
    """A private anonymous mosquitto on 127.0.0.1 with persistence in its own folder; restartable on the same port."""

    def __init__(self, binary: str, workdir: Path, port: int | None = None) -> None:
        super().__init__(binary, workdir, port=port or 0, secure=False)
        self.configure()

    def start(self) -> None:
        try:
            super().start()
        except MosquittoFailed as exc:
            raise BrokerUnavailable(f"mosquitto did not start on 127.0.0.1:{self.port}: {exc}") from None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (mosquitto saves its persistent sessions), stay down ``down_s`` seconds, start again."""
        try:
            super().restart(down_s)
        except MosquittoFailed as exc:
            raise BrokerUnavailable(f"mosquitto did not restart on 127.0.0.1:{self.port}: {exc}") from None


class AmqttBroker:
    """amqtt's broker in a background thread with its own event loop, bound to 127.0.0.1 only."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _config(self) -> dict:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}", "max_connections": 0}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            self._broker = Broker(self._config(), loop=loop)
            await self._broker.start()

        try:
            loop.run_until_complete(boot())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="amqtt-broker", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None or not self._ready.is_set():
            raise BrokerUnavailable(f"in-process amqtt broker failed to start on 127.0.0.1:{self.port}: {self._error}")
        logger.info("started in-process amqtt broker on 127.0.0.1:%d (MQTT 3.1.1)", self.port)

    def stop(self) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None or not loop.is_running():
            return
        fut = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)
        try:
            fut.result(timeout=10)
        except Exception as exc:  # noqa: BLE001 - shutting down anyway
            logger.warning("amqtt shutdown: %s", exc)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._broker = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        self._ready.clear()
        self.start()


class SimBroker:
    """The broker the simulator uses: context manager; ``endpoint`` says where it is and how to speak to it."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        protocol: Literal["5", "3.1.1"] = "5",
        prefer: Literal["auto", "mosquitto", "amqtt"] = "auto",
        probe_localhost: bool = True,
    ) -> None:
        self._host, self._port, self._protocol = host, port, protocol
        self._prefer = prefer
        self._probe = probe_localhost
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.server: MosquittoBroker | AmqttBroker | None = None
        self.endpoint: Endpoint | None = None

    def __enter__(self) -> "SimBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Endpoint:
        if self._host:
            self.endpoint = Endpoint(self._host, self._port or 1883, self._protocol, "configured")
            logger.info("broker: using configured %s:%d", self._host, self.endpoint.port)
            return self.endpoint
        if self._probe and self._prefer == "auto" and mqtt_answers("127.0.0.1", 1883, 0.5):
            self.endpoint = Endpoint("127.0.0.1", 1883, "3.1.1", "localhost")
            logger.info("broker: using the MQTT broker already on localhost:1883 (speaking MQTT 3.1.1)")
            return self.endpoint
        binary = find_mosquitto()
        if binary and self._prefer in ("auto", "mosquitto"):
            self._tmp = tempfile.TemporaryDirectory(prefix="tepat-sim-mosquitto-")
            self.server = MosquittoBroker(binary, Path(self._tmp.name))
            self.server.start()
            self.endpoint = Endpoint("127.0.0.1", self.server.port, "5", "mosquitto")
            return self.endpoint
        if self._prefer == "mosquitto":
            raise BrokerUnavailable("mosquitto is not installed (apt install mosquitto)")
        try:
            import amqtt.broker  # noqa: F401
        except ImportError:
            raise BrokerUnavailable(
                "no MQTT broker: none configured, none on localhost:1883, mosquitto not installed "
                "(apt install mosquitto) and amqtt not installed (pip install 'tepat-edge[sim]')"
            ) from None
        self.server = AmqttBroker()
        self.server.start()
        self.endpoint = Endpoint("127.0.0.1", self.server.port, "3.1.1", "amqtt")
        return self.endpoint

    @property
    def can_restart(self) -> bool:
        return self.server is not None

    def restart(self, down_s: float = 0.0) -> None:
        """Restart a broker the simulator started itself."""
        if self.server is None:
            raise BrokerUnavailable("cannot restart a broker the simulator did not start")
        self.server.restart(down_s)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
