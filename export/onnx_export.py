"""Student checkpoint -> ONNX (raw PCM in, probabilities out, front end inside, metadata attached).

Uses torch's dynamo exporter with a dynamic batch dimension. After export the graph is made
smaller and easier to profile: conv+batch-norm pairs are folded before export, front-end nodes are
renamed ``frontend/...`` (the SDK's profiler attributes time by that prefix), the debugging
metadata the exporter attaches to each node is dropped, the convolution-STFT basis is computed by
a few nodes instead of stored (:mod:`edgeemo.export.stft_graph`), and the remaining large fixed
front-end constants (the mel matrix) are stored as float16 followed by a ``Cast`` to float32.
ONNX Runtime folds both into constants at session start.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgeemo.fileio import atomic_write_bytes
from edgeemo.train.models.student import StudentNet, load_student

from .metadata import FRONTEND_NODE_PREFIX, set_metadata, student_metadata
from .stft_graph import generate_stft_kernel

log = logging.getLogger("edgeemo.export")

FP16_CONSTANT_MIN_ELEMENTS = 4096


@dataclass(frozen=True)
class ExportResult:
    """Where the ONNX file went and what it holds."""

    path: Path
    n_bytes: int
    learned_parameters: int
    frontend_constants: int
    metadata: dict[str, str]


class _ExportWrapper(nn.Module):
    """Adds the softmax and names the outputs per the model contract."""

    def __init__(self, model: StudentNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(audio)
        probs = torch.softmax(out["logits"], dim=1)
        if "valence_arousal" in out:
            return probs, out["valence_arousal"], out["embedding"]
        return probs, out["embedding"]


def fold_batch_norms(model: StudentNet) -> StudentNet:
    """A copy of ``model`` with each conv+BN pair folded into one conv (eval mode)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fused = copy.deepcopy(model).eval()
    for block in fused.blocks:
        block.conv = fuse_conv_bn_eval(block.conv, block.norm)
        block.norm = nn.Identity()
    return fused


def export_student(
    checkpoint: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    model_name: str = "edgeemo-student",
    model_version: str = "0.1.0",
    training_data: str | None = None,
    metrics: dict[str, float] | None = None,
    fp16_constants: bool = True,
    generated_stft: bool = True,
) -> ExportResult:
    """Export a student checkpoint to a contract-conforming FP32 ONNX file (``generated_stft``:
    the STFT basis is computed by the graph, :mod:`edgeemo.export.stft_graph`, not stored)."""
    import onnx

    model, config = load_student(checkpoint)
    cfg = model.cfg
    output_names = ["probs"] + (["valence_arousal"] if cfg.valence_arousal else []) + ["embedding"]
    example = torch.randn(2, cfg.window_samples) * 0.1  # batch >= 2: batch 1 would be frozen
    out = Path(out_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _ExportWrapper(fold_batch_norms(model)),
            (example,),
            input_names=["audio"],
            output_names=output_names,
            dynamic_shapes={"audio": {0: torch.export.Dim("batch", min=1, max=1024)}},
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    _rename_and_strip(proto)
    restore_log_floor(proto, cfg.frontend.log_floor)
    frontend_constants = _frontend_constant_count(proto)
    if generated_stft:
        generate_stft_kernel(proto, cfg.frontend)
    if fp16_constants:
        _store_large_constants_fp16(proto)
    if training_data is None:
        speakers = config.get("train_speakers", [])
        training_data = f"RAVDESS speech, {len(speakers)} actors: " + " ".join(s.rsplit("_", 1)[-1] for s in speakers)
    learned = sum(p.numel() for p in model.parameters())
    meta = student_metadata(
        config["model"], model_name=model_name, model_version=model_version,
        training_data=training_data, metrics=metrics,
        extra={"learned_parameters": str(learned), "frontend_constants": str(frontend_constants)},
    )
    set_metadata(proto, meta)
    proto.producer_name = "edgeemo"
    onnx.checker.check_model(proto)
    atomic_write_bytes(out, proto.SerializeToString())
    log.info("exported %s (%d bytes)", out, out.stat().st_size)
    return ExportResult(out, out.stat().st_size, learned, frontend_constants, meta)


def _is_frontend_node(node: "onnx.NodeProto") -> bool:  # noqa: F821
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes" and ".frontend'" in prop.value:
            return True
    return False


def _rename_and_strip(proto: "onnx.ModelProto") -> None:  # noqa: F821
    """Prefix front-end node names with ``frontend/`` and drop per-node debugging metadata."""
    for node in proto.graph.node:
        if _is_frontend_node(node) and not node.name.startswith(FRONTEND_NODE_PREFIX):
            node.name = FRONTEND_NODE_PREFIX + node.name
        del node.metadata_props[:]


def restore_log_floor(proto: "onnx.ModelProto", floor: float) -> bool:  # noqa: F821
    """Put back the front end's ``log(mel + floor)`` where the exporter's optimiser dropped the
    ``+ floor`` as an addition of zero (it does for a floor of 1e-10, which then gives
    ``log(0) = -inf`` on digital silence and NaN scores). Returns whether it changed the graph."""
    from onnx import helper, numpy_helper

    graph = proto.graph
    producers = {o: n for n in graph.node for o in n.output}
    changed = False
    for node in list(graph.node):
        if node.op_type != "Log":
            continue
        src = producers.get(node.input[0])
        if src is None or src.op_type != "MatMul" or not any("mel_matrix" in i for i in src.input):
            continue
        floor_name, floored = f"{node.name}_floor", f"{node.input[0]}_floored"
        graph.initializer.append(numpy_helper.from_array(np.array(floor, np.float32), floor_name))
        add = helper.make_node("Add", [node.input[0], floor_name], [floored], name=f"{node.name}_add_floor")
        graph.node.insert(list(graph.node).index(node), add)
        node.input[0] = floored
        changed = True
    return changed


def _frontend_constant_count(proto: "onnx.ModelProto") -> int:  # noqa: F821
    return sum(int(np.prod(init.dims)) for init in proto.graph.initializer if ".frontend." in init.name)


def _store_large_constants_fp16(proto: "onnx.ModelProto") -> None:  # noqa: F821
    """Store big fixed front-end initializers as float16 + Cast (halves the file, exact to ~1e-3)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = proto.graph
    replaced = []
    for init in list(graph.initializer):
        if ".frontend." not in init.name or init.data_type != TensorProto.FLOAT:
            continue
        if int(np.prod(init.dims)) < FP16_CONSTANT_MIN_ELEMENTS:
            continue
        array = numpy_helper.to_array(init)
        half_name = init.name + ".fp16"
        graph.initializer.remove(init)
        graph.initializer.append(numpy_helper.from_array(array.astype(np.float16), half_name))
        replaced.append(helper.make_node(
            "Cast", [half_name], [init.name], to=TensorProto.FLOAT,
            name=f"{FRONTEND_NODE_PREFIX}cast_{init.name.rsplit('.', 1)[-1]}",
        ))
    for node in reversed(replaced):
        graph.node.insert(0, node)
