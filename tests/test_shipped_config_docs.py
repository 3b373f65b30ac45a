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
from paho.mqtt.enums import CallbackAPIVersion

from tests.helpers import wait_until
from tests.support.ci import require_binary
from tests.support.shipped_broker import PrivateNet, ShippedMosquitto, make_pki, require_namespaces

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


def run_line(line: str, broker: ShippedMosquitto, clone: Path, home: Path) -> None:
    """One line of the docs, unchanged, with /etc/mosquitto bound to the broker's folder; prompts get a password."""
    typed = "pw-typed-secret\npw-typed-secret\n" if "mosquitto_passwd" in line else ""
    script = f"set -e\nmount --bind {shlex.quote(str(broker.etc))} /etc/mosquitto\n{SHIMS}\n{line}\n"
    out = subprocess.run(["unshare", "--mount", "--propagation", "private", "bash", "-c", script], cwd=clone, input=typed,
                         env={"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"docs/PI.md line failed: {line}\n{out.stdout}{out.stderr}"


def publish_codes(port: int, ca: Path, device_id: str, topics: list[str]) -> list[int]:
    got: list[int] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(device_id, "pw-typed-secret")
    client.tls_set(ca_certs=str(ca))
    client.on_publish = lambda c, u, mid, rc, p: got.append(rc.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic in topics:
            client.publish(topic, b"{}", qos=1)
        wait_until(lambda: len(got) == len(topics), 15)
        return [0 if code == 16 else code for code in got]  # 16: accepted, no subscribers
    finally:
        client.disconnect()
        client.loop_stop()


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
        lines = setup_block()
        for line in lines:
            run_line(line, broker, clone, home)
        assert (home / "systemctl.log").read_text().splitlines() == ["restart mosquitto"]
        assert oct((broker.etc / "tepat.passwd").stat().st_mode & 0o777) == "0o640"
        broker.start()
        port = net.forward(8883)
        assert publish_codes(port, pki["ca"], "jabar-bdg-017", ["tepat/v1/jabar/jabar-bdg-017/health", "tepat/v1/sumut/jabar-bdg-017/health"]) == [0, 135]

        # "When the device list changes, run make-acl.py and the install line for tepat.acl again, then reload."
        (home / "devices.csv").write_text((home / "devices.csv").read_text() + "sumut-mdn-001,sumut\n")
        for line in lines:
            if "tepat.acl" in line:
                run_line(line, broker, clone, home)
        run_line("sudo mosquitto_passwd /etc/mosquitto/tepat.passwd sumut-mdn-001", broker, clone, home)
        broker.reload()
        assert wait_until(lambda: publish_codes(port, pki["ca"], "sumut-mdn-001", ["tepat/v1/sumut/sumut-mdn-001/health"]) == [0], 15)
    finally:
        broker.stop()
        net.close()
