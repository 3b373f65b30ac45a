"""Model files, manifest integrity, the TFLite runner and numerical agreement with the ONNX sources."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main as edge_main
from edge.errors import ModelError
from edge.face.models import TfliteModel, _from_output, _to_input, find_source_onnx, load_manifest, open_model
from model_build.manifest_io import update_entries
from model_build.sources import sha256_of
from tests.support import skip_or_fail

INT8_MIN_MEAN_COSINE = 0.993  # measured 0.9959 mean / 0.9887 min over 200 held-out faces (docs/MODELS.md)
INT8_MIN_COSINE = 0.98


@pytest.fixture()
def yunet_copy(models_dir: Path, tmp_path: Path) -> Path:
    """A models folder in tmp_path holding only the YuNet file and its manifest entry."""
    entry = load_manifest(models_dir).models["yunet_320"]
    shutil.copyfile(models_dir / entry.file, tmp_path / entry.file)
    (tmp_path / "manifest.json").write_text(json.dumps({"schema_version": 1, "models": {"yunet_320": entry.model_dump()}}))
    return tmp_path


def _flip_byte(path: Path, offset: int = 1000) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _source_or_skip(name: str) -> Path:
    try:
        return find_source_onnx(name)
    except ModelError as exc:
        skip_or_fail(f"source ONNX not available: {exc}")


@pytest.fixture(scope="session")
def heldout_faces(datasets_dir: Path) -> np.ndarray:
    """Eight aligned RGB faces from identities never used for int8 calibration."""
    from model_build.faces import aligned_faces, split_images, spread

    yunet = _source_or_skip("yunet")
    faces = aligned_faces(spread(split_images(datasets_dir).holdout, 12), yunet, limit=8)
    assert len(faces) == 8
    return faces


def test_every_manifest_file_exists_and_matches(models_dir: Path) -> None:
    """Each committed model file is present and has the sha256 the manifest records."""
    man = load_manifest(models_dir)
    assert {"yunet_320", "sface_fp32", "sface_int8", "blazeface_short"} <= set(man.models)
    for name, entry in man.models.items():
        path = models_dir / entry.file
        assert path.is_file(), f"{name}: {path} missing"
        assert sha256_of(path) == entry.sha256, name
        assert path.stat().st_size == entry.size, name


def test_manifest_documents_contracts(models_dir: Path) -> None:
    """Our models document licence, source and input/output tensors in the manifest."""
    man = load_manifest(models_dir)
    for name in ("yunet_320", "sface_fp32", "sface_int8", "blazeface_short", "blazeface_full"):
        entry = man.models[name]
        extra = entry.model_extra or {}
        assert extra["licence"] in ("MIT", "Apache-2.0")
        assert (models_dir / extra["licence_file"]).is_file()
        assert extra["source"]["pypi"] and extra["source"]["sha256"]
        assert entry.inputs and entry.outputs


def test_tampered_file_is_refused(yunet_copy: Path) -> None:
    """One flipped byte makes open_model raise ModelError naming the model and both hashes."""
    _flip_byte(yunet_copy / "face_detection_yunet_2023mar_320.tflite")
    with pytest.raises(ModelError) as err:
        open_model(yunet_copy, "yunet_320")
    msg = str(err.value)
    assert "yunet_320" in msg and "edge models build" in msg
    assert load_manifest(yunet_copy).models["yunet_320"].sha256 in msg


def test_missing_file_is_a_clear_error(yunet_copy: Path) -> None:
    """A missing model file raises ModelError naming the file."""
    (yunet_copy / "face_detection_yunet_2023mar_320.tflite").unlink()
    with pytest.raises(ModelError, match=r"yunet_320.*face_detection_yunet_2023mar_320\.tflite is missing"):
        open_model(yunet_copy, "yunet_320")


def test_unknown_model_and_bad_manifest(yunet_copy: Path, tmp_path: Path) -> None:
    """Unknown names, a missing manifest and a malformed manifest all raise ModelError."""
    with pytest.raises(ModelError, match="not in the manifest"):
        open_model(yunet_copy, "nope")
    with pytest.raises(ModelError, match="not found"):
        load_manifest(tmp_path / "absent")
    (yunet_copy / "manifest.json").write_text('{"models": {"x": {"file": "a", "sha256": "zz", "size": 1, "kind": "d"}}}')
    with pytest.raises(ModelError, match=r"invalid at models\.x\.sha256"):
        load_manifest(yunet_copy)


def test_verify_command_exit_codes(yunet_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`edge models verify` refuses a manifest the package does not pin (exit codes on the sealed release: test_models_seal.py)."""
    assert edge_main(["models", "verify", "--dir", str(yunet_copy)]) != 0
    out = capsys.readouterr().out
    assert "FAIL" in out and "the installed package pins" in out


def test_manifest_update_keeps_unknown_entries(yunet_copy: Path) -> None:
    """Read-modify-write of the manifest preserves entries and keys written by other tools."""
    raw = json.loads((yunet_copy / "manifest.json").read_text())
    raw["models"]["other"] = {"file": "o.tflite", "sha256": "0" * 64, "size": 1, "kind": "liveness", "custom": [1]}
    raw["note"] = "kept"
    (yunet_copy / "manifest.json").write_text(json.dumps(raw))
    update_entries(yunet_copy, {"yunet_320": {"size": 5}})
    after = json.loads((yunet_copy / "manifest.json").read_text())
    assert after["note"] == "kept" and after["models"]["other"]["custom"] == [1]
    assert after["models"]["yunet_320"]["size"] == 5 and after["models"]["yunet_320"]["sha256"] == raw["models"]["yunet_320"]["sha256"]


def test_quantized_io_round_trip() -> None:
    """int8 inputs are quantized with the tensor's scale/zero point and outputs dequantized back to float."""
    det = {"name": "x", "shape": np.array([1, 4]), "dtype": np.int8, "quantization": (0.5, -3)}
    q = _to_input(np.array([[0.0, 1.0, 100.0, -100.0]], np.float32), det, "m")
    assert q.dtype == np.int8 and q.tolist() == [[-3, -1, 127, -128]]
    assert _from_output(q, det).tolist() == [[0.0, 1.0, 65.0, -62.5]]
    with pytest.raises(ValueError, match="expects shape"):
        _to_input(np.zeros((2, 4), np.float32), det, "m")


def test_yunet_outputs_follow_manifest_order(models_dir: Path) -> None:
    """Outputs come back in the manifest's order (cls, obj, bbox, kps for strides 8/16/32), mapped by tensor name."""
    man = load_manifest(models_dir).models["yunet_320"]
    with open_model(models_dir, "yunet_320") as model:
        outs = model(np.zeros((1, 320, 320, 3), np.float32))
    assert [list(o.shape) for o in outs] == [o.shape for o in man.outputs]
    with pytest.raises(ModelError, match="closed"):
        model(np.zeros((1, 320, 320, 3), np.float32))
    assert [o.name for o in man.outputs][:3] == ["cls_8", "cls_16", "cls_32"]


def test_output_tensor_names_are_checked(models_dir: Path) -> None:
    """A manifest naming an output tensor the file lacks is refused at load."""
    entry = load_manifest(models_dir).models["sface_fp32"]
    with pytest.raises(ModelError, match="no output tensor"):
        TfliteModel(models_dir / entry.file, sha256=entry.sha256, name="sface_fp32", output_tensors=["nope"])


@pytest.mark.shared
def test_yunet_tflite_matches_onnx_at_320(models_dir: Path, datasets_dir: Path, tmp_path: Path) -> None:
    """With the ONNX fixed to 320x320 (as the build does), every output matches within 1e-4."""
    pytest.importorskip("onnx")
    import cv2

    from model_build.check import letterbox_bgr, ort_session
    from model_build.convert import prepare_yunet

    onnx320 = prepare_yunet(_source_or_skip("yunet"), tmp_path / "yunet_320.onnx")
    man = load_manifest(models_dir).models["yunet_320"]
    sess = ort_session(onnx320)
    with open_model(models_dir, "yunet_320") as model:
        for photo in ("faces/Barack_Obama/1.jpg", "hard/group/" + sorted(p.name for p in (datasets_dir / "hard" / "group").iterdir())[0]):
            frame = letterbox_bgr(cv2.imread(str(datasets_dir / photo)), 320).astype(np.float32)
            ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": frame.transpose(2, 0, 1)[None]})))
            for spec, out in zip(man.outputs, model(frame)):
                assert np.abs(out - ref[spec.name]).max() < 1e-4, (photo, spec.name)


@pytest.mark.shared
def test_sface_fp32_matches_onnx(models_dir: Path, heldout_faces: np.ndarray) -> None:
    """fp32 SFace TFLite embeddings agree with onnxruntime on the source ONNX (cosine > 0.999)."""
    from model_build.check import cosine_rows, sface_onnx_embeddings

    ref = sface_onnx_embeddings(_source_or_skip("sface"), heldout_faces)
    with open_model(models_dir, "sface_fp32") as model:
        got = np.concatenate([model(f[None])[0] for f in heldout_faces])
    assert cosine_rows(got, ref).min() > 0.999


@pytest.mark.shared
def test_sface_int8_close_to_fp32(models_dir: Path, heldout_faces: np.ndarray) -> None:
    """int8 SFace embeddings stay close to fp32 on faces of identities never used for calibration."""
    from model_build.check import cosine_rows

    with open_model(models_dir, "sface_fp32") as fp32, open_model(models_dir, "sface_int8") as int8:
        a = np.concatenate([fp32(f)[0] for f in heldout_faces])
        b = np.concatenate([int8(f)[0] for f in heldout_faces])
    cos = cosine_rows(a, b)
    assert cos.mean() >= INT8_MIN_MEAN_COSINE and cos.min() >= INT8_MIN_COSINE, cos
    # and different people stay apart: the int8 model is not collapsing embeddings
    off = cosine_rows(b, np.roll(b, 1, axis=0))
    assert off.max() < 0.6


def test_find_source_unknown_name() -> None:
    """Asking for an unknown source model is a ModelError listing the known ones."""
    with pytest.raises(ModelError, match="known:"):
        find_source_onnx("resnet")


def test_int8_embedder_is_one_xnnpack_partition(models_dir: Path) -> None:
    """The shipped int8 SFace runs as a single XNNPACK partition with no op left outside; naive int8 would give 28."""
    from model_build.check import delegate_partitions

    parts = delegate_partitions(models_dir / load_manifest(models_dir).models["sface_int8"].file)
    assert parts["partitions"] == 1 and parts["ops_outside_xnnpack"] == {}


def test_list_command_prints_every_model(models_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`edge models list` prints one row per manifest entry."""
    assert edge_main(["models", "list", "--dir", str(models_dir)]) == 0
    out = capsys.readouterr().out
    for name in load_manifest(models_dir).models:
        assert name in out


def test_build_without_toolchain_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the [models] extra the build stops with one line naming pip install -e '.[models]'."""
    import sys

    from model_build.build import require_toolchain

    monkeypatch.setitem(sys.modules, "onnx2tf", None)
    with pytest.raises(ModelError, match=r"onnx2tf.*pip install -e '\.\[models\]'"):
        require_toolchain()
