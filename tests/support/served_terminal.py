"""A provisioned terminal under a real ``edge run``, driven over its HTTP API by signed-in officers.

One harness for the tests that need the whole service (officer attacks, the counter in Chromium, the
head-turn check): write the ``edge.toml``, provision a signed roster and officer list with the ``edge``
CLI, start ``edge run``, wait until it serves, and stop it with SIGTERM (a non-zero exit fails the test).

``edge``             run one ``edge`` CLI command against a config (asserts success unless ``check=False``)
``Terminal``         HTTP client of one running terminal: sign in, claim, override, ledger
``write_edge_toml``  the terminal's config: loopback MQTT to the test broker, folder camera, JSON logs
``provision``        issuer key, signed roster built from a photo folder, signed officer list, all imported
``serve``            ``edge run`` in a child process, yielded as a ready ``Terminal``
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from simulator.mosquitto import stop_process

ROOT = Path(__file__).resolve().parents[2]


def edge(config: Path, *argv: str, env: dict | None = None, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "edge", "--config", str(config), *argv], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout, env={**os.environ, **(env or {})})
    if check:
        assert out.returncode == 0, f"edge {' '.join(argv)}: {out.stderr[-2000:]}"
    return out


@dataclass
class Terminal:
    port: int
    pins: dict[str, str]
    config: Path
    proc: subprocess.Popen
    log: Path
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: dict | None = None, *, officer: str | None = None, origin: str | None = None,
                host: str | None = None) -> tuple[int, dict, http.client.HTTPResponse]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Host": host or f"127.0.0.1:{self.port}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if origin:
            headers["Origin"] = origin
        if officer:
            headers["Cookie"] = f"tepat_session={self.cookies[officer]}"
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            payload = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            payload = {"raw": raw.decode("utf-8", "replace")}
        return resp.status, payload, resp

    def sign_in(self, officer: str) -> dict:
        status, body, resp = self.request("POST", "/api/session", {"officer_id": officer, "pin": self.pins[officer]})
        assert status == 200, body
        cookie = SimpleCookie(resp.getheader("Set-Cookie"))
        self.cookies[officer] = cookie["tepat_session"].value
        return body

    def claim(self, officer: str, recipient_id: str) -> dict:
        status, body, _ = self.request("POST", "/api/claim", {"recipient_id": recipient_id}, officer=officer)
        assert status == 200, body
        return body

    def override(self, officer: str, key: str, outcome: str, reason: str = "id_card_checked", second: tuple[str, str] | None = None):
        body = {"original_key": key, "outcome": outcome, "reason_code": reason}
        if second:
            body.update(second_officer_id=second[0], second_pin=second[1])
        return self.request("POST", "/api/override", body, officer=officer)[:2]

    def ledger(self, officer: str, rid: str) -> dict:
        status, body, _ = self.request("GET", f"/api/ledger/{rid}", officer=officer)
        assert status == 200, body
        return body

    def serves_the_api(self) -> bool:
        """True once the claim API answers (an unknown page says "no such page" until the routes are up)."""
        return not str(self.request("GET", "/api/ledger/nobody")[1].get("error", "")).startswith("no such page")


def write_edge_toml(tmp: Path, port: int, mosquitto, device_id: str, issuer_pub: Path, camera_dir: Path, *, claim: str = "") -> Path:
    """``tmp/edge.toml``: state in ``tmp/state``, the test broker with the device's own password, HTTP on ``port``.

    ``claim`` is extra TOML lines for the ``[claim]`` section (e.g. ``"active_check_seconds = 0.5"``).
    """
    config = tmp / "edge.toml"
    config.write_text(f"""
[device]
device_id = "{device_id}"
region = "jabar"
distribution_point = "dev-point"
state_dir = "{tmp / 'state'}"
log_format = "json"

[face]
models_dir = "{ROOT / 'models'}"

[mqtt]
host = "127.0.0.1"
port = {mosquitto.port}
username = "{device_id}"
password = "{mosquitto.password(device_id)}"
reconnect_min_s = 0.2
reconnect_max_s = 2.0

[gps]
backend = "none"

[camera]
type = "folder"
path = "{camera_dir}"

[claim]
issuer_keys = ["{issuer_pub}"]
{claim}

[service]
http_port = {port}
loop_interval_s = 0.2
camera_probe_s = 0.5
health_interval_s = 30
""")
    return config


def provision(config: Path, tmp: Path, photos: Path, officers: Sequence[tuple[str, str, str]], pins: dict[str, str], *,
              period: str, enrolment: bool = False, scrypt_n: int | None = 1024, check: bool = True) -> None:
    """Sign and import a roster built from ``photos/<recipient>/`` and an officer list ``(id, name, role)`` with ``pins``.

    The issuer key is ``tmp/issuer.pem`` (made here unless it exists); its public half is what the config trusts.
    ``check=False`` leaves the officer steps unchecked, for tests whose sign-in fails loudly instead.
    """
    key = tmp / "issuer.pem"
    if not key.exists():
        edge(config, "roster", "keygen", str(key))
    edge(config, "roster", "build", str(photos), "--point", "dev-point", "--period", period, "--version", "1",
         *(["--enrolment"] if enrolment else []), "-o", str(tmp / "r.json"))
    edge(config, "roster", "sign", str(tmp / "r.json"), "--key", str(key), "-o", str(tmp / "rs.json"))
    edge(config, "roster", "import", str(tmp / "rs.json"))
    csv = tmp / "officers.csv"
    csv.write_text("officer_id,name,role,pin\n" + "".join(f"{o},{n},{r},{pins[o]}\n" for o, n, r in officers))
    edge(config, "officers", "build", str(csv), "--point", "dev-point", "--version", "1",
         *(["--scrypt-n", str(scrypt_n)] if scrypt_n else []), "-o", str(tmp / "o.json"), check=check)
    edge(config, "officers", "sign", str(tmp / "o.json"), "--key", str(key), "-o", str(tmp / "os.json"), check=check)
    edge(config, "officers", "import", str(tmp / "os.json"), check=check)


@contextlib.contextmanager
def serve(config: Path, port: int, pins: dict[str, str], *, ready: Callable[[Terminal], bool] = Terminal.serves_the_api,
          timeout: float = 180.0) -> Iterator[Terminal]:
    """Run ``edge run`` on ``config`` until the block ends; yields the terminal once ``ready(terminal)`` is true.

    Its stderr goes to ``service.log`` beside the config. On leaving, SIGTERM, and the exit code must be 0.
    """
    log = config.parent / "service.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=fh)
    term = Terminal(port, pins, config, proc, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "edge run did not become ready: " + log.read_text()[-3000:]
            try:
                if ready(term):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        yield term
    finally:
        stop_process(proc, timeout=60)
    assert proc.returncode == 0, log.read_text()[-3000:]
