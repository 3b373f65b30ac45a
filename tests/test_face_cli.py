"""`edge enroll / verify / identify / eval / bench` through the CLI with real models, photos and SQLite galleries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main

pytestmark = pytest.mark.shared
ROOT = Path(__file__).resolve().parents[1]
# The calibrated embedder the tests use (the int8 build is measured in docs/BENCHMARKS.md).
EMBEDDER = ["--embedder", "fp32"]


def with_embedder(args: tuple[str, ...]) -> list[str]:
    return [*args, *EMBEDDER] if args and args[0] in ("enroll", "verify", "identify") else list(args)


def edge(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "edge", *with_embedder(args)], capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120)


def run_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(with_embedder(args))
    return code, json.loads(capsys.readouterr().out)


def test_enroll_then_verify_round_trip(tmp_path, capsys, datasets_dir):
    """Enrolling two photos then verifying a third of the same person matches; another person does not."""
    db = tmp_path / "gallery.sqlite"
    person = datasets_dir / "faces" / "Liu_Mingkang"
    code, out = run_json(capsys, "enroll", "--db", str(db), "--id", "R-001", str(person / "1.jpg"))
    assert code == 0 and out["enrolled"] == 1 and out["photos"][0]["quality"]["ok"]
    code, out = run_json(capsys, "verify", "--db", str(db), "--id", "R-001", str(person / "2.jpg"))
    assert code == 0, out
    assert out["decision"] == "match" and out["score"] >= out["threshold"]
    assert {"decode", "detect", "quality", "align", "embed", "match"} <= set(out["latency_ms"]) and len(out["model_sha256"]) == 64
    code, out = run_json(capsys, "verify", "--db", str(db), "--id", "R-001", str(datasets_dir / "faces" / "Mike_Babcock" / "1.jpg"))
    assert code == 1 and out["decision"] == "no_match" and out["score"] < out["threshold"]


def test_enroll_reports_quality_failures(tmp_path, capsys, datasets_dir):
    """A photo with two people is refused with 'multiple_faces' in the JSON and nothing is stored."""
    import cv2
    import numpy as np

    img = cv2.imread(str(datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg"))
    two = tmp_path / "two.png"
    cv2.imwrite(str(two), np.hstack([img, img[:, ::-1]]))
    code, out = run_json(capsys, "enroll", "--db", str(tmp_path / "g.sqlite"), "--id", "R-9", str(two))
    assert code == 1 and out["enrolled"] == 0
    assert out["photos"][0]["quality"]["reasons"] == ["multiple_faces"]


def test_identify_finds_the_right_person_among_24(tmp_path, capsys, gallery_people):
    """With 24 identities enrolled, identify names the right person for each of 3 probes."""
    db = tmp_path / "gallery.sqlite"
    for ident, enrol_photo, _ in gallery_people:
        assert main(with_embedder(("enroll", "--db", str(db), "--id", ident, str(enrol_photo)))) == 0
    capsys.readouterr()
    for ident, _, probe in gallery_people[::10]:
        code, out = run_json(capsys, "identify", "--db", str(db), str(probe), "--top", "3")
        assert out["candidates"][0]["recipient_id"] == ident
        assert code == 0 and out["decision"] == "match" and out["recipient_id"] == ident
        assert len(out["candidates"]) == 3 and out["gallery"]["identities"] == 24


def test_unknown_recipient_is_a_clear_error(tmp_path, datasets_dir):
    """Verifying against a recipient who was never enrolled exits 3 with one line naming the recipient."""
    db = tmp_path / "g.sqlite"
    photo = str(datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg")
    assert edge("enroll", "--db", str(db), "--id", "R-1", photo).returncode == 0
    r = edge("verify", "--db", str(db), "--id", "NOBODY", photo)
    assert r.returncode == 3
    assert "'NOBODY' is not enrolled" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("content", [b"", b"not an image at all", "truncated"], ids=["empty", "text", "truncated"])
def test_bad_image_files_give_one_line(tmp_path, datasets_dir, content):
    """Empty, non-image and truncated JPEG files exit non-zero with one line naming the file."""
    bad = tmp_path / "bad.jpg"
    if content == "truncated":
        content = (datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg").read_bytes()[:300]
    bad.write_bytes(content)
    r = edge("enroll", "--db", str(tmp_path / "g.sqlite"), "--id", "R-1", str(bad))
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("edge ")]
    assert len(lines) == 1 and str(bad) in lines[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "g.sqlite").exists() or "R-1" not in (tmp_path / "g.sqlite").read_bytes().decode("latin-1")


def test_missing_image_and_gallery(tmp_path):
    """A missing photo or gallery file is named in one line."""
    r = edge("verify", "--db", str(tmp_path / "none.sqlite"), "--id", "R", str(tmp_path / "missing.jpg"))
    assert r.returncode != 0 and "missing.jpg: no such file" in r.stderr


def test_tampered_model_is_refused(models_copy, tmp_path, datasets_dir):
    """A detector file with one changed byte is refused with the sha256 mismatch, not used."""
    f = models_copy / "face_detection_yunet_2023mar_320.tflite"
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF
    f.write_bytes(bytes(data))
    r = edge("enroll", "--db", str(tmp_path / "g.sqlite"), "--id", "R-1", str(datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg"),
             env={"TEPAT__FACE__MODELS_DIR": str(models_copy)})
    assert r.returncode != 0
    assert "sha256" in r.stderr and "yunet" in r.stderr and "Traceback" not in r.stderr


def test_uncalibrated_embedder_is_refused(models_copy, tmp_path, datasets_dir):
    """Without a calibration for the embedder's sha256, verify refuses instead of guessing a threshold."""
    (models_copy / "thresholds.json").write_text("{}")
    photo = str(datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg")
    env = {"TEPAT__FACE__MODELS_DIR": str(models_copy)}
    assert edge("enroll", "--db", str(tmp_path / "g.sqlite"), "--id", "R-1", photo, env=env).returncode == 0
    r = edge("verify", "--db", str(tmp_path / "g.sqlite"), "--id", "R-1", photo, env=env)
    assert r.returncode != 0 and "no calibrated thresholds" in r.stderr


def test_eval_small_run_writes_json_and_plot(tmp_path, datasets_dir):
    """eval over 40 pairs writes the documented JSON keys and a PNG, and separates genuine from impostor."""
    out, png = tmp_path / "e.json", tmp_path / "roc.png"
    r = edge("eval", "--pairs", str(datasets_dir / "pairs.csv"), "--root", str(datasets_dir), "--limit", "40", "--json", str(out), "--plot", str(png))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["pairs"] == 40 and set(rep["tar_at_far"]) >= {"1e-2", "1e-3", "1e-4"}
    assert rep["failed_to_enrol"] == len(rep["failed_images"]) and rep["failed_to_enrol"] <= 2, rep["failed_images"]
    assert rep["pairs_scored"] <= rep["pairs"] and rep["pairs_scored"] >= rep["pairs"] - 2 * rep["failed_to_enrol"]
    assert rep["scores"]["genuine"]["mean"] > rep["scores"]["impostor"]["mean"] + 0.3
    assert "eer" in rep and "mean_cosine_to_fp32" in rep and png.stat().st_size > 10_000
    assert "images" in r.stderr  # progress bar
    shipped = rep["at_shipped_thresholds"]
    assert {"far", "tar"} <= set(shipped["1:1"]) and {"far", "tar"} <= set(shipped["1:N"])
    assert shipped["excluded_calibration_identities"] > 0  # calibration identities are never evaluated


def test_eval_counts_an_image_without_a_face_as_failed_to_enrol(tmp_path, datasets_dir):
    """A pair whose photo holds no face is counted in failed_to_enrol, named, and left out of the scores."""
    import cv2
    import numpy as np

    root = tmp_path / "root"
    (root / "faces" / "Nobody").mkdir(parents=True)
    cv2.imwrite(str(root / "faces" / "Nobody" / "1.jpg"), np.full((250, 250, 3), 128, np.uint8))
    lines = (datasets_dir / "pairs.csv").read_text().splitlines()[1:5]
    for line in lines:
        for rel in line.split(",")[:2]:
            if not (root / rel).exists():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).symlink_to(datasets_dir / rel)
    first = lines[0].split(",")[0]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,same\n" + "\n".join([*lines, f"{first},faces/Nobody/1.jpg,0"]) + "\n")
    out = tmp_path / "e.json"
    r = edge("eval", "--pairs", str(pairs), "--root", str(root), "--json", str(out))
    assert r.returncode == 0, r.stderr
    rep = json.loads(out.read_text())
    assert rep["failed_to_enrol"] == 1 and rep["failed_images"] == {"faces/Nobody/1.jpg": "no_face"}, rep["failed_images"]
    assert rep["pairs"] == 5 and rep["pairs_scored"] == 4


def test_eval_int8_reference_can_be_left_out(tmp_path, datasets_dir):
    """int8 eval also embeds every crop with fp32 (mean_cosine_to_fp32); --no-reference leaves that out (make pi-emu)."""
    reports = {}
    for flags in ((), ("--no-reference",)):
        out = tmp_path / f"e{len(flags)}.json"
        r = edge("eval", "--pairs", str(datasets_dir / "pairs.csv"), "--root", str(datasets_dir), "--limit", "6",
                 "--embedder", "int8", "--json", str(out), *flags)
        assert r.returncode == 0, r.stderr
        reports[flags] = json.loads(out.read_text())
    assert reports[()]["mean_cosine_to_fp32"] > 0.95
    assert reports[("--no-reference",)]["mean_cosine_to_fp32"] is None
    assert reports[("--no-reference",)]["scores"] == reports[()]["scores"]  # the int8 scores themselves are unchanged


def test_eval_malformed_pairs_file(tmp_path, datasets_dir):
    """A pairs CSV without the expected columns is refused in one line."""
    bad = tmp_path / "p.csv"
    bad.write_text("a,b\n1,2\n")
    r = edge("eval", "--pairs", str(bad), "--root", str(datasets_dir))
    assert r.returncode != 0 and "missing column(s) path_a, path_b, same" in r.stderr


def test_bench_small(tmp_path, capsys, datasets_dir):
    """bench reports per-stage medians, 1:N search times per gallery size and peak RSS."""
    code, out = run_json(capsys, "bench", "--runs", "3", "--sizes", "1000,10000", "--json", str(tmp_path / "b.json"))
    assert code == 0
    assert {"detect", "align", "embed", "match"} <= set(out["stages_ms"]) and set(out["search_ms"]) == {"1000", "10000"}
    assert out["peak_rss_mb"] > 0 and json.loads((tmp_path / "b.json").read_text())["stages_ms"] == out["stages_ms"]
