"""What each shipped model is: source, licence and input/output contract (manifest metadata).

The build adds the measured parts (file, sha256, size, tool versions, command, validation).
"""

from __future__ import annotations

from typing import Any

from model_build.sources import SOURCES, SourceFile

YUNET_OUTPUTS = [
    (kind, stride, n, c)
    for kind, c in (("cls", 1), ("obj", 1), ("bbox", 4), ("kps", 10))
    for stride, n in ((8, 1600), (16, 400), (32, 100))
]
YUNET_DESC = {
    "cls": "face class score after sigmoid, one per prior (row-major over the stride's grid)",
    "obj": "objectness after sigmoid; OpenCV's score = sqrt(clip(cls,0,1) * clip(obj,0,1))",
    "bbox": "box regression (dx, dy, log w, log h) in units of the stride, relative to the grid cell",
    "kps": "5 landmarks (x, y) in units of the stride relative to the grid cell: right eye, left eye, nose tip, right mouth corner, left mouth corner (image-left first as OpenCV's FaceDetectorYN returns them)",
}


def _source(src: SourceFile) -> dict[str, Any]:
    return {
        "pypi": src.wheel.requirement,
        "wheel_sha256": src.wheel.sha256,
        "path_in_wheel": src.path_in_wheel,
        "file": src.name,
        "sha256": src.sha256,
        "upstream": src.upstream,
    }


def yunet() -> dict[str, Any]:
    src = SOURCES["face_detection_yunet_2023mar.onnx"]
    return {
        "kind": "detector",
        "family": "yunet",
        "description": "YuNet face detector (OpenCV Zoo 2023mar), fixed 320x320 input, fp32 TFLite.",
        "licence": src.licence,
        "licence_file": "LICENSES/MIT.txt",
        "source": _source(src),
        "inputs": [
            {
                "name": "input",
                "tensor": "input",
                "shape": [1, 320, 320, 3],
                "dtype": "float32",
                "layout": "NHWC",
                "colour": "BGR",
                "range": [0, 255],
                "description": "BGR pixels 0..255, no mean/std, as cv2.FaceDetectorYN feeds it (dnn.blobFromImage with scale 1, no swapRB). Letterbox: scale the frame so its long side is 320, pad right/bottom with zeros.",
            }
        ],
        "outputs": [
            {
                "name": f"{kind}_{stride}",
                "tensor": "Identity" if i == 0 else f"Identity_{i}",
                "shape": [1, n, c],
                "dtype": "float32",
                "stride": stride,
                "description": YUNET_DESC[kind],
            }
            for i, (kind, stride, n, c) in enumerate(YUNET_OUTPUTS)
        ],
        "preprocessing": "letterbox to 320x320 (top-left aligned, zero padding), BGR float32 0..255, NHWC",
        "postprocessing": "decode per stride s, grid cell (col,row): cx=(col+dx)*s, cy=(row+dy)*s, w=exp(lw)*s, h=exp(lh)*s; landmarks (col+kx)*s, (row+ky)*s; score=sqrt(cls*obj); NMS IoU 0.3 (OpenCV defaults).",
    }


def sface(variant: str) -> dict[str, Any]:
    src = SOURCES["face_recognition_sface_2021dec.onnx"]
    desc = {
        "fp32": "SFace (OpenCV Zoo 2021dec) face embedder, fp32 TFLite converted with onnx2tf.",
        "int8": "SFace (OpenCV Zoo 2021dec) face embedder, int8-quantized TFLite (float32 input/output; see docs/MODELS.md).",
    }[variant]
    return {
        "kind": "embedder",
        "family": "sface",
        "variant": variant,
        "description": desc,
        "licence": src.licence,
        "licence_file": "LICENSES/Apache-2.0.txt",
        "source": _source(src),
        "inputs": [
            {
                "name": "data",
                "tensor": "data",
                "shape": [1, 112, 112, 3],
                "dtype": "float32",
                "layout": "NHWC",
                "colour": "RGB",
                "range": [0, 255],
                "description": "RGB face aligned to the 5-point ArcFace 112x112 template, raw 0..255 (no mean/std).",
            }
        ],
        "outputs": [
            {
                "name": "fc1",
                "tensor": "Identity",
                "shape": [1, 128],
                "dtype": "float32",
                "description": "128-d embedding; L2-normalise and compare by cosine (OpenCV reference threshold 0.363).",
            }
        ],
        "preprocessing": "align with cv2.estimateAffinePartial2D to template [[38.2946,51.6963],[73.5318,51.5014],[56.0252,71.7366],[41.5493,92.3655],[70.7299,92.2041]], warpAffine to 112x112, BGR->RGB, float32",
        "alignment_template": [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    }


def blazeface(rng: str) -> dict[str, Any]:
    size, anchors, tensors = {
        "short": (128, 896, ("regressors", "classificators")),
        "full": (192, 2304, ("reshaped_regressor_face_4", "reshaped_classifier_face_4")),
    }[rng]
    src = SOURCES[f"face_detection_{rng}_range.tflite"]
    return {
        "kind": "detector",
        "family": "blazeface",
        "description": f"MediaPipe BlazeFace {rng}-range face detector, fp32 TFLite, copied unchanged from the wheel.",
        "licence": src.licence,
        "licence_file": "LICENSES/Apache-2.0.txt",
        "source": _source(src),
        "inputs": [
            {
                "name": "input",
                "tensor": "input",
                "shape": [1, size, size, 3],
                "dtype": "float32",
                "layout": "NHWC",
                "colour": "RGB",
                "range": [-1, 1],
                "description": f"RGB letterboxed to {size}x{size}, scaled to -1..1 (x/127.5 - 1).",
            }
        ],
        "outputs": [
            {
                "name": "regressors",
                "tensor": tensors[0],
                "shape": [1, anchors, 16],
                "dtype": "float32",
                "description": "per anchor: box (cx, cy, w, h) offsets then 6 keypoints (x, y) in input pixels relative to the anchor: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion",
            },
            {
                "name": "classificators",
                "tensor": tensors[1],
                "shape": [1, anchors, 1],
                "dtype": "float32",
                "description": "per anchor logit; score = sigmoid(clip(x, -100, 100))",
            },
        ],
        "preprocessing": f"letterbox to {size}x{size}, RGB, x/127.5-1",
        "postprocessing": "MediaPipe SSD anchors (short range: strides 8,16,16,16, 128 px; full range: stride 4, 192 px), decode, weighted NMS",
    }
