"""Streams: one result per hop, chunk-size invariant, VAD gate, smoothing, flush and reset."""

from __future__ import annotations

import numpy as np
import pytest

import edgeemo
from edgeemo.errors import ConfigError, SampleRateError

soxr = pytest.importorskip("soxr")


def run_stream(stream: edgeemo.Stream, wave: np.ndarray, chunk: int, sr: int | None = None):
    out = []
    for i in range(0, len(wave), chunk):
        stream.accept(wave[i : i + chunk], sr)
        out.extend(stream.results())
    out.extend(stream.flush())
    return out


def as_matrix(results) -> np.ndarray:
    return np.array(
        [[r.start_s, r.end_s, r.speech_prob, float(r.is_speech), *r.scores.values()] for r in results]
    )


@pytest.mark.parametrize("rate", [16000, 44100])
def test_chunk_size_invariance(recognizer: edgeemo.Recognizer, clip, rate: int) -> None:
    wave, sr = clip
    x = wave if rate == sr else soxr.resample(wave, sr, rate).astype(np.float32)
    runs = {}
    for chunk in (160, 512, 16000):
        stream = recognizer.create_stream(smoothing=0.5)
        runs[chunk] = run_stream(stream, x, chunk, rate)
        assert stream.samples_seen == x.size
    ref = as_matrix(runs[160])
    assert len(ref) >= 10
    for chunk in (512, 16000):
        assert [r.label for r in runs[chunk]] == [r.label for r in runs[160]]
        np.testing.assert_allclose(as_matrix(runs[chunk]), ref, atol=1e-6, rtol=0)


def test_one_result_per_hop(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, sr = clip
    stream = recognizer.create_stream()
    stream.accept(wave[:15999])
    assert list(stream.results()) == []  # no full window yet
    stream.accept(wave[15999:16000])
    (first,) = stream.results()
    assert (first.start_s, first.end_s) == (0.0, 1.0)
    stream.accept(wave[16000:24000])
    got = list(stream.results())
    assert [(r.start_s, r.end_s) for r in got] == [(0.25, 1.25), (0.5, 1.5)]
    assert list(stream.results()) == []  # popped


def test_stream_matches_classify_batch(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    out = [r for r in run_stream(recognizer.create_stream(vad=False), wave, 4000) if r.end_s - r.start_s == 1.0]
    assert len(out) == (wave.size - 16000) // 4000 + 1
    windows = np.stack([wave[i * 4000 : i * 4000 + 16000] for i in range(len(out))])
    ref = recognizer.classify_batch(windows).probs
    np.testing.assert_allclose(np.array([list(r.scores.values()) for r in out]), ref, atol=1e-6)
    assert all(r.is_speech and r.speech_prob == 1.0 for r in out)


def test_flush_emits_partial_window(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    stream = recognizer.create_stream()
    stream.accept(wave[:12000])  # shorter than a window, longer than min_samples (8000)
    assert list(stream.results()) == []
    (res,) = stream.flush()
    assert (res.start_s, res.end_s) == (0.0, 0.75)
    padded = np.concatenate([wave[:12000], np.zeros(4000, np.float32)])[None]
    np.testing.assert_allclose(list(res.scores.values()), recognizer.classify_batch(padded).probs[0], atol=1e-6)
    assert list(stream.flush()) == []  # a second flush has nothing left
    stream.accept(wave[:4000])  # a new input after flush: too short to give anything
    assert list(stream.results()) == [] and list(stream.flush()) == []
    assert stream.samples_seen == 4000


def test_reset(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    stream = recognizer.create_stream(smoothing=0.9)
    first = run_stream(stream, wave, 3000)
    stream.reset()
    assert stream.samples_seen == 0
    again = run_stream(stream, wave, 7000)
    np.testing.assert_allclose(as_matrix(again), as_matrix(first), atol=1e-6)


def test_sample_rate_rules(recognizer: edgeemo.Recognizer) -> None:
    stream = recognizer.create_stream()
    stream.accept(np.zeros(441, np.float32), 44100)
    with pytest.raises(SampleRateError, match="reset"):
        stream.accept(np.zeros(480, np.float32), 48000)
    with pytest.raises(SampleRateError):
        stream.accept(np.zeros(480, np.float32), 4000)
    stream.reset()
    stream.accept(np.zeros(480, np.float32), 48000)
    stream.accept(np.zeros(0, np.float32), 48000)  # empty chunks are fine in a stream
    with pytest.raises(edgeemo.AudioFormatError):
        stream.accept(np.array([np.nan], np.float32), 48000)


def test_stereo_int16_chunks(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    i16 = np.round(wave * 32768).clip(-32768, 32767).astype(np.int16)
    stereo = np.stack([i16, i16], axis=1)
    a = run_stream(recognizer.create_stream(), stereo, 1024)
    b = run_stream(recognizer.create_stream(), wave, 1000)
    np.testing.assert_allclose(as_matrix(a), as_matrix(b), atol=1e-6)


def test_hop_option(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    out = run_stream(recognizer.create_stream(hop_s=0.5), wave[:32000], 4000)
    assert [r.start_s for r in out if r.end_s - r.start_s == 1.0] == [0.0, 0.5, 1.0]
    assert recognizer.create_stream({"hop_s": 1.0}).hop_samples == 16000
    for bad in (2.0, 1e-9):
        with pytest.raises(ConfigError, match="hop"):
            recognizer.create_stream(hop_s=bad)


def test_vad_gate_says_no_speech(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    # real speech, then 3 s of digital silence
    x = np.concatenate([wave, np.zeros(48000, np.float32)])
    out = run_stream(recognizer.create_stream(), x, 4000)
    speech = [r for r in out if r.is_speech]
    silent_tail = [r for r in out if r.start_s >= wave.size / 16000]
    assert speech and silent_tail
    assert all(not r.is_speech and r.speech_prob == 0.0 for r in silent_tail)
    assert all(r.label in recognizer.labels and r.confidence > 0 for r in speech)
    for r in silent_tail:  # no emotion once speech has ended: "no_speech", confidence 0
        assert r.label == "no_speech" and r.confidence == 0.0 and not r.has_emotion
        assert abs(sum(r.scores.values()) - 1.0) < 1e-4  # the window's own scores (diagnostic)
    # silence only: nothing is speech, no emotion from the first window on
    only = run_stream(recognizer.create_stream(), np.zeros(32000, np.float32), 4000)
    assert only and all(not r.is_speech and r.label == "no_speech" for r in only)


def test_smoothing(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    raw = as_matrix(run_stream(recognizer.create_stream(vad=False), wave, 4000))[:, 4:]
    sm = as_matrix(run_stream(recognizer.create_stream(vad=False, smoothing=0.6), wave, 4000))[:, 4:]
    expected = raw.copy()
    for i in range(1, len(raw)):
        expected[i] = 0.6 * expected[i - 1] + 0.4 * raw[i]
    np.testing.assert_allclose(sm, expected, atol=1e-6)
    np.testing.assert_allclose(sm.sum(axis=1), 1.0, atol=1e-5)
    assert np.abs(np.diff(sm, axis=0)).mean() < np.abs(np.diff(raw, axis=0)).mean()


def test_valence_arousal_stream(va_recognizer: edgeemo.Recognizer, clip) -> None:
    out = run_stream(va_recognizer.create_stream(smoothing=0.3), clip[0], 2048)
    assert out and all(r.valence is not None and r.arousal is not None for r in out)


def test_streams_are_independent(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, _ = clip
    a, b = recognizer.create_stream(), recognizer.create_stream()
    out_a, out_b = [], []
    for i in range(0, wave.size, 2000):
        a.accept(wave[i : i + 2000])
        b.accept(np.zeros(2000, np.float32))
        out_a.extend(a.results())
        out_b.extend(b.results())
    out_a.extend(a.flush())
    solo = run_stream(recognizer.create_stream(), wave, 2000)
    np.testing.assert_allclose(as_matrix(out_a), as_matrix(solo), atol=1e-6)
    assert stream_timing_ok(a)


def stream_timing_ok(stream: edgeemo.Stream) -> bool:
    t = stream.timings
    return t.model_ms >= 0 and t.pre_ms >= 0 and isinstance(t, edgeemo.Timing)


# -- channel layout of small chunks -----------------------------------------------------------
def stereo_pair(wave: np.ndarray) -> np.ndarray:
    """(2, n): the clip on the left, half of it on the right; the down-mix is 0.75 * wave."""
    return np.stack([wave, 0.5 * wave]).astype(np.float32)


def feed_channels_first(stream: edgeemo.Stream, stereo: np.ndarray, chunk: int, **kw) -> list:
    out = []
    for i in range(0, stereo.shape[1], chunk):
        stream.accept(stereo[:, i : i + chunk], **kw)
        out.extend(stream.results())
    return out + list(stream.flush())


def test_tiny_channels_first_chunks_lose_no_samples(recognizer: edgeemo.Recognizer, clip) -> None:
    """(2, 4) chunks of a stereo signal give the results of one big chunk (were read as (4, 2))."""
    wave, _ = clip
    stereo = stereo_pair(wave[:24000])
    ref = run_stream(recognizer.create_stream(), stereo, stereo.size)  # one (2, n) chunk
    ref_mono = run_stream(recognizer.create_stream(), 0.75 * wave[:24000], 24000)
    np.testing.assert_allclose(as_matrix(ref), as_matrix(ref_mono), atol=1e-6)
    by_option = feed_channels_first(recognizer.create_stream(channels=2), stereo, 4)
    by_accept = feed_channels_first(recognizer.create_stream(), stereo, 4, channels=2)
    for got in (by_option, by_accept):
        assert len(got) == len(ref)
        np.testing.assert_allclose(as_matrix(got), as_matrix(ref), atol=1e-6)
    # the first chunk tells the layout; tiny chunks after it follow it
    stream = recognizer.create_stream()
    stream.accept(stereo[:, :1000])
    got = list(stream.results()) + feed_channels_first(stream, stereo[:, 1000:], 4)
    np.testing.assert_allclose(as_matrix(got), as_matrix(ref), atol=1e-6)
    assert stream.samples_seen == 24000  # every sample counted: none lost to a wrong layout


def test_ambiguous_first_chunk_is_an_error(recognizer: edgeemo.Recognizer) -> None:
    stream = recognizer.create_stream()
    with pytest.raises(edgeemo.errors.AudioFormatError, match=r"ambiguous.*channels="):
        stream.accept(np.zeros((2, 4), np.float32))
    stream.accept(np.zeros((4, 2), np.float32), channels=2)  # declared: (samples, channels)
    assert stream.samples_seen == 4
    with pytest.raises(edgeemo.errors.AudioFormatError, match="reset"):
        stream.accept(np.zeros((100, 1), np.float32))  # the channel count changed
    with pytest.raises(edgeemo.errors.AudioFormatError, match="reset"):
        stream.accept(np.zeros((100, 3), np.float32), channels=3)
    stream.reset()
    stream.accept(np.zeros((100, 1), np.float32))  # after reset any layout is fine
    with pytest.raises(ConfigError, match="channels"):
        recognizer.create_stream(channels=0)
    with pytest.raises(ConfigError, match="channels"):
        edgeemo.StreamOptions(channels=9)
