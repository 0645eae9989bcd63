"""Checkpoint -> ONNX -> INT8 round trip on a tiny model, against PyTorch and the contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeemo.export.metadata import REQUIRED_KEYS, get_metadata
from edgeemo.export.onnx_export import export_student
from edgeemo.export.parity import check_parity, compare, onnx_probs
from edgeemo.export.pipeline import FP32_PARITY_TOLERANCE
from edgeemo.export.quantize import calibration_windows, quantize_int8
from edgeemo.train.models.student import load_student


@pytest.fixture(scope="module")
def real_windows(data_root: Path) -> np.ndarray:
    from edgeemo.train.data import load_ravdess, load_waves, select
    from edgeemo.train.windows import clip_windows

    utts = select(load_ravdess(data_root), splits=["dev"])[::12]
    return np.concatenate([clip_windows(w, 48000, 8000)[:1] for w in load_waves(utts)])


@pytest.fixture(scope="module")
def exported(tiny_checkpoint: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    export_student(tiny_checkpoint, out, model_name="tiny", model_version="0.0.1")
    return out


def test_fp32_export_matches_pytorch_and_contract(exported: Path, tiny_checkpoint: Path, real_windows: np.ndarray):
    import onnx

    proto = onnx.load(str(exported))
    meta = get_metadata(proto)
    for key in REQUIRED_KEYS:
        assert meta.get(key), key
    assert meta["labels"].split(",")[4] == "angry"
    assert meta["window_samples"] == "48000" and meta["sample_rate"] == "16000"
    assert meta["training_data"].endswith("01 02")
    assert [i.name for i in proto.graph.input] == ["audio"]
    assert [o.name for o in proto.graph.output] == ["probs", "embedding"]
    assert not any(n.op_type in ("STFT", "DFT") for n in proto.graph.node)
    assert any(n.name.startswith("frontend/") and n.op_type == "Conv" for n in proto.graph.node)
    model, _ = load_student(tiny_checkpoint)
    parity = check_parity(model, exported, real_windows)
    assert parity.max_abs_diff < FP32_PARITY_TOLERANCE
    assert parity.top1_agreement == 1.0
    # dynamic batch: 1 and 5 windows both run and agree with the batched result
    probs5 = onnx_probs(exported, real_windows[:5])
    np.testing.assert_allclose(onnx_probs(exported, real_windows[:1]), probs5[:1], atol=1e-5)


def test_stft_basis_is_computed_by_the_graph_not_stored(exported: Path, tiny_checkpoint: Path, tmp_path: Path,
                                                       real_windows: np.ndarray):
    import onnx

    proto = onnx.load(str(exported))
    sizes = {i.name: int(np.prod(i.dims)) for i in proto.graph.initializer}
    assert not any(name.endswith("stft_kernel") or name.endswith("stft_kernel.fp16") for name in sizes)
    assert max(sizes.values()) < 402 * 400 // 10  # nothing near the basis's 160,800 numbers is stored
    halves = [i for i in proto.graph.initializer if i.data_type == onnx.TensorProto.FLOAT16]
    assert [int(np.prod(i.dims)) for i in halves] == [64 * 201]  # the mel matrix stays float16 + Cast
    stored = export_student(tiny_checkpoint, tmp_path / "stored.onnx", generated_stft=False)
    assert exported.stat().st_size < stored.n_bytes - 300_000
    # closer to PyTorch than the float16 copy of the basis: the angle is reduced in integers
    model, _ = load_student(tiny_checkpoint)
    generated, copied = check_parity(model, exported, real_windows), check_parity(model, stored.path, real_windows)
    assert generated.max_abs_diff < copied.max_abs_diff / 2


@pytest.mark.parametrize("n_fft", [400, 512])
def test_generated_basis_equals_the_training_front_end(n_fft: int):
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from edgeemo.export.stft_graph import stft_kernel_nodes
    from edgeemo.train.frontend import FrontendConfig, stft_kernel

    nodes, inits = stft_kernel_nodes("basis", n_fft)
    graph = helper.make_graph(nodes, "basis", [], [helper.make_tensor_value_info("basis", TensorProto.FLOAT, None)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    reference = stft_kernel(FrontendConfig(n_fft=n_fft))
    for level in (ort.GraphOptimizationLevel.ORT_DISABLE_ALL, ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        (basis,) = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, {})
        assert basis.shape == reference.shape == (2 * (n_fft // 2 + 1), 1, n_fft)
        np.testing.assert_allclose(basis, reference, atol=2e-6)


def test_only_the_real_basis_is_replaced():
    from onnx import helper, numpy_helper

    from edgeemo.export.stft_graph import generate_stft_kernel
    from edgeemo.train.frontend import FrontendConfig, stft_kernel

    cfg = FrontendConfig()
    other = numpy_helper.from_array(stft_kernel(cfg) * 2, "model.frontend.stft_kernel")  # e.g. a scaled basis
    model = helper.make_model(helper.make_graph([], "g", [], [], [other]))
    assert not generate_stft_kernel(model, cfg)
    assert [i.name for i in model.graph.initializer] == ["model.frontend.stft_kernel"]


def test_int8_quantization_keeps_front_end_in_float(exported: Path, real_windows: np.ndarray, tmp_path: Path):
    import onnx

    result = quantize_int8(exported, tmp_path / "tiny-int8.onnx", calibration_windows(list(real_windows), 48000, 8))
    proto = onnx.load(str(result.path))
    assert get_metadata(proto)["quantization"] == "int8-qdq"
    assert get_metadata(proto)["labels"] == get_metadata(onnx.load(str(exported)))["labels"]
    names = {n.name: n for n in proto.graph.node}
    dq_consumers = {i for n in proto.graph.node for i in n.input if "DequantizeLinear" in i or i.endswith("_dequantized")}
    for name, node in names.items():
        if name.startswith("frontend/"):
            assert not (set(node.input) & dq_consumers), f"front-end node {name} reads quantized data"
    zero_points = [i for i in proto.graph.initializer if "zero_point" in i.name]
    # int8 activations and weights; biases stay float (TensorRT rejects int32 bias DequantizeLinear)
    assert zero_points and all(i.data_type == onnx.TensorProto.INT8 for i in zero_points)
    assert not any("bias_quantized" in i.name for i in proto.graph.initializer)
    assert all(not np.any(onnx.numpy_helper.to_array(i)) for i in zero_points)  # symmetric
    report = compare(onnx_probs(exported, real_windows), onnx_probs(result.path, real_windows))
    assert report.max_abs_diff < 0.1
    assert result.quantized_nodes > 0


def test_export_refuses_a_missing_checkpoint(tmp_path: Path):
    from edgeemo.errors import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="no checkpoint"):
        export_student(tmp_path / "nothing", tmp_path / "x.onnx")
