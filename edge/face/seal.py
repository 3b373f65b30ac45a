"""Sealed model files: ``manifest.json`` covers every model and ``thresholds.json``; the manifest's
own sha256 is pinned in the installed package (:mod:`edge.face.manifest_pin`).

Whoever can write the models folder (the owner of a git clone, a thief with the SD card outside the
package) cannot change a model, a threshold or the manifest without the service refusing to start:
the pin lives in the Python package, which install.sh installs root-owned, beside the code that
reads it. A deliberate change is re-sealed by a maintainer with ``edge models seal`` and shipped as a
new release (manifest.json + edge/face/manifest_pin.py committed together).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from edge.errors import ModelError

MANIFEST_NAME = "manifest.json"
SEALED_FILES = ("thresholds.json",)
PIN_MODULE = Path(__file__).with_name("manifest_pin.py")
RESEAL_HINT = ("restore the file from the release; if the change is deliberate (maintainer), run 'edge models seal' "
               "and ship manifest.json with edge/face/manifest_pin.py")
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pinned_sha256() -> str:
    """The manifest sha256 pinned in this package ('' when the package was never sealed)."""
    try:
        from edge.face.manifest_pin import MANIFEST_SHA256
    except ImportError:
        return ""
    return MANIFEST_SHA256


def seal_problems(models_dir: Path, pin: str | None = None) -> list[str]:
    """Every way ``models_dir`` differs from the sealed release, one line each (empty when intact).

    Checks, in order: manifest.json against the package pin, then each model file and each sealed file
    (thresholds.json) against the manifest's sha256.
    """
    d = Path(models_dir)
    pin = pinned_sha256() if pin is None else pin
    path = d / MANIFEST_NAME
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            return [f"{path} is larger than {MAX_MANIFEST_BYTES} bytes"]
        raw = path.read_bytes()
    except FileNotFoundError:
        return [f"model manifest {path} not found; point face.models_dir at the folder holding manifest.json"]
    except OSError as exc:
        return [f"{path} cannot be read ({exc.strerror})"]
    got = hashlib.sha256(raw).hexdigest()
    if not pin:
        return ["this package carries no manifest pin (edge/face/manifest_pin.py); run 'edge models seal'"]
    if got != pin:
        return [f"{path} has sha256 {got[:16]}…, the installed package pins {pin[:16]}… (manifest changed)"]
    from edge.safejson import loads_bounded

    doc = loads_bounded(raw, what=str(path))
    problems = []
    listed = [(name, e.get("file"), e.get("sha256")) for name, e in doc.get("models", {}).items()]
    listed += [(name, name, e.get("sha256")) for name, e in doc.get("sealed_files", {}).items()]
    missing_sealed = [n for n in SEALED_FILES if n not in doc.get("sealed_files", {})]
    problems += [f"{path} does not seal {n}" for n in missing_sealed]
    for name, file, sha in listed:
        fpath = d / str(file)
        try:
            actual = _sha256_file(fpath)
        except OSError as exc:
            problems.append(f"{name}: {fpath} cannot be read ({exc.strerror})")
            continue
        if actual != sha:
            problems.append(f"{name}: {fpath} has sha256 {actual[:16]}…, manifest expects {str(sha)[:16]}… (changed)")
    return problems


def check_sealed(models_dir: Path) -> None:
    """Raise ModelError with one line when any model, thresholds.json or manifest.json differs from the seal."""
    problems = seal_problems(models_dir)
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ModelError(f"sealed model files changed: {problems[0]}{more}; {RESEAL_HINT}")


def seal(models_dir: Path, pin_module: Path = PIN_MODULE) -> tuple[str, dict[str, str]]:
    """Maintainer step: record thresholds.json in the manifest and pin the manifest's sha256 in the package.

    Refuses when a model file no longer matches its manifest entry (that needs 'edge models build').
    Returns (manifest sha256, {sealed file: sha256}).
    """
    d = Path(models_dir)
    path = d / MANIFEST_NAME
    doc = json.loads(path.read_text(encoding="utf-8"))
    for name, e in doc.get("models", {}).items():
        fpath = d / e["file"]
        if not fpath.is_file() or _sha256_file(fpath) != e["sha256"]:
            raise ModelError(f"model {name!r}: {fpath} does not match its manifest entry; rebuild it with 'edge models build' before sealing")
    sealed = {}
    for name in SEALED_FILES:
        fpath = d / name
        if not fpath.is_file():
            raise ModelError(f"{fpath} is missing; a release must seal it")
        sealed[name] = {"sha256": _sha256_file(fpath), "size": fpath.stat().st_size}
    doc["sealed_files"] = sealed
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    tmp = path.with_suffix(".json.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    digest = hashlib.sha256(data).hexdigest()
    write_pin(pin_module, digest)
    return digest, {k: v["sha256"] for k, v in sealed.items()}


def write_pin(pin_module: Path, digest: str) -> None:
    text = ('"""Generated by \'edge models seal\': sha256 of the released models/manifest.json. Do not edit by hand."""\n\n'
            f'MANIFEST_SHA256 = "{digest}"\n')
    tmp = pin_module.with_suffix(".py.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, pin_module)
