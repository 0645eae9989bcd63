"""The bundled "small" model (truncated Whisper tiny.en student) through the same SDK as "tiny":
chosen by name, contract metadata, licence, calibration in the graph, real clips, streams."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgeemo
from edgeemo import contract, registry

SMALL = registry.bundled_model("small")


@pytest.fixture(scope="module")
def small() -> edgeemo.Recognizer:
    assert SMALL.is_installed, f"the bundled small model is missing: {SMALL.path}"
    return edgeemo.Recognizer("small", num_threads=1)


def test_small_is_a_contract_model_with_its_card_and_licences(small: edgeemo.Recognizer) -> None:
    info = small.info
    assert info.path == SMALL.path and SMALL.card_path.is_file()
    assert info.labels == ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")
    assert (info.sample_rate, info.window_samples, info.hop_samples) == (16000, 48000, 8000)
    assert "non-commercial" in info.license and "MIT" in info.license
    assert info.quantization == "int8-qdq" and "whisper-logmel" in (info.frontend or "")
    assert 2_000_000 < int(info.metadata["learned_parameters"]) < 8_000_000
    assert info.n_bytes <= 8 * 1024 * 1024
    cal = info.metadata[contract.KEY_CALIBRATION]
    assert "temperature=" in cal and "out-of-fold" in cal
    card = SMALL.card_path.read_text()
    assert "non-commercial" in card and "MIT" in card and "five actor folds" in card


def test_small_classifies_real_speech_and_agrees_with_its_windows(small: edgeemo.Recognizer, data_root: Path) -> None:
    from edgeemo.audio import load_audio

    clip = data_root / "ravdess" / "audio" / "Actor_19" / "03-01-05-02-01-01-19.flac"  # angry, strong
    wave, sr = load_audio(clip)
    res = small.classify(wave, sr)
    assert res.is_speech and res.has_emotion
    assert abs(sum(res.scores.values()) - 1.0) < 1e-4
    # the clip result is the mean of its windows' probabilities (the contract's window rule)
    from edgeemo.audio import prepare_clip

    x = prepare_clip(wave, sr, 16000, small.min_samples)
    starts = contract.clip_window_starts(max(x.size, 48000), 48000, 8000)
    x = np.pad(x, (0, max(0, 48000 - x.size)))
    probs = small.classify_batch(np.stack([x[s : s + 48000] for s in starts])).probs.mean(axis=0)
    assert np.allclose(probs, [res.scores[k] for k in small.labels], atol=1e-4)


def test_small_and_tiny_run_through_the_same_stream_api(small: edgeemo.Recognizer, data_root: Path) -> None:
    from edgeemo.audio import load_audio

    wave, sr = load_audio(data_root / "ravdess" / "audio" / "Actor_20" / "03-01-03-02-01-01-20.flac")
    for rec in (small, edgeemo.Recognizer("tiny")):
        stream = rec.create_stream()
        stream.accept(wave, sample_rate=sr)
        results = list(stream.results()) + list(stream.flush())
        assert results and all(r.label in (*rec.labels, "no_speech", "uncertain") for r in results)
