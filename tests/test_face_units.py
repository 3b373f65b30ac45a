"""Pure parts of the face pipeline: geometry, decoders, alignment, matching, thresholds, gallery."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config.face import QualityConfig
from edge.errors import NotFoundError
from edge.face import blazeface, yunet
from edge.face.align import TEMPLATE_4, TEMPLATE_5, align, similarity_matrix
from edge.face.gallery import Gallery
from edge.face.geometry import letterbox, nms
from edge.face.match import GalleryIndex, best_score, fuse
from edge.face.metrics import eer
from edge.face.quality import check_geometry, choose_face, head_pose
from edge.face.thresholds import threshold_at_far
from edge.face.types import Face


def unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def face_at(x: float, y: float, side: float, score: float = 0.9) -> Face:
    s = side / 112
    lm = TEMPLATE_5 * s + np.array([x, y], np.float32)
    return Face(box=np.array([x, y, x + side, y + side], np.float32), score=score, landmarks=lm)


def test_nms_drops_overlaps_keeps_separate_boxes():
    """Greedy NMS keeps the best of two overlapping boxes and a distant box."""
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    assert nms(boxes, np.array([0.8, 0.9, 0.7]), 0.3) == [1, 2]


def test_letterbox_keeps_aspect_and_pads():
    """A 200×100 frame fills the top of a 320 canvas; the rest is zero."""
    canvas, scale = letterbox(np.full((100, 200, 3), 255, np.uint8), 320)
    assert scale == pytest.approx(1.6)
    assert canvas[:160].min() == 255 and canvas[160:].max() == 0


def test_yunet_decode_places_a_synthetic_detection():
    """A single confident cell at stride 16 decodes to the box and landmarks the OpenCV rules give."""
    outs = [np.zeros((1, n, 1), np.float32) for _ in range(2) for n in (1600, 400, 100)]
    bbox = [np.zeros((1, n, 4), np.float32) for n in (1600, 400, 100)]
    kps = [np.zeros((1, n, 10), np.float32) for n in (1600, 400, 100)]
    cell = 5 * 20 + 7  # row 5, col 7 on the 20×20 grid
    outs[1][0, cell, 0] = 0.81  # cls_16
    outs[4][0, cell, 0] = 1.0  # obj_16
    bbox[1][0, cell] = [0.5, 0.5, np.log(4), np.log(5)]
    kps[1][0, cell] = [0.1, 0.2] * 5
    faces = yunet.decode(outs + bbox + kps, 320, 0.8)
    assert len(faces) == 1
    f = faces[0]
    assert f.score == pytest.approx(0.9)
    cx, cy = 7.5 * 16, 5.5 * 16
    np.testing.assert_allclose(f.box, [cx - 32, cy - 40, cx + 32, cy + 40], atol=1e-3)
    np.testing.assert_allclose(f.landmarks[0], [7.1 * 16, 5.2 * 16], atol=1e-3)
    assert yunet.decode(outs + bbox + kps, 320, 0.95) == []


def test_blazeface_anchors_and_decode():
    """896 anchors in model order; one positive logit decodes around its anchor with 4 kept points."""
    anc = blazeface.anchors()
    assert anc.shape == (896, 2)
    np.testing.assert_allclose(anc[0], [1 / 32, 1 / 32])
    np.testing.assert_allclose(anc[512], [1 / 16, 1 / 16])
    reg = np.zeros((896, 16), np.float32)
    logits = np.full((896, 1), -10, np.float32)
    logits[600] = 5
    reg[600, :4] = [0, 0, 40, 40]
    reg[600, 4:8] = [10, -5, -10, -5]  # eyes given right-then-left: output sorts image-left first
    faces = blazeface.decode(reg, logits)
    assert len(faces) == 1
    a = anc[600] * 128
    np.testing.assert_allclose(faces[0].box, [a[0] - 20, a[1] - 20, a[0] + 20, a[1] + 20], atol=1e-3)
    assert faces[0].landmarks.shape == (4, 2)
    assert faces[0].landmarks[0, 0] < faces[0].landmarks[1, 0]


def test_align_maps_landmarks_onto_the_template():
    """Landmarks of a scaled, shifted template align to the template itself (5- and 4-point)."""
    lm5 = TEMPLATE_5 * 2 + 30
    m = similarity_matrix(lm5)
    mapped = lm5 @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(mapped, TEMPLATE_5, atol=1e-2)
    m4 = similarity_matrix(TEMPLATE_4 * 2 + 30)
    np.testing.assert_allclose(m4[:, :2], np.eye(2) / 2, atol=1e-3)
    assert align(np.zeros((300, 300, 3), np.uint8), lm5).shape == (112, 112, 3)


def test_head_pose_frontal_and_turned():
    """The template face is frontal; moving the nose sideways reads as a head turn."""
    yaw, pitch = head_pose(TEMPLATE_5)
    assert abs(yaw) < 2 and abs(pitch) < 2
    turned = TEMPLATE_5.copy()
    turned[2, 0] += 25
    assert head_pose(turned)[0] > 30


def test_geometry_gate_reasons():
    """Small, edge-cut and two comparable faces give their named reasons; a lone central face passes."""
    cfg = QualityConfig()
    good = face_at(100, 100, 120)
    assert check_geometry([good], good, (400, 400, 3), cfg).ok
    assert check_geometry([], None, (400, 400, 3), cfg).reasons == ["no_face"]
    second = face_at(250, 100, 110)
    assert "multiple_faces" in check_geometry([good, second], good, (400, 400, 3), cfg).reasons
    tiny_bystander = face_at(300, 10, 30)
    assert check_geometry([good, tiny_bystander], good, (400, 400, 3), cfg).ok
    small = face_at(100, 100, 40)
    assert "face_too_small" in check_geometry([small], small, (400, 400, 3), cfg).reasons
    cut = face_at(0, 100, 120)
    assert "face_cut_at_edge" in check_geometry([cut], cut, (400, 400, 3), cfg).reasons


def test_choose_face_prefers_the_centre_over_a_large_edge_face():
    """In a news photo the labelled person is the comparably large face nearest the centre."""
    centre = face_at(150, 150, 90)
    edge = face_at(0, 0, 120)
    tiny_centre = face_at(190, 190, 20)
    assert choose_face([edge, centre, tiny_centre], (400, 400, 3)) is centre


def test_best_score_fuse_and_gallery_search():
    """1:1 takes the best template; fusion averages the top two frames; 1:N ranks identities by best template."""
    a, b, c = unit(1), unit(2), unit(3)
    assert best_score(a, np.stack([b, a])) == pytest.approx(1.0, abs=1e-6)
    assert fuse([0.2, 0.9, 0.7]) == pytest.approx(0.8)
    assert fuse([0.5]) == 0.5
    index = GalleryIndex(["bob", "amy", "bob", "cat"], np.stack([b, a, unit(4), c]))
    assert index.identities == ["amy", "bob", "cat"]
    top = index.search(b, 2)
    assert top[0].recipient_id == "bob" and top[0].score == pytest.approx(1.0, abs=1e-6)
    assert index.identify(b, threshold=0.5, margin=0.05).accepted
    assert not index.identify(b, threshold=1.01, margin=0.05).accepted
    near = GalleryIndex(["x", "y"], np.stack([a, (a + 0.01 * b) / np.linalg.norm(a + 0.01 * b)]))
    assert not near.identify(a, threshold=0.5, margin=0.05).accepted  # runner-up too close
    assert index.templates_of("bob").shape == (2, 128)
    from_dict = GalleryIndex.from_dict({"bob": np.stack([b, unit(4)]), "amy": a[None]})
    assert from_dict.identities == ["amy", "bob"] and len(from_dict) == 3


def test_threshold_at_far_and_eer():
    """The FAR threshold lets at most FAR·n impostors through; too few impostors give None; EER of separated sets is 0."""
    imp = np.linspace(0, 1, 1000)
    t = threshold_at_far(imp, 1e-2)
    assert (imp >= t).sum() <= 10 and (imp >= t - 0.002).sum() > 10
    assert threshold_at_far(imp, 1e-4) is None
    e, _ = eer(np.array([0.8, 0.9]), np.array([0.1, 0.2]))
    assert e == 0.0
    e, _ = eer(np.array([0.1, 0.9]), np.array([0.2, 0.8]))
    assert e == pytest.approx(0.5)


def test_gallery_roundtrip_and_other_model_templates_ignored(tmp_path):
    """Templates survive a reopen (float16) and templates of another model are not mixed in."""
    db = tmp_path / "g.sqlite"
    with Gallery(db) as g:
        g.add("r1", unit(1), "a" * 64)
        g.add("r1", unit(2), "a" * 64)
        g.add("r2", unit(3), "b" * 64)
    with Gallery(db) as g:
        t = g.templates("r1", "a" * 64)
        assert t.shape == (2, 128) and float(t[0] @ unit(1)) > 0.999
        index = g.load_index("a" * 64)
        assert index.identities == ["r1"] and g.ignored_other_model == 1
        with pytest.raises(NotFoundError, match="not enrolled"):
            g.templates("nobody", "a" * 64)
        with pytest.raises(NotFoundError, match="different face model"):
            g.templates("r2", "a" * 64)


def test_thresholds_file_roundtrip_and_refusal(tmp_path):
    """Calibrations are keyed by sha256; an uncalibrated embedder or FAR is refused with the fix named."""
    from edge.errors import ModelError
    from edge.face import thresholds as th

    th.write(tmp_path, "a" * 64, {"thresholds": {"1e-3": 0.36, "1e-4": 0.42}})
    th.write(tmp_path, "b" * 64, {"thresholds": {"1e-3": 0.5}})
    assert th.lookup(tmp_path, "a" * 64, 1e-3) == 0.36
    assert th.lookup(tmp_path, "a" * 64, 0.0001) == 0.42
    with pytest.raises(ModelError, match="no calibrated thresholds.*--write-thresholds"):
        th.lookup(tmp_path, "c" * 64, 1e-3)
    with pytest.raises(ModelError, match="no threshold for FAR 1e-4"):
        th.lookup(tmp_path, "b" * 64, 1e-4)


def test_crop_checks_dark_bright_blur():
    """A flat dark crop is too dark and blurred; a bright one overexposed; a textured mid-grey one passes."""
    from edge.face.quality import check_crop
    from edge.face.types import QualityReport

    cfg = QualityConfig()
    assert check_crop(np.full((112, 112, 3), 20, np.uint8), cfg, QualityReport()).reasons == ["too_dark", "too_blurred"]
    assert "overexposed" in check_crop(np.full((112, 112, 3), 240, np.uint8), cfg, QualityReport()).reasons
    texture = np.random.default_rng(0).integers(60, 200, (112, 112, 3)).astype(np.uint8)
    assert check_crop(texture, cfg, QualityReport()).ok


@pytest.mark.parametrize("n", [7, 160, 1500, 12345])
def test_roc_spans_resolvable_fars(n):
    """The ROC has points from FAR 1/n to 1 whatever the impostor count, and TAR never decreases with FAR."""
    from edge.face.metrics import roc

    rng = np.random.default_rng(n)
    far, tar = roc(rng.random(50) + 0.5, rng.random(n))
    assert far.min() <= 1.0 / n + 1e-12 and far.max() == 1.0
    assert np.all(np.diff(tar[np.argsort(far, kind="stable")]) >= 0)


def test_gallery_refuses_a_file_that_is_not_a_gallery(tmp_path):
    """A non-SQLite file or another SQLite database given as --db is refused with a clear error, not altered."""
    import sqlite3

    from edge.errors import EdgeError

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(EdgeError, match="not a usable SQLite database"):
        Gallery(junk)
    other = tmp_path / "outbox.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE records (id INTEGER)")
    with pytest.raises(EdgeError, match="not a face gallery"):
        Gallery(other)
