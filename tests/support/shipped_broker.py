"""Run Mosquitto on the SHIPPED configuration files, byte for byte, as Debian's mosquitto.service would.

The shipped files name absolute paths (``/etc/mosquitto/...``) and a fixed port (8883, 1883). To run them
unedited without touching this shared machine, each broker runs in a private mount namespace in which a
temporary folder is bind-mounted over ``/etc/mosquitto``, ``/var/lib/mosquitto``, ``/var/log/mosquitto``
(and ``/etc/hosts``, naming the central broker for the bridge), ``/run`` is a fresh tmpfs, and the brokers share
one private network namespace, so port 8883 there is nobody else's. The broker is started with the
``ExecStartPre=``/``ExecStart=`` lines of the installed ``mosquitto.service`` and Debian's own
``/etc/mosquitto/mosquitto.conf`` (which reads ``conf.d/``), i.e. exactly what an operator gets.

Test clients reach a namespaced port through :meth:`PrivateNet.forward`, a TCP relay from a free
127.0.0.1 port on the host to the port inside the namespace.

Needs root (mount namespaces and Mosquitto's drop to the ``mosquitto`` user), ``unshare``/``nsenter``
(util-linux) and ``mount``.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import fcntl
import ipaddress
import os
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from simulator.mosquitto import stop_process
from tests.support.ci import require_binary, skip_or_fail

CLONE_NEWNET = 0x40000000
UNIT_DIRS = (Path("/lib/systemd/system"), Path("/usr/lib/systemd/system"))
STOCK_CONF = Path("/etc/mosquitto/mosquitto.conf")


def require_namespaces() -> None:
    """Skip locally, fail in CI, when this machine cannot run a broker in private namespaces."""
    reason = None
    if os.geteuid() != 0:
        reason = "needs root (private mount namespace; mosquitto drops to its own user)"
    elif not STOCK_CONF.is_file():
        reason = f"{STOCK_CONF} (Debian's mosquitto package) not found"
    else:
        for tool in ("unshare", "nsenter", "mount"):
            require_binary(tool)
        probe = subprocess.run(["unshare", "--mount", "--net", "--propagation", "private", "mount", "-t", "tmpfs", "tmpfs", "/run"],
                               capture_output=True, text=True, timeout=30)
        if probe.returncode != 0:
            reason = f"cannot create private namespaces: {probe.stderr.strip()}"
    if reason:
        skip_or_fail(f"the shipped-config broker tests {reason}")


class PrivateNet:
    """A private network namespace (loopback up) and TCP relays into it from host loopback ports."""

    def __init__(self) -> None:
        self.holder = subprocess.Popen(["unshare", "--net", "sleep", "infinity"])
        own = os.readlink("/proc/self/ns/net")
        end = time.monotonic() + 10
        while os.readlink(f"/proc/{self.holder.pid}/ns/net") == own:
            if time.monotonic() > end:
                raise RuntimeError("unshare --net did not create a network namespace")
            time.sleep(0.01)
        self.ns_path = f"/proc/{self.holder.pid}/ns/net"
        self._listeners: list[socket.socket] = []
        errors: list[BaseException] = []
        t = threading.Thread(target=self._enter_and_run, args=(self._loopback_up, errors))
        t.start()
        t.join()
        if errors:
            raise errors[0]

    @property
    def enter(self) -> list[str]:
        """Command prefix that runs a program inside this network namespace."""
        return ["nsenter", f"--net={self.ns_path}"]

    def _enter(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(self.ns_path, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns(CLONE_NEWNET) failed")
        finally:
            os.close(fd)

    def _enter_and_run(self, fn, errors: list) -> None:  # noqa: ANN001
        try:
            self._enter()  # only this thread moves into the namespace
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            errors.append(exc)

    @staticmethod
    def _loopback_up() -> None:
        with socket.socket() as s:
            flags = 0x1 | 0x8 | 0x40  # IFF_UP | IFF_LOOPBACK | IFF_RUNNING
            fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH14x", b"lo", flags))  # SIOCSIFFLAGS

    def forward(self, inner_port: int) -> int:
        """A free host port whose connections are relayed to 127.0.0.1:inner_port inside the namespace."""
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listeners.append(listener)
        threading.Thread(target=self._enter_and_run, args=(lambda: self._accept_loop(listener, inner_port), []), daemon=True).start()
        return int(listener.getsockname()[1])

    @staticmethod
    def _accept_loop(listener: socket.socket, inner_port: int) -> None:
        while True:
            try:
                outer, _ = listener.accept()
            except OSError:
                return
            try:
                inner = socket.create_connection(("127.0.0.1", inner_port), timeout=5)
                inner.settimeout(None)
            except OSError:
                outer.close()
                continue
            for a, b in ((outer, inner), (inner, outer)):
                threading.Thread(target=PrivateNet._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()
        self.holder.terminate()
        self.holder.wait(10)


def service_commands() -> list[str]:
    """ExecStartPre= and ExecStart= lines of the installed mosquitto.service, in order."""
    unit = next((d / "mosquitto.service" for d in UNIT_DIRS if (d / "mosquitto.service").is_file()), None)
    if unit is None:
        return ["/usr/sbin/mosquitto -c /etc/mosquitto/mosquitto.conf"]
    pre, start = [], []
    for line in unit.read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "ExecStartPre":
            pre.append(value.strip().lstrip("-"))
        elif key.strip() == "ExecStart":
            start.append(value.strip())
    return pre + start


class ShippedMosquitto:
    """One Mosquitto whose /etc/mosquitto is ``root/etc/mosquitto`` (Debian's stock mosquitto.conf copied in)."""

    def __init__(self, net: PrivateNet, root: Path) -> None:
        self.net = net
        self.root = root
        self.proc: subprocess.Popen | None = None
        self.binds = {Path("/etc/mosquitto"): root / "etc" / "mosquitto", Path("/var/lib/mosquitto"): root / "var" / "lib" / "mosquitto",
                      Path("/var/log/mosquitto"): root / "var" / "log" / "mosquitto", Path("/etc/hosts"): root / "etc" / "hosts"}
        for real, mine in self.binds.items():
            if real.name == "hosts":
                mine.write_text("127.0.0.1 localhost mqtt.bansos.example.go.id\n::1 localhost\n")
            else:
                mine.mkdir(parents=True, exist_ok=True)
        shutil.copy2(STOCK_CONF, self.etc / "mosquitto.conf")
        (self.etc / "conf.d").mkdir(exist_ok=True)
        shutil.chown(root / "var" / "lib" / "mosquitto", "mosquitto")  # as the package leaves it

    @property
    def etc(self) -> Path:
        return self.binds[Path("/etc/mosquitto")]

    @property
    def log_path(self) -> Path:
        return self.binds[Path("/var/log/mosquitto")] / "mosquitto.log"

    def log_text(self) -> str:
        out = self.root / "stderr.log"
        parts = [p.read_text(errors="replace") for p in (out, self.log_path) if p.exists()]
        return "\n".join(parts)

    def start(self, timeout_s: float = 20.0) -> None:
        lines = ["set -e", "mount -t tmpfs tmpfs /run"]
        for real, mine in self.binds.items():
            if real.exists():
                lines.append(f"mount --bind {shlex.quote(str(mine))} {shlex.quote(str(real))}")
        commands = service_commands()
        lines += commands[:-1] + ["exec " + commands[-1]]
        seen = self.log_path.read_text(errors="replace").count(" running") if self.log_path.exists() else 0
        with open(self.root / "stderr.log", "ab") as err:
            self.proc = subprocess.Popen([*self.net.enter, "unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(lines)],
                                         stdout=err, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with code {self.proc.returncode}: {self.log_text()[-1500:]}")
            if self.log_path.exists() and self.log_path.read_text(errors="replace").count(" running") > seen:
                time.sleep(0.2)  # the listeners open right after the banner
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not come up in {timeout_s} s: {self.log_text()[-1500:]}")

    def reload(self) -> None:
        """What ``systemctl reload mosquitto`` does (ExecReload=/bin/kill -HUP $MAINPID)."""
        assert self.proc is not None and self.proc.poll() is None
        self.proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


def make_pki(folder: Path, server_names: tuple[str, ...] = ("mqtt.bansos.example.go.id", "localhost")) -> dict[str, Path]:
    """ca.crt, broker.crt (for the given names and 127.0.0.1) and broker.key in ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tepat shipped-config test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName(n) for n in server_names] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, server_names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / "ca.crt", "cert": folder / "broker.crt", "key": folder / "broker.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                               serialization.NoEncryption()))
    return paths
