"""The engine runner (export/tensorrt/runner.py) against a fake ``tensorrt`` module and fake CUDA memory.

What is tested without a GPU: sidecar validation, the TensorRT-version / compute-capability checks
and their messages, batching over the profile (chunks of max batch, padding up to min batch),
input validation, output collection, and the missing-dependency message.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from edgeemo.errors import AudioFormatError, MissingDependencyError, ModelMetadataError, ModelNotFoundError, ProviderError
from edgeemo.export.tensorrt.runner import TensorRTEngineRunner
from edgeemo.export.tensorrt.sidecar import EngineSidecar, is_engine_path, load_engine_sidecar, sidecar_path_for

WINDOW = 320
LABELS = "calm,happy,angry"


class FakeBackend:
    """Host numpy arrays standing in for CUDA memory."""

    name = "fake"

    def __init__(self, cc: str = "8.7", device: str = "Orin (nvgpu)") -> None:
        self.cc, self.device = cc, device
        self.mem: dict[int, np.ndarray] = {}
        self._next = 4096
        self.freed: list[int] = []

    def device_name(self) -> str:
        return self.device

    def compute_capability(self) -> str:
        return self.cc

    def alloc(self, nbytes: int) -> int:
        ptr = self._next
        self._next += nbytes + 256
        self.mem[ptr] = np.zeros(nbytes, np.uint8)
        return ptr

    def free(self, ptr: int) -> None:
        self.freed.append(ptr)
        self.mem.pop(ptr)

    def upload(self, ptr: int, array: np.ndarray) -> None:
        b = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
        self.mem[ptr][: b.size] = b

    def download(self, ptr: int, out: np.ndarray) -> None:
        out.reshape(-1).view(np.uint8)[:] = self.mem[ptr][: out.nbytes]

    def stream(self) -> int:
        return 7

    def synchronize(self) -> None:
        pass


def make_fake_trt(backend: FakeBackend, *, version: str = "10.3.0.30", min_batch: int = 1, max_batch: int = 4) -> tuple[types.ModuleType, SimpleNamespace]:
    rec = SimpleNamespace(shapes=[], executions=0)
    m = types.ModuleType("tensorrt")
    m.__version__ = version

    class Severity:
        INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)

    class ILogger:
        def __init__(self) -> None:
            pass

    ILogger.Severity = Severity  # type: ignore[attr-defined]
    m.ILogger = ILogger
    m.TensorIOMode = SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT")
    m.DataType = SimpleNamespace(FLOAT="FLOAT")
    m.nptype = lambda dt: np.float32

    class Context:
        def __init__(self) -> None:
            self.batch = max_batch
            self.addr: dict[str, int] = {}

        def set_input_shape(self, name: str, shape: tuple) -> bool:
            assert name == "audio" and shape[1] == WINDOW and min_batch <= shape[0] <= max_batch, shape
            self.batch = int(shape[0])
            rec.shapes.append(tuple(shape))
            return True

        def get_tensor_shape(self, name: str) -> tuple:
            return (self.batch, 3) if name == "probs" else (self.batch, WINDOW)

        def set_tensor_address(self, name: str, ptr: int) -> None:
            self.addr[name] = ptr

        def execute_async_v3(self, stream: int) -> bool:
            assert stream == 7
            rec.executions += 1
            b = self.batch
            x = backend.mem[self.addr["audio"]][: b * WINDOW * 4].view(np.float32).reshape(b, WINDOW)
            logits = np.stack([x.mean(1), x.std(1), -x.mean(1)], axis=1)
            e = np.exp(logits - logits.max(1, keepdims=True))
            probs = (e / e.sum(1, keepdims=True)).astype(np.float32)
            backend.upload(self.addr["probs"], probs)
            return True

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, i: int) -> str:
            return ["audio", "probs"][i]

        def get_tensor_mode(self, name: str) -> str:
            return "INPUT" if name == "audio" else "OUTPUT"

        def get_tensor_dtype(self, name: str) -> str:
            return "FLOAT"

        def get_tensor_profile_shape(self, name: str, profile: int) -> tuple:
            return ((min_batch, WINDOW), (1, WINDOW), (max_batch, WINDOW))

        def create_execution_context(self) -> Context:
            return Context()

    class Runtime:
        def __init__(self, logger: Any) -> None:
            self.logger = logger

        def deserialize_cuda_engine(self, data: bytes) -> Engine | None:
            if data != b"PLAN":
                self.logger.log(Severity.ERROR, "Serialization assertion failed: magic tag mismatch")
                return None
            return Engine()

    m.Runtime = Runtime
    return m, rec


def write_engine(tmp_path: Path, *, trt_version: str = "10.3.0.30", cc: str | None = "8.7", plan: bytes = b"PLAN", **overrides: Any) -> Path:
    engine = tmp_path / "tiny.int8.engine"
    engine.write_bytes(plan)
    sidecar = EngineSidecar(
        engine_file=engine.name,
        onnx_file="tiny.onnx",
        onnx_sha256="ab" * 32,
        onnx_metadata={"labels": LABELS, "sample_rate": "16000", "window_samples": str(WINDOW)},
        tensorrt_version=trt_version,
        compute_capability=cc,
        gpu_name="Orin (nvgpu)",
        precision="int8",
        profile={"audio": {"min": [1, WINDOW], "opt": [1, WINDOW], "max": [4, WINDOW]}},
        inputs=[{"name": "audio", "dtype": "FP32", "shape": ["batch", WINDOW]}],
        outputs=[{"name": "probs", "dtype": "FP32", "shape": ["batch", 3]}],
    )
    data = {**sidecar.to_dict(), **overrides}
    sidecar_path_for(engine).write_text(json.dumps(data))
    return engine


@pytest.fixture()
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture()
def fake(monkeypatch: pytest.MonkeyPatch, backend: FakeBackend):  # noqa: ANN201
    def install(**kwargs: Any) -> SimpleNamespace:
        module, rec = make_fake_trt(backend, **kwargs)
        monkeypatch.setitem(sys.modules, "tensorrt", module)
        return rec

    return install


def _expected(x: np.ndarray) -> np.ndarray:
    logits = np.stack([x.mean(1), x.std(1), -x.mean(1)], axis=1)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_run_batches_over_the_profile(tmp_path: Path, fake, backend: FakeBackend) -> None:  # noqa: ANN001
    rec = fake()
    runner = TensorRTEngineRunner(write_engine(tmp_path), backend=backend)
    assert (runner.min_batch, runner.max_batch, runner.window_samples) == (1, 4, WINDOW)
    assert runner.labels == ["calm", "happy", "angry"] and runner.sample_rate == 16000
    assert runner.output_names == ["probs"]
    x = np.random.default_rng(0).standard_normal((10, WINDOW)).astype(np.float32) * 0.1
    probs = runner.run(x)
    assert probs.shape == (10, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, _expected(x), rtol=1e-5, atol=1e-6)
    assert rec.executions == 3  # 4 + 4 + 2
    assert [s[0] for s in rec.shapes[1:]] == [4, 4, 2]  # first shape: allocation at max batch
    one = runner.run(x[0])  # a single 1-D window
    assert one.shape == (1, 3)
    assert runner.run(np.zeros((0, WINDOW), np.float32)).shape == (0, 3)
    runner.close()
    assert not backend.mem


def test_small_batches_are_padded_to_min_batch(tmp_path: Path, fake, backend: FakeBackend) -> None:  # noqa: ANN001
    rec = fake(min_batch=2)
    with TensorRTEngineRunner(write_engine(tmp_path), backend=backend) as runner:
        x = np.random.default_rng(1).standard_normal((1, WINDOW)).astype(np.float32)
        probs = runner.run(x)
    assert probs.shape == (1, 3)
    np.testing.assert_allclose(probs, _expected(x), rtol=1e-5, atol=1e-6)
    assert rec.shapes[-1] == (2, WINDOW)


def test_bad_windows(tmp_path: Path, fake, backend: FakeBackend) -> None:  # noqa: ANN001
    fake()
    runner = TensorRTEngineRunner(write_engine(tmp_path), backend=backend)
    with pytest.raises(AudioFormatError, match=f"\\[n, {WINDOW}\\]"):
        runner.run(np.zeros((2, WINDOW + 1), np.float32))
    with pytest.raises(AudioFormatError, match="NaN"):
        runner.run(np.full((1, WINDOW), np.nan, np.float32))
    with pytest.raises(AudioFormatError, match="float"):
        runner.run(np.zeros((1, WINDOW), np.int16))


def test_version_mismatch_is_refused(tmp_path: Path, fake, backend: FakeBackend) -> None:  # noqa: ANN001
    fake(version="10.7.0.23")
    with pytest.raises(ProviderError) as err:
        TensorRTEngineRunner(write_engine(tmp_path, trt_version="10.3.0.30"), backend=backend)
    text = str(err.value)
    assert "10.3.0.30" in text and "10.7.0.23" in text and "rebuild" in text


def test_compute_capability_mismatch_is_refused(tmp_path: Path, fake) -> None:  # noqa: ANN001
    fake()
    with pytest.raises(ProviderError) as err:
        TensorRTEngineRunner(write_engine(tmp_path, cc="8.7"), backend=FakeBackend(cc="7.2", device="Xavier"))
    text = str(err.value)
    assert "8.7" in text and "7.2" in text and "Xavier" in text


def test_same_cc_other_gpu_name_only_warns(tmp_path: Path, fake, caplog: pytest.LogCaptureFixture) -> None:  # noqa: ANN001
    fake()
    with caplog.at_level("WARNING", logger="edgeemo.tensorrt"):
        TensorRTEngineRunner(write_engine(tmp_path), backend=FakeBackend(device="Orin NX"))
    assert any("Orin NX" in r.getMessage() for r in caplog.records)


def test_corrupt_plan(tmp_path: Path, fake, backend: FakeBackend) -> None:  # noqa: ANN001
    fake()
    with pytest.raises(ProviderError, match="magic tag mismatch"):
        TensorRTEngineRunner(write_engine(tmp_path, plan=b"garbage"), backend=backend)


def test_sidecar_problems(tmp_path: Path, fake, backend: FakeBackend) -> None:  # noqa: ANN001
    fake()
    engine = write_engine(tmp_path)
    sidecar_path_for(engine).unlink()
    with pytest.raises(ModelMetadataError, match="sidecar .* is missing"):
        TensorRTEngineRunner(engine, backend=backend)
    engine = write_engine(tmp_path, precision="int4")
    with pytest.raises(ModelMetadataError, match="precision"):
        load_engine_sidecar(engine)
    engine = write_engine(tmp_path, format=2)
    with pytest.raises(ModelMetadataError, match="format 2"):
        load_engine_sidecar(engine)
    data = json.loads(sidecar_path_for(engine).read_text())
    del data["tensorrt_version"]
    data["format"] = 1
    sidecar_path_for(engine).write_text(json.dumps(data))
    with pytest.raises(ModelMetadataError, match="'tensorrt_version'"):
        load_engine_sidecar(engine)
    sidecar_path_for(engine).write_text("{not json")
    with pytest.raises(ModelMetadataError, match="unreadable"):
        load_engine_sidecar(engine)
    with pytest.raises(ModelNotFoundError):
        TensorRTEngineRunner(tmp_path / "absent.engine", backend=backend)


def test_missing_tensorrt_names_the_extra_and_jetpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: FakeBackend) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(MissingDependencyError) as err:
        TensorRTEngineRunner(write_engine(tmp_path), backend=backend)
    assert "edgeemo[tensorrt]" in str(err.value) and "JetPack" in str(err.value)


def test_engine_paths() -> None:
    assert is_engine_path("m.engine") and is_engine_path("M.PLAN") and not is_engine_path("m.onnx")
    assert sidecar_path_for("/x/m.int8.engine") == Path("/x/m.int8.engine.json")
