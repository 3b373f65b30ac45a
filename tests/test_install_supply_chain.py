"""Supply chain and sealed install (issue 13) and the `make pi-emu` tooling (issue 17).

The hashed lock files pin every runtime dependency inside pyproject.toml's bounds; install.sh copies code
and models root-owned and read-only however the clone is owned; the pi-emu scripts are shellcheck-clean,
its pair sample is fixed and its agreement check fails on a disagreement. The emulated arm64 run itself is
`make pi-emu` (slow, needs root; not part of this suite).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from packaging.requirements import Requirement

from tests.conftest import require_binary

ROOT = Path(__file__).resolve().parents[1]
LOCKS = {arch: ROOT / "requirements" / f"device-{arch}.lock" for arch in ("x86_64", "aarch64")}
sys.path.insert(0, str(ROOT / "scripts" / "pi-emu"))
import compare  # noqa: E402  (scripts/pi-emu/compare.py)
import sample  # noqa: E402  (scripts/pi-emu/sample.py)


def runtime_requirements() -> list[Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [Requirement(r) for r in data["project"]["dependencies"]]


def lock_pins(path: Path) -> dict[str, tuple[str, int]]:
    """{normalised name: (version, number of hashes)} of a pip-compile/uv lock file."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if m:
            name = re.sub(r"[-_.]+", "-", m.group(1)).lower()
            pins[name] = (m.group(2), 0)
        elif name and "--hash=sha256:" in line:
            pins[name] = (pins[name][0], pins[name][1] + 1)
    return pins


def test_runtime_dependencies_are_bounded_below_the_next_major() -> None:
    """Every runtime dependency has an upper bound; opencv-python-headless stays below 5."""
    for req in runtime_requirements():
        assert any(spec.operator in ("<", "<=", "==", "~=") for spec in req.specifier), f"{req} has no upper bound"
    opencv = next(r for r in runtime_requirements() if r.name == "opencv-python-headless")
    assert not opencv.specifier.contains("5.0.0") and opencv.specifier.contains("4.14.0")


@pytest.mark.parametrize("arch", sorted(LOCKS))
def test_lock_pins_every_dependency_with_hashes(arch: str) -> None:
    """Both device locks pin each runtime dependency (and the build backend) inside its bounds, with sha256 hashes."""
    pins = lock_pins(LOCKS[arch])
    for req in runtime_requirements():
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} missing from {LOCKS[arch].name}"
        assert req.specifier.contains(pins[name][0], prereleases=True), f"{name}=={pins[name][0]} outside {req}"
    assert {"setuptools", "wheel"} <= set(pins)
    assert all(n_hashes > 0 for _, n_hashes in pins.values()), "a pin without --hash"


@pytest.mark.parametrize("arch", sorted(LOCKS))
def test_the_locked_build_backend_can_build_this_project(arch: str) -> None:
    """install.sh builds the project offline with the lock's setuptools/wheel (--no-build-isolation): those pins must
    satisfy pyproject.toml's [build-system] requires (setuptools >= 77 reads the SPDX `license` string)."""
    pins = lock_pins(LOCKS[arch])
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for req in map(Requirement, build):
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins and req.specifier.contains(pins[name][0]), f"{LOCKS[arch].name}: {name} {pins.get(name)} does not meet {req}"


@pytest.mark.parametrize("script", ["firmware_config/install.sh", "scripts/pi-emu/host-venv.sh"])
def test_install_copies_every_file_the_build_reads(script: str) -> None:
    """The files pyproject.toml names (readme, license files) are among what install.sh copies to the device's source tree
    (and the pi-emu host venv to its build folder), or `pip install` fails there and only there."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"  # an SPDX expression, not the deprecated table
    line = next(ln.strip() for ln in (ROOT / script).read_text().splitlines() if ln.strip().startswith("for item in edge "))
    copied = set(line.removeprefix("for item in ").split(";")[0].split())
    for needed in ("pyproject.toml", project["readme"], *project["license-files"]):
        assert needed in copied and (ROOT / needed).is_file(), f"{needed}: not copied by {script} ({sorted(copied)})"


def test_installed_opencv_is_the_4_line() -> None:
    """The bound holds where the tests run: OpenCV 4.x decodes and resizes as the face pipeline expects."""
    import cv2

    assert cv2.__version__.split(".")[0] == "4"
    img = np.zeros((40, 60, 3), np.uint8)
    img[:, :30] = 255
    ok, buf = cv2.imencode(".png", img)
    assert ok and cv2.resize(cv2.imdecode(buf, cv2.IMREAD_COLOR), (30, 20)).shape == (20, 30, 3)


def test_install_script_uses_only_the_hashed_lock() -> None:
    """install.sh's venv step installs with --require-hashes from the lock of the machine's architecture."""
    text = (ROOT / "firmware_config" / "install.sh").read_text()
    pip_lines = [line for line in text.splitlines() if "-m pip install" in line]
    assert pip_lines and all("--require-hashes" in line or "--no-deps" in line for line in pip_lines), pip_lines
    assert 'requirements/device-$(uname -m).lock' in text and "cp -a" not in text


def test_install_copies_code_and_models_read_only_whatever_the_clone_owner(tmp_path: Path) -> None:
    """A clone owned by another user with group-writable files is installed root-owned (when run as root) and read-only to others."""
    clone = tmp_path / "clone"
    for item in ("edge", "simulator", "benchmarks", "requirements", "firmware_config", "systemd", "models", "docs"):
        shutil.copytree(ROOT / item, clone / item, ignore=shutil.ignore_patterns("__pycache__"))
    for item in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / item, clone / item)
    for path in [clone, *clone.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o020)  # umask 002 clone: group-writable
        if os.geteuid() == 0:
            os.chown(path, 65534, 65534)  # owned by someone else (the `pi` user of docs/PI.md)
    root = tmp_path / "img"
    out = subprocess.run(["bash", str(clone / "firmware_config" / "install.sh"), "--root", str(root), "--no-firmware"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    prefix = root / "opt" / "tepat-edge"
    installed = [p for p in prefix.rglob("*") if not p.is_symlink()]
    writable = [str(p.relative_to(prefix)) for p in installed if p.stat().st_mode & 0o022]
    assert not writable, writable[:5]
    if os.geteuid() == 0:
        foreign = [str(p.relative_to(prefix)) for p in installed if (p.stat().st_uid, p.stat().st_gid) != (0, 0)]
        assert not foreign, foreign[:5]
    assert (prefix / "models" / "thresholds.json") in installed and (prefix / "src" / "requirements" / "device-aarch64.lock") in installed
    # `edge bench` (the only way to measure a Pi's own speed) needs the benchmarks package on the device
    assert (prefix / "src" / "benchmarks" / "face_pipeline.py") in installed


def test_pi_emu_scripts_pass_shellcheck() -> None:
    """The emulation and lock scripts are shellcheck-clean like install.sh."""
    shellcheck = require_binary("shellcheck")
    scripts = [*sorted((ROOT / "scripts" / "pi-emu").glob("*.sh")), ROOT / "scripts" / "lock.sh"]
    out = subprocess.run([shellcheck, "--severity=style", *map(str, scripts)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout


def test_pi_emu_sample_is_fixed_and_balanced() -> None:
    """The pair sample is the first N/2 genuine and first N/2 impostor rows, in file order."""
    rows = [{"path_a": f"a{i}", "path_b": f"b{i}", "same": str(i % 3 == 0 and 1 or 0)} for i in range(600)]
    chosen = sample.choose(rows, 200)
    assert len(chosen) == 200 and sum(r["same"] == "1" for r in chosen) == 100
    assert chosen == sample.choose(list(rows), 200) and chosen[0] is rows[0]


def _results(tmp_path: Path, shift: float) -> tuple[Path, Path]:
    """Two architectures' embeddings of 4 images; aarch64's image 'p/b.jpg' moved by ``shift``."""
    rng = np.random.default_rng(0)
    base = {f"p/{n}.jpg": v / np.linalg.norm(v) for n, v in zip("abcd", rng.normal(size=(4, 128)).astype(np.float32))}
    base["p/b.jpg"] = (base["p/a.jpg"] + 0.5 * base["p/b.jpg"]) / np.linalg.norm(base["p/a.jpg"] + 0.5 * base["p/b.jpg"])
    moved = dict(base)
    v = base["p/b.jpg"] - shift * base["p/a.jpg"]
    moved["p/b.jpg"] = v / np.linalg.norm(v)
    for emb in ("int8", "fp32"):
        np.savez(tmp_path / f"x86_64-{emb}.npz", **base)
        np.savez(tmp_path / f"aarch64-{emb}.npz", **moved)
    line = json.dumps({"image": "p/b.jpg", "claimed": "p", "decision": "match", "score": 0.9, "exit": 0})
    (tmp_path / "x86_64-verify.jsonl").write_text(line + "\n")
    (tmp_path / "aarch64-verify.jsonl").write_text(line + "\n")
    pairs = tmp_path / "pairs.csv"
    with open(pairs, "w", newline="") as fh:
        csv.writer(fh).writerows([["path_a", "path_b", "same"], ["p/a.jpg", "p/b.jpg", "1"], ["p/c.jpg", "p/d.jpg", "0"]])
    return tmp_path, pairs


def test_agreement_passes_on_identical_embeddings(tmp_path: Path, capsys) -> None:
    results, pairs = _results(tmp_path, 0.0)
    assert compare.main([str(results), str(ROOT / "models"), str(pairs)]) == 0
    out = capsys.readouterr().out
    assert "agreement: PASS" in out and "2/2" in out


def test_agreement_fails_and_lists_a_flipped_decision(tmp_path: Path, capsys) -> None:
    """One image moved across the shipped threshold on one architecture: the pair is listed with both scores, exit 1."""
    results, pairs = _results(tmp_path, 0.8)
    assert compare.main([str(results), str(ROOT / "models"), str(pairs)]) == 1
    out = capsys.readouterr().out
    assert "DISAGREE fp32: p/a.jpg p/b.jpg same=1" in out and "agreement: FAIL" in out


def test_agreement_reads_a_not_enrolled_line_the_same_whatever_the_gallery_name(tmp_path: Path, capsys) -> None:
    """An error naming a per-run temporary gallery is the same decision on both sides; a different exit is not."""
    results, pairs = _results(tmp_path, 0.0)
    for arch, name in (("x86_64", "pi-emu-gallery.AbC123"), ("aarch64", "pi-emu-gallery.xYz789")):
        line = {"image": "p/c.jpg", "claimed": "q", "decision": f"error: recipient 'q' is not enrolled in /tmp/{name}.sqlite",
                "score": None, "exit": 3}
        (results / f"{arch}-verify.jsonl").write_text(json.dumps(line) + "\n")
    assert compare.main([str(results), str(ROOT / "models"), str(pairs)]) == 0
    assert "1/1 decisions agree" in capsys.readouterr().out
    line["exit"] = 1
    (results / "aarch64-verify.jsonl").write_text(json.dumps(line) + "\n")
    assert compare.main([str(results), str(ROOT / "models"), str(pairs)]) == 1


def test_agreement_lists_every_flipped_comparison_of_the_sample(tmp_path: Path, capsys) -> None:
    """Beyond the file's pairs, a comparison of two sample images that flips is listed with both scores."""
    results, pairs = _results(tmp_path, 0.8)
    compare.main([str(results), str(ROOT / "models"), str(pairs)])
    out = capsys.readouterr().out
    assert "every comparison of two different images of the sample: 5/6 decisions agree" in out
    assert "differs fp32: p/a.jpg p/b.jpg" in out


@pytest.mark.shared
def test_eval_saves_every_embedding(tmp_path: Path, datasets_dir: Path) -> None:
    """`edge eval --embeddings` writes one unit-length vector per image of the pairs it read."""
    out = tmp_path / "emb.npz"
    r = subprocess.run([sys.executable, "-m", "edge", "eval", "--pairs", str(datasets_dir / "pairs.csv"), "--root", str(datasets_dir),
                        "--limit", "3", "--embedder", "int8", "--embeddings", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(datasets_dir / "pairs.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:3]
    with np.load(out) as z:
        assert set(z.files) == {p for r in rows for p in (r["path_a"], r["path_b"])}
        assert all(abs(float(np.linalg.norm(z[k])) - 1) < 1e-3 and z[k].shape == (128,) for k in z.files)
