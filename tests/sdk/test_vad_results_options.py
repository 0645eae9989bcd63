"""VAD on real and synthetic audio; frozen results; options from dicts."""

from __future__ import annotations

import dataclasses
import json
import pickle

import numpy as np
import pytest

import edgeemo
from edgeemo.errors import ConfigError
from edgeemo.smoothing import EMA
from edgeemo.vad import EnergyVAD, speech_ratio

RNG = np.random.default_rng(7)


def white(db: float, seconds: float = 3.0) -> np.ndarray:
    return (RNG.standard_normal(int(16000 * seconds)) * 10 ** (db / 20)).astype(np.float32)


# -- VAD ----------------------------------------------------------------------------------------
def test_vad_real_speech_is_speech(test_actor_clips) -> None:
    for path, _ in test_actor_clips:
        wave, sr = edgeemo.load_audio(path)
        assert speech_ratio(wave, sr) >= 0.2, path


@pytest.mark.parametrize("db", [-80.0, -60.0, -40.0])
def test_vad_noise_and_silence_are_not_speech(db: float) -> None:
    assert speech_ratio(white(db), 16000) < 0.05
    assert speech_ratio(np.zeros(48000, np.float32), 16000) == 0.0


def test_vad_speech_in_noise(clip) -> None:
    wave, sr = clip
    noisy = wave + white(-60.0, wave.size / sr)[: wave.size]
    assert speech_ratio(noisy, sr) >= 0.2


def test_vad_chunk_invariant(clip) -> None:
    wave, sr = clip
    whole = EnergyVAD(sr)
    whole.accept(wave)
    pieces = EnergyVAD(sr)
    for i in range(0, wave.size, 333):
        pieces.accept(wave[i : i + 333])
    np.testing.assert_array_equal(whole.frame_probs, pieces.frame_probs)
    assert whole.speech_ratio(16000, 32000) == pieces.speech_ratio(16000, 32000)
    pieces.trim(16000)
    assert whole.speech_ratio(16000, 32000) == pieces.speech_ratio(16000, 32000)
    assert pieces.speech_ratio(0, 100) == 0.0  # no complete frame


def test_ema() -> None:
    ema = EMA(0.5)
    np.testing.assert_allclose(ema.update(np.array([1.0, 0.0])), [1.0, 0.0])
    np.testing.assert_allclose(ema.update(np.array([0.0, 1.0])), [0.5, 0.5])
    ema.reset()
    assert ema.value is None
    with pytest.raises(ValueError):
        EMA(1.0)


# -- results ------------------------------------------------------------------------------------
def make_result(**kw) -> edgeemo.EmotionResult:
    base = dict(
        label="happy", confidence=0.7, scores={"happy": 0.7, "sad": 0.3}, start_s=0.0, end_s=1.0,
        speech_prob=0.9, is_speech=True,
    )
    base.update(kw)
    return edgeemo.EmotionResult(**base)


def test_results_are_frozen() -> None:
    res = make_result(valence=0.1, arousal=-0.2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.label = "sad"  # type: ignore[misc]
    with pytest.raises(TypeError):
        res.scores["happy"] = 1.0  # type: ignore[index]
    t = edgeemo.Timing(model_ms=1.0, post_ms=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.model_ms = 2.0  # type: ignore[misc]
    ws = edgeemo.WindowScores(probs=np.ones((1, 2), np.float32))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ws.probs = None  # type: ignore[misc,assignment]


def test_result_to_dict_and_pickle() -> None:
    res = make_result(valence=0.1, arousal=-0.2)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["scores"] == {"happy": 0.7, "sad": 0.3} and d["valence"] == 0.1
    assert make_result().to_dict()["arousal"] is None
    back = pickle.loads(pickle.dumps(res))
    assert back == res and isinstance(back.scores, type(res.scores))


# -- options ------------------------------------------------------------------------------------
def test_options_from_any() -> None:
    o = edgeemo.RecognizerOptions.from_any({"num_threads": 4, "provider": "AUTO"})
    assert o.num_threads == 4 and o.provider == "auto"
    assert edgeemo.RecognizerOptions.from_any(None) == edgeemo.RecognizerOptions()
    assert edgeemo.RecognizerOptions.from_any(o) == o
    assert edgeemo.RecognizerOptions.from_any(o, num_threads=1).num_threads == 1
    s = edgeemo.StreamOptions.from_any({"smoothing": 0.5}, vad=False)
    assert s.smoothing == 0.5 and s.vad is False and s.hop_s is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.vad = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "cls, value, match",
    [
        (edgeemo.RecognizerOptions, {"threads": 2}, "unknown recognizer option key.*'threads'.*num_threads"),
        (edgeemo.RecognizerOptions, {"num_threads": -1}, "num_threads"),
        (edgeemo.RecognizerOptions, {"num_threads": 1.5}, "num_threads"),
        (edgeemo.RecognizerOptions, {"provider": "gpu"}, "provider"),
        (edgeemo.RecognizerOptions, {"precision": "bf16"}, "precision"),
        (edgeemo.RecognizerOptions, {"log_level": "loud"}, "log_level"),
        (edgeemo.RecognizerOptions, {"engine_cache_dir": 5}, "engine_cache_dir"),
        (edgeemo.RecognizerOptions, "cpu", "must be a RecognizerOptions, a dict or None"),
        (edgeemo.StreamOptions, {"hop": 0.5}, "unknown stream option key.*'hop'"),
        (edgeemo.StreamOptions, {"hop_s": 0}, "hop_s"),
        (edgeemo.StreamOptions, {"hop_s": float("nan")}, "hop_s"),
        (edgeemo.StreamOptions, {"smoothing": 1.0}, r"smoothing.*\[0, 1\)"),
        (edgeemo.StreamOptions, {"vad_threshold": 2}, "vad_threshold"),
        (edgeemo.StreamOptions, {"min_speech_ratio": -0.1}, "min_speech_ratio"),
        (edgeemo.StreamOptions, {"vad": "yes"}, "vad must be True or False"),
    ],
)
def test_bad_options(cls, value, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cls.from_any(value)


def test_bad_options_reach_the_api(fixture_models, recognizer: edgeemo.Recognizer) -> None:
    with pytest.raises(ConfigError, match="num_thread"):
        edgeemo.Recognizer(fixture_models["valid"], num_thread=2)
    with pytest.raises(ConfigError, match="unknown stream option"):
        recognizer.create_stream({"smoothness": 0.3})
    with pytest.raises(ConfigError):
        recognizer.create_stream(smoothing=-1)
