"""A real Mosquitto for tests: plain + TLS + mutual-TLS listeners on free loopback ports.

Fixtures
--------
``mosquitto``        session-scoped broker (shared; do not restart it).
``mosquitto_fresh``  function-scoped broker of its own (restart / stop it freely).
``mqtt_config_for``  ``mqtt_config_for(broker, device_id="dev-1", *, tls=False, protocol="5", **overrides) -> MqttConfig``.

The broker object (:class:`MosquittoServer`) has ``host``, ``port`` (plain), ``tls_port``
(server certificate signed by ``ca_file``, client certificate optional), ``mtls_port`` (client
certificate required; ``client_cert``/``client_key`` are signed by the same CA), ``ca_file``,
``password(user)``, ``users`` (``dev-1`` … ``dev-5``, ``operator``), ``restart(down_s=0)``,
``stop()``, ``start()``, ``log_text()``. Persistence is on, so a restart keeps queued QoS 1
messages and retained topics. ACL: device ``dev-N`` may publish only under
``tepat/v1/+/dev-N/#`` and read only ``tepat/v1/+/dev-N/cmd/#``; ``operator`` reads and writes
everything under ``tepat/#``.

Pitfall handled here: started as root, mosquitto drops to the ``mosquitto`` user and exits with
code 13 when it cannot read root-owned files; the generated config sets ``user`` to the current
user so it keeps the test's identity.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require_binary

DEVICE_USERS = tuple(f"dev-{i}" for i in range(1, 6))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_pki(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate for dev-1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def key_pem(key) -> bytes:  # noqa: ANN001
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tepat test CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, server: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        b = (
            x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        cert = b.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), key_pem(key)

    paths = {name: folder / f"{name}.pem" for name in ("ca", "server", "server_key", "client", "client_key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert, key = leaf("127.0.0.1", True)
    paths["server"].write_bytes(cert)
    paths["server_key"].write_bytes(key)
    cert, key = leaf("dev-1", False)
    paths["client"].write_bytes(cert)
    paths["client_key"].write_bytes(key)
    for p in paths.values():
        p.chmod(0o600)
    return paths


@dataclass
class MosquittoServer:
    """A private mosquitto process with a generated configuration in ``workdir``."""

    binary: str
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    tls_port: int = 0
    mtls_port: int = 0
    proc: subprocess.Popen | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    pki: dict[str, Path] = field(default_factory=dict)

    @property
    def ca_file(self) -> Path:
        return self.pki["ca"]

    @property
    def client_cert(self) -> Path:
        return self.pki["client"]

    @property
    def client_key(self) -> Path:
        return self.pki["client_key"]

    @property
    def users(self) -> list[str]:
        return list(self.passwords)

    def password(self, user: str) -> str:
        return self.passwords[user]

    def configure(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.tls_port, self.mtls_port = free_port(), free_port(), free_port()
        self.pki = _make_pki(self.workdir)
        self.passwords = {u: f"pw-{u}-secret" for u in (*DEVICE_USERS, "operator")}
        pwfile = self.workdir / "passwd"
        pwfile.write_text("")
        passwd_bin = require_binary("mosquitto_passwd")
        for user, pw in self.passwords.items():
            subprocess.run([passwd_bin, "-b", str(pwfile), user, pw], check=True, capture_output=True)
        pwfile.chmod(0o600)
        acl = self.workdir / "acl"
        acl.write_text(
            "user operator\ntopic readwrite tepat/#\n\n"
            "pattern write tepat/v1/+/%u/#\n"
            "pattern read tepat/v1/+/%u/cmd/#\n"
        )
        acl.chmod(0o600)
        (self.workdir / "data").mkdir(exist_ok=True)
        p = self.pki
        (self.workdir / "mosquitto.conf").write_text(
            f"user {getpass.getuser()}\n"
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {pwfile}\n"
            f"acl_file {acl}\n"
            "persistence true\n"
            f"persistence_location {self.workdir / 'data'}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 0\n"
            "max_inflight_messages 0\n"
            "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
            f"listener {self.port} 127.0.0.1\n"
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {p['ca']}\ncertfile {p['server']}\nkeyfile {p['server_key']}\nrequire_certificate false\n"
            f"listener {self.mtls_port} 127.0.0.1\n"
            f"cafile {p['ca']}\ncertfile {p['server']}\nkeyfile {p['server_key']}\nrequire_certificate true\n"
        )

    def start(self) -> None:
        log = open(self.workdir / "mosquitto.log", "ab")  # noqa: SIM115 - kept by the process
        try:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.workdir / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with code {self.proc.returncode}: {self.log_text()[-800:]}")
            try:
                for port in (self.port, self.tls_port, self.mtls_port):
                    socket.create_connection((self.host, port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen within 15 s: {self.log_text()[-800:]}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): mosquitto saves sessions, queued messages and retained topics."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        time.sleep(down_s)
        for _ in range(50):  # the port may sit in TIME_WAIT for a moment
            try:
                self.start()
                return
            except RuntimeError:
                time.sleep(0.2)
        self.start()

    def log_text(self) -> str:
        log = self.workdir / "mosquitto.log"
        return log.read_text(errors="replace") if log.exists() else ""


def _start(tmp: Path) -> MosquittoServer:
    server = MosquittoServer(require_binary("mosquitto"), tmp)
    server.configure()
    server.start()
    return server


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory):
    """A shared real mosquitto (plain, TLS and mutual-TLS listeners; passwords; ACL) for the session."""
    server = _start(tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.stop()


@pytest.fixture
def mosquitto_fresh(tmp_path: Path):
    """A real mosquitto of this test's own, free to restart or stop."""
    server = _start(tmp_path / "mosquitto")
    yield server
    server.stop()


def mqtt_config(broker: MosquittoServer, device_id: str = "dev-1", *, tls: bool = False, mtls: bool = False, protocol: str = "5", **overrides):
    """An ``MqttConfig`` that logs ``device_id`` in to ``broker`` (plain, TLS or mutual TLS)."""
    from edge.config import MqttConfig, TlsConfig

    values: dict = dict(host=broker.host, port=broker.port, protocol=protocol, username=device_id,
                        password=broker.passwords.get(device_id, "wrong"), reconnect_min_s=0.2, reconnect_max_s=2.0)
    if tls or mtls:
        values["port"] = broker.mtls_port if mtls else broker.tls_port
        values["tls"] = TlsConfig(ca_file=broker.ca_file, cert_file=broker.client_cert if mtls else None, key_file=broker.client_key if mtls else None)
    values.update(overrides)
    return MqttConfig(**values)


@pytest.fixture
def mqtt_config_for():
    """The :func:`mqtt_config` helper as a fixture."""
    return mqtt_config
