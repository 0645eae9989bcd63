"""Model loading and metadata validation against docs/model_contract.md."""

from __future__ import annotations

from pathlib import Path

import pytest

import edgeemo
from edgeemo.errors import ModelLoadError, ModelMetadataError, ModelNotFoundError

BROKEN = {
    # name: (exception, substrings the message must contain)
    "no_metadata": (ModelMetadataError, ["no edgeemo metadata", "edgeemo export"]),
    "missing_key": (ModelMetadataError, ["'sample_rate'", "missing", "edgeemo export"]),
    "labels_mismatch": (ModelMetadataError, ["'labels'", "7 labels", "8 wide", "edgeemo export"]),
    "window_mismatch": (ModelMetadataError, ["'window_samples'", "32000", "16000", "edgeemo export"]),
    "format_version": (ModelMetadataError, ["'edgeemo_format'", "'2'", "format 1"]),
    "missing_head": (ModelMetadataError, ["'heads'", "'valence_arousal'", "no output"]),
    "truncated": (ModelLoadError, ["truncated.onnx", "Protobuf", "corrupt"]),
    "not_onnx": (ModelLoadError, ["not_onnx.onnx", "not an ONNX model"]),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_models_are_refused(fixture_models: dict[str, Path], name: str) -> None:
    exc_type, parts = BROKEN[name]
    with pytest.raises(exc_type) as info:
        edgeemo.Recognizer(fixture_models[name])
    msg = str(info.value)
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"
    assert isinstance(info.value, edgeemo.EdgeEmoError)


def test_valid_model_info(recognizer: edgeemo.Recognizer, make_models) -> None:
    rec = recognizer
    assert rec.labels == make_models.LABELS
    assert rec.sample_rate == 16000 and rec.window_samples == 16000 and rec.hop_samples == 4000
    assert rec.window_s == 1.0 and rec.hop_s == 0.25 and rec.min_samples == 8000
    assert rec.heads == ("categories",)
    assert rec.provider == "CPUExecutionProvider"
    info = rec.info
    assert info.n_bytes == info.path.stat().st_size > 0
    assert len(info.sha256) == 64
    assert info.input_name == "audio" and info.output_names == ("probs",)
    assert info.quantization == "fp32" and info.model_name == "edgeemo-test-fixture"
    assert info.metadata["license"] == "Apache-2.0"
    d = info.to_dict()
    assert d["labels"] == list(make_models.LABELS) and d["metadata"]["edgeemo_format"] == "1"
    with pytest.raises(TypeError):
        info.metadata["labels"] = "x"  # type: ignore[index]
    assert "valid.onnx" in repr(rec)


def test_valence_arousal_model(va_recognizer: edgeemo.Recognizer) -> None:
    assert va_recognizer.heads == ("categories", "valence_arousal")
    assert "embedding" in va_recognizer.info.output_names


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="model file not found") as info:
        edgeemo.Recognizer(tmp_path / "nope.onnx")
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(ModelNotFoundError, match="is a folder"):
        edgeemo.Recognizer(tmp_path)
    with pytest.raises(ModelNotFoundError, match="path to an .onnx file"):
        edgeemo.Recognizer(123)  # type: ignore[arg-type]


def test_default_model(monkeypatch, tmp_path: Path) -> None:
    path = edgeemo.default_model_path()
    from edgeemo import registry

    assert path.name == registry.BUNDLED_MODELS[registry.DEFAULT_MODEL].file_name and path.parent.name == "models"
    assert path.is_file(), "the bundled model must ship with the package"
    assert edgeemo.Recognizer().info.path == path
    # an installation that lost its model file says what to do
    import edgeemo.model as model_module

    monkeypatch.setattr(model_module, "default_model_path", lambda: tmp_path / "gone.onnx")
    with pytest.raises(ModelNotFoundError, match="bundled default model") as info:
        edgeemo.Recognizer()
    assert "edgeemo export" in str(info.value)


def test_options_reach_the_session(fixture_models: dict[str, Path]) -> None:
    rec = edgeemo.Recognizer(fixture_models["valid"], options={"num_threads": 2}, log_level="error")
    assert rec.options.num_threads == 2 and rec.options.log_level == "error"
    assert rec.provider == "CPUExecutionProvider"
