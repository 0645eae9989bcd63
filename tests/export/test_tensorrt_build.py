"""The TensorRT engine builder (export/tensorrt/build.py) against a fake ``tensorrt`` module.

TensorRT cannot be installed here, so a stub module in ``sys.modules`` records what the builder
asks of it: network flags, builder flags, the optimization profile, the workspace pool, the timing
cache. Precision refusals and the missing-dependency message are tested for real.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the builder reads the ONNX model (edgeemo[export])")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeemo.errors import ConfigError, MissingDependencyError, ModelNotFoundError, ProviderError  # noqa: E402
from edgeemo.export.tensorrt import gpuinfo  # noqa: E402
from edgeemo.export.tensorrt.build import build_engine  # noqa: E402
from edgeemo.export.tensorrt.gpuinfo import GpuInfo  # noqa: E402
from edgeemo.export.tensorrt.sidecar import load_engine_sidecar, sidecar_cache_key  # noqa: E402

WINDOW = 1600
META = {
    "edgeemo_format": "1",
    "labels": "calm,happy,angry",
    "sample_rate": "16000",
    "window_samples": str(WINDOW),
    "hop_samples": "800",
    "heads": "categories",
    "model_name": "tiny",
    "model_version": "0.0.1",
}


def tiny_model(path: Path, *, qdq: bool, batch: int | str = "batch") -> Path:
    """audio[batch,1600] -> conv-STFT-like front end -> Log -> mean -> (Q/DQ) Gemm -> Softmax probs[batch,3]."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array((rng.standard_normal((4, 1, 16)) * 0.1).astype(np.float32), "stft_w"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
        numpy_helper.from_array(np.array([2], np.int64), "time_axis"),
        numpy_helper.from_array(np.zeros(3, np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["audio", "axis1"], ["x1"], name="fe_unsqueeze"),
        helper.make_node("Conv", ["x1", "stft_w"], ["spec"], name="fe_conv", strides=[8], kernel_shape=[16]),
        helper.make_node("Mul", ["spec", "spec"], ["power"], name="fe_power"),
        helper.make_node("Clip", ["power", "eps"], ["clipped"], name="fe_clip"),
        helper.make_node("Log", ["clipped"], ["logspec"], name="fe_log"),
        helper.make_node("ReduceMean", ["logspec", "time_axis"], ["pooled"], name="pool", keepdims=0),
    ]
    if qdq:
        w = np.clip(np.round(rng.standard_normal((3, 4)) * 40), -127, 127).astype(np.int8)
        inits += [
            numpy_helper.from_array(np.array(0.05, np.float32), "act_scale"),
            numpy_helper.from_array(np.array(0, np.int8), "act_zp"),
            numpy_helper.from_array(w, "fc_w_q"),
            numpy_helper.from_array(np.full(3, 0.01, np.float32), "fc_w_scale"),
            numpy_helper.from_array(np.zeros(3, np.int8), "fc_w_zp"),
        ]
        nodes += [
            helper.make_node("QuantizeLinear", ["pooled", "act_scale", "act_zp"], ["pooled_q"], name="q_pooled"),
            helper.make_node("DequantizeLinear", ["pooled_q", "act_scale", "act_zp"], ["pooled_dq"], name="dq_pooled"),
            helper.make_node("DequantizeLinear", ["fc_w_q", "fc_w_scale", "fc_w_zp"], ["fc_w"], name="dq_fc_w", axis=0),
            helper.make_node("Gemm", ["pooled_dq", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
        ]
    else:
        inits.append(numpy_helper.from_array((rng.standard_normal((3, 4)) * 0.3).astype(np.float32), "fc_w"))
        nodes.append(helper.make_node("Gemm", ["pooled", "fc_w", "fc_b"], ["logits"], name="fc", transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], name="softmax", axis=-1))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [batch, WINDOW])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    helper.set_model_props(model, {**META, "quantization": "int8-qdq" if qdq else "fp32"})
    onnx.save(model, str(path))
    return path


# --------------------------------------------------------------------------- fake tensorrt


def make_fake_trt(
    *,
    version: str = "10.3.0.30",
    fast_fp16: bool | None = True,
    fast_int8: bool | None = True,
    parse_ok: bool = True,
    build_ok: bool = True,
    input_name: str = "audio",
) -> tuple[types.ModuleType, SimpleNamespace]:
    """A stub of the TensorRT 10 Python API surface the builder uses; returns (module, record)."""
    rec = SimpleNamespace(
        flags=set(), cleared=set(), network_flags=None, profiles=[], pool=None, parsed=None,
        timing_cache_in=None, opt_level=None, profile_added=0, built=False,
    )
    m = types.ModuleType("tensorrt")
    m.__version__ = version

    class Severity:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = "INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"

    class ILogger:
        def __init__(self) -> None:
            pass

    ILogger.Severity = Severity  # type: ignore[attr-defined]
    m.ILogger = ILogger
    m.NetworkDefinitionCreationFlag = SimpleNamespace(EXPLICIT_BATCH=0, STRONGLY_TYPED=1)
    m.BuilderFlag = SimpleNamespace(FP16="FP16", INT8="INT8", TF32="TF32")
    m.MemoryPoolType = SimpleNamespace(WORKSPACE="WORKSPACE")

    class Network:
        num_inputs = 1

        def get_input(self, i: int) -> Any:
            return SimpleNamespace(name=input_name, shape=(-1, WINDOW))

    class ParserError:
        def desc(self) -> str:
            return "No importer registered for op: FancyOp"

        def node(self) -> int:
            return 3

        def node_name(self) -> str:
            return "fancy_node"

        def node_operator(self) -> str:
            return "FancyOp"

    class OnnxParser:
        def __init__(self, network: Any, logger: Any) -> None:
            self.num_errors = 0

        def parse_from_file(self, path: str) -> bool:
            rec.parsed = path
            if not parse_ok:
                self.num_errors = 1
            return parse_ok

        def get_error(self, i: int) -> ParserError:
            return ParserError()

    class Profile:
        def set_shape(self, name: str, lo: tuple, opt: tuple, hi: tuple) -> None:
            rec.profiles.append((name, tuple(lo), tuple(opt), tuple(hi)))

    class Cache:
        def __init__(self, data: bytes) -> None:
            self.data = data

        def serialize(self) -> bytes:
            return b"CACHE:" + self.data + b"+new"

    class Config:
        def __init__(self) -> None:
            self._cache = None

        def set_memory_pool_limit(self, pool: str, size: int) -> None:
            rec.pool = (pool, size)

        def set_flag(self, flag: str) -> None:
            rec.flags.add(flag)

        def clear_flag(self, flag: str) -> None:
            rec.cleared.add(flag)

        def add_optimization_profile(self, profile: Any) -> int:
            rec.profile_added += 1
            return 0

        def create_timing_cache(self, data: bytes) -> Cache:
            rec.timing_cache_in = bytes(data)
            return Cache(bytes(data))

        def set_timing_cache(self, cache: Cache, ignore_mismatch: bool) -> bool:
            self._cache = cache
            return True

        def get_timing_cache(self) -> Cache | None:
            return self._cache

        @property
        def builder_optimization_level(self) -> int | None:
            return rec.opt_level

        @builder_optimization_level.setter
        def builder_optimization_level(self, v: int) -> None:
            rec.opt_level = v

    attrs: dict[str, Any] = {}
    if fast_fp16 is not None:
        attrs["platform_has_fast_fp16"] = fast_fp16
    if fast_int8 is not None:
        attrs["platform_has_fast_int8"] = fast_int8

    def _init(self: Any, logger: Any) -> None:
        self.logger = logger

    def create_network(self: Any, flags: int) -> Network:
        rec.network_flags = flags
        return Network()

    def build_serialized_network(self: Any, network: Any, config: Any) -> bytes | None:
        if not build_ok:
            self.logger.log(Severity.ERROR, "Internal Error: no implementation for layer fc (out of workspace)")
            return None
        rec.built = True
        return b"PLAN-BYTES"

    m.Builder = type(
        "Builder",
        (),
        {
            **attrs,
            "__init__": _init,
            "create_network": create_network,
            "create_builder_config": lambda self: Config(),
            "create_optimization_profile": lambda self: Profile(),
            "build_serialized_network": build_serialized_network,
        },
    )
    m.OnnxParser = OnnxParser
    return m, rec


@pytest.fixture()
def orin(monkeypatch: pytest.MonkeyPatch) -> GpuInfo:
    gpu = GpuInfo("Orin (nvgpu)", "8.7", "test")
    monkeypatch.setattr(gpuinfo, "query_gpu", lambda device=0: gpu)
    return gpu


@pytest.fixture()
def fake_trt(monkeypatch: pytest.MonkeyPatch, orin: GpuInfo):  # noqa: ANN201
    def install(**kwargs: Any) -> SimpleNamespace:
        module, rec = make_fake_trt(**kwargs)
        monkeypatch.setitem(sys.modules, "tensorrt", module)
        return rec

    return install


@pytest.fixture()
def no_trt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError


# --------------------------------------------------------------------------- tests


def test_tiny_models_pass_the_static_check(tmp_path: Path) -> None:
    from edgeemo.export.tensorrt.check import check_tensorrt_compat

    for qdq in (False, True):
        report = check_tensorrt_compat(tiny_model(tmp_path / f"m{qdq}.onnx", qdq=qdq))
        assert report.ok, report.format_text()
        assert report.qdq.present is qdq


def test_missing_tensorrt_names_the_extra_and_jetpack(tmp_path: Path, no_trt: None) -> None:
    model = tiny_model(tmp_path / "int8.onnx", qdq=True)
    with pytest.raises(MissingDependencyError) as err:
        build_engine(model, tmp_path / "m.engine", precision="int8")
    text = str(err.value)
    assert "edgeemo[tensorrt]" in text and "JetPack" in text
    assert isinstance(err.value, ImportError)
    assert not (tmp_path / "m.engine").exists()


def test_int8_without_qdq_is_refused_before_tensorrt_is_needed(tmp_path: Path, no_trt: None) -> None:
    model = tiny_model(tmp_path / "fp32.onnx", qdq=False)
    with pytest.raises(ProviderError, match="implicit calibration"):
        build_engine(model, tmp_path / "m.engine", precision="int8")


def test_float_precision_on_a_qdq_graph_is_refused(tmp_path: Path, no_trt: None) -> None:
    model = tiny_model(tmp_path / "int8.onnx", qdq=True)
    for precision in ("fp16", "fp32"):
        with pytest.raises(ProviderError, match="INT8-quantized"):
            build_engine(model, tmp_path / "m.engine", precision=precision)  # type: ignore[arg-type]


def test_incompatible_model_is_refused_with_the_check_errors(tmp_path: Path, no_trt: None) -> None:
    model = tiny_model(tmp_path / "fixed.onnx", qdq=True, batch=1)
    with pytest.raises(ProviderError, match="batch-profile"):
        build_engine(model, tmp_path / "m.engine", precision="int8", max_batch=8)


def test_option_validation(tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "int8.onnx", qdq=True)
    with pytest.raises(ConfigError, match="precision"):
        build_engine(model, tmp_path / "m.engine", precision="int4")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="min_batch <= opt_batch <= max_batch"):
        build_engine(model, tmp_path / "m.engine", min_batch=4, opt_batch=2, max_batch=8)
    with pytest.raises(ConfigError, match="workspace_mb"):
        build_engine(model, tmp_path / "m.engine", workspace_mb=0)
    with pytest.raises(ConfigError, match="optimization level"):
        build_engine(model, tmp_path / "m.engine", builder_optimization_level=9)
    with pytest.raises(ModelNotFoundError):
        build_engine(tmp_path / "nope.onnx", tmp_path / "m.engine")


def test_int8_build_flags_profile_and_sidecar(tmp_path: Path, fake_trt, orin: GpuInfo) -> None:  # noqa: ANN001
    rec = fake_trt()
    model = tiny_model(tmp_path / "tiny-int8.onnx", qdq=True)
    out = tmp_path / "engines" / "tiny.int8.engine"
    info = build_engine(model, out, precision="int8", min_batch=1, opt_batch=2, max_batch=8, workspace_mb=512)

    assert rec.network_flags == 0  # TensorRT 10: no EXPLICIT_BATCH
    assert rec.flags == {"INT8"}  # explicit quantization only, no FP16 fallback unless asked
    assert "TF32" in rec.cleared
    assert rec.pool == ("WORKSPACE", 512 << 20)
    assert rec.profiles == [("audio", (1, WINDOW), (2, WINDOW), (8, WINDOW))]
    assert rec.profile_added == 1
    assert rec.parsed == str(model)

    assert out.read_bytes() == b"PLAN-BYTES"
    assert info.engine_path == out and info.sidecar_path == tmp_path / "engines" / "tiny.int8.engine.json"
    sha = hashlib.sha256(model.read_bytes()).hexdigest()
    assert info.onnx_sha256 == sha
    assert info.cache_key == f"trt10.3.0.30-sm87-{sha[:12]}"
    assert info.engine_bytes == len(b"PLAN-BYTES")

    raw = json.loads(info.sidecar_path.read_text())
    for key in ("engine_file", "onnx_sha256", "onnx_metadata", "tensorrt_version", "gpu_name", "compute_capability",
                "precision", "build_options", "profile", "inputs", "outputs", "cache_key", "format"):
        assert key in raw, key
    assert raw["onnx_metadata"]["labels"] == META["labels"]
    assert raw["onnx_metadata"]["quantization"] == "int8-qdq"
    assert raw["tensorrt_version"] == "10.3.0.30"
    assert raw["gpu_name"] == orin.name and raw["compute_capability"] == "8.7"
    assert raw["precision"] == "int8"
    assert raw["build_options"]["builder_flags"] == ["INT8"]
    assert raw["build_options"]["workspace_mb"] == 512
    assert raw["profile"] == {"audio": {"min": [1, WINDOW], "opt": [2, WINDOW], "max": [8, WINDOW]}}
    assert raw["inputs"][0]["name"] == "audio" and raw["outputs"][0]["name"] == "probs"

    sidecar = load_engine_sidecar(out)
    assert sidecar.labels == ["calm", "happy", "angry"]
    assert sidecar.engine_file == "tiny.int8.engine"


def test_int8_fp16_fallback_and_fp16_build(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    rec = fake_trt()
    build_engine(tiny_model(tmp_path / "q.onnx", qdq=True), tmp_path / "a.engine", int8_fp16_fallback=True)
    assert rec.flags == {"INT8", "FP16"}
    rec2 = fake_trt()
    build_engine(tiny_model(tmp_path / "f.onnx", qdq=False), tmp_path / "b.engine", precision="fp16", builder_optimization_level=3)
    assert rec2.flags == {"FP16"} and rec2.opt_level == 3
    rec3 = fake_trt()
    build_engine(tiny_model(tmp_path / "f.onnx", qdq=False), tmp_path / "c.engine", precision="fp32", allow_tf32=True)
    assert rec3.flags == set() and rec3.cleared == set()


@pytest.mark.parametrize(
    ("kwargs", "precision", "qdq", "needle"),
    [
        ({"fast_fp16": False}, "fp16", False, "no fast FP16"),
        ({"fast_int8": False}, "int8", True, "no fast INT8"),
        ({"fast_fp16": None}, "fp16", False, None),  # attribute absent: decided by compute capability 8.7 -> ok
    ],
)
def test_precision_is_never_downgraded(tmp_path: Path, fake_trt, kwargs, precision, qdq, needle) -> None:  # noqa: ANN001
    rec = fake_trt(**kwargs)
    model = tiny_model(tmp_path / "m.onnx", qdq=qdq)
    out = tmp_path / "m.engine"
    if needle is None:
        build_engine(model, out, precision=precision)
        assert rec.built
        return
    with pytest.raises(ProviderError) as err:
        build_engine(model, out, precision=precision)
    assert needle in str(err.value) and "never downgrades" in str(err.value)
    assert not rec.built and not out.exists()


def test_unknown_fast_fp16_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module, rec = make_fake_trt(fast_fp16=None)
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    monkeypatch.setattr(gpuinfo, "query_gpu", lambda device=0: GpuInfo(None, None, "unknown"))
    with pytest.raises(ProviderError, match="refusing to guess"):
        build_engine(tiny_model(tmp_path / "f.onnx", qdq=False), tmp_path / "m.engine", precision="fp16")


def test_tensorrt_8_gets_explicit_batch_and_older_is_refused(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    rec = fake_trt(version="8.6.2.3")
    build_engine(tiny_model(tmp_path / "q.onnx", qdq=True), tmp_path / "m.engine")
    assert rec.network_flags == 1 << 0  # 1 << EXPLICIT_BATCH
    fake_trt(version="8.5.2")
    with pytest.raises(ProviderError, match="too old"):
        build_engine(tiny_model(tmp_path / "q.onnx", qdq=True), tmp_path / "m2.engine")


def test_parser_errors_are_in_the_message(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    fake_trt(parse_ok=False)
    with pytest.raises(ProviderError) as err:
        build_engine(tiny_model(tmp_path / "q.onnx", qdq=True), tmp_path / "m.engine")
    text = str(err.value)
    assert "could not parse" in text and "FancyOp" in text and "fancy_node" in text and "node 3" in text


def test_build_failure_carries_tensorrt_log(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    fake_trt(build_ok=False)
    out = tmp_path / "m.engine"
    with pytest.raises(ProviderError, match="out of workspace"):
        build_engine(tiny_model(tmp_path / "q.onnx", qdq=True), out)
    assert not out.exists() and not (tmp_path / "m.engine.json").exists()


def test_timing_cache_is_loaded_and_saved(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    rec = fake_trt()
    cache = tmp_path / "timing.cache"
    model = tiny_model(tmp_path / "q.onnx", qdq=True)
    build_engine(model, tmp_path / "a.engine", timing_cache_path=cache)
    assert rec.timing_cache_in == b"" and cache.read_bytes() == b"CACHE:+new"
    rec2 = fake_trt()
    info = build_engine(model, tmp_path / "b.engine", timing_cache_path=cache)
    assert rec2.timing_cache_in == b"CACHE:+new"
    assert cache.read_bytes() == b"CACHE:CACHE:+new+new"
    assert json.loads(info.sidecar_path.read_text())["build_options"]["timing_cache"] == str(cache)


def test_sidecar_cache_key_format() -> None:
    sha = "1A2B3C4D5E6F" + "0" * 52
    assert sidecar_cache_key("10.3.0", "8.7", sha) == "trt10.3.0-sm87-1a2b3c4d5e6f"
    assert sidecar_cache_key("10.3.0.30", (8, 7), sha) == "trt10.3.0.30-sm87-1a2b3c4d5e6f"
    assert sidecar_cache_key("10.7.0", "sm_120", sha) == "trt10.7.0-sm120-1a2b3c4d5e6f"
    assert re.fullmatch(r"trt[0-9.]+-sm\d+-[0-9a-f]{12}", sidecar_cache_key("10.3", "87", sha))
    with pytest.raises(ValueError):
        sidecar_cache_key("10.3", "8.7", "not-hex")
    with pytest.raises(ValueError):
        sidecar_cache_key("10.3", "eight", sha)


def test_sidecar_cache_key_matches_the_sdk_providers() -> None:
    """The sidecar's key and the SDK's ONNX Runtime engine-cache key are one and the same."""
    from edgeemo.providers import engine_cache_key as sdk_key

    sha = "deadbeef0123" + "4" * 52
    assert sdk_key("10.3.0", "87", sha[:12]) == sidecar_cache_key("10.3.0", "8.7", sha)
    assert sdk_key("10.3.0", "8.7", sha[:12]) == sidecar_cache_key("10.3.0", (8, 7), sha)


def test_cli_build_and_sidecar(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from edgeemo.export.tensorrt.cli import tensorrt_group

    fake_trt()
    model = tiny_model(tmp_path / "q.onnx", qdq=True)
    runner = CliRunner()
    res = runner.invoke(tensorrt_group, ["build", str(model), str(tmp_path / "q.engine"), "--max-batch", "4", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["profile"]["audio"]["max"] == [4, WINDOW]

    res = runner.invoke(tensorrt_group, ["build", str(tiny_model(tmp_path / "f.onnx", qdq=False)), str(tmp_path / "f.engine")])
    assert res.exit_code == 1 and "implicit calibration" in res.output

    (tmp_path / "t.engine").write_bytes(b"plan from trtexec")
    res = runner.invoke(
        tensorrt_group,
        ["sidecar", "--onnx", str(model), "--engine", str(tmp_path / "t.engine"), "--precision", "int8", "--tensorrt-version", "10.3.0"],
    )
    assert res.exit_code == 0, res.output
    sidecar = load_engine_sidecar(tmp_path / "t.engine")
    assert sidecar.builder == "trtexec" and sidecar.tensorrt_version == "10.3.0" and sidecar.compute_capability == "8.7"


def test_cli_missing_tensorrt(tmp_path: Path, no_trt: None) -> None:
    from click.testing import CliRunner

    from edgeemo.export.tensorrt.cli import tensorrt_group

    res = CliRunner().invoke(tensorrt_group, ["build", str(tiny_model(tmp_path / "q.onnx", qdq=True)), str(tmp_path / "q.engine")])
    assert res.exit_code == 1 and "edgeemo[tensorrt]" in res.output and "JetPack" in res.output


def test_cli_info_shows_the_sidecar(tmp_path: Path, fake_trt) -> None:  # noqa: ANN001
    from click.testing import CliRunner

    from edgeemo.export.tensorrt.cli import tensorrt_group

    fake_trt()
    model = tiny_model(tmp_path / "q.onnx", qdq=True)
    engine = tmp_path / "q.engine"
    info = build_engine(model, engine, max_batch=4)
    runner = CliRunner()
    res = runner.invoke(tensorrt_group, ["info", str(engine)])
    assert res.exit_code == 0, res.output
    for needle in ("10.3.0.30", "Orin (nvgpu)", "8.7", "int8", f"max=[4, {WINDOW}]", "calm, happy, angry", info.cache_key):
        assert needle in res.output, needle
    res = runner.invoke(tensorrt_group, ["info", str(engine), "--json"])
    assert res.exit_code == 0 and json.loads(res.output) == json.loads(info.sidecar_path.read_text())
    info.sidecar_path.unlink()
    res = runner.invoke(tensorrt_group, ["info", str(engine)])
    assert res.exit_code == 1 and "sidecar" in res.output and "edgeemo export tensorrt build" in res.output
