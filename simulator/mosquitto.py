"""The one private-Mosquitto launcher: the simulator, the tests and the transport benchmark all use it.

:class:`MosquittoServer` writes a configuration into its own folder and runs ``mosquitto`` on
free 127.0.0.1 ports. ``secure=True`` (the default) gives plain + TLS + mutual-TLS listeners,
a password per user (``dev-1`` … ``dev-5``, ``operator``) and an ACL: device ``dev-N`` may
publish only under ``tepat/v1/+/dev-N/#`` and read only ``tepat/v1/+/dev-N/cmd/#``; ``operator``
reads and writes everything under ``tepat/#``. ``acl_file``/``user_names`` replace the ACL and
the users (e.g. the shipped ``firmware_config/mosquitto/central.acl``). ``secure=False`` is one
anonymous listener, as the simulator's demo broker. Persistence is on, so a restart keeps
queued QoS 1 messages and retained topics.

Pitfall handled here: started as root, mosquitto drops to the ``mosquitto`` user and exits with
code 13 when it cannot read root-owned files; the configuration sets ``user`` to the current user.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import logging
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import EdgeError

logger = logging.getLogger(__name__)

DEVICE_USERS = tuple(f"dev-{i}" for i in range(1, 6))
DEFAULT_ACL = "user operator\ntopic readwrite tepat/#\n\npattern write tepat/v1/+/%u/#\npattern read tepat/v1/+/%u/cmd/#\n"


class MosquittoFailed(EdgeError):
    """mosquitto (or mosquitto_passwd) is missing or did not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str) -> str | None:
    """Path of a system binary, also looking in /usr/sbin and /sbin where Debian puts mosquitto."""
    found = shutil.which(name)
    if found:
        return found
    for folder in (Path("/usr/sbin"), Path("/usr/local/sbin"), Path("/sbin")):
        if (folder / name).exists():
            return str(folder / name)
    return None


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary, or None."""
    return find_binary("mosquitto")


def make_pki(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate for dev-1 (PEM files)."""
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
    """A private mosquitto process with a generated configuration in ``workdir``; see the module text."""

    binary: str
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    tls_port: int = 0
    mtls_port: int = 0
    proc: subprocess.Popen | None = None
    passwords: dict[str, str] = field(default_factory=dict)
    pki: dict[str, Path] = field(default_factory=dict)
    secure: bool = True
    tls: bool = True
    acl_file: Path | None = None
    user_names: tuple[str, ...] = (*DEVICE_USERS, "operator")
    passwd_binary: str | None = None

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
        """Pick ports and write the configuration (and, when secure, certificates, passwords and ACL)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        (self.workdir / "data").mkdir(exist_ok=True)
        lines = [f"user {getpass.getuser()}", "per_listener_settings false", "persistence true",
                 f"persistence_location {self.workdir / 'data'}/", "autosave_interval 1", "max_queued_messages 0",
                 "max_inflight_messages 0", "log_dest stderr", "log_type error", "log_type warning", "log_type notice"]
        if not self.secure:
            lines += ["allow_anonymous true", f"listener {self.port} 127.0.0.1"]
        else:
            lines += ["allow_anonymous false", f"password_file {self._write_passwords()}", f"acl_file {self._write_acl()}",
                      f"listener {self.port} 127.0.0.1"]
            if self.tls:
                self.tls_port, self.mtls_port = self.tls_port or free_port(), self.mtls_port or free_port()
                self.pki = make_pki(self.workdir)
                p = self.pki
                for port, required in ((self.tls_port, "false"), (self.mtls_port, "true")):
                    lines += [f"listener {port} 127.0.0.1", f"cafile {p['ca']}", f"certfile {p['server']}",
                              f"keyfile {p['server_key']}", f"require_certificate {required}"]
        (self.workdir / "mosquitto.conf").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def _write_passwords(self) -> Path:
        self.passwords = {u: f"pw-{u}-secret" for u in self.user_names}
        pwfile = self.workdir / "passwd"
        pwfile.write_text("")
        passwd_bin = self.passwd_binary or find_binary("mosquitto_passwd")
        if passwd_bin is None:
            raise MosquittoFailed("mosquitto_passwd is not installed (apt install mosquitto)")
        for user, pw in self.passwords.items():
            subprocess.run([passwd_bin, "-b", str(pwfile), user, pw], check=True, capture_output=True)
        pwfile.chmod(0o600)
        return pwfile

    def _write_acl(self) -> Path:
        if self.acl_file is not None:
            return self.acl_file
        acl = self.workdir / "acl"
        acl.write_text(DEFAULT_ACL)
        acl.chmod(0o600)
        return acl

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.tls_port, self.mtls_port) if self.secure and self.tls else (self.port,)

    def start(self) -> None:
        """Run mosquitto and wait (up to 15 s) until every listener accepts connections."""
        if not (self.workdir / "mosquitto.conf").exists():
            self.configure()
        with open(self.workdir / "mosquitto.log", "ab") as log:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.workdir / "mosquitto.conf")], stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise MosquittoFailed(f"mosquitto exited with code {self.proc.returncode}: {self.log_text()[-800:]}")
            try:
                for port in self.ports:
                    socket.create_connection((self.host, port), timeout=0.2).close()
                logger.info("started mosquitto on 127.0.0.1:%d (pid %d)", self.port, self.proc.pid)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise MosquittoFailed(f"mosquitto did not listen within 15 s: {self.log_text()[-800:]}")

    def stop(self) -> None:
        """Graceful stop (SIGTERM): mosquitto saves sessions, queued messages and retained topics."""
        stop_process(self.proc)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop, stay down ``down_s`` seconds, start again on the same ports."""
        logger.info("restarting mosquitto on port %d (down %.1f s)", self.port, down_s)
        self.stop()
        time.sleep(down_s)
        for _ in range(50):  # the port may sit in TIME_WAIT for a moment
            try:
                self.start()
                return
            except MosquittoFailed:
                time.sleep(0.2)
        self.start()

    def log_text(self) -> str:
        log = self.workdir / "mosquitto.log"
        return log.read_text(errors="replace") if log.exists() else ""


def mqtt_config(broker: MosquittoServer, device_id: str = "dev-1", *, tls: bool = False, mtls: bool = False, protocol: str = "5", **overrides):  # noqa: ANN201
    """An ``edge.config.MqttConfig`` that logs ``device_id`` in to ``broker`` (plain, TLS or mutual TLS)."""
    from edge.config import MqttConfig, TlsConfig

    values: dict = dict(host=broker.host, port=broker.port, protocol=protocol, username=device_id,
                        password=broker.passwords.get(device_id, "wrong"), reconnect_min_s=0.2, reconnect_max_s=2.0)
    if tls or mtls:
        values["port"] = broker.mtls_port if mtls else broker.tls_port
        values["tls"] = TlsConfig(ca_file=broker.ca_file, cert_file=broker.client_cert if mtls else None, key_file=broker.client_key if mtls else None)
    values.update(overrides)
    return MqttConfig(**values)


def stop_process(proc: subprocess.Popen | None, timeout: float = 10.0) -> None:
    """SIGTERM a process and wait (mosquitto saves its state, edge run drains); SIGKILL if it does not go within ``timeout`` s."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
