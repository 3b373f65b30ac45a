"""docs/PI.md's central-broker instructions, followed word for word in a temporary folder (issue 18).

The fenced block after the ``broker-setup`` marker is run one line at a time, unchanged, in a copy of
the repository's firmware_config/ with HOME in the temporary folder and /etc/mosquitto bound to a
temporary folder (private mount namespace). Only three commands are stand-ins: ``sudo`` runs its
command (the test is root), ``apt-get install mosquitto`` checks the package is installed, and
``systemctl restart mosquitto`` is recorded; the test then starts Mosquitto as mosquitto.service does
and a terminal logs in with the password typed at the prompt.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import require_binary
from tests.helpers import wait_until
from tests.shipped_broker import PrivateNet, ShippedMosquitto, make_pki, require_namespaces

ROOT = Path(__file__).resolve().parents[1]
PI_MD = ROOT / "docs" / "PI.md"
SHIMS = """
sudo() { "$@"; }
apt-get() { [ "$1" = install ] && shift && dpkg-query -W -f='${Status}\\n' "$@" | grep -q 'install ok installed'; }
systemctl() { echo "$*" >> "$HOME/systemctl.log"; }
"""


def setup_block() -> list[str]:
    text = PI_MD.read_text()
    match = re.search(r"<!-- broker-setup[^>]*-->\s*```sh\n(.*?)```", text, re.S)
    assert match, "docs/PI.md has no broker-setup block"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_pi_md_broker_instructions_work_word_for_word(tmp_path: Path) -> None:
    require_binary("mosquitto")
    require_binary("mosquitto_passwd")
    require_namespaces()
    home, clone = tmp_path / "home", tmp_path / "clone"
    home.mkdir()
    shutil.copytree(ROOT / "firmware_config", clone / "firmware_config")
    pki = make_pki(home / "tepat-pki")
    (home / "devices.csv").write_text("device_id,region\njabar-bdg-017,jabar\njabar-bdg-018,jabar\n")
    net = PrivateNet()
    broker = ShippedMosquitto(net, tmp_path / "server")  # what `apt-get install mosquitto` leaves in /etc/mosquitto
    try:
        for line in setup_block():
            typed = "pw-typed-secret\npw-typed-secret\n" if "mosquitto_passwd" in line else ""
            script = f"set -e\nmount --bind {shlex.quote(str(broker.etc))} /etc/mosquitto\n{SHIMS}\n{line}\n"
            out = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], cwd=clone, input=typed,
                                 env={"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, f"docs/PI.md line failed: {line}\n{out.stdout}{out.stderr}"
        assert (home / "systemctl.log").read_text().splitlines() == ["restart mosquitto"]
        assert oct((broker.etc / "tepat.passwd").stat().st_mode & 0o777) == "0o640"
        broker.start()
        port = net.forward(8883)
        got: list[int] = []
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="jabar-bdg-017", protocol=mqtt.MQTTv5)
        client.username_pw_set("jabar-bdg-017", "pw-typed-secret")
        client.tls_set(ca_certs=str(pki["ca"]))
        client.on_publish = lambda c, u, mid, rc, p: got.append(rc.value)
        client.connect("127.0.0.1", port)
        client.loop_start()
        try:
            client.publish("tepat/v1/jabar/jabar-bdg-017/health", b"{}", qos=1)
            client.publish("tepat/v1/sumut/jabar-bdg-017/health", b"{}", qos=1)
            assert wait_until(lambda: len(got) == 2, 15), broker.log_text()[-1500:]
            assert got[0] in (0, 16) and got[1] == 135  # own prefix accepted (16: no subscribers); another region refused
        finally:
            client.disconnect()
            client.loop_stop()
    finally:
        broker.stop()
        net.close()
