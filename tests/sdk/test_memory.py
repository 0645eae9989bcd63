"""Bounded memory (issue 12, item 4): clips are read, resampled and classified block by block.

* the block path (``classify``, ``classify_file``) equals the whole-clip path (whole-clip
  resampling, :func:`edgeemo.contract.clip_window_starts`, one mean) within ``SCORE_TOL``, and the
  speech ratio exactly;
* memory does not grow with the clip: Python-side allocations (tracemalloc) and ONNX Runtime's
  batch size are bounded; ``edgeemo classify`` of a long 48 kHz stereo file peaks within 30 MB of
  a short one (whole process, measured in a child process);
* ``edgeemo profile`` reports the model's own memory apart from the process baseline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")

import edgeemo
from edgeemo.audio import (
    AudioFileReader,
    iter_mono_blocks,
    load_mono,
    resample,
    to_mono_float32,
)
from edgeemo.contract import clip_window_starts
from edgeemo.errors import AudioFileError, AudioFormatError, AudioTooShortError
from edgeemo.recognizer import CPU_BATCH, MAX_BATCH
from edgeemo.vad import speech_ratio

SCORE_TOL = 1e-5
"""Block path vs whole-clip path: the resampled samples and window contents are identical
(soxr's streaming and one-shot resamplers agree bit for bit); only the model's batch size differs,
which moves scores by about 1e-7."""


@pytest.fixture(scope="module")
def tiny() -> edgeemo.Recognizer:
    return edgeemo.Recognizer("tiny")


def whole_clip_reference(rec: edgeemo.Recognizer, wave: np.ndarray, sr: int) -> edgeemo.EmotionResult:
    """The former whole-clip ``classify``: everything in memory at once."""
    x = resample(to_mono_float32(wave), sr, rec.sample_rate)
    ratio = speech_ratio(x, rec.sample_rate)
    n_real, w = x.size, rec.window_samples
    if n_real < w:
        x = np.concatenate([x, np.zeros(w - n_real, np.float32)])
    starts = clip_window_starts(x.size, w, rec.hop_samples)
    probs = rec.classify_batch(np.stack([x[s : s + w] for s in starts])).probs.mean(axis=0)
    return rec.make_result(probs, None, start_s=0.0, end_s=n_real / rec.sample_rate,
                           speech_prob=ratio, is_speech=ratio >= 0.1)


def assert_same(a: edgeemo.EmotionResult, b: edgeemo.EmotionResult) -> None:
    assert a.label == b.label
    assert a.speech_prob == b.speech_prob and a.is_speech == b.is_speech
    assert a.end_s == pytest.approx(b.end_s, abs=1e-9)
    diff = max(abs(a.scores[k] - b.scores[k]) for k in a.scores)
    assert diff <= SCORE_TOL, diff


@pytest.fixture(scope="module")
def ravdess_60s(real_clips: list[tuple[np.ndarray, int, str]]) -> tuple[np.ndarray, int]:
    """Real RAVDESS test-actor clips, concatenated and repeated to about 60 s (mono, 16 kHz)."""
    sr = real_clips[0][1]
    assert all(c[1] == sr for c in real_clips)
    one = np.concatenate([c[0] for c in real_clips])
    x = np.tile(one, int(np.ceil(60 * sr / one.size)))[: 60 * sr + 1234]
    return np.ascontiguousarray(x, np.float32), sr


def stereo_48k(seconds: float, seed: int = 0) -> np.ndarray:
    """Speech-like 48 kHz stereo: a voiced harmonic sweep with syllable envelope, plus noise."""
    sr = 48000
    t = np.arange(int(seconds * sr)) / sr
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 2
    rng = np.random.default_rng(seed)
    left = 0.25 * env * voiced + 0.01 * rng.normal(size=t.size)
    right = 0.8 * np.roll(left, 331)
    return np.stack([left, right], axis=1).astype(np.float32)


# -- equality with the whole-clip path --------------------------------------------------------
def test_ravdess_60s_file_matches_whole_clip(tiny, ravdess_60s, tmp_path: Path) -> None:
    x, sr = ravdess_60s
    path = tmp_path / "ravdess_60s.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    ref = whole_clip_reference(tiny, x, sr)
    assert_same(tiny.classify_file(path), ref)
    assert_same(tiny.classify(x, sr), ref)
    assert tiny.timings.n_windows == len(clip_window_starts(x.size, tiny.window_samples, tiny.hop_samples))


def test_48k_stereo_file_matches_whole_clip(tiny, tmp_path: Path) -> None:
    st = stereo_48k(37.3)
    path = tmp_path / "stereo48.wav"
    sf.write(path, st, 48000, subtype="PCM_16")
    wave, sr = edgeemo.load_audio(path)  # what the file holds (16-bit)
    ref = whole_clip_reference(tiny, wave, sr)
    assert_same(tiny.classify_file(path), ref)
    assert_same(tiny.classify(wave, sr), ref)
    assert_same(tiny.classify(np.ascontiguousarray(wave.T), sr), ref)  # (channels, samples)


@pytest.mark.parametrize("seconds", [0.6, 2.0, 3.0, 3.2, 5.55])
def test_short_and_edge_lengths_match(tiny, seconds: float) -> None:
    """Shorter than a window (zero-padded), exactly one, one plus a bit (end-aligned window)."""
    st = stereo_48k(seconds, seed=3)
    assert_same(tiny.classify(st, 48000), whole_clip_reference(tiny, st, 48000))
    mono16 = resample(to_mono_float32(st), 48000, 16000)
    assert_same(tiny.classify(mono16, 16000), whole_clip_reference(tiny, mono16, 16000))


def test_errors_unchanged(tiny) -> None:
    with pytest.raises(AudioTooShortError, match="empty"):
        tiny.classify(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioTooShortError, match="needs at least"):
        tiny.classify(np.zeros(100, np.float32), 16000)
    bad = np.zeros(200000, np.float32)
    bad[150000] = np.nan  # in a later block
    with pytest.raises(AudioFormatError, match="NaN"):
        tiny.classify(bad, 16000)
    loud = np.zeros(200000, np.float32)
    loud[190000] = 30000.0
    with pytest.raises(AudioFormatError, match="PCM"):
        tiny.classify(loud, 16000)


# -- the block readers ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "wave",
    [
        (np.random.default_rng(1).normal(0, 3000, (70001, 2))).astype(np.int16),
        (np.random.default_rng(2).normal(0, 3000, (3, 70001))).astype(np.int16),
        np.random.default_rng(3).uniform(-1.5, 1.5, 70001).astype(">f8"),
        np.random.default_rng(4).uniform(-1, 1, (5000, 1)).astype(np.float32),
        [0.0, 0.5, -0.25] * 9,
    ],
    ids=["int16-samples-channels", "int16-channels-samples", "float64-be-clipped", "one-channel", "list"],
)
def test_iter_mono_blocks_equals_to_mono(wave) -> None:
    blocks = list(iter_mono_blocks(wave, block_frames=4096))
    assert all(b.dtype == np.float32 and b.ndim == 1 and b.size <= 4096 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), to_mono_float32(wave))


@pytest.mark.parametrize("wave", [np.zeros((4, 4), np.float32), np.zeros((2, 2, 2)), np.array(["a"])])
def test_iter_mono_blocks_errors(wave) -> None:
    with pytest.raises(AudioFormatError):
        to_mono_float32(wave)
    with pytest.raises(AudioFormatError):
        list(iter_mono_blocks(wave))


def test_file_reader_equals_load_mono(tmp_path: Path) -> None:
    st = stereo_48k(3.1)
    path = tmp_path / "s.flac"
    sf.write(path, st, 48000)
    with AudioFileReader(path, block_frames=5000) as r:
        assert (r.sample_rate, r.channels, r.frames) == (48000, 2, st.shape[0])
        got = np.concatenate(list(r.mono_blocks()))
    np.testing.assert_array_equal(got, load_mono(path)[0])


def test_file_reader_truncated_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    sf.write(path, stereo_48k(2.0), 48000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioFileError, match="truncated"), AudioFileReader(path) as r:
        list(r.mono_blocks())
    with pytest.raises(AudioFileError, match="not found"):
        AudioFileReader(tmp_path / "nope.wav")


# -- bounded memory ---------------------------------------------------------------------------
class _SpySession:
    """Wraps an ONNX Runtime session and records each run's batch size."""

    def __init__(self, session) -> None:
        self.session, self.batches = session, []

    def run(self, outputs, feeds):
        self.batches.append(int(next(iter(feeds.values())).shape[0]))
        return self.session.run(outputs, feeds)

    def __getattr__(self, name):
        return getattr(self.session, name)


def test_cpu_batch_is_small_and_used_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = edgeemo.Recognizer("tiny")
    assert rec.batch_size == CPU_BATCH <= 4 < MAX_BATCH
    spy = _SpySession(rec._session)
    monkeypatch.setattr(rec, "_session", spy)
    rec.classify(stereo_48k(20.0), 48000)
    rec.classify_batch(np.zeros((9, rec.window_samples), np.float32))
    assert spy.batches and max(spy.batches) <= CPU_BATCH
    assert sum(spy.batches) == 35 + 9  # 20 s: 35 windows


def _traced_peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_classify_file_python_memory_does_not_grow(tiny, tmp_path: Path) -> None:
    """numpy allocations while classifying a 10 s and a 150 s 48 kHz stereo file: the same few
    MiB (the whole-file path held the file as float32: 55 MiB for 150 s, then mono and resampled
    copies)."""
    peaks = {}
    for seconds in (10, 150):
        path = tmp_path / f"{seconds}.wav"
        write_long(path, seconds)
        tiny.classify_file(path)  # warm-up
        peaks[seconds] = _traced_peak_mb(lambda p=path: tiny.classify_file(p))
    assert peaks[150] < 8.0, peaks
    assert peaks[150] - peaks[10] < 2.0, peaks


def test_classify_in_memory_peak_above_array(tiny) -> None:
    """``classify`` of a clip already in memory: no whole-clip copies (mono, resampled, int->float)."""
    st = (np.tile(stereo_48k(10), (15, 1)) * 32767).astype(np.int16)  # 150 s: 27 MiB; float32 mono would be 27 MiB
    tiny.classify(st[:480000], 48000)
    peak = _traced_peak_mb(lambda: tiny.classify(st, 48000))
    assert peak < 8.0, peak


# VmHWM (this process's own peak): ru_maxrss of a child also counts the parent's pages it was
# forked with.
CHILD = r"""
import sys
from edgeemo.cli.main import cli
try:
    cli.main(args=["classify", sys.argv[1]], prog_name="edgeemo", standalone_mode=False)
finally:
    with open("/proc/self/status") as fh:
        hwm = [line.split()[1] for line in fh if line.startswith("VmHWM")][0]
    print("MAXRSS_KB", hwm, file=sys.stderr)
"""


def write_long(path: Path, seconds: int, subtype: str = "PCM_16") -> None:
    """A long 48 kHz stereo file written in blocks (a 10 s pattern repeated)."""
    pattern = stereo_48k(10)
    with sf.SoundFile(path, "w", 48000, 2, subtype=subtype) as fh:
        for i in range(0, seconds, 10):
            fh.write(pattern[: min(10, seconds - i) * 48000])


def _cli_peak_mb(path: Path) -> tuple[float, str]:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=False, capture_output=True, text=True,
                          timeout=600, env={"OMP_NUM_THREADS": "1", "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    kb = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB")][-1].split()[1]
    return int(kb) / 1024.0, proc.stdout


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_cli_classify_peak_rss_long_vs_short(tmp_path: Path) -> None:
    """Whole process, child processes: a 3-minute 48 kHz stereo file within 30 MB of a 10 s one
    (the whole-file path: +240 MiB for 60 s, 767 MiB for 10 minutes)."""
    short, long_ = tmp_path / "short.wav", tmp_path / "long.wav"
    write_long(short, 10)
    write_long(long_, 180)
    short_mb, out_short = _cli_peak_mb(short)
    long_mb, out_long = _cli_peak_mb(long_)
    assert str(short) in out_short and str(long_) in out_long
    assert long_mb - short_mb < 30.0, (short_mb, long_mb)


# -- session options and profile --------------------------------------------------------------
def test_session_options_cpu() -> None:
    import onnxruntime as ort
    from edgeemo.model import build_session_options

    so = build_session_options(edgeemo.RecognizerOptions(provider="cpu"), ort)
    assert so.enable_cpu_mem_arena and not so.enable_mem_pattern
    so = build_session_options(edgeemo.RecognizerOptions(provider="auto"), ort)
    assert so.enable_mem_pattern  # GPU providers keep ONNX Runtime's default


@pytest.mark.skipif(sys.platform != "linux", reason="RSS from /proc")
def test_profile_reports_model_memory() -> None:
    """In a fresh process (RSS deltas in a process that freed memory before can be smaller)."""
    from edgeemo.profiling import rss_mb

    assert 5.0 < rss_mb() < 100000.0
    run = [sys.executable, "-m", "edgeemo.cli.main", "profile", "--model", "tiny", "-n", "5"]
    proc = subprocess.run([*run, "--json"], check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["batch_size"] == CPU_BATCH
    assert 1.0 < d["session_mb"] < 100.0
    assert 0.0 < d["arena_mb"] < 8.0 * d["batch_size"] + 8.0  # about 6 MiB per window (tiny)
    assert d["model_mb"] == pytest.approx(d["session_mb"] + d["arena_mb"])
    assert d["baseline_rss_mb"] > 10.0
    assert d["peak_rss_mb"] >= d["baseline_rss_mb"] + d["session_mb"] - 1.0
    text = subprocess.run(run, check=False, capture_output=True, text=True, timeout=300).stdout
    assert "model" in text and "baseline" in text and "arena" in text
