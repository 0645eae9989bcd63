"""A TensorRT engine through :mod:`edgeemo.export.tensorrt.session` (fake runner, no GPU here), and
the SDK's refusal of bare engines.

Moved from tests/sdk/: ``Recognizer("x.engine")`` used to run engines through ``EngineSession``;
the SDK's GPU path is now ONNX Runtime's providers only, and the same contract checks run in
:func:`open_engine` (``edgeemo export tensorrt run``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from edgeemo.contract import clip_window_starts
from edgeemo.errors import MissingDependencyError, ModelLoadError, ModelMetadataError, ProviderError
from edgeemo.export.tensorrt.cli import tensorrt_group
from edgeemo.export.tensorrt.session import EngineSession, classify_clip, open_engine

LABELS = "neutral,calm,happy,sad,angry,fear,disgust,surprise"
META = {
    "edgeemo_format": "1", "labels": LABELS, "sample_rate": "16000", "window_samples": "16000",
    "hop_samples": "4000", "min_samples": "4000", "heads": "categories", "model_name": "fake",
    "model_version": "1", "training_data": "none", "license": "test", "quantization": "int8-qdq",
}


class FakeRunner:
    """Stands in for TensorRTEngineRunner: softmax of a fixed projection of window energies."""

    def __init__(self, metadata: dict[str, str], precision: str = "int8", n_labels: int = 8) -> None:
        self.metadata = metadata
        self.window_samples = int(metadata["window_samples"])
        self.output_names = ["probs"]
        self.output_shapes = {"probs": (8, n_labels)}
        self.sidecar = SimpleNamespace(precision=precision)
        self.closed = False

    def run_all(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        energy = np.log((windows.reshape(len(windows), 8, -1) ** 2).mean(axis=2) + 1e-6)
        return {"probs": np.exp(energy) / np.exp(energy).sum(axis=1, keepdims=True)}

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def engine_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.engine"
    path.write_bytes(b"not a real plan")
    sidecar = {
        "format": 1, "engine_file": "model.engine", "onnx_file": "model.onnx", "onnx_sha256": "0" * 64,
        "onnx_metadata": META, "tensorrt_version": "10.3.0", "compute_capability": "8.7", "gpu_name": "Orin",
        "precision": "int8", "profile": {"audio": {"min": [1, 16000], "opt": [1, 16000], "max": [8, 16000]}},
        "inputs": [{"name": "audio"}], "outputs": [{"name": "probs"}],
    }
    (tmp_path / "model.engine.json").write_text(json.dumps(sidecar))
    return path


def _use_fake(monkeypatch: pytest.MonkeyPatch, runner: FakeRunner) -> None:
    monkeypatch.setattr(EngineSession, "open", classmethod(lambda cls, path, device=0: cls(runner)))


def _wave() -> np.ndarray:
    return np.sin(np.linspace(0, 2000, 40000)).astype(np.float32) * 0.3


def test_engine_runs_through_the_model_contract(engine_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_fake(monkeypatch, FakeRunner(dict(META)))
    session, meta = open_engine(engine_file)
    assert session.get_providers() == ["TensorrtEngine"]
    assert meta.labels[4] == "angry" and meta.window_samples == 16000
    res = classify_clip(session, meta, _wave(), 16000)
    assert abs(sum(res.scores.values()) - 1.0) < 1e-5
    assert res.n_windows == len(clip_window_starts(40000, 16000, 4000))
    assert res.label == max(res.scores, key=res.scores.__getitem__) and res.confidence == res.scores[res.label]


def test_engine_metadata_is_validated_like_onnx(engine_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = dict(META)
    del bad["labels"]
    _use_fake(monkeypatch, FakeRunner(bad))
    with pytest.raises(ModelMetadataError, match="labels"):
        open_engine(engine_file)


def test_engine_output_width_is_checked_against_labels(engine_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_fake(monkeypatch, FakeRunner(dict(META), n_labels=7))
    with pytest.raises(ModelMetadataError, match="8 labels but output 'probs' is 7 wide"):
        open_engine(engine_file)


def test_engine_refuses_other_precisions(engine_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _use_fake(monkeypatch, FakeRunner(dict(META), precision="int8"))
    with pytest.raises(ProviderError, match="never changes precision"):
        open_engine(engine_file, precision="fp16")
    open_engine(engine_file, precision="int8")


def test_engine_without_tensorrt_names_the_extra(engine_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match="tensorrt") as err:
        open_engine(engine_file)
    assert "edgeemo[tensorrt]" in str(err.value) and "JetPack" in str(err.value)


def test_run_command_classifies_files(engine_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import soundfile as sf

    runner = FakeRunner(dict(META))
    _use_fake(monkeypatch, runner)
    wav = tmp_path / "clip.wav"
    sf.write(wav, _wave(), 16000)
    res = CliRunner().invoke(tensorrt_group, ["run", str(engine_file), str(wav), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["path"] == str(wav) and out["label"] in LABELS.split(",")
    assert abs(sum(out["scores"].values()) - 1.0) < 1e-5
    assert runner.closed

    bad = CliRunner().invoke(tensorrt_group, ["run", str(engine_file), str(wav), "--precision", "fp32"])
    assert bad.exit_code == 1 and "never changes precision" in bad.output


@pytest.mark.parametrize("name", ["model.engine", "model.int8.PLAN", "m.trt"])
@pytest.mark.parametrize("provider", ["auto", "tensorrt", "cpu"])
def test_recognizer_refuses_a_bare_engine(tmp_path: Path, name: str, provider: str) -> None:
    """The SDK names both ways forward, and never imports TensorRT (or edgeemo.export) to say so."""
    path = tmp_path / name
    path.write_bytes(b"ftrt not a real plan")
    code = (
        "import json, sys\n"
        "import edgeemo\n"
        "try:\n"
        f"    edgeemo.Recognizer(sys.argv[1], provider={provider!r})\n"
        "except edgeemo.errors.EdgeEmoError as exc:\n"
        "    err = {'type': type(exc).__name__, 'message': str(exc)}\n"
        "else:\n"
        "    err = None\n"
        "loaded = [m for m in ('tensorrt', 'edgeemo.export', 'edgeemo.train') if m in sys.modules]\n"
        "print(json.dumps({'error': err, 'loaded': loaded}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert out["loaded"] == []
    assert out["error"] is not None and out["error"]["type"] == ModelLoadError.__name__
    message = out["error"]["message"]
    for needle in ("bare TensorRT engine", "provider='tensorrt'", "edgeemo export tensorrt run",
                   "edgeemo.export.tensorrt.runner", "edgeemo[tensorrt]"):
        assert needle in message, needle
