"""The small Whisper student -> ONNX (raw PCM in, probabilities out, Whisper log-mel inside), and
its INT8 copy.

Export follows :mod:`edgeemo.export.onnx_export`: torch's dynamo exporter with a dynamic batch,
front-end nodes named ``frontend/...``, per-node debugging metadata dropped, the large fixed
front-end constants stored as float16 + ``Cast``. The graph is plain Conv / MatMul / LayerNorm /
Softmax / Reduce ops (no STFT), so the TensorRT check applies unchanged.

INT8 (:func:`quantize_small`): static QDQ of the weight matmuls and convolutions; kept in float by
default (measured on the folds, docs/results/small_student.md): the front end, Whisper's first
convolution (it sees the log-mel directly), the attention matmuls between two activations
(``Q·Kᵀ`` and ``softmax·V``) and the head. LayerNorm, Softmax and the pooling statistics are never
quantized (only Conv / MatMul / Gemm are).
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from edgeemo.contract import KEY_FRONTEND, build_metadata
from edgeemo.fileio import atomic_write_bytes
from edgeemo.train.models.whisper_small import (
    EncoderLayer,
    HOP_LENGTH,
    N_FFT,
    SAMPLE_RATE,
    WhisperSmall,
)
from torch import nn

from .metadata import set_metadata
from .onnx_export import _rename_and_strip, _store_large_constants_fp16
from .quantize import QuantizeResult, quantize_int8

__all__ = ["EXPORT_LAYOUT", "FLOAT_PARTS", "SMALL_LICENSE", "SmallExport", "export_small", "fuse_attention_projections",
           "quantize_small", "small_metadata"]

log = logging.getLogger("edgeemo.export")

SMALL_LICENSE = (
    "CC BY-NC-SA 4.0 (non-commercial; trained on RAVDESS, Livingstone & Russo 2018); "
    "Whisper encoder weights MIT (Copyright (c) 2022 OpenAI)"
)
WHISPER_FRONTEND = (f"whisper-logmel n_fft={N_FFT} hop={HOP_LENGTH} n_mels={{n_mels}} slaney log10 "
                    "floor=max-8 scale=(x+4)/4 conv-stft")
EXPORT_LAYOUT = "qkv-fused"
"""How :func:`export_small` lays out the graph (recorded with INT8 fold scores; before it: separate q/k/v)."""
FLOAT_PARTS = ("conv1", "attention", "head")
"""What :func:`quantize_small` can keep in float besides the front end (all of them by default)."""


@dataclass(frozen=True)
class SmallExport:
    path: Path
    n_bytes: int
    learned_parameters: int
    metadata: dict[str, str]


class _FusedProjectionsLayer(nn.Module):
    """An :class:`EncoderLayer` with its q, k and v projections as one ``[d, 3 d]`` matmul (k's
    missing bias as zeros): the same function, one graph node where there were three.

    Why: ONNX Runtime fuses a quantized matmul into ``QLinearMatMul`` only when the activation's
    DequantizeLinear feeds that one node. Three projections sharing the layer norm's output keep
    their weights dequantized to float on every call and run float matmuls (measured: 13 float
    MatMul and 37 DequantizeLinear nodes per window, against 7 and 13 fused; 18 -> 11 ms kernel
    time per window on this CPU). q's 1/sqrt(head_dim) scale stays after the split so q, k and v
    share one activation range of similar magnitudes."""

    def __init__(self, layer: EncoderLayer) -> None:
        super().__init__()
        self.layer = layer
        d = layer.q.in_features
        self.qkv = nn.Linear(d, 3 * d)
        with torch.no_grad():
            self.qkv.weight.copy_(torch.cat([layer.q.weight, layer.k.weight, layer.v.weight]))
            self.qkv.bias.copy_(torch.cat([layer.q.bias, torch.zeros(d), layer.v.bias]))
        del layer.q, layer.k, layer.v  # (a copy's) now in qkv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layer = self.layer
        q, k, v = self.qkv(layer.attn_norm(x)).chunk(3, dim=-1)
        q = layer._heads(q) * (layer.head_dim ** -0.5)
        k, v = layer._heads(k), layer._heads(v)
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)), dim=-1)
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(x.shape)
        x = x + layer.out(ctx)
        return x + layer.fc2(nn.functional.gelu(layer.fc1(layer.mlp_norm(x))))


def fuse_attention_projections(model: WhisperSmall) -> WhisperSmall:
    """A copy of ``model`` whose layers compute q, k and v with one matmul (for export)."""
    fused = copy.deepcopy(model).eval()
    fused.encoder.layers = nn.ModuleList(
        layer if isinstance(layer, _FusedProjectionsLayer) else _FusedProjectionsLayer(layer)
        for layer in fused.encoder.layers)
    return fused


class _Wrapper(nn.Module):
    def __init__(self, model: WhisperSmall) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(audio)
        return torch.softmax(out["logits"], dim=1), out["embedding"]


def small_metadata(model: WhisperSmall, *, model_name: str, model_version: str, training_data: str,
                   quantization: str = "fp32", metrics: Mapping[str, float] | None = None,
                   extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Contract metadata of a small student (Whisper front end described in ``frontend``)."""
    cfg = model.cfg
    model_cfg = {  # the model config's labels and window fields, as build_metadata reads them
        **cfg.to_dict(), "valence_arousal": False,
        "frontend": {"sample_rate": SAMPLE_RATE, "n_fft": N_FFT, "hop_length": HOP_LENGTH, "n_mels": cfg.n_mels,
                     "f_min": 0.0, "f_max": SAMPLE_RATE / 2},
    }
    info = {
        KEY_FRONTEND: WHISPER_FRONTEND.format(n_mels=cfg.n_mels),
        "learned_parameters": str(model.learned_parameters),
        "architecture": (f"whisper-{cfg.whisper_size} conv stem + {cfg.n_layers} of {cfg.encoder_layers} layers, "
                         f"mean+std pooled, layer-weighted head ({cfg.hidden})"),
        **dict(extra or {}),
    }
    return build_metadata(model_cfg, model_name=model_name, model_version=model_version, training_data=training_data,
                          license=SMALL_LICENSE, quantization=quantization, metrics=metrics, extra=info)


def export_small(model: WhisperSmall, out_path: str | os.PathLike[str], *, model_name: str = "edgeemo-small",
                 model_version: str = "0.1.0", training_data: str = "RAVDESS speech",
                 metrics: Mapping[str, float] | None = None, extra: Mapping[str, str] | None = None) -> SmallExport:
    """Export ``model`` to a contract-conforming FP32 ONNX file (q, k and v as one matmul per layer:
    :func:`fuse_attention_projections`)."""
    import onnx

    original, model = model, fuse_attention_projections(model)
    example = torch.randn(2, model.cfg.window_samples) * 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _Wrapper(model), (example,), input_names=["audio"], output_names=["probs", "embedding"],
            dynamic_shapes={"audio": {0: torch.export.Dim("batch", min=1, max=1024)}},
            dynamo=True, verbose=False,
        )
    proto = program.model_proto
    _rename_and_strip(proto)
    _store_large_constants_fp16(proto)
    meta = small_metadata(original, model_name=model_name, model_version=model_version, training_data=training_data,
                          metrics=metrics, extra=extra)
    set_metadata(proto, meta)
    proto.producer_name = "edgeemo"
    onnx.checker.check_model(proto)
    out = Path(out_path)
    atomic_write_bytes(out, proto.SerializeToString())
    log.info("exported %s (%d bytes)", out, out.stat().st_size)
    return SmallExport(out, out.stat().st_size, original.learned_parameters, meta)


def _initializer_fed(model: onnx.ModelProto) -> set[str]:  # noqa: F821
    """Tensors that are initializers or computed from initializers alone (e.g. a transposed weight)."""
    fed = {init.name for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" or (node.input and all(i in fed for i in node.input if i)):
            fed.update(node.output)
    return fed


def float_part_predicate(parts: tuple[str, ...] = FLOAT_PARTS):
    """``also_float(node, model)`` for :func:`quantize_int8` keeping ``parts`` (see FLOAT_PARTS) in float."""
    unknown = sorted(set(parts) - set(FLOAT_PARTS))
    if unknown:
        raise ValueError(f"unknown float part(s) {unknown}; known: {FLOAT_PARTS}")
    cache: dict[int, tuple[set[str], list[str]]] = {}

    def keep(node: onnx.NodeProto, model: onnx.ModelProto) -> bool:  # noqa: F821
        if id(model) not in cache:
            convs = [n.name for n in model.graph.node if n.op_type == "Conv" and not n.name.startswith("frontend/")]
            cache[id(model)] = (_initializer_fed(model), convs)
        fed, convs = cache[id(model)]
        if "conv1" in parts and convs and node.name == convs[0]:
            return True
        if "attention" in parts and node.op_type == "MatMul" and not any(i in fed for i in node.input):
            return True
        if "head" in parts and node.op_type in ("MatMul", "Gemm") and _is_head(node):
            return True
        return False

    return keep


def _is_head(node: onnx.NodeProto) -> bool:  # noqa: F821
    text = node.name + " " + " ".join(node.input)
    return "head" in text


def quantize_small(fp32_path: str | os.PathLike[str], out_path: str | os.PathLike[str], calibration: np.ndarray, *,
                   float_parts: tuple[str, ...] = FLOAT_PARTS) -> QuantizeResult:
    """INT8 QDQ copy of a small student's FP32 export, ``float_parts`` kept in float."""
    return quantize_int8(fp32_path, out_path, calibration, also_float=float_part_predicate(float_parts))
