"""Whole-clip classification on real RAVDESS clips, in every input form."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import edgeemo
from edgeemo.contract import clip_window_starts

soxr = pytest.importorskip("soxr")


def scores(res: edgeemo.EmotionResult) -> np.ndarray:
    return np.array(list(res.scores.values()))


def test_clip_window_starts() -> None:
    assert clip_window_starts(8000, 16000, 4000) == [0]
    assert clip_window_starts(16000, 16000, 4000) == [0]
    assert clip_window_starts(24000, 16000, 4000) == [0, 4000, 8000]
    assert clip_window_starts(25000, 16000, 4000) == [0, 4000, 8000, 9000]  # last aligned to the end


def test_classify_real_clip(recognizer: edgeemo.Recognizer, real_clips) -> None:
    wave, sr, _ = real_clips[0]
    res = recognizer.classify(wave, sr)
    assert res.label in recognizer.labels
    s = scores(res)
    assert abs(s.sum() - 1.0) < 1e-5 and res.confidence == pytest.approx(s.max())
    assert res.label == recognizer.labels[int(s.argmax())]
    assert res.start_s == 0.0 and res.end_s == pytest.approx(wave.size / sr)
    assert res.is_speech and 0.2 <= res.speech_prob <= 1.0
    assert res.valence is None and res.arousal is None
    # mean of the window probabilities, per the contract
    starts = clip_window_starts(wave.size, 16000, 4000)
    windows = np.stack([wave[s : s + 16000] for s in starts])
    np.testing.assert_allclose(s, recognizer.classify_batch(windows).probs.mean(axis=0), atol=1e-6)
    t = recognizer.timings
    assert t.n_windows == len(starts) and t.model_ms > 0 and t.total_ms >= t.model_ms


def test_different_clips_differ(recognizer: edgeemo.Recognizer, real_clips) -> None:
    outs = [scores(recognizer.classify(w, sr)) for w, sr, _ in real_clips]
    assert max(np.abs(outs[0] - o).max() for o in outs[1:]) > 1e-3


def test_input_forms_agree(recognizer: edgeemo.Recognizer, real_clips) -> None:
    for wave, sr, _ in real_clips[:2]:
        ref = scores(recognizer.classify(wave, sr))
        i16 = np.round(wave * 32768).clip(-32768, 32767).astype(np.int16)
        np.testing.assert_allclose(scores(recognizer.classify(i16, sr)), ref, atol=1e-6)
        np.testing.assert_allclose(scores(recognizer.classify(wave.astype(np.float64), sr)), ref, atol=1e-6)
        i32 = (i16.astype(np.int32) << 16)
        np.testing.assert_allclose(scores(recognizer.classify(i32, sr)), ref, atol=1e-6)
        up = soxr.resample(wave, sr, 48000).astype(np.float32)
        stereo = np.stack([up, up], axis=1)
        np.testing.assert_allclose(scores(recognizer.classify(stereo, 48000)), ref, atol=1e-3)
        np.testing.assert_allclose(scores(recognizer.classify(stereo.T, 48000)), ref, atol=1e-3)
        up44 = soxr.resample(wave, sr, 44100).astype(np.float32)
        np.testing.assert_allclose(scores(recognizer.classify(up44, 44100)), ref, atol=1e-3)


def test_classify_file(recognizer: edgeemo.Recognizer, test_actor_clips) -> None:
    path = test_actor_clips[0][0]
    wave, sr = edgeemo.load_audio(path)
    assert recognizer.classify_file(path) == recognizer.classify(wave, sr)


def test_short_clip_is_padded(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, sr = clip
    part = wave[sr : sr + 12000]
    res = recognizer.classify(part, sr)
    padded = np.concatenate([part, np.zeros(4000, np.float32)])[None]
    np.testing.assert_allclose(scores(res), recognizer.classify_batch(padded).probs[0], atol=1e-6)
    assert res.end_s == pytest.approx(0.75)


def test_valence_arousal(va_recognizer: edgeemo.Recognizer, clip) -> None:
    res = va_recognizer.classify(*clip)
    assert res.valence is not None and -1 <= res.valence <= 1
    assert res.arousal is not None and -1 <= res.arousal <= 1
    out = va_recognizer.classify_batch(np.zeros((3, 16000), np.float32))
    assert out.probs.shape == (3, 8) and out.valence_arousal is not None
    assert out.valence_arousal.shape == (3, 2)
    json.dumps(res.to_dict())


def test_classify_batch(recognizer: edgeemo.Recognizer, clip) -> None:
    wave = np.tile(clip[0], 5)
    windows = np.stack([wave[i * 4000 : i * 4000 + 16000] for i in range(40)])  # > MAX_BATCH
    out = recognizer.classify_batch(windows)
    assert out.probs.shape == (40, 8) and out.valence_arousal is None and len(out) == 40
    np.testing.assert_allclose(out.probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        out.probs[0, 0] = 1.0  # read-only
    one = recognizer.classify_batch(windows[5:6]).probs[0]
    np.testing.assert_allclose(one, out.probs[5], atol=1e-6)
    empty = recognizer.classify_batch(np.zeros((0, 16000), np.float32))
    assert empty.probs.shape == (0, 8)
    assert recognizer.timings.n_windows == 0


def test_silence_is_not_speech(recognizer: edgeemo.Recognizer) -> None:
    res = recognizer.classify(np.zeros(32000, np.float32), 16000)
    assert not res.is_speech and res.speech_prob == 0.0


def test_threads_share_a_recognizer(recognizer: edgeemo.Recognizer, real_clips) -> None:
    expected = [scores(recognizer.classify(w, sr)) for w, sr, _ in real_clips]
    got: dict[int, np.ndarray] = {}

    def work(i: int) -> None:
        w, sr, _ = real_clips[i]
        got[i] = scores(recognizer.classify(w, sr))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(real_clips))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, e in enumerate(expected):
        np.testing.assert_allclose(got[i], e, atol=1e-6)


def test_run_windows_is_the_shared_inference(recognizer: edgeemo.Recognizer, clip) -> None:
    wave = np.tile(clip[0], 3)
    windows = np.stack([wave[i * 4000 : i * 4000 + 16000] for i in range(5)]).astype(np.float32)
    scores_, timing = recognizer.run_windows(windows)
    assert isinstance(scores_, edgeemo.WindowScores) and isinstance(timing, edgeemo.Timing)
    assert timing.n_windows == 5 and timing.model_ms > 0
    np.testing.assert_array_equal(scores_.probs, recognizer.classify_batch(windows).probs)


def test_timings_are_per_thread(recognizer: edgeemo.Recognizer, clip) -> None:
    """``Recognizer.timings`` is the calling thread's last classify/classify_batch; streams keep
    their own timings and leave it alone."""
    recognizer.classify_batch(np.zeros((3, 16000), np.float32))
    mine = recognizer.timings
    assert mine.n_windows == 3
    seen: dict[str, edgeemo.Timing] = {}

    def other() -> None:
        seen["before"] = recognizer.timings
        recognizer.classify_batch(np.zeros((7, 16000), np.float32))
        seen["after"] = recognizer.timings

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen["before"] == edgeemo.Timing() and seen["after"].n_windows == 7
    assert recognizer.timings is mine
    stream = recognizer.create_stream(vad=False)
    stream.accept(clip[0])
    n = len(list(stream.results()))
    assert n > 0 and stream.timings.n_windows == n
    assert recognizer.timings is mine


# -- a model that outputs NaN -----------------------------------------------------------------
@pytest.fixture(scope="module")
def nan_recognizer(fixture_models) -> edgeemo.Recognizer:
    return edgeemo.Recognizer(fixture_models["nan_scores"])


def test_nan_scores_are_a_model_error(nan_recognizer: edgeemo.Recognizer, clip) -> None:
    """NaN scores must never become a result ('neutral nan'): every entry point raises."""
    wave, sr = clip
    calls = {
        "classify": lambda: nan_recognizer.classify(wave, sr),
        "classify_batch": lambda: nan_recognizer.classify_batch(np.zeros((2, 16000), np.float32)),
        "run_windows": lambda: nan_recognizer.run_windows(np.zeros((1, 16000), np.float32)),
    }
    for name, call in calls.items():
        with pytest.raises(edgeemo.errors.ModelError, match="produced non-finite scores") as info:
            call()
        assert "nan_scores.onnx" in str(info.value) and "re-export" in str(info.value), name
        assert not isinstance(info.value, edgeemo.errors.AudioError)
    stream = nan_recognizer.create_stream(vad=False)
    stream.accept(wave, sr)
    with pytest.raises(edgeemo.errors.ModelError, match="non-finite"):
        list(stream.results())
    with pytest.raises(edgeemo.errors.ModelError, match="non-finite"):
        list(stream.flush())
