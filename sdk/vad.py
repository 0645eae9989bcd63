"""The speech detector: a light numpy voice-activity detector (no model file, no torch).

The signal is cut into 30 ms frames at fixed positions (0, 30 ms, 60 ms, ... from the start of the
input), so the decisions do not depend on how the input is chunked. A frame is speech only when
four cues agree (docs/api.md, "No speech and uncertain results", has the measured table;
``bench/speech_detection.py`` measures it):

1. **energy** above an adaptive floor: ``energy_db`` = 10 log10 of the frame's mean power (digital
   silence is -120 dB); ``noise_floor`` = the minimum frame energy over the last 1.5 s (this frame
   included); ``p_energy = sigmoid((energy_db - max(noise_floor + 12, -70)) / 3)``. This rejects
   silence and *stationary* sounds (hum, steady tones, square waves, steady noise) once they have
   lasted a moment.
2. **not noise-like**: spectral flatness (geometric / arithmetic mean of the Hann-windowed power
   spectrum between 100 and 7600 Hz) below 0.4: rejects clicks and white-noise bursts (speech: 99 %
   of frames below 0.38).
3. **changing spectral shape**: the mean absolute change, from the previous frame, of the
   level-normalised log energies of 16 mel bands (100-7600 Hz) above 1 dB: rejects tones and
   chords between their onsets (a steady tone: 0.5 dB; speech: 99 % of frames above 1.6 dB).
4. **voiced**: the highest interior peak of the normalised cross-correlation over pitch lags
   60-400 Hz above 0.5: rejects coloured-noise bursts and clicks (73 % of speech frames pass; the
   unvoiced rest does not matter for a window's ratio).

Each cue is a logistic gate; a frame's speech probability is their product (0 without computing the
voicing when the first three already give less than 1e-6), and the frame is speech when it reaches
``threshold`` (default 0.5). A window's (or clip's) ``speech_prob`` is the fraction
of its frames that are speech; it is speech when that fraction reaches ``min_speech_ratio`` (0.1;
RAVDESS clips: at least 0.20, synthetic non-speech: at most 0.05).

The C library implements the same frame rule with the same constants (cpp_bindings/src/vad.cpp);
tests/cpp checks that both give the same frame decisions on the same inputs.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SpeechDetector",
    "EnergyVAD",
    "speech_ratio",
    "frame_features",
    "voicing",
    "DEFAULT_THRESHOLD",
    "DEFAULT_MIN_SPEECH_RATIO",
    "FRAME_S",
]

FRAME_S = 0.03
HISTORY_S = 1.5
MARGIN_DB = 12.0
ABS_FLOOR_DB = -70.0
SLOPE_DB = 3.0
SILENCE_DB = -120.0
DEFAULT_THRESHOLD = 0.5
DEFAULT_MIN_SPEECH_RATIO = 0.1
"""A window (or clip) is speech when at least this fraction of its frames is."""

F_LO_HZ = 100.0
F_HI_HZ = 7600.0
N_BANDS = 16
FLATNESS_MAX = 0.4
FLATNESS_SLOPE = 0.02
FLUX_MIN_DB = 1.0
FLUX_SLOPE_DB = 0.1
PITCH_MIN_HZ = 60.0
PITCH_MAX_HZ = 400.0
VOICING_MIN = 0.5
VOICING_SLOPE = 0.02
POWER_EPS = 1e-12
BAND_EPS = 1e-10
SKIP_BELOW = 1e-6
"""Frames whose other three cues already give a probability below this are 0 (voicing not computed)."""


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))


def _next_pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class _Geometry:
    """Frame length, FFT sizes, bins and lags for one sample rate (shared with the C library)."""

    def __init__(self, sample_rate: int) -> None:
        sr = int(sample_rate)
        self.frame_len = n = max(1, round(FRAME_S * sr))
        self.nfft = _next_pow2(n)
        self.nfft_ac = _next_pow2(2 * n)
        hi_hz = min(F_HI_HZ, 0.475 * sr)
        self.bin_lo = max(1, round(F_LO_HZ * self.nfft / sr))
        self.bin_hi = max(self.bin_lo + 1, round(hi_hz * self.nfft / sr))
        mel_lo, mel_hi = 2595.0 * math.log10(1 + F_LO_HZ / 700.0), 2595.0 * math.log10(1 + hi_hz / 700.0)
        edges = []
        for i in range(N_BANDS + 1):
            hz = 700.0 * (10.0 ** ((mel_lo + (mel_hi - mel_lo) * i / N_BANDS) / 2595.0) - 1.0)
            edges.append(round(hz * self.nfft / sr))
        for i in range(1, len(edges)):  # every band at least one bin
            edges[i] = max(edges[i], edges[i - 1] + 1)
        self.band_edges = edges
        self.lag_lo = max(2, sr // int(PITCH_MAX_HZ))
        self.lag_hi = min(n - 2, sr // int(PITCH_MIN_HZ))
        i = np.arange(n, dtype=np.float64)
        self.window = 0.5 - 0.5 * np.cos(2.0 * np.pi * (i + 1.0) / (n + 1.0))


def frame_features(frames: np.ndarray, geo: _Geometry) -> dict[str, np.ndarray]:
    """Per-frame cues of float64 frames ``[k, frame_len]``: ``energy_db``, ``flatness`` and the
    level-normalised band ``shape`` ``[k, 16]`` (:func:`voicing` is separate)."""
    k, n = frames.shape
    power = np.mean(np.square(frames), axis=1)
    energy_db = 10.0 * np.log10(np.maximum(power, 10.0 ** (SILENCE_DB / 10.0)))
    spec = np.abs(np.fft.rfft(frames * geo.window, geo.nfft, axis=1)) ** 2
    s = spec[:, geo.bin_lo : geo.bin_hi] + POWER_EPS
    flatness = np.exp(np.mean(np.log(s), axis=1)) / np.mean(s, axis=1)
    e = geo.band_edges
    bands = np.stack([spec[:, e[i] : e[i + 1]].sum(axis=1) for i in range(N_BANDS)], axis=1)
    log_bands = 10.0 * np.log10(bands + BAND_EPS)
    shape = log_bands - log_bands.mean(axis=1, keepdims=True)
    return {"energy_db": energy_db, "flatness": flatness, "shape": shape}


def voicing(frames: np.ndarray, geo: _Geometry) -> np.ndarray:
    """Highest interior peak of the normalised cross-correlation of ``x[0:n-L]`` and ``x[L:n]``
    over pitch lags (60-400 Hz) of each float64 frame ``[k, frame_len]`` (0 when none)."""
    k, n = frames.shape
    lo, hi = geo.lag_lo, geo.lag_hi
    if hi - lo < 2 or k == 0:
        out = np.zeros(k)
    else:
        x = frames - frames.mean(axis=1, keepdims=True)
        f = np.fft.rfft(x, geo.nfft_ac, axis=1)
        r = np.fft.irfft(np.abs(f) ** 2, geo.nfft_ac, axis=1)
        c = np.concatenate([np.zeros((k, 1)), np.cumsum(np.square(x), axis=1)], axis=1)
        lags = np.arange(lo - 1, hi + 2)
        e0 = c[:, n - lags]
        e1 = c[:, n : n + 1] - c[:, lags]
        ncc = r[:, lags] / np.sqrt(np.maximum(e0 * e1, 1e-20))
        mid = ncc[:, 1:-1]
        peak = (mid >= ncc[:, :-2]) & (mid >= ncc[:, 2:])
        out = np.where(peak, mid, 0.0).max(axis=1)
    return out


class SpeechDetector:
    """Streaming speech detector: feed samples at ``sample_rate`` with :meth:`accept`, then ask
    :meth:`speech_ratio` for any span of samples already fed.

    :meth:`accept` only queues the samples; the frames are analysed together when a decision is
    first asked for (numpy's cost is mostly per call, so a stream fed 0.1 s chunks pays for one
    batch per result, not one per chunk). The frames and their order are the same either way, so
    the decisions are too."""

    def __init__(
        self, sample_rate: int, threshold: float = DEFAULT_THRESHOLD, *, energy_only: bool = False
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.threshold = float(threshold)
        self.energy_only = bool(energy_only)  # cue 1 alone: the former energy gate (for comparisons)
        self._geo = _Geometry(self.sample_rate)
        self.frame_len = self._geo.frame_len
        self.history = max(1, round(HISTORY_S / FRAME_S))
        self.reset()

    def reset(self) -> None:
        """Forget everything (noise floor and the previous frame's spectrum included)."""
        self._queue: list[np.ndarray] = []  # samples accepted but not yet analysed
        self._queued = 0
        self._pending = np.zeros(0, dtype=np.float32)  # analysed-side leftover (< one frame)
        self._hist = np.zeros(0, dtype=np.float64)
        self._prev_shape: np.ndarray | None = None
        self._probs = np.zeros(0, dtype=np.float64)
        self._first = 0  # frame index of self._probs[0]
        self._n_frames = 0

    def accept(self, x: np.ndarray) -> None:
        """Feed the next 1-D float32 samples (queued; analysed on the next decision asked for)."""
        if x.size:
            self._queue.append(np.array(x, dtype=np.float32))
            self._queued += int(x.size)

    @property
    def n_frames(self) -> int:
        """Complete frames fed so far."""
        return self._n_frames + (self._pending.size + self._queued) // self.frame_len

    def _update(self) -> None:
        """Analyse every complete frame queued so far, oldest first."""
        if not self._queue:
            return
        buf = np.concatenate([self._pending, *self._queue])
        self._queue, self._queued = [], 0
        k = buf.size // self.frame_len
        self._pending = buf[k * self.frame_len :].copy()
        if k == 0:
            return
        frames = np.asarray(buf[: k * self.frame_len], dtype=np.float64).reshape(k, self.frame_len)
        self._probs = np.concatenate([self._probs, self._frame_probs(frames)])
        self._n_frames += k

    def _frame_probs(self, frames: np.ndarray) -> np.ndarray:
        feats = frame_features(frames, self._geo)
        energy = feats["energy_db"]
        h = self.history
        ext = np.concatenate([np.full(h - 1 - self._hist.size, np.inf), self._hist, energy])
        floor = np.lib.stride_tricks.sliding_window_view(ext, h).min(axis=1)
        self._hist = ext[-(h - 1) :] if h > 1 else np.zeros(0)
        self._hist = self._hist[np.isfinite(self._hist)]
        threshold_db = np.maximum(floor + MARGIN_DB, ABS_FLOOR_DB)
        p_energy = _sigmoid((energy - threshold_db) / SLOPE_DB)
        if self.energy_only:
            return p_energy
        shape = feats["shape"]
        prev = np.concatenate([
            shape[:1] if self._prev_shape is None else self._prev_shape[None, :], shape[:-1]
        ])
        flux = np.mean(np.abs(shape - prev), axis=1)
        self._prev_shape = shape[-1].copy()
        p_flat = _sigmoid((FLATNESS_MAX - feats["flatness"]) / FLATNESS_SLOPE)
        p_flux = _sigmoid((flux - FLUX_MIN_DB) / FLUX_SLOPE_DB)
        pre = p_energy * p_flat * p_flux
        need = pre >= SKIP_BELOW
        probs = np.zeros(pre.size)
        if need.any():
            p_voice = _sigmoid((voicing(frames[need], self._geo) - VOICING_MIN) / VOICING_SLOPE)
            probs[need] = pre[need] * p_voice
        return probs

    @property
    def frame_probs(self) -> np.ndarray:
        """Speech probabilities of the frames still kept (see :meth:`trim`)."""
        self._update()
        return self._probs

    def speech_ratio(self, start: int, end: int) -> float:
        """Fraction of speech frames among the complete frames inside samples ``[start, end)``.

        Frames not yet fed are ignored; ``0.0`` when the span holds no complete frame.
        """
        self._update()
        first = max(-(-start // self.frame_len), self._first)
        last = min(end // self.frame_len, self.n_frames)  # exclusive
        if last <= first:
            return 0.0
        probs = self._probs[first - self._first : last - self._first]
        return float(np.count_nonzero(probs >= self.threshold)) / probs.size

    def trim(self, before_sample: int) -> None:
        """Drop decisions of frames that end before ``before_sample`` (keeps memory bounded)."""
        self._update()
        drop = min(before_sample // self.frame_len, self.n_frames) - self._first
        if drop > 0:
            self._probs = self._probs[drop:]
            self._first += drop


EnergyVAD = SpeechDetector
"""The former name of :class:`SpeechDetector` (kept for code that imported it)."""


def speech_ratio(x: np.ndarray, sample_rate: int, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Fraction of 30 ms frames of a whole clip judged speech."""
    vad = SpeechDetector(sample_rate, threshold)
    vad.accept(np.asarray(x, dtype=np.float32))
    return vad.speech_ratio(0, int(np.asarray(x).size))
