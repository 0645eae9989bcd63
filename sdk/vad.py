"""A light numpy voice-activity gate based on frame energy.

The signal is cut into 30 ms frames at fixed positions (0, 30 ms, 60 ms, ... from the start of the
input), so the decisions do not depend on how the input is chunked. For each frame:

* ``energy_db``: 10 log10 of the mean power (digital silence is -120 dB);
* ``noise_floor``: the minimum frame energy over the last 1.5 s (this frame included), so the gate
  adapts to the background within 1.5 s;
* ``threshold_db = max(noise_floor + 12 dB, -70 dBFS)``;
* ``prob = sigmoid((energy_db - threshold_db) / 3 dB)``; the frame is speech when
  ``prob >= vad_threshold`` (default 0.5, i.e. energy above the threshold).

A window's speech probability is the fraction of its speech frames. The absolute floor is low
(-70 dBFS) because quiet RAVDESS speech reaches only -60 dBFS per frame; stationary background
noise (white noise at any level, hum) stays within a few dB of its own floor and is rejected by the
12 dB margin; digital silence is rejected by the absolute floor.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EnergyVAD", "speech_ratio", "DEFAULT_THRESHOLD", "FRAME_S"]

FRAME_S = 0.03
HISTORY_S = 1.5
MARGIN_DB = 12.0
ABS_FLOOR_DB = -70.0
SLOPE_DB = 3.0
SILENCE_DB = -120.0
DEFAULT_THRESHOLD = 0.5


def _energy_db(frames: np.ndarray) -> np.ndarray:
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    return 10.0 * np.log10(np.maximum(power, 10.0 ** (SILENCE_DB / 10.0)))


class EnergyVAD:
    """Streaming energy gate: feed samples at ``sample_rate`` with :meth:`accept`, then ask
    :meth:`speech_ratio` for any span of samples already fed."""

    def __init__(self, sample_rate: int, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.sample_rate = int(sample_rate)
        self.threshold = float(threshold)
        self.frame_len = max(1, round(FRAME_S * self.sample_rate))
        self.history = max(1, round(HISTORY_S / FRAME_S))
        self.reset()

    def reset(self) -> None:
        """Forget everything (noise floor included)."""
        self._pending = np.zeros(0, dtype=np.float32)
        self._hist = np.zeros(0, dtype=np.float64)
        self._probs = np.zeros(0, dtype=np.float64)
        self._first = 0  # frame index of self._probs[0]
        self.n_frames = 0

    def accept(self, x: np.ndarray) -> None:
        """Feed the next 1-D float32 samples."""
        buf = np.concatenate([self._pending, x]) if self._pending.size else x
        k = buf.size // self.frame_len
        self._pending = np.array(buf[k * self.frame_len :], dtype=np.float32)
        if k == 0:
            return
        energy = _energy_db(buf[: k * self.frame_len].reshape(k, self.frame_len))
        h = self.history
        ext = np.concatenate([np.full(h - 1 - self._hist.size, np.inf), self._hist, energy])
        floor = np.lib.stride_tricks.sliding_window_view(ext, h).min(axis=1)
        self._hist = ext[-(h - 1) :] if h > 1 else np.zeros(0)
        self._hist = self._hist[np.isfinite(self._hist)]
        threshold_db = np.maximum(floor + MARGIN_DB, ABS_FLOOR_DB)
        probs = 1.0 / (1.0 + np.exp(-(energy - threshold_db) / SLOPE_DB))
        self._probs = np.concatenate([self._probs, probs])
        self.n_frames += k

    @property
    def frame_probs(self) -> np.ndarray:
        """Speech probabilities of the frames still kept (see :meth:`trim`)."""
        return self._probs

    def speech_ratio(self, start: int, end: int) -> float:
        """Fraction of speech frames among the complete frames inside samples ``[start, end)``.

        Frames not yet fed are ignored; ``0.0`` when the span holds no complete frame.
        """
        first = max(-(-start // self.frame_len), self._first)
        last = min(end // self.frame_len, self.n_frames)  # exclusive
        if last <= first:
            return 0.0
        probs = self._probs[first - self._first : last - self._first]
        return float(np.count_nonzero(probs >= self.threshold)) / probs.size

    def trim(self, before_sample: int) -> None:
        """Drop decisions of frames that end before ``before_sample`` (keeps memory bounded)."""
        drop = min(before_sample // self.frame_len, self.n_frames) - self._first
        if drop > 0:
            self._probs = self._probs[drop:]
            self._first += drop


def speech_ratio(x: np.ndarray, sample_rate: int, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Fraction of 30 ms frames of a whole clip judged speech."""
    vad = EnergyVAD(sample_rate, threshold)
    vad.accept(np.asarray(x, dtype=np.float32))
    return vad.speech_ratio(0, int(np.asarray(x).size))
