"""Every shipped configuration file outside Mosquitto, read by the real program that reads it on the Pi (issue 18).

- edge.toml.example: `edge -c … config` exits 0 with nothing on stderr (no error, no warning);
- chrony/tepat-gps.conf: `chronyd -p -f` (parse and print, never touches the clock);
- gps/gpsd: sourced by sh with `set -eu`, as gpsd's init script and EnvironmentFile= users do, and its
  options checked against the options `gpsd -h` lists;
- systemd/tepat-edge.sysusers: `systemd-sysusers --dry-run` on a copy of this machine's user database;
- systemd/journald-tepat.conf, tepat-watchdog.conf: every key is one the installed journald / systemd
  binary knows, every time span parses with `systemd-analyze timespan`;
- config.txt.fragment, gps/config.txt.pps: every line against the Raspberry Pi firmware options below.
(The service unit itself: tests/test_systemd_units.py, `systemd-analyze verify`.)

And one rule for every shipped file: a comment never shares a line with a value. Mosquitto, chrony,
systemd, the Pi firmware and gpsd's EnvironmentFile= all read a trailing "# …" as part of the value.
Each checker is also run on a broken copy, so a clean result means something.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ci import require_binary

ROOT = Path(__file__).resolve().parents[1]
FW = ROOT / "firmware_config"
CHRONY_CACHE = ROOT / ".cache" / "chrony" / "usr" / "sbin" / "chronyd"  # unpacked by scripts/system-packages.sh

# Raspberry Pi firmware config.txt options (https://www.raspberrypi.com/documentation/computers/config_txt.html)
# that a Tepat Edge terminal may use, and the overlays/parameters it may name.
PI_OPTIONS = {
    "arm_64bit", "arm_boost", "arm_freq", "auto_initramfs", "avoid_warnings", "boot_delay", "camera_auto_detect",
    "disable_camera_led", "disable_fw_kms_setup", "disable_overscan", "disable_splash", "display_auto_detect",
    "dtdebug", "dtoverlay", "dtparam", "enable_uart", "force_turbo", "gpu_mem", "hdmi_blanking", "hdmi_force_hotplug",
    "hdmi_group", "hdmi_mode", "initramfs", "kernel", "max_framebuffers", "otg_mode", "over_voltage", "start_x",
    "uart_2ndstage", "usb_max_current_enable",
}
PI_OVERLAYS = {"disable-bt", "miniuart-bt", "pps-gpio", "imx708", "imx219", "imx477", "ov5647", "vc4-kms-v3d", "i2c-rtc", "gpio-shutdown"}
PI_DTPARAMS = {"watchdog", "audio", "i2c_arm", "spi", "i2s", "act_led_trigger", "pwr_led_trigger", "uart0", "krnbt"}
OVERLAY_PARAMS = {"pps-gpio": {"gpiopin", "assert_falling_edge", "capture_clear"}, "imx708": {"cam0"}, "imx219": {"cam0"},
                  "ov5647": {"cam0"}, "imx477": {"cam0"}, "i2c-rtc": {"ds3231", "pcf85063a", "rv3028"}, "gpio-shutdown": {"gpio_pin"}}
PI_SECTIONS = re.compile(r"^\[(all|none|pi0|pi0w|pi02|pi1|pi2|pi3|pi3\+|pi4|pi400|pi5|cm4|cm5|board-type=0x[0-9a-f]+)\]$")

# Where each shipped file's comments start; files whose comments may only open a line.
COMMENT_FILES = {
    "mosquitto/central.conf": "#", "mosquitto/local-bridge.conf": "#", "mosquitto/central.acl": "#", "mosquitto/local-bridge.acl": "#",
    "chrony/tepat-gps.conf": "#", "gps/gpsd": "#", "config.txt.fragment": "#", "gps/config.txt.pps": "#",
    "systemd/journald-tepat.conf": "#", "systemd/tepat-watchdog.conf": "#", "edge.toml.example": "#",
    "../systemd/tepat-edge.service": "#", "../systemd/tepat-edge.sysusers": "#",
}


def shared_comment_lines(text: str) -> list[str]:
    """Lines where a value and a comment share the line (a '#' word after the first word)."""
    bad = []
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if words and not words[0].startswith("#") and any(w.startswith("#") for w in words[1:]):
            bad.append(f"{number}: {line.strip()}")
    return bad


@pytest.mark.parametrize("name", sorted(COMMENT_FILES))
def test_no_comment_shares_a_line_with_a_value(name: str) -> None:
    path = (FW / name).resolve()
    assert path.is_file(), path
    assert shared_comment_lines(path.read_text()) == [], f"{path.relative_to(ROOT)}: comment on a value line"


def test_every_shipped_config_file_is_covered() -> None:
    """A new file in firmware_config/ must be added to the checks above (install.sh and make-acl.py are code, not config)."""
    shipped = {p.relative_to(FW).as_posix() for p in FW.rglob("*") if p.is_file()} - {"install.sh", "mosquitto/make-acl.py"}
    assert shipped == {n for n in COMMENT_FILES if not n.startswith("../")}


def test_comment_rule_catches_a_trailing_comment() -> None:
    assert shared_comment_lines("password_file /etc/mosquitto/tepat.passwd   # see docs\ntopic read tepat/v1/#\n") == [
        "1: password_file /etc/mosquitto/tepat.passwd   # see docs"]


# --- edge.toml.example ------------------------------------------------------------------------------

def edge_config(path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEPAT")}
    return subprocess.run([sys.executable, "-m", "edge", "-c", str(path), "config"], capture_output=True, text=True, timeout=120, env=env)


def test_edge_toml_example_validates_cleanly() -> None:
    """`edge -c firmware_config/edge.toml.example config`: exit 0, the effective config on stdout, nothing on stderr."""
    out = edge_config(FW / "edge.toml.example")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert '"device_id": "jabar-bdg-017"' in out.stdout and '"port": 8883' in out.stdout


def test_edge_config_check_catches_a_bad_value(tmp_path: Path) -> None:
    bad = tmp_path / "edge.toml"
    bad.write_text((FW / "edge.toml.example").read_text().replace("port = 8883", "port = 88830"))
    out = edge_config(bad)
    assert out.returncode != 0 and "mqtt.port" in out.stderr and "Traceback" not in out.stderr


# --- chrony -----------------------------------------------------------------------------------------

def chronyd() -> str:
    if shutil.which("chronyd"):
        return str(shutil.which("chronyd"))
    if CHRONY_CACHE.exists():
        return str(CHRONY_CACHE)
    return require_binary("chronyd")


def chrony_parse(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([chronyd(), "-p", "-f", str(path)], capture_output=True, text=True, timeout=30)


def directives(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", "!", ";", "%"))]


def test_chrony_conf_parses_with_chronyd() -> None:
    """`chronyd -p -f tepat-gps.conf` accepts every directive and prints each back unchanged."""
    path = FW / "chrony" / "tepat-gps.conf"
    out = chrony_parse(path)
    assert out.returncode == 0, out.stderr
    assert directives(out.stdout) == directives(path.read_text())


def test_chronyd_check_catches_a_trailing_comment(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("makestep 1.0 -1   # step whenever more than 1 s off\n")
    out = chrony_parse(bad)
    assert out.returncode != 0 and "Too many arguments for makestep" in out.stderr


# --- gpsd defaults -----------------------------------------------------------------------------------

def source_gpsd_defaults(path: Path) -> dict[str, str]:
    """The variables after `. /etc/default/gpsd` in sh with set -eu (as the init script and EnvironmentFile= users read it)."""
    script = '. "$1"; for v in START_DAEMON DEVICES GPSD_OPTIONS USBAUTO; do eval "printf \'%s=%s\\n\' $v \\"\\${$v}\\""; done'
    out = subprocess.run(["sh", "-euc", script, "sh", str(path)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return dict(line.split("=", 1) for line in out.stdout.splitlines())


def gpsd_option_problems(values: dict[str, str]) -> list[str]:
    usage = subprocess.run([require_binary("gpsd"), "-h"], capture_output=True, text=True, timeout=30)
    known = set(re.findall(r"^\s+(-\w),", usage.stdout + usage.stderr, re.M))
    problems = [f"unknown gpsd option {w}" for w in values["GPSD_OPTIONS"].split() if w.startswith("-") and w not in known]
    problems += [f"{k} is {values[k]!r}, not true/false" for k in ("START_DAEMON", "USBAUTO") if values[k] not in ("true", "false")]
    problems += [f"device {d!r} is not a /dev path" for d in values["DEVICES"].split() if not re.fullmatch(r"/dev/[\w./-]+", d)]
    return problems


def test_gpsd_defaults_source_cleanly_and_name_real_options() -> None:
    values = source_gpsd_defaults(FW / "gps" / "gpsd")
    assert values["START_DAEMON"] == "true" and values["DEVICES"] == "/dev/serial0"
    assert gpsd_option_problems(values) == []


def test_gpsd_check_catches_a_bad_option_and_a_trailing_comment(tmp_path: Path) -> None:
    bad = tmp_path / "gpsd"
    bad.write_text('START_DAEMON="true"\nDEVICES="/dev/serial0"   # the HAT\nGPSD_OPTIONS="-n -z"\nUSBAUTO="true"\n')
    assert gpsd_option_problems(source_gpsd_defaults(bad)) == ["unknown gpsd option -z"]
    assert shared_comment_lines(bad.read_text()) == ['2: DEVICES="/dev/serial0"   # the HAT']


# --- systemd: sysusers and the drop-ins ------------------------------------------------------------------

def sysusers_dry_run(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True, exist_ok=True)
    for name in ("passwd", "group", "shadow", "gshadow"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), root / "etc" / name)
    return subprocess.run([require_binary("systemd-sysusers"), f"--root={root}", "--dry-run", str(path)], capture_output=True, text=True, timeout=60)


def test_sysusers_file_passes_systemd_sysusers_dry_run(tmp_path: Path) -> None:
    out = sysusers_dry_run(ROOT / "systemd" / "tepat-edge.sysusers", tmp_path)
    assert out.returncode == 0, out.stderr
    assert "tepat" in out.stdout + out.stderr and not re.search(r"tepat-edge\.sysusers:\d+:", out.stderr), out.stderr


def test_sysusers_check_catches_a_trailing_comment(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sysusers"
    bad.write_text('u tepat - "Tepat Edge terminal" /var/lib/tepat-edge /usr/sbin/nologin\nm tepat video   # camera\n')
    out = sysusers_dry_run(bad, tmp_path)
    assert out.returncode != 0 and "bad.sysusers:2:" in out.stderr


def systemd_binary(name: str) -> Path:
    for folder in (Path("/lib/systemd"), Path("/usr/lib/systemd")):
        if (folder / name).exists():
            return folder / name
    require_binary(name)  # skips locally / fails in CI with the reason
    raise AssertionError(name)


def dropin_problems(path: Path, section: str, binary: Path, key_format: str) -> list[str]:
    """Keys the binary does not know, wrong sections and time spans `systemd-analyze timespan` refuses."""
    known = {m.decode() for m in re.findall(rb"[\x20-\x7e]{4,}", binary.read_bytes())}  # the binary's own setting names
    analyze = require_binary("systemd-analyze")
    problems, current = [], None
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line
            problems += [f"section {line}, expected [{section}]"] if line != f"[{section}]" else []
            continue
        key, _, value = line.partition("=")
        if current is None or key_format.format(section=section, key=key) not in known:
            problems.append(f"{key}: not a [{section}] setting of {binary.name}")
        elif key.endswith("Sec") and subprocess.run([analyze, "timespan", value], capture_output=True, timeout=30).returncode != 0:
            problems.append(f"{key}={value}: not a time span")
        elif key.endswith(("Use", "Free", "FileSize")) and not re.fullmatch(r"\d+[KMGTPE]?", value):
            problems.append(f"{key}={value}: not a size")
    return problems


DROPINS = {"journald-tepat.conf": ("Journal", "systemd-journald", "{section}.{key}"), "tepat-watchdog.conf": ("Manager", "systemd", "{key}")}


@pytest.mark.parametrize("name", sorted(DROPINS))
def test_systemd_dropin_keys_are_known_to_systemd(name: str) -> None:
    section, binary, key_format = DROPINS[name]
    assert dropin_problems(FW / "systemd" / name, section, systemd_binary(binary), key_format) == []


def test_dropin_check_catches_a_typo_and_a_trailing_comment(tmp_path: Path) -> None:
    bad = tmp_path / "journald.conf"
    bad.write_text("[Journal]\nStorage=persistent\nSystemMaxUsage=200M\nSyncIntervalSec=5min   # fewer writes\n")
    assert dropin_problems(bad, "Journal", systemd_binary("systemd-journald"), "{section}.{key}") == [
        "SystemMaxUsage: not a [Journal] setting of systemd-journald", "SyncIntervalSec=5min   # fewer writes: not a time span"]


# --- config.txt lines ---------------------------------------------------------------------------------

def config_txt_problems(text: str) -> list[str]:
    problems = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            problems += [] if PI_SECTIONS.match(line) else [f"{number}: unknown section {line}"]
            continue
        key, eq, value = line.partition("=")
        if not eq or key != key.strip() or value != value.strip() or not value:
            problems.append(f"{number}: not 'option=value' without spaces: {line}")
        elif key not in PI_OPTIONS:
            problems.append(f"{number}: unknown firmware option {key}")
        elif "#" in value:
            problems.append(f"{number}: comment inside the value: {line}")
        elif key == "dtoverlay":
            name, *params = value.split(",")
            unknown = [p.split("=")[0] for p in params if p.split("=")[0] not in OVERLAY_PARAMS.get(name, set())]
            problems += [f"{number}: unknown overlay {name}"] if name not in PI_OVERLAYS else []
            problems += [f"{number}: {name} has no parameter {p}" for p in unknown]
        elif key == "dtparam":
            name = value.split("=")[0]
            problems += [] if name in PI_DTPARAMS else [f"{number}: unknown dtparam {name}"]
        elif key != "dtparam" and not re.fullmatch(r"[\w.,:/-]+", value):
            problems.append(f"{number}: odd value {value!r}")
    return problems


@pytest.mark.parametrize("name", ["config.txt.fragment", "gps/config.txt.pps"])
def test_config_txt_lines_are_known_firmware_options(name: str) -> None:
    text = (FW / name).read_text()
    assert config_txt_problems(text) == []
    assert any(not line.startswith(("#", "[")) and line.strip() for line in text.splitlines())


def test_config_txt_check_catches_typos_and_comments() -> None:
    text = "[all]\nenable_uart=1 # GPS\ncamera_autodetect=1\ndtoverlay=pps-gpio,gpiopn=18\ndtparam=watchdog=on\n[pi9]\n"
    assert config_txt_problems(text) == ["2: comment inside the value: enable_uart=1 # GPS", "3: unknown firmware option camera_autodetect",
                                         "4: pps-gpio has no parameter gpiopn", "6: unknown section [pi9]"]
