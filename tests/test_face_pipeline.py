"""The real pipeline (YuNet + SFace TFLite) on real photographs from ../shared/datasets."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.face.image import read_image

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def good_photo(datasets_dir) -> np.ndarray:
    """A frontal, well-lit dataset photo of one person."""
    return read_image(datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg")


def test_genuine_pairs_score_above_impostor_pairs(face_pipeline, dataset_pairs):
    """On 20 genuine and 20 impostor pairs, genuine scores are far higher and sit mostly either side of the 1:1 threshold."""
    genuine = [p for p in dataset_pairs if p[2]][:20]
    impostor = [p for p in dataset_pairs if not p[2]][:20]

    def score(a, b):
        ea = face_pipeline.analyse_file(a, gate=False).embedding
        eb = face_pipeline.analyse_file(b, gate=False).embedding
        assert ea is not None and eb is not None, f"no face in {a} or {b}"
        return float(ea @ eb)

    g = np.array([score(a, b) for a, b, _ in genuine])
    i = np.array([score(a, b) for a, b, _ in impostor])
    t = face_pipeline.threshold_1to1
    assert g.mean() - i.mean() > 0.4
    assert (g >= t).mean() >= 0.85
    assert (i < t).mean() >= 0.95


def test_good_photo_passes_the_quality_gate(face_pipeline, good_photo):
    """A frontal dataset photo passes and yields a unit-length 128-d embedding with per-stage latencies."""
    res = face_pipeline.analyse(good_photo)
    assert res.quality.reasons == []
    assert res.embedding.shape == (128,) and np.linalg.norm(res.embedding) == pytest.approx(1, abs=1e-4)
    assert {"detect", "quality", "align", "embed"} <= set(res.latency_ms)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda img: cv2.GaussianBlur(img, (0, 0), 3), "too_blurred"),
        (lambda img: (img * 0.2).astype(np.uint8), "too_dark"),
        (lambda img: _paste_small(img), "face_too_small"),
        (lambda img: np.hstack([img, img[:, ::-1]]), "multiple_faces"),
        (lambda img: np.full_like(img, 90), "no_face"),
    ],
    ids=["blur", "dark", "tiny", "two_faces", "blank"],
)
def test_quality_rejections_on_degraded_real_photo(face_pipeline, good_photo, make, reason):
    """Blurred, dark, shrunken, doubled and blank versions of a good photo fail with the named reason and are not embedded."""
    res = face_pipeline.analyse(make(good_photo))
    assert reason in res.quality.reasons
    assert res.embedding is None


def _paste_small(img: np.ndarray) -> np.ndarray:
    canvas = np.full((400, 400, 3), 128, np.uint8)
    canvas[155:245, 155:245] = cv2.resize(img, (90, 90), interpolation=cv2.INTER_AREA)
    return canvas


def test_profile_photo_is_head_turned(face_pipeline, datasets_dir):
    """A real left-profile photo is rejected as head_turned."""
    res = face_pipeline.analyse_file(datasets_dir / "hard" / "profile" / "left_face.jpg")
    assert "head_turned" in res.quality.reasons


def test_burst_picks_the_sharp_frame_and_fuses(face_pipeline, good_photo, datasets_dir):
    """In a burst with a blurred frame, only sharp frames are usable and the fused 1:1 score matches the same person."""
    frames = [cv2.GaussianBlur(good_photo, (0, 0), 3), good_photo, cv2.convertScaleAbs(good_photo, alpha=1.1)]
    burst = face_pipeline.analyse_burst(frames)
    assert len(burst.usable) == 2 and burst.best is not None
    enrolled = face_pipeline.analyse_file(datasets_dir / "faces" / "Liu_Mingkang" / "2.jpg").embedding
    score = face_pipeline.verify_score([r.embedding for r in burst.usable], enrolled[None])
    assert score >= face_pipeline.threshold_1to1


def test_blazeface_detector_finds_and_aligns_the_same_face(models_dir, good_photo, face_pipeline):
    """BlazeFace's 4-point alignment gives an embedding close to YuNet's 5-point one on the same photo."""
    from edge.face.detect import open_detector
    from edge.face.pipeline import FacePipeline

    blaze = FacePipeline(open_detector(models_dir, "blazeface"), face_pipeline.embedder)
    a = blaze.analyse(good_photo, gate=False)
    b = face_pipeline.analyse(good_photo, gate=False)
    assert a.face is not None and a.face.landmarks.shape == (4, 2)
    assert float(a.embedding @ b.embedding) > 0.6


def test_exif_orientation_is_applied(datasets_dir, tmp_path):
    """A JPEG with EXIF Orientation=6 decodes upright (rotated), as a phone shows it."""
    path = datasets_dir / "hard" / "spoof" / "attack_image_F1.jpg"
    raw = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    rgb = read_image(path)
    assert rgb.shape[:2] == raw.shape[1::-1] != raw.shape[:2]


def test_template_from_bytes_refuses_a_faceless_photo(face_pipeline, datasets_dir):
    """A reference photo with no face raises an ImageError carrying the officer's advice; a good one gives a template."""
    from edge.errors import ImageError

    good = (datasets_dir / "faces" / "Liu_Mingkang" / "1.jpg").read_bytes()
    assert face_pipeline.template_from_bytes(good).shape == (128,)
    ok, png = cv2.imencode(".png", np.full((200, 200, 3), 90, np.uint8))
    with pytest.raises(ImageError, match="no usable face.*look at the camera"):
        face_pipeline.template_from_bytes(png.tobytes())
