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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .metadata import FRONTEND_NODE_PREFIX, get_metadata, set_metadata

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


def quantize_int8(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    calibration: np.ndarray,
    *,
    per_channel: bool = True,
) -> QuantizeResult:
    """Write an INT8 QDQ copy of ``fp32_path`` calibrated on ``calibration`` windows."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(fp32_path))
    excluded = tuple(n.name for n in model.graph.node if _keep_in_float(n, model))
    to_quantize = ["Conv", "MatMul", "Gemm"]
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
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
    meta = get_metadata(model)
    meta["quantization"] = "int8-qdq"
    # layers deliberately left in float beyond the front end (the TensorRT check reads this)
    meta["int8_float_nodes"] = ",".join(n for n in excluded if not n.startswith(FRONTEND_NODE_PREFIX))
    del quantized.metadata_props[:]
    set_metadata(quantized, meta)
    quantized.producer_name = "edgeemo"
    tmp_out = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    onnx.save(quantized, str(tmp_out))
    os.replace(tmp_out, out)
    n_q = sum(1 for n in quantized.graph.node if n.op_type == "DequantizeLinear")
    log.info("quantized %s -> %s (%d DequantizeLinear nodes)", fp32_path, out, n_q)
    return QuantizeResult(out, out.stat().st_size, n_q, excluded)
