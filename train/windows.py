"""Window placement for training-time evaluation: the SDK's own rule (docs/model_contract.md)."""

from __future__ import annotations

import numpy as np

from edgeemo.contract import clip_window_starts

__all__ = ["clip_window_starts", "clip_windows"]


def clip_windows(wave: np.ndarray, window: int, hop: int) -> np.ndarray:
    """``[n_windows, window]`` float32 windows of ``wave`` (zero-padded when shorter)."""
    if wave.shape[0] < window:
        wave = np.pad(wave, (0, window - wave.shape[0]))
    starts = clip_window_starts(wave.shape[0], window, hop)
    return np.stack([wave[s : s + window] for s in starts]).astype(np.float32, copy=False)
