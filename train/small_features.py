"""Pooled Whisper statistics per *window*, as the small student sees a clip at run time, cached.

The SDK cuts a clip into windows (:func:`edgeemo.contract.clip_window_starts`; a clip shorter than
one window is zero-padded) and averages the window probabilities. A frozen
:class:`~edgeemo.train.models.whisper_small.WhisperWindowEncoder` turns every window into
``[n_states, 2 d]`` statistics; a head trained on those rows is exactly what the exported model runs.
One encoder pass with all layers gives the statistics of every truncation ``k`` at once (the
states of layers ``<= k`` do not depend on the layers above), so ``k`` is chosen on the folds
without recomputing anything.

Cache: ``<cache>/whisper-windows/<weights sha256[:16]>-w<window>-h<hop>/<variant>/<clip sha256>.npy``
holding ``[n_windows, n_states, 2 d]`` float16 (written atomically; an interrupted run resumes).
A *variant* is ``clean``, a training view ``view-<seed>`` or a test condition ``eval-<name>``,
made by :mod:`edgeemo.train.views` exactly as the Whisper teacher cache makes them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from edgeemo.contract import clip_window_starts
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write, sha256_file

from .data import Utterance, cache_root, read_audio

__all__ = ["WindowFeatures", "clip_windows", "extract_window_features", "variant_names"]

WaveVariant = Callable[[Utterance, np.ndarray, str], np.ndarray]
"""``fn(utt, clean 16 kHz wave, clip sha256) -> wave`` of one variant."""


def clip_windows(wave: np.ndarray, window: int, hop: int) -> np.ndarray:
    """``[n_windows, window]`` float32: the windows the SDK's ``classify`` runs for ``wave``."""
    x = np.asarray(wave, dtype=np.float32)
    if x.size < window:
        x = np.concatenate([x, np.zeros(window - x.size, np.float32)])
    starts = clip_window_starts(x.size, window, hop)
    return np.stack([x[s : s + window] for s in starts])


def variant_names(n_views: int, conditions: Sequence[str]) -> list[str]:
    """``clean``, ``view-1 .. view-n`` and ``eval-<condition>`` for every non-clean condition."""
    return ["clean", *(f"view-{i}" for i in range(1, n_views + 1)),
            *(f"eval-{c}" for c in conditions if c != "clean")]


@dataclass
class WindowFeatures:
    """Per variant, per clip, ``[n_windows, n_states, 2 d]`` float16 statistics."""

    variants: dict[str, list[np.ndarray]]
    computed: int
    seconds: float
    folder: Path

    def rows(self, variant: str, clips: Sequence[int], n_states: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(features [rows, n_states, 2 d] float32, clip index per row)`` of ``clips``."""
        per = self.variants[variant]
        feats = [per[i][:, :n_states] for i in clips]
        owner = np.concatenate([np.full(len(f), i) for i, f in zip(clips, feats)]) if feats else np.zeros(0, int)
        return (np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, 0, 0), np.float32)), owner


def extract_window_features(
    utterances: Sequence[Utterance],
    encoder: Callable[[torch.Tensor], torch.Tensor],
    variants: dict[str, WaveVariant | None],
    *,
    fingerprint: str,
    window: int,
    hop: int,
    cache_dir: str | os.PathLike[str] | None = None,
    shard: tuple[int, int] = (0, 1),
    progress: bool = True,
) -> WindowFeatures:
    """Statistics of every clip's windows for every variant (``None`` = the clean clip).

    With ``shard=(i, n)`` only clips ``i, i + n, ...`` are computed (the others are read from the
    cache when present, else skipped: run the ``n`` shards side by side, then once more unsharded
    to gather). ``encoder`` maps ``[B, window]`` audio to ``[B, n_states, 2 d]`` (e.g. a
    :class:`~edgeemo.train.models.whisper_small.WhisperWindowEncoder`).
    """
    index, count = shard
    if not 0 <= index < count:
        raise ConfigError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    folder = base / "whisper-windows" / f"{fingerprint[:16]}-w{window}-h{hop}"
    out: dict[str, list[np.ndarray]] = {name: [] for name in variants}
    computed, seconds = 0, 0.0
    items = list(enumerate(utterances))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(items) * len(variants), desc="window features", unit="clip-variant", leave=False)
    for i, utt in items:
        digest = sha256_file(utt.path)
        mine = i % count == index
        wave: np.ndarray | None = None
        for name, make in variants.items():
            path = folder / name / f"{digest}.npy"
            if path.is_file():
                out[name].append(np.load(path))
            elif mine:
                start = time.perf_counter()
                if wave is None:
                    wave = read_audio(utt.path, 16000)
                audio = wave if make is None else np.asarray(make(utt, wave, digest), np.float32)
                with torch.inference_mode():
                    stats = encoder(torch.from_numpy(clip_windows(audio, window, hop))).numpy().astype(np.float16)
                atomic_write(path, lambda fh, v=stats: np.save(fh, v, allow_pickle=False))
                out[name].append(stats)
                seconds += time.perf_counter() - start
                computed += 1
            else:
                out[name].append(np.zeros((0, 0, 0), np.float16))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    return WindowFeatures(out, computed, seconds, folder)
