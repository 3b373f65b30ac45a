"""Sealed models (issue 13 item 2): a change to a model, thresholds.json or manifest.json stops
`edge models verify` and `edge run` with one line; `edge models seal` re-seals a deliberate change."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main as edge_main
from edge.face.seal import pinned_sha256, seal, seal_problems

ROOT = Path(__file__).resolve().parents[1]
SMALL_MODEL = "face_detection_short_range.tflite"


@pytest.fixture()
def sealed_copy(models_dir: Path, tmp_path: Path) -> Path:
    """A models folder as released: manifest + thresholds copied, one small model copied, the rest linked (read-only)."""
    d = tmp_path / "models"
    d.mkdir()
    for name in ("manifest.json", "thresholds.json", SMALL_MODEL):
        shutil.copy(models_dir / name, d / name)
    for entry in json.loads((models_dir / "manifest.json").read_text())["models"].values():
        if not (d / entry["file"]).exists():
            (d / entry["file"]).symlink_to(models_dir / entry["file"])
    return d


def _lower_thresholds(d: Path) -> None:
    """The attack: the owner of the models folder sets every threshold to -1 so anyone matches."""
    data = json.loads((d / "thresholds.json").read_text())
    for entry in data.values():
        entry["thresholds"] = {k: -1.0 for k in entry["thresholds"]}
    (d / "thresholds.json").write_text(json.dumps(data, indent=2))


def _reseal_manifest_only(d: Path) -> None:
    """A smarter attacker also records the new thresholds hash in manifest.json (same folder, writable)."""
    man = json.loads((d / "manifest.json").read_text())
    man["sealed_files"]["thresholds.json"]["sha256"] = hashlib.sha256((d / "thresholds.json").read_bytes()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(man, indent=2))


def _flip_model_byte(d: Path) -> None:
    data = bytearray((d / SMALL_MODEL).read_bytes())
    data[1000] ^= 1
    (d / SMALL_MODEL).write_bytes(bytes(data))


TAMPERS = {
    "thresholds": _lower_thresholds,
    "thresholds+manifest": lambda d: (_lower_thresholds(d), _reseal_manifest_only(d)),
    "model": _flip_model_byte,
    "manifest": lambda d: (d / "manifest.json").write_text((d / "manifest.json").read_text() + " "),
}


def test_released_models_are_sealed(models_dir: Path) -> None:
    """The committed models/ matches the pin in the package and the manifest seals thresholds.json."""
    assert pinned_sha256() == hashlib.sha256((models_dir / "manifest.json").read_bytes()).hexdigest()
    assert "thresholds.json" in json.loads((models_dir / "manifest.json").read_text())["sealed_files"]
    assert seal_problems(models_dir) == []


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_verify_refuses_any_change(sealed_copy: Path, tamper: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert edge_main(["models", "verify", "--dir", str(sealed_copy)]) == 0
    capsys.readouterr()
    TAMPERS[tamper](sealed_copy)
    assert edge_main(["models", "verify", "--dir", str(sealed_copy)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "Traceback" not in out


def _config(tmp_path: Path, models: Path) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir()
    cfg = tmp_path / "edge.toml"
    cfg.write_text(f"""
[device]
device_id = "pi-seal-01"
state_dir = "{tmp_path / 'state'}"
[face]
models_dir = "{models}"
[mqtt]
enabled = false
[gps]
backend = "none"
[camera]
type = "folder"
path = "{frames}"
[claim]
http_api = false
[service]
http_port = 0
""")
    return cfg


@pytest.mark.parametrize("tamper", ["thresholds", "thresholds+manifest", "model"])
def test_edge_run_refuses_to_start_on_any_change(sealed_copy: Path, tmp_path: Path, tamper: str) -> None:
    """`edge run` stops at start-up with exit 2 and one error line naming the changed file."""
    TAMPERS[tamper](sealed_copy)
    out = subprocess.run([sys.executable, "-m", "edge", "--config", str(_config(tmp_path, sealed_copy)), "run"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    errors = [line for line in out.stderr.splitlines() if line.startswith("edge run: error:")]
    assert out.returncode == 2 and len(errors) == 1, out.stderr[-2000:]
    assert "sealed model files changed" in errors[0] and "Traceback" not in out.stderr
    assert ("manifest.json" if tamper == "thresholds+manifest" else SMALL_MODEL if tamper == "model" else "thresholds.json") in errors[0]


def test_seal_records_thresholds_and_pins_manifest(sealed_copy: Path, tmp_path: Path) -> None:
    """A deliberate threshold change re-sealed with seal() (what `edge models seal` runs) verifies again."""
    _lower_thresholds(sealed_copy)
    pin_module = tmp_path / "manifest_pin.py"
    digest, sealed = seal(sealed_copy, pin_module=pin_module)
    assert f'MANIFEST_SHA256 = "{digest}"' in pin_module.read_text()
    assert sealed["thresholds.json"] == hashlib.sha256((sealed_copy / "thresholds.json").read_bytes()).hexdigest()
    assert seal_problems(sealed_copy, pin=digest) == []
    assert seal_problems(sealed_copy) != []  # the installed package still pins the release


def test_seal_refuses_a_changed_model(sealed_copy: Path, tmp_path: Path) -> None:
    _flip_model_byte(sealed_copy)
    from edge.errors import ModelError

    with pytest.raises(ModelError, match="edge models build"):
        seal(sealed_copy, pin_module=tmp_path / "pin.py")
