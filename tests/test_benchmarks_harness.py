"""Pure metric helpers of the side-by-side benchmark harness (benchmarks/), on synthetic scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.metrics import (
    common_pairs,
    cross_identity_scores,
    eer,
    latency_stats,
    pair_scores,
    paired_ratio,
    similarity,
    tar_at_far,
)
from benchmarks.report import update_benchmarks_section
from benchmarks.systems import central_index


def test_tar_at_far_counts_genuine_above_the_far_threshold():
    """With 1000 impostors 0..999 and FAR 1e-2, the threshold sits just above the 11th highest impostor (989)."""
    impostor = np.arange(1000, dtype=np.float64)
    genuine = np.array([985.0, 989.5, 990.0, 995.0, 10.0])
    # 10 impostors (990..999) may pass: 989.5, 990 and 995 are accepted, 985 and 10 are not.
    assert tar_at_far(genuine, impostor, 1e-2) == pytest.approx(3 / 5)
    assert tar_at_far(genuine, impostor, 1e-3) == pytest.approx(0 / 5)


def test_tar_at_far_is_none_when_impostors_cannot_resolve_it():
    """100 impostors cannot resolve FAR 1e-3."""
    assert tar_at_far(np.ones(5), np.zeros(100), 1e-3) is None


def test_eer_of_separable_and_overlapping_scores():
    """Disjoint score sets give EER 0; identical distributions give EER near 0.5."""
    e, _ = eer(np.array([0.8, 0.9, 0.95]), np.array([0.1, 0.2, 0.3]))
    assert e == 0.0
    rng = np.random.default_rng(1)
    e2, _ = eer(rng.normal(size=4000), rng.normal(size=4000))
    assert abs(e2 - 0.5) < 0.05


def test_similarity_l2_is_minus_distance_and_cosine_is_dot():
    """Higher is more similar for both metrics."""
    a, b = np.array([[3.0, 4.0]]), np.array([[0.0, 0.0]])
    assert similarity(a, b, "l2")[0] == pytest.approx(-5.0)
    u = np.array([[0.6, 0.8]])
    assert similarity(u, u, "cosine")[0] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        similarity(a, b, "manhattan")


def test_pair_scores_skip_pairs_with_a_missing_embedding():
    """A pair whose image has no embedding (failed to detect) is left out."""
    emb = {"x/1.jpg": np.array([1.0, 0.0]), "x/2.jpg": np.array([1.0, 0.0]), "y/1.jpg": np.array([0.0, 1.0])}
    pairs = [("x/1.jpg", "x/2.jpg", True), ("x/1.jpg", "y/1.jpg", False), ("x/1.jpg", "z/1.jpg", False)]
    gen, imp = pair_scores(emb, pairs, "cosine")
    assert gen.tolist() == [1.0] and imp.tolist() == [0.0]


def test_cross_identity_scores_exclude_same_folder_pairs_for_both_metrics():
    """Three images in two identities give two cross-identity pairs, scored alike by cosine and L2."""
    emb = {"faces/a/1.jpg": np.array([1.0, 0.0]), "faces/a/2.jpg": np.array([0.0, 1.0]), "faces/b/1.jpg": np.array([1.0, 0.0])}
    cos = cross_identity_scores(emb, "cosine")
    assert sorted(cos.tolist()) == pytest.approx([0.0, 1.0])
    l2 = cross_identity_scores(emb, "l2")
    assert sorted(l2.tolist()) == pytest.approx([-math.sqrt(2), 0.0])


def test_paired_ratio_is_per_image_and_ignores_missing_times():
    """Ratios are taken image by image; NaN (unreadable image) entries are skipped."""
    ref = np.array([10.0, 20.0, np.nan, 40.0])
    sys_ms = np.array([30.0, 60.0, 50.0, 120.0])
    r = paired_ratio(sys_ms, ref)
    assert r["n"] == 3 and r["median"] == pytest.approx(3.0)
    skew = paired_ratio(np.array([10.0, 100.0]), np.array([10.0, 10.0]))
    assert skew["median"] == pytest.approx(5.5)  # median of ratios 1 and 10, not a ratio of medians
    with pytest.raises(ValueError):
        paired_ratio(np.ones(2), np.ones(3))


def test_latency_stats_median_and_p95():
    """Median and p95 over finite values."""
    s = latency_stats(list(range(1, 101)) + [float("nan")])
    assert s["n"] == 100 and s["median"] == pytest.approx(50.5) and s["p95"] == pytest.approx(95.05)
    assert latency_stats([])["median"] is None


def test_common_pairs_keep_only_pairs_every_system_embedded():
    """A pair drops out when any system missed one of its images."""
    pairs = [("a", "b", True), ("a", "c", False)]
    assert common_pairs(pairs, [{"a", "b", "c"}, {"a", "b"}]) == [("a", "b", True)]


def test_central_index_prefers_the_centre_face_among_big_ones():
    """A big face at the centre wins over a bigger off-centre face; a tiny central face does not win."""
    boxes = np.array([[0, 0, 120, 120], [70, 70, 100, 100], [120, 120, 10, 10]], float)  # x, y, w, h in a 250x250 image
    assert central_index(boxes, (250, 250, 3)) == 1
    assert central_index(np.zeros((0, 4)), (250, 250, 3)) is None


def test_update_benchmarks_section_appends_then_replaces(tmp_path):
    """The generated section is appended once and replaced in place on the next run, other sections untouched."""
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\n## GPS\n\nfast\n")
    update_benchmarks_section(doc, "## Side-by-side comparison\n\nrun 1\n")
    update_benchmarks_section(doc, "## Side-by-side comparison\n\nrun 2\n")
    text = doc.read_text()
    assert text.count("## Side-by-side comparison") == 1 and "run 2" in text and "run 1" not in text
    assert text.startswith("# Benchmarks\n\n## GPS\n\nfast\n")


def test_camera_scene_is_frame_sized_with_the_face_inside():
    """benchmarks.camera places a dataset face in a camera-size frame without hard edges."""
    from benchmarks.camera import scene

    rng = np.random.default_rng(0)
    face = rng.integers(0, 255, (250, 250, 3), dtype=np.uint8)
    for w, h in ((1280, 960), (640, 480)):
        out = scene(face, (w, h), np.random.default_rng(1))
        assert out.shape == (h, w, 3) and out.dtype == np.uint8


def test_camera_report_stores_cpu_flags_and_replaces_its_docs_block(tmp_path):
    """Every camera-frame figure carries the CPU model and SIMD flags; --write-docs replaces only its own block."""
    from benchmarks.camera import END, START, cpu_info, write_docs

    cpu = cpu_info()
    assert cpu["model"] and {"avx2", "avx512_vnni", "asimddp"} <= set(cpu["flags"])
    rep = {"cpu": cpu, "images": 2, "load_average_after": [0, 0, 0], "skipped": {}, "sizes": {"640x480": {"tepat-int8": {
        "median_ms": 10.0, "p90_ms": 12.0, "ratio_to_tepat_int8": 1.0, "faces_found": 2, "frames": 2,
        "stages_median_ms": {"detect": 3.0, "liveness": 2.0}}}}}
    doc = tmp_path / "C.md"
    doc.write_text(f"intro\n{START}\nold\n{END}\ntail\n")
    write_docs(rep, doc)
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("tail\n") and "old" not in text
    assert cpu["model"] in text and "avx512_vnni" in text and "liveness 2.0" in text


def test_camera_block_goes_first_in_a_fresh_comparison(tmp_path):
    """Without markers (a freshly generated COMPARISON.md) the camera-frame block is inserted right under the title."""
    from benchmarks.camera import START, write_docs

    rep = {"cpu": {"model": "X", "machine": "x86_64", "cpus": 2, "flags": {"avx2": True}, "load_average": [1, 1, 1]},
           "images": 1, "load_average_after": [1, 1, 1], "skipped": {}, "sizes": {}}
    doc = tmp_path / "C.md"
    doc.write_text("# Side-by-side comparison\n\n## Accuracy\n")
    write_docs(rep, doc)
    text = doc.read_text()
    assert text.index(START) < text.index("## Accuracy") and text.startswith("# Side-by-side comparison\n")


def test_camera_target_line_per_frame_size_says_met_or_not():
    """The tracked frame → decision goal (≥ 3× OpenCV's reference) is stated per frame size from the measured ratio."""
    from benchmarks.camera import target_lines

    row = {"ratio_to_tepat_int8": 1.0}
    rep = {"sizes": {"1280x960": {"tepat-int8": row, "opencv-sface": {"ratio_to_tepat_int8": 4.31}},
                     "640x480": {"tepat-int8": row, "opencv-sface": {"ratio_to_tepat_int8": 2.42}},
                     "320x240": {"tepat-int8": row}}}
    text = "\n".join(target_lines(rep))
    assert "1280x960" in text and "4.31× — met" in text
    assert "2.42× — not met" in text
    assert "320x240: target not evaluated" in text


def test_machine_line_names_the_cpu_flags():
    """The dataset-crop tables carry the CPU's SIMD flags too (int8 speed depends on them)."""
    from benchmarks.report import machine

    assert "avx512_vnni" in machine() and "asimddp" in machine()


def test_camera_summary_replaces_its_own_benchmarks_section_only(tmp_path):
    """--write-docs keeps docs/BENCHMARKS.md's camera-frame section current: its own section replaced, the rest kept."""
    from benchmarks.camera import BENCH_SECTION, benchmarks_section
    from benchmarks.report import update_benchmarks_section

    rep = {"cpu": {"model": "Cortex-A76", "machine": "aarch64", "cpus": 4, "flags": {"asimddp": True, "avx2": False},
                   "load_average": [0.5, 0, 0]}, "images": 2, "load_average_after": [0.7, 0, 0], "skipped": {},
           "command": "python -m benchmarks.camera --images 2",
           "sizes": {"640x480": {"tepat-int8": {"median_ms": 30.0, "ratio_to_tepat_int8": 1.0,
                                                "stages_median_ms": {"detect": 6.0, "embed": 20.0, "liveness": 4.0}},
                                 "opencv-sface": {"ratio_to_tepat_int8": 3.2}}}}
    doc = tmp_path / "B.md"
    doc.write_text(f"# Benchmarks\n\n{BENCH_SECTION}\n\nstale\n\n## Next\n\nkept\n")
    update_benchmarks_section(doc, benchmarks_section(rep), BENCH_SECTION)
    text = doc.read_text()
    assert "stale" not in text and "## Next\n\nkept" in text and text.count(BENCH_SECTION) == 1
    assert "Cortex-A76" in text and "asimddp" in text and "--images 2" in text
    assert "| 640x480 | 30.0 | detect 6.0, embed 20.0, liveness 4.0 | 3.2× | – | – |" in text
    assert "3.20× — met" in text


def test_crop_target_does_not_call_an_unresolvable_accuracy_worse():
    """A small LIMIT cannot resolve TAR@FAR=1e-3: the target line says so instead of 'worse'."""
    from benchmarks.report import targets

    def system(tar, ratio):
        return {"acc": {}, "acc_common": {"tar": {"1e-3": tar}}, "ratio1": {"median": ratio}}

    res = {"systems": {"tepat-int8": system(None, 1.0), "opencv-sface": system(None, 2.1), "face_recognition": system(0.9, 9.0)}}
    lines = targets(res)
    assert "not resolvable on this subset" in lines[0] and "worse" not in lines[0]
    assert "not resolvable on this subset" in lines[1]
