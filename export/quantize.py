"""Static INT8 quantization (QDQ) with ONNX Runtime's tools, front end kept in float.

Only the model's Conv / MatMul / Gemm layers are quantized: quantizing the convolution-STFT,
the mel projection or the log destroys the features (PITFALLS.md). Weights and activations are
symmetric int8 (zero point 0), per-channel weights: the explicit-quantization form TensorRT
accepts. Calibration uses windows of training clips.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeemo.contract import FRONTEND_NODE_PREFIX, KEY_INT8_FLOAT_NODES, KEY_QUANTIZATION
from edgeemo.fileio import atomic_write_bytes

from .metadata import get_metadata, set_metadata

log = logging.getLogger("edgeemo.export")


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    n_bytes: int
    quantized_nodes: int
    excluded_nodes: tuple[str, ...]


class _WindowReader:
    """onnxruntime ``CalibrationDataReader`` over batches of audio windows."""

    def __init__(self, windows: np.ndarray, batch: int = 8) -> None:
        self._batches: Iterator[np.ndarray] = iter(
            [windows[i : i + batch] for i in range(0, len(windows), batch)]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"audio": batch.astype(np.float32)}


def calibration_windows(waves: Sequence[np.ndarray], window: int, n_windows: int, seed: int = 0) -> np.ndarray:
    """``n_windows`` random windows (one per clip, clips drawn without replacement when possible)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(waves))
    out = []
    for k in range(n_windows):
        wave = waves[order[k % len(waves)]]
        if len(wave) < window:
            wave = np.pad(wave, (0, window - len(wave)))
        start = int(rng.integers(0, len(wave) - window + 1))
        out.append(wave[start : start + window])
    return np.stack(out).astype(np.float32)


def _keep_in_float(node: "onnx.NodeProto", model: "onnx.ModelProto") -> bool:  # noqa: F821
    """Front-end nodes, and convolutions over a single input channel.

    A one-channel input conv has few weights and huge activations: in int8 it ran 7x slower
    than in float on ONNX Runtime's CPU kernels here, and it sees the raw features.
    """
    if node.name.startswith(FRONTEND_NODE_PREFIX):
        return True
    if node.op_type == "Conv" and len(node.input) > 1:
        weights = {init.name: init for init in model.graph.initializer}
        weight = weights.get(node.input[1])
        if weight is not None and len(weight.dims) == 4 and weight.dims[1] == 1:
            return True
    return False


def rewrite_float_maxpools(model: "onnx.ModelProto") -> int:  # noqa: F821
    """Replace 2x2/stride-2 float ``MaxPool`` nodes over even-sized maps by ``Max`` of 4 strided slices.

    Exactly the same values. Why: in the INT8 graph the pooling after the float input conv loses
    ONNX Runtime's blocked-layout (NCHWc) kernel and falls back to its generic NCHW MaxPool, which
    took 0.9 ms of a 2.5 ms window here; four strided slices and a Max take about 0.4 ms.
    Pools fed by quantized data (DequantizeLinear) are left to ONNX Runtime's int8 fusions.
    """
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {
        vi.name: [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    producer = {o: n for n in graph.node for o in n.output}
    count = 0
    for pool in list(graph.node):
        if pool.op_type != "MaxPool" or len(pool.output) != 1:
            continue
        source = producer.get(pool.input[0])
        if source is None or source.op_type == "DequantizeLinear":
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in pool.attribute}
        if list(attrs.get("kernel_shape", [])) != [2, 2] or list(attrs.get("strides", [])) != [2, 2]:
            continue
        if any(attrs.get("pads", [0])) or attrs.get("ceil_mode", 0) or list(attrs.get("dilations", [1, 1])) != [1, 1]:
            continue
        shape = shapes.get(pool.input[0])
        if not shape or len(shape) != 4 or any(d is None or d % 2 for d in shape[2:]):
            continue
        name, x = pool.name, pool.input[0]

        def const(suffix: str, values: list[int]) -> str:
            graph.initializer.append(numpy_helper.from_array(np.array(values, dtype=np.int64), f"{name}_{suffix}"))
            return f"{name}_{suffix}"

        axes, steps, ends = const("axes", [2, 3]), const("steps", [2, 2]), const("ends", list(shape[2:]))
        slices = [
            helper.make_node("Slice", [x, const(f"start{i}{j}", [i, j]), ends, axes, steps],
                             [f"{name}_slice{i}{j}"], name=f"{name}/slice{i}{j}")
            for i in (0, 1) for j in (0, 1)
        ]
        new_max = helper.make_node("Max", [n.output[0] for n in slices], [pool.output[0]], name=f"{name}/max")
        at = list(graph.node).index(pool)
        graph.node.remove(pool)
        for k, node in enumerate([*slices, new_max]):
            graph.node.insert(at + k, node)
        count += 1
    return count


def quantize_int8(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    calibration: np.ndarray,
    *,
    per_channel: bool = True,
    also_float: Callable[["onnx.NodeProto", "onnx.ModelProto"], bool] | None = None,  # noqa: F821
) -> QuantizeResult:
    """Write an INT8 QDQ copy of ``fp32_path`` calibrated on ``calibration`` windows.

    ``also_float(node, model)`` keeps more nodes in float beyond the front end and one-channel
    convolutions (they are listed in the ``int8_float_nodes`` metadata)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(fp32_path))
    excluded = tuple(n.name for n in model.graph.node
                     if _keep_in_float(n, model) or (also_float is not None and also_float(n, model)))
    to_quantize = ["Conv", "MatMul", "Gemm"]
    out = Path(out_path)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "int8.onnx"
        quantize_static(
            str(fp32_path),
            str(raw),
            _WindowReader(calibration),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            op_types_to_quantize=to_quantize,
            nodes_to_exclude=list(excluded),
            calibrate_method=CalibrationMethod.MinMax,
            # int32 biases behind a DequantizeLinear are rejected by TensorRT's ONNX parser
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False},
        )
        quantized = onnx.load(str(raw))
    rewritten = rewrite_float_maxpools(quantized)
    meta = get_metadata(model)
    meta[KEY_QUANTIZATION] = "int8-qdq"
    # layers deliberately left in float beyond the front end (the TensorRT check reads this)
    meta[KEY_INT8_FLOAT_NODES] = ",".join(n for n in excluded if not n.startswith(FRONTEND_NODE_PREFIX))
    del quantized.metadata_props[:]
    set_metadata(quantized, meta)
    quantized.producer_name = "edgeemo"
    atomic_write_bytes(out, quantized.SerializeToString())
    n_q = sum(1 for n in quantized.graph.node if n.op_type == "DequantizeLinear")
    log.info("quantized %s -> %s (%d DequantizeLinear nodes, %d float MaxPool rewritten)", fp32_path, out, n_q, rewritten)
    return QuantizeResult(out, out.stat().st_size, n_q, excluded)
