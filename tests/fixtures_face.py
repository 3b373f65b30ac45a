"""Fixtures for the face pipeline tests: real TFLite pipeline, dataset photos, a models copy."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def face_pipeline(models_dir):
    """The real pipeline (YuNet + SFace TFLite) with the committed calibrated thresholds."""
    from edge.config.face import FaceConfig
    from edge.face.pipeline import FacePipeline

    return FacePipeline.from_config(FaceConfig(models_dir=models_dir, embedder="fp32"), require_calibration=True)


@pytest.fixture(scope="session")
def dataset_pairs(datasets_dir) -> list[tuple[Path, Path, bool]]:
    """Rows of pairs.csv as absolute paths."""
    with open(datasets_dir / "pairs.csv", newline="") as fh:
        return [(datasets_dir / r["path_a"], datasets_dir / r["path_b"], r["same"] == "1") for r in csv.DictReader(fh)]


@pytest.fixture(scope="session")
def gallery_people(datasets_dir, face_pipeline) -> list[tuple[str, Path, Path]]:
    """24 dataset identities whose photos 1 and 2 both pass the quality gate: (identity, enrol photo, probe photo)."""
    people = []
    for folder in sorted((datasets_dir / "faces").iterdir()):
        a, b = folder / "1.jpg", folder / "2.jpg"
        if a.is_file() and b.is_file() and all(face_pipeline.analyse_file(p).usable for p in (a, b)):
            people.append((folder.name, a, b))
        if len(people) == 24:
            break
    assert len(people) == 24, "fewer than 24 identities with two usable photos"
    return people


@pytest.fixture()
def models_copy(tmp_path, models_dir) -> Path:
    """A private copy of models/ (manifest, thresholds, the face models) that a test may tamper with."""
    dest = tmp_path / "models"
    dest.mkdir()
    for name in ("manifest.json", "thresholds.json", "face_detection_yunet_2023mar_320.tflite", "face_detection_short_range.tflite", "sface_2021dec_fp32.tflite"):
        if (models_dir / name).exists():
            shutil.copy2(models_dir / name, dest / name)
    return dest
