"""``Recognizer("x.engine")``: the TensorRT engine path, with a fake runner (no GPU here)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import edgeemo
from edgeemo.engine_session import EngineSession
from edgeemo.errors import MissingDependencyError, ModelMetadataError, ProviderError

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

    def run_all(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        energy = np.log((windows.reshape(len(windows), 8, -1) ** 2).mean(axis=2) + 1e-6)
        return {"probs": np.exp(energy) / np.exp(energy).sum(axis=1, keepdims=True)}


@pytest.fixture
def engine_file(tmp_path: Path, monkeypatch) -> Path:
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


def _use_fake(monkeypatch, runner: FakeRunner) -> None:
    monkeypatch.setattr(EngineSession, "open", classmethod(lambda cls, path, device=0: cls(runner)))


def test_engine_runs_through_the_same_recognizer_api(engine_file: Path, monkeypatch):
    _use_fake(monkeypatch, FakeRunner(dict(META)))
    rec = edgeemo.Recognizer(engine_file, provider="tensorrt")
    assert rec.provider == "TensorrtEngine"
    assert rec.labels[4] == "angry" and rec.window_samples == 16000
    wave = np.sin(np.linspace(0, 2000, 40000)).astype(np.float32) * 0.3
    res = rec.classify(wave, 16000)
    assert abs(sum(res.scores.values()) - 1.0) < 1e-5


def test_engine_metadata_is_validated_like_onnx(engine_file: Path, monkeypatch):
    bad = dict(META)
    del bad["labels"]
    _use_fake(monkeypatch, FakeRunner(bad))
    with pytest.raises(ModelMetadataError, match="labels"):
        edgeemo.Recognizer(engine_file, provider="auto")


def test_engine_output_width_is_checked_against_labels(engine_file: Path, monkeypatch):
    _use_fake(monkeypatch, FakeRunner(dict(META), n_labels=7))
    with pytest.raises(ModelMetadataError, match="8 labels but output 'probs' is 7 wide"):
        edgeemo.Recognizer(engine_file, provider="tensorrt")


def test_engine_refuses_other_providers_and_precisions(engine_file: Path, monkeypatch):
    _use_fake(monkeypatch, FakeRunner(dict(META), precision="int8"))
    with pytest.raises(ProviderError, match="TensorRT engine"):
        edgeemo.Recognizer(engine_file, provider="cpu")
    with pytest.raises(ProviderError, match="never changes precision"):
        edgeemo.Recognizer(engine_file, provider="tensorrt", precision="fp16")


def test_engine_without_tensorrt_names_the_extra(engine_file: Path):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:  # pragma: no cover - TensorRT machines only
        pytest.skip("tensorrt is installed here, so the missing-TensorRT message cannot be tested")
    with pytest.raises((MissingDependencyError, ProviderError), match="tensorrt"):
        edgeemo.Recognizer(engine_file, provider="tensorrt")
