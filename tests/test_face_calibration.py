"""Identity-disjoint calibration, safety margin, measured rates at the shipped thresholds, pairs files with identity columns,
and the liveness threshold choice: small synthetic data, no models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.errors import EdgeError
from edge.face import calibration
from edge.face.evaluate import at_shipped_thresholds, calibrate, image_identities, read_pairs
from edge.face.liveness_calibration import attack_catch, frr, fuse, threshold_for_frr


def _people(n_ids: int = 400, per_id: int = 3, seed: int = 0, spread: float = 0.35) -> tuple[np.ndarray, list[str]]:
    """Unit embeddings: each identity a random centre, its images that centre plus noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_ids, 32))
    rows, ids = [], []
    for i in range(n_ids):
        for _ in range(per_id):
            v = centres[i] / np.linalg.norm(centres[i]) + rng.normal(scale=spread / np.sqrt(32), size=32)
            rows.append(v / np.linalg.norm(v))
            ids.append(f"person_{i:04d}")
    return np.asarray(rows, np.float32), ids


def _data(matrix: np.ndarray, ids: list[str]) -> dict:
    gen, gen_ids = [], []
    for r in range(0, len(ids) - 1):
        if ids[r] == ids[r + 1]:
            gen.append(float(matrix[r] @ matrix[r + 1]))
            gen_ids.append(ids[r])
    return {"matrix": matrix, "identities": ids, "genuine": np.asarray(gen), "genuine_identities": gen_ids,
            "impostor": np.zeros(0), "cross_identity": np.zeros(0)}


def test_split_is_stable_and_roughly_half():
    """The split depends only on the identity's name and puts about half the identities on each side."""
    names = [f"id{i}" for i in range(2000)]
    sides = [calibration.split_of(n) for n in names]
    assert sides == [calibration.split_of(n) for n in names]
    assert 0.45 < sides.count("calibration") / len(sides) < 0.55


def test_cross_scores_match_the_brute_force_pairs():
    """Block-wise cross-identity scores equal every unordered different-identity pair, and nothing else."""
    m, ids = _people(n_ids=150, per_id=3)
    codes = calibration.codes(ids)
    got = np.sort(calibration.cross_scores(m, codes))
    full = m @ m.T
    want = np.sort([full[i, j] for i in range(len(ids)) for j in range(i + 1, len(ids)) if ids[i] != ids[j]])
    assert got.size == want.size and np.allclose(got, want, atol=1e-6)
    rows = np.arange(0, len(ids), 2)
    assert calibration.cross_scores(m, codes, rows).size == sum(
        1 for a in range(rows.size) for b in range(a + 1, rows.size) if ids[rows[a]] != ids[rows[b]])


def test_calibration_never_sees_held_out_identities_and_holds_far_there():
    """Thresholds come from calibration identities only (changing held-out people changes nothing) and the
    margin keeps the held-out false-accept rate at or below target."""
    m, ids = _people()
    cal = calibrate(_data(m, ids), rounds=3)
    assert cal["split"]["calibration_identities"] + cal["split"]["held_out_identities"] == 400
    assert all(v is not None and v >= 0 for k, v in cal["safety_margin"].items() if k in ("1e-2", "1e-3"))
    for k in ("1e-2", "1e-3"):
        assert cal["thresholds"][k] == pytest.approx(cal["fitted_thresholds"][k] + cal["safety_margin"][k], abs=1e-5)
        held = cal["held_out_at_shipped"][k]
        assert held["far"] <= held["target_far"] * 1.5 and held["tar"] > 0.5
    # scramble every held-out embedding: the shipped thresholds do not move
    held_rows = [r for r, i in enumerate(ids) if calibration.split_of(i) == "held_out"]
    m2 = m.copy()
    m2[held_rows] = m2[held_rows][::-1]
    assert calibrate(_data(m2, ids), rounds=3)["thresholds"] == cal["thresholds"]


def test_at_shipped_thresholds_reports_far_and_tar_for_1to1_and_1toN_on_unseen_people():
    """at_shipped_thresholds measures FAR and TAR at the stored thresholds, excluding calibration identities."""
    m, ids = _people()
    data = _data(m, ids)
    entry = {"pairs_file": "synthetic", **calibrate(data, rounds=2)}
    out = at_shipped_thresholds(data, entry, 1e-2, 1e-3, 0.05)
    assert out["excluded_calibration_identities"] == entry["split"]["calibration_identities"]
    assert out["evaluated_identities"] == entry["split"]["held_out_identities"]
    for mode in ("1:1", "1:N"):
        assert 0 <= out[mode]["far"] <= 1 and 0 < out[mode]["tar"] <= 1
    assert out["1:1"]["threshold"] == entry["thresholds"]["1e-2"] and out["1:N"]["gallery"] > 50
    legacy = at_shipped_thresholds(data, {"thresholds": entry["thresholds"]}, 1e-2, 1e-3, 0.05)
    assert legacy["excluded_calibration_identities"] == 0  # no split recorded: nothing known to exclude


def test_pairs_file_with_identity_columns(tmp_path: Path):
    """identity_a/identity_b override the folder, so a folder holding several people is grouped correctly."""
    f = tmp_path / "p.csv"
    f.write_text("path_a,path_b,same,identity_a,identity_b\n"
                 "mixed/1.jpg,mixed/2.jpg,0,ann,bob\n"
                 "mixed/1.jpg,other/3.jpg,1,ann,ann\n")
    pairs = read_pairs(f)
    assert image_identities(pairs) == {"mixed/1.jpg": "ann", "mixed/2.jpg": "bob", "other/3.jpg": "ann"}
    f.write_text("path_a,path_b,same,identity_a,identity_b\nx/1.jpg,x/2.jpg,1,ann,bob\n")
    with pytest.raises(EdgeError, match="line 2: same=1 but identities"):
        read_pairs(f)
    f.write_text("path_a,path_b,same,identity_a\nx/1.jpg,x/2.jpg,1,ann\n")
    with pytest.raises(EdgeError, match="identity_a but not its partner"):
        read_pairs(f)
    f.write_text("path_a,path_b,same,identity_a,identity_b\na.jpg,b.jpg,0,ann,bob\na.jpg,c.jpg,0,cat,bob\n")
    with pytest.raises(EdgeError, match="a.jpg is labelled both"):
        image_identities(read_pairs(f))


def test_liveness_threshold_holds_the_frr_in_every_group():
    """The chosen threshold refuses at most the target share of genuine scores overall and in each group."""
    rng = np.random.default_rng(1)
    groups = {"all": rng.beta(5, 1, 3000), "sea": rng.beta(3, 1, 150)}
    t = threshold_for_frr(groups, 0.03)
    assert all(frr(v, t) <= 0.03 for v in groups.values())
    assert max(frr(v, t + 0.01) for v in groups.values()) > 0.03 - 0.01  # not needlessly low
    assert attack_catch({"a": 0.01, "b": 0.5}, 0.2) == {"caught": 1, "attacks": 2, "missed": ["b"]}


def test_liveness_fusion_rules():
    """Geometric mean is low when either model is sure it is an attack; mean is upstream's average."""
    assert fuse({"a": 0.9, "b": 0.1}) == pytest.approx(0.5)
    assert fuse({"a": 0.9, "b": 0.001}, "geomean") == pytest.approx(0.03, abs=1e-3)
    with pytest.raises(ValueError, match="unknown liveness fusion"):
        fuse({"a": 1.0}, "max")
