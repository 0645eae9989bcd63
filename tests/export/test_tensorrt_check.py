"""The static TensorRT compatibility check (export/tensorrt/check.py, trt_support.json, the CLI).

Realistic graphs come from a small torch model shaped like edgeemo's student (fixed-weight Conv1d
STFT log-mel front end with float16 constants, then a 2-D CNN), exported with the dynamo exporter
(batch-2 example, dynamic batch) and quantized with onnxruntime's ``quantize_static`` (QDQ,
per-channel). Edge cases use tiny hand-made graphs.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the TensorRT check needs onnx (edgeemo[export])")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeemo.errors import ConfigError, ModelLoadError, ModelNotFoundError  # noqa: E402
from edgeemo.export.tensorrt.check import check_tensorrt_compat  # noqa: E402
from edgeemo.export.tensorrt.support import load_support_table  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WINDOW = 8000
META = {
    "edgeemo_format": "1",
    "labels": "neutral,happy,sad,angry",
    "sample_rate": "16000",
    "window_samples": str(WINDOW),
    "hop_samples": "4000",
    "heads": "categories",
}


# --------------------------------------------------------------------------- torch fixtures


def _student_like_module():  # noqa: ANN202 - torch types only inside the fixture
    torch = pytest.importorskip("torch", reason="realistic graphs are exported from torch")
    nn = torch.nn
    n_fft, hop, n_mels = 128, 64, 16

    class FrontEnd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            n = np.arange(n_fft)
            k = np.arange(n_fft // 2 + 1)[:, None]
            win = np.hanning(n_fft)
            basis = np.concatenate([np.cos(2 * np.pi * k * n / n_fft) * win, -np.sin(2 * np.pi * k * n / n_fft) * win])
            self.register_buffer("basis", torch.from_numpy(basis[:, None, :].astype(np.float16)))  # fp16 + Cast
            self.register_buffer("mel", torch.rand(n_fft // 2 + 1, n_mels, generator=torch.Generator().manual_seed(0)))

        def forward(self, x):  # noqa: ANN001, ANN202
            y = nn.functional.conv1d(x.unsqueeze(1), self.basis.float(), stride=hop)
            re, im = y[:, : n_fft // 2 + 1], y[:, n_fft // 2 + 1 :]
            mel = torch.matmul((re * re + im * im).transpose(1, 2), self.mel)
            return torch.log(torch.clamp(mel, min=1e-6))

    class Student(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fe = FrontEnd()
            self.c1 = nn.Conv2d(1, 8, 3, padding=1)
            self.b1 = nn.BatchNorm2d(8)
            self.c2 = nn.Conv2d(8, 16, 3, padding=1)
            self.fc = nn.Linear(16, 4)

        def forward(self, audio):  # noqa: ANN001, ANN202
            f = self.fe(audio)
            f = (f - f.mean(dim=(1, 2), keepdim=True)).unsqueeze(1)
            h = nn.functional.max_pool2d(torch.relu(self.b1(self.c1(f))), 2)
            h = torch.relu(self.c2(h)).mean(dim=(2, 3))
            return torch.softmax(self.fc(h), -1)

    torch.manual_seed(0)
    return torch, Student().eval()


def _add_metadata(path: Path) -> None:
    m = onnx.load(str(path))
    helper.set_model_props(m, {**{p.key: p.value for p in m.metadata_props}, **META})
    onnx.save(m, str(path))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """fp32 (dynamic batch), TensorRT-style INT8 QDQ, ORT-default INT8 QDQ and a fixed-batch export."""
    torch, module = _student_like_module()
    ort_q = pytest.importorskip("onnxruntime.quantization", reason="INT8 fixtures need onnxruntime")
    out = tmp_path_factory.mktemp("trt_models")
    fp32 = out / "student_fp32.onnx"
    torch.onnx.export(
        module,
        (torch.randn(2, WINDOW),),
        str(fp32),
        input_names=["audio"],
        output_names=["probs"],
        dynamo=True,
        dynamic_shapes={"audio": {0: torch.export.Dim("batch")}},
    )
    _add_metadata(fp32)
    fixed = out / "student_fixed_batch.onnx"
    torch.onnx.export(module, (torch.randn(1, WINDOW),), str(fixed), input_names=["audio"], output_names=["probs"], dynamo=True)

    graph = onnx.load(str(fp32)).graph
    frontend = [n.name for n in graph.node if n.op_type == "MatMul"]
    frontend += [
        n.name
        for n in graph.node
        if n.op_type == "Conv" and len(next(a.ints for a in n.attribute if a.name == "kernel_shape")) == 1
    ]
    assert len(frontend) == 2, frontend

    class Reader(ort_q.CalibrationDataReader):
        def __init__(self) -> None:
            rng = np.random.default_rng(0)
            self._it = iter([{"audio": (rng.standard_normal((2, WINDOW)) * 0.1).astype(np.float32)} for _ in range(4)])

        def get_next(self):  # noqa: ANN202
            return next(self._it, None)

    int8 = out / "student_int8_trt.onnx"
    ort_q.quantize_static(
        str(fp32),
        str(int8),
        Reader(),
        quant_format=ort_q.QuantFormat.QDQ,
        per_channel=True,
        activation_type=ort_q.QuantType.QInt8,
        weight_type=ort_q.QuantType.QInt8,
        op_types_to_quantize=["Conv", "Gemm", "MatMul"],
        nodes_to_exclude=frontend,
        extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False},
    )
    default = out / "student_int8_ort_default.onnx"
    ort_q.quantize_static(str(fp32), str(default), Reader(), quant_format=ort_q.QuantFormat.QDQ, per_channel=True)
    return {"fp32": fp32, "int8": int8, "default": default, "fixed": fixed}


# --------------------------------------------------------------------------- tiny graphs


def _save(tmp_path: Path, nodes, inputs, outputs, inits=(), *, opset: int = 20, name: str = "m.onnx", domains=()) -> Path:  # noqa: ANN001
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    imports = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=imports, ir_version=10)
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _audio(shape=("batch", 64)):  # noqa: ANN001, ANN202
    return helper.make_tensor_value_info("audio", TensorProto.FLOAT, list(shape))


def _codes(report) -> set[str]:  # noqa: ANN001
    return {i.code for i in report.issues if i.severity == "error"}


def _qdq_conv(tmp_path: Path, *, axis: int = 0, scale=None, zp_dtype=np.int8, zp_value: int = 0, act_axis: bool = False) -> Path:  # noqa: ANN001
    """x[b,1,8,8] -Q/DQ-> Conv(DQ(int8 W[4,1,3,3])) -> y."""
    w = np.arange(36, dtype=np.int8).reshape(4, 1, 3, 3) - 18
    wscale = np.full(4, 0.01, np.float32) if scale is None else np.asarray(scale, np.float32)
    inits = [
        numpy_helper.from_array(w, "w_q"),
        numpy_helper.from_array(wscale, "w_scale"),
        numpy_helper.from_array(np.zeros(wscale.shape, np.int8), "w_zp"),
        numpy_helper.from_array(np.array(0.02, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(zp_value, zp_dtype), "x_zp"),
    ]
    if act_axis:
        inits.append(numpy_helper.from_array(np.full(8, 0.02, np.float32), "x_scale8"))
        inits.append(numpy_helper.from_array(np.zeros(8, np.int8), "x_zp8"))
    q_in = ["x", "x_scale8", "x_zp8"] if act_axis else ["x", "x_scale", "x_zp"]
    q_attr = {"axis": 2} if act_axis else {}
    nodes = [
        helper.make_node("QuantizeLinear", q_in, ["x_q"], name="q_x", **q_attr),
        helper.make_node("DequantizeLinear", ["x_q", *q_in[1:]], ["x_dq"], name="dq_x", **q_attr),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"], name="dq_w", axis=axis),
        helper.make_node("Conv", ["x_dq", "w"], ["y"], name="conv", kernel_shape=[3, 3]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 6, 6])
    return _save(tmp_path, nodes, [x], [y], inits)


# --------------------------------------------------------------------------- the table


def test_support_table_records_source_version_and_student_ops() -> None:
    table = load_support_table()
    raw = table.raw
    assert table.tensorrt_version == "10.3"
    assert "JetPack 6.1" in raw["platforms"]
    assert raw["source"]["document"].startswith("https://github.com/onnx/onnx-tensorrt")
    assert raw["source"]["retrieved"]
    assert raw["source"]["verified_on_gpu"] is False
    assert (table.opset_min, table.opset_max) == (9, 20)
    student_ops = (
        "Conv Mul Add Pow MatMul Log Clip Max ReduceMean BatchNormalization Relu MaxPool Softmax Transpose "
        "Reshape Concat Sqrt Sub Div Cast QuantizeLinear DequantizeLinear Unsqueeze Slice Gemm Flatten"
    ).split()
    for op in student_ops:
        assert table.ops[op]["supported"], op
        assert "FP32" in table.ops[op]["types"] or op == "DequantizeLinear", op
    assert table.ops["DequantizeLinear"]["types"] == ["INT8", "FP8", "INT4"]
    assert "zero" in table.ops["QuantizeLinear"]["restrictions"]
    assert table.ops["STFT"]["supported"] is False  # added in 10.5
    assert "UINT8" in raw["quantization"]["uint8"].upper()
    known_rules = {"attr_in", "attr_dtype_in", "attr_absent", "all_ones", "spatial_rank", "const_input", "unused_output", "einsum_simple"}
    for name, row in table.ops.items():
        for rule in row.get("rules", []):
            assert rule["kind"] in known_rules, (name, rule)


# --------------------------------------------------------------------------- realistic graphs


def test_fp32_dynamo_export_is_compatible(models: dict[str, Path]) -> None:
    report = check_tensorrt_compat(models["fp32"], max_batch=8)
    assert report.ok, report.format_text()
    assert report.opset is not None and 9 <= report.opset <= 20
    assert [(d.tensor, d.axis) for d in report.dynamic_dims if d.kind == "input"] == [("audio", 0)]
    assert report.inputs[0].shape[1] == WINDOW
    assert report.op_histogram["Conv"] == 3 and report.op_histogram["Log"] == 1
    assert not report.qdq.present
    assert report.frontend_nodes  # the conv-STFT log-mel front end is found upstream of Log
    assert report.metadata["labels"] == META["labels"]


def test_trt_style_int8_qdq_is_compatible(models: dict[str, Path]) -> None:
    report = check_tensorrt_compat(models["int8"], min_batch=1, opt_batch=2, max_batch=8)
    assert report.ok, report.format_text()
    q = report.qdq
    assert q.present and q.quantize_nodes > 0 and q.dequantize_nodes > 0
    assert q.per_axis == 3  # two Conv2d weights + the Linear weight, per channel
    assert len(q.quantized_layers) == 3 and len(q.float_layers) == 2  # STFT conv + mel MatMul stay float
    assert q.zero_point_types == {"INT8": q.quantize_nodes + q.dequantize_nodes}
    assert not q.frontend_layers_quantized
    assert {i.code for i in report.issues} <= {"float-frontend"}


def test_ort_default_quantization_is_refused_with_reasons(models: dict[str, Path]) -> None:
    report = check_tensorrt_compat(models["default"])
    assert not report.ok
    codes = _codes(report)
    assert "qdq-int32" in codes  # int32 bias DequantizeLinear
    assert "qdq-zero-point" in codes  # asymmetric activations
    assert any(i.code == "quantized-frontend" and i.severity == "warning" for i in report.issues)
    msg = " ".join(i.message for i in report.errors)
    assert "QuantizeBias" in msg and "ActivationSymmetric" in msg


def test_fixed_batch_export_does_not_fit_a_batch_profile(models: dict[str, Path]) -> None:
    report = check_tensorrt_compat(models["fixed"], max_batch=8)
    assert "batch-profile" in _codes(report)
    assert any("fixed batch of 1" in i.message for i in report.errors)
    assert check_tensorrt_compat(models["fixed"], min_batch=1, opt_batch=1, max_batch=1).ok


@pytest.mark.parametrize("name", ["tiny", "small"])
def test_bundled_models_are_tensorrt_compatible(name: str) -> None:
    from edgeemo.registry import bundled_model_path

    bundled = bundled_model_path(name)
    assert bundled.is_file(), f"the bundled model is missing: {bundled}"
    report = check_tensorrt_compat(bundled, max_batch=8)
    assert report.ok, report.format_text()
    quantization = {p.key: p.value for p in onnx.load(str(bundled), load_external_data=False).metadata_props}["quantization"]
    assert report.qdq.present == (quantization == "int8-qdq")  # tiny ships float32, small INT8
    assert [(d.tensor, d.axis) for d in report.dynamic_dims if d.kind == "input"] == [("audio", 0)]
    assert not report.qdq.frontend_layers_quantized
    # "passes with no issue": nothing above info level
    assert [i for i in report.issues if i.severity != "info"] == [], report.format_text()


@pytest.fixture(scope="module")
def student_exports(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The real student architecture through the lead's exporter and quantizer (tiny, untrained)."""
    from edgeemo.export import onnx_export, quantize

    out = tmp_path_factory.mktemp("student")
    fp32 = onnx_export.export_student(tiny_checkpoint, out / "student.onnx").path
    window = int({p.key: p.value for p in onnx.load(str(fp32)).metadata_props}["window_samples"])
    calib = (np.random.default_rng(0).standard_normal((8, window)) * 0.1).astype(np.float32)
    int8 = quantize.quantize_int8(fp32, out / "student-int8.onnx", calib).path
    return {"fp32": Path(fp32), "int8": Path(int8)}


def test_student_fp32_export_is_compatible(student_exports: dict[str, Path]) -> None:
    report = check_tensorrt_compat(student_exports["fp32"], max_batch=8)
    assert report.ok, report.format_text()
    assert [(d.tensor, d.axis) for d in report.dynamic_dims if d.kind == "input"] == [("audio", 0)]
    assert any(n.startswith("frontend/") for n in report.frontend_nodes)


def test_student_int8_export_is_compatible(student_exports: dict[str, Path]) -> None:
    report = check_tensorrt_compat(student_exports["int8"], max_batch=8)
    assert report.qdq.present and not report.qdq.frontend_layers_quantized
    assert report.ok, report.format_text()


# --------------------------------------------------------------------------- edge cases


def test_custom_domain_unknown_and_unsupported_ops(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Gelu", ["audio"], ["a"], domain="com.microsoft", name="ms_gelu"),
        helper.make_node("FancyOp", ["a"], ["b"], name="fancy"),
        helper.make_node("Relu", ["b"], ["y"], name="relu"),
    ]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])
    report = check_tensorrt_compat(_save(tmp_path, nodes, [_audio()], [y], domains=["com.microsoft"]))
    by_code = {i.code: i for i in report.errors}
    assert by_code["custom-domain"].node == "ms_gelu" and "ONNX Runtime contrib" in by_code["custom-domain"].message
    assert by_code["unknown-op"].op_type == "FancyOp"
    assert report.op_histogram["com.microsoft::Gelu"] == 1

    stft = [helper.make_node("STFT", ["audio", "step"], ["y"], name="stft")]
    inits = [numpy_helper.from_array(np.array(16, np.int64), "step")]
    y2 = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 33, 2])
    report2 = check_tensorrt_compat(_save(tmp_path, stft, [_audio()], [y2], inits, name="stft.onnx"))
    assert [i.code for i in report2.errors] == ["unsupported-op"]
    assert "10.5" in report2.errors[0].message


def test_opset_out_of_range(tmp_path: Path) -> None:
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])
    path = _save(tmp_path, [helper.make_node("Relu", ["audio"], ["y"])], [_audio()], [y], opset=21)
    report = check_tensorrt_compat(path)
    assert _codes(report) == {"opset"}
    assert "opset_version=20" in report.errors[0].message


def test_dynamic_non_batch_dim_and_io_dtypes(tmp_path: Path) -> None:
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["batch", "time"])
    nodes = [helper.make_node("Cast", ["audio"], ["y"], to=TensorProto.DOUBLE, name="to_double")]
    report = check_tensorrt_compat(_save(tmp_path, nodes, [_audio(("batch", "time"))], [y]))
    codes = _codes(report)
    assert "dynamic-dim" in codes  # audio dim 1 is dynamic
    assert "io-dtype" in codes  # float64 output binding
    assert "dtype" in codes  # Cast to float64
    dyn = [i for i in report.errors if i.code == "dynamic-dim"]
    assert "only the batch dim" in dyn[0].message


def test_float64_and_int64_into_float_ops(tmp_path: Path) -> None:
    inits = [numpy_helper.from_array(np.ones((64,), np.float64), "w64")]
    nodes = [
        helper.make_node("Cast", ["audio"], ["a64"], to=TensorProto.DOUBLE, name="cast64"),
        helper.make_node("Mul", ["a64", "w64"], ["m"], name="mul64"),
        helper.make_node("Cast", ["m"], ["i64"], to=TensorProto.INT64, name="cast_i64"),
        helper.make_node("Log", ["i64"], ["y"], name="log_int"),
    ]
    y = helper.make_tensor_value_info("y", TensorProto.INT64, ["batch", 64])
    report = check_tensorrt_compat(_save(tmp_path, nodes, [_audio()], [y]))
    nodes_with_dtype_errors = {i.node for i in report.errors if i.code == "dtype"}
    assert {"cast64", "mul64", "log_int"} <= nodes_with_dtype_errors


def test_attribute_restrictions(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 8, 8])
    inits = [
        numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
        numpy_helper.from_array(np.array([], np.float32), "roi"),
    ]
    nodes = [
        helper.make_node("Resize", ["x", "roi", "scales"], ["r"], mode="cubic", name="resize_cubic"),
        helper.make_node("MaxPool", ["r"], ["p", "idx"], kernel_shape=[2, 2], dilations=[2, 2], name="pool"),
        helper.make_node("Shape", ["x"], ["axes_dyn"], start=2, end=4, name="shape_axes"),
        helper.make_node("ReduceMean", ["p", "axes_dyn"], ["y"], name="mean_dyn_axes"),
        helper.make_node("Einsum", ["p", "p"], ["e"], equation="...ii,...jj->...", name="einsum"),
    ]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    e = helper.make_tensor_value_info("e", TensorProto.FLOAT, None)
    idx = helper.make_tensor_value_info("idx", TensorProto.INT64, None)
    report = check_tensorrt_compat(_save(tmp_path, nodes, [x], [y, e, idx], inits))
    errs = {(i.node, i.code) for i in report.errors}
    assert ("resize_cubic", "attribute") in errs
    assert ("pool", "attribute") in errs  # dilations and the used Indices output
    assert ("mean_dyn_axes", "attribute") in errs
    assert ("einsum", "attribute") in errs
    assert any("'cubic'" in i.message for i in report.errors)


def test_one_d_pooling_is_a_warning(tmp_path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4, 32])
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[2], strides=[2], name="pool1d")]
    report = check_tensorrt_compat(_save(tmp_path, nodes, [x], [y]))
    assert report.ok
    assert any(i.code == "attribute" and i.severity == "warning" and i.node == "pool1d" for i in report.issues)


def test_qdq_conv_ok_and_axis_scale_zero_point_errors(tmp_path: Path) -> None:
    good = check_tensorrt_compat(_qdq_conv(tmp_path))
    assert good.ok, good.format_text()
    assert good.qdq.per_axis == 1 and good.qdq.quantized_layers == ["conv"]

    wrong_axis = check_tensorrt_compat(_qdq_conv(tmp_path, axis=1, scale=[0.01]))  # 1 scale: per-tensor, fine
    assert wrong_axis.ok
    bad_axis = check_tensorrt_compat(_qdq_conv(tmp_path, axis=1, scale=np.full(4, 0.01)))
    assert "qdq-axis" in _codes(bad_axis)  # axis 1 of [4,1,3,3] has 1 channel, and Conv wants axis 0
    bad_scale = check_tensorrt_compat(_qdq_conv(tmp_path, scale=[0.01, -0.01, 0.01, np.inf]))
    assert "qdq-scale" in _codes(bad_scale)
    uint8 = check_tensorrt_compat(_qdq_conv(tmp_path, zp_dtype=np.uint8, zp_value=128))
    assert {"qdq-uint8", "qdq-zero-point"} <= _codes(uint8)
    asym = check_tensorrt_compat(_qdq_conv(tmp_path, zp_value=3))
    assert "qdq-zero-point" in _codes(asym)
    per_axis_act = check_tensorrt_compat(_qdq_conv(tmp_path, act_axis=True))
    assert any(i.code == "qdq-axis" and "activation" in i.message for i in per_axis_act.errors)


def test_quantize_linear_without_zero_point_is_uint8(tmp_path: Path) -> None:
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s")]
    nodes = [
        helper.make_node("QuantizeLinear", ["audio", "s"], ["q"], name="q_no_zp"),
        helper.make_node("DequantizeLinear", ["q", "s"], ["y"], name="dq_no_zp"),
    ]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 64])
    report = check_tensorrt_compat(_save(tmp_path, nodes, [_audio()], [y], inits))
    assert any(i.code == "qdq-uint8" and i.node == "q_no_zp" for i in report.errors)


def test_qdq_pairing_and_unquantized_layers(tmp_path: Path) -> None:
    inits = [
        numpy_helper.from_array(np.array(0.1, np.float32), "s"),
        numpy_helper.from_array(np.array(0, np.int8), "z"),
        numpy_helper.from_array(np.ones((4, 64), np.float32), "w_float"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["audio", "s", "z"], ["q"], name="q_orphan"),
        helper.make_node("Relu", ["q"], ["r"], name="relu_on_int8"),  # Q straight into a non-DQ op
        helper.make_node("Gemm", ["audio", "w_float"], ["y"], transB=1, name="fc_float"),
    ]
    r = helper.make_tensor_value_info("r", TensorProto.INT8, ["batch", 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    report = check_tensorrt_compat(_save(tmp_path, nodes, [_audio()], [y, r], inits))
    assert any(i.code == "qdq-pairing" and i.node == "q_orphan" for i in report.errors)
    assert any(i.code == "unquantized-layer" and i.node == "fc_float" and i.severity == "warning" for i in report.issues)


def test_frontend_prefix_metadata_marks_quantized_frontend(tmp_path: Path) -> None:
    path = _qdq_conv(tmp_path)
    m = onnx.load(str(path))
    next(n for n in m.graph.node if n.name == "conv").name = "frontend/conv"
    helper.set_model_props(m, {"frontend_node_prefix": "frontend/"})
    onnx.save(m, str(path))
    report = check_tensorrt_compat(path)
    assert report.ok and report.frontend_nodes == ["frontend/conv"]
    assert report.qdq.frontend_layers_quantized == ["frontend/conv"]
    assert any(i.code == "quantized-frontend" and i.severity == "warning" for i in report.issues)


def test_profile_and_file_errors(tmp_path: Path, models: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match="min <= opt <= max"):
        check_tensorrt_compat(models["fp32"], min_batch=4, opt_batch=2, max_batch=8)
    with pytest.raises(ConfigError):
        check_tensorrt_compat(models["fp32"], min_batch=0)
    with pytest.raises(ModelNotFoundError):
        check_tensorrt_compat(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01not onnx at all" * 10)
    with pytest.raises(ModelLoadError):
        check_tensorrt_compat(junk)


def test_report_serializes(models: dict[str, Path]) -> None:
    report = check_tensorrt_compat(models["int8"])
    data = json.loads(report.to_json())
    assert data["ok"] is True and data["qdq"]["present"] is True
    assert data["counts"]["error"] == 0
    assert "TensorRT 10.3 compatibility" in report.format_text()


# --------------------------------------------------------------------------- CLI


def test_cli_check_exit_codes_and_json(models: dict[str, Path]) -> None:
    from click.testing import CliRunner

    from edgeemo.export.tensorrt.cli import check_command

    runner = CliRunner()
    ok = runner.invoke(check_command, [str(models["int8"])])
    assert ok.exit_code == 0, ok.output
    assert "compatible" in ok.output and "INT8 QDQ" in ok.output

    bad = runner.invoke(check_command, [str(models["default"]), "--json"])
    assert bad.exit_code == 1
    data = json.loads(bad.output)
    assert data["ok"] is False and data["counts"]["error"] > 0

    fixed_ok = runner.invoke(check_command, [str(models["fixed"]), "--max-batch", "1"])
    assert fixed_ok.exit_code == 0, fixed_ok.output
    fixed_bad = runner.invoke(check_command, [str(models["fixed"]), "--max-batch", "4"])
    assert fixed_bad.exit_code == 1 and "batch-profile" in fixed_bad.output

    missing = runner.invoke(check_command, ["/nonexistent/model.onnx"])
    assert missing.exit_code == 2  # click's usage error for a missing path
