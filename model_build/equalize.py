"""Make the SFace ONNX graph friendlier to per-tensor int8 activations, without changing its function.

1. Fold every BatchNormalization that follows a Conv into the Conv's weights and bias.
2. Cross-layer range equalization for each Conv -> PReLU -> Conv chain (SmoothQuant-style, data-aware):
   PReLU is positively homogeneous per channel (PReLU(s*y) = s*PReLU(y) for s > 0), so output channel c of
   the first conv can be divided by s_c and input channel c of the next conv multiplied by s_c. We choose
   s_c = max|y_c|^alpha / max|W2[:, c]|^(1 - alpha), measured on calibration faces, which evens out the
   per-channel activation ranges that a single int8 scale per tensor must cover.
The float function is unchanged (checked against onnxruntime by the caller).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)


def _attr(node, name: str, default):
    return next((a.i if a.type == a.INT else a.f for a in node.attribute if a.name == name), default)


def fold_batchnorm(nodes: list, inits: dict[str, np.ndarray]) -> list:
    consumers: dict[str, int] = {}
    for n in nodes:
        for i in n.input:
            consumers[i] = consumers.get(i, 0) + 1
    producer = {o: n for n in nodes for o in n.output}
    keep = []
    for n in nodes:
        prod = producer.get(n.input[0]) if n.op_type == "BatchNormalization" else None
        if prod is not None and prod.op_type == "Conv" and consumers[n.input[0]] == 1:
            gamma, beta, mean, var = (inits[x] for x in n.input[1:5])
            k = gamma / np.sqrt(var + _attr(n, "epsilon", 1e-5))
            w = inits[prod.input[1]]
            b = inits[prod.input[2]] if len(prod.input) > 2 else np.zeros(w.shape[0], np.float32)
            inits[prod.input[1]] = (w * k[:, None, None, None]).astype(np.float32)
            bname = prod.input[1] + "_folded_bias"
            inits[bname] = ((b - mean) * k + beta).astype(np.float32)
            if len(prod.input) > 2:
                prod.input[2] = bname
            else:
                prod.input.append(bname)
            prod.output[0] = n.output[0]
            continue
        keep.append(n)
    return keep


def conv_prelu_conv_chains(nodes: list) -> list[tuple]:
    producer = {o: n for n in nodes for o in n.output}
    consumers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    chains = []
    for n in nodes:
        if n.op_type != "PRelu":
            continue
        first = producer.get(n.input[0])
        nxt = consumers.get(n.output[0], [])
        if first is not None and first.op_type == "Conv" and len(nxt) == 1 and nxt[0].op_type == "Conv":
            chains.append((first, n, nxt[0]))
    return chains


def equalize(src: Path, dst: Path, faces_rgb: np.ndarray, alpha: float = 0.75, max_faces: int = 128) -> int:
    """Write the folded + equalized model to ``dst``; returns the number of equalized conv pairs."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in g.initializer}
    nodes = fold_batchnorm(list(g.node), inits)
    chains = conv_prelu_conv_chains(nodes)

    def model(outputs) -> onnx.ModelProto:
        graph = helper.make_graph(nodes, g.name, g.input, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
        return helper.make_model(graph, opset_imports=m.opset_import, ir_version=m.ir_version)

    probe = model(list(g.output) + [helper.make_empty_tensor_value_info(c[0].output[0]) for c in chains])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(probe.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [c[0].output[0] for c in chains]
    amax: list[np.ndarray] | None = None
    for face in faces_rgb[:max_faces]:
        outs = sess.run(names, {g.input[0].name: face.transpose(2, 0, 1)[None].astype(np.float32)})
        cur = [np.abs(o[0]).reshape(o.shape[1], -1).max(1) for o in outs]
        amax = cur if amax is None else [np.maximum(a, c) for a, c in zip(amax, cur)]
    assert amax is not None
    for (first, _prelu, second), act in zip(chains, amax):
        w2 = inits[second.input[1]]
        depthwise = _attr(second, "group", 1) != 1
        wmax = np.abs(w2).reshape(w2.shape[0], -1).max(1) if depthwise else np.abs(w2).max(axis=(0, 2, 3))
        s = np.maximum(act, 1e-5) ** alpha / np.maximum(wmax, 1e-8) ** (1 - alpha)
        s = (s / np.exp(np.mean(np.log(s)))).astype(np.float32)
        inits[first.input[1]] = inits[first.input[1]] / s[:, None, None, None]
        inits[first.input[2]] = inits[first.input[2]] / s
        inits[second.input[1]] = w2 * (s[:, None, None, None] if depthwise else s[None, :, None, None])
    out = model(list(g.output))
    onnx.checker.check_model(out)
    onnx.save(out, str(dst))
    logger.info("folded batch norms and equalized %d conv pairs (alpha %.2f)", len(chains), alpha)
    return len(chains)
