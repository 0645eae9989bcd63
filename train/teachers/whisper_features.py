"""Pooled Whisper features per clip, cached on disk: ``[n_layers + 1, 2 d]`` per clip.

For each hidden state of :class:`~edgeemo.train.teachers.whisper.WhisperAudioEncoder` (embedding
output, then every layer) the mean and the standard deviation over the clip's real frames,
concatenated (``d`` = 384 for tiny.en, 512 for base). One file per clip and view::

    <cache>/whisper/<weights sha256[:16]>/<clean | TAG-SEED>/<clip bytes sha256>.npy

written atomically, so a second call only reads and an interrupted extraction resumes where it
stopped. Keying by the clip's content (as the openSMILE cache does) keeps the cache valid when the
data folder moves. A *view* is an augmented copy of a clip: ``views(wave, seed)`` with a seed
derived from ``view_seed`` and the clip, so each clip's view depends on nothing else (not the order
or the batch). The cache cannot see which ``views`` function ran: give each a distinct ``view_tag``.
Threads are the caller's business (entry points call
:func:`edgeemo.train.config.set_torch_threads`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write, sha256_file

from ..data import Utterance, cache_root, read_audio
from .whisper import SAMPLE_RATE, WhisperAudioEncoder, load_whisper_encoder, weights_fingerprint

__all__ = ["WhisperFeatures", "clip_view_seed", "extract_whisper_features", "feature_folder",
           "pool_hidden_states", "whisper_features"]

View = Callable[[np.ndarray, int], np.ndarray]


@dataclass(frozen=True)
class WhisperFeatures:
    """What :func:`extract_whisper_features` did: the features, how many clips it computed (the
    rest came from the cache), the seconds that took, and the cache folder."""

    features: np.ndarray  # [n, n_layers + 1, 2 d] float32
    computed: int
    seconds: float
    folder: Path


def pool_hidden_states(states: torch.Tensor | np.ndarray) -> np.ndarray:
    """``[layers, frames, d]`` -> ``[layers, 2 d]`` float32: mean, then (population) std over frames."""
    x = torch.as_tensor(states, dtype=torch.float32)
    mean = x.mean(dim=-2)
    std = x.std(dim=-2, unbiased=False)
    return torch.cat([mean, std], dim=-1).numpy().astype(np.float32)


def clip_view_seed(view_seed: int, clip_hash: str) -> int:
    """The seed passed to ``views`` for one clip: a 32-bit mix of ``view_seed`` and the clip's hash."""
    entropy = [int(view_seed) & 0xFFFFFFFF, int(clip_hash[:8], 16)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def feature_folder(fingerprint: str, *, view_seed: int | None = None, view_tag: str = "view",
                   cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder of one model and one view (``clean`` when ``view_seed`` is None)."""
    view = "clean" if view_seed is None else f"{view_tag}-{int(view_seed)}"
    base = Path(cache_dir) if cache_dir is not None else cache_root()
    return base / "whisper" / fingerprint[:16] / view


def extract_whisper_features(
    utterances: Sequence[Utterance],
    *,
    encoder: WhisperAudioEncoder | None = None,
    size: str = "tiny.en",
    model_dir: str | os.PathLike[str] | None = None,
    views: View | None = None,
    view_seed: int | None = None,
    view_tag: str = "view",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> WhisperFeatures:
    """Pooled features of every clip (see the module docstring), computed once per clip and view.

    Without ``encoder`` the model (``model_dir``, else the installed ``size``) is loaded only if a
    clip is missing from the cache. ``views`` and ``view_seed`` go together: the clean clip is
    ``views=None, view_seed=None``.
    """
    if (views is None) != (view_seed is None):
        raise ConfigError("views and view_seed go together: pass both for an augmented view, "
                          "neither for the clean clips")
    if "/" in view_tag or not view_tag or view_tag == "clean":
        raise ConfigError(f"view_tag must be a plain name other than 'clean', got {view_tag!r}")
    fingerprint = encoder.fingerprint if encoder is not None else weights_fingerprint(model_dir, size=size)
    folder = feature_folder(fingerprint, view_seed=view_seed, view_tag=view_tag, cache_dir=cache_dir)
    rows: list[np.ndarray] = []
    computed, seconds = 0, 0.0
    items: Sequence[Utterance] = utterances
    if progress:
        from tqdm import tqdm

        items = tqdm(utterances, desc="Whisper features", unit="clip", leave=False)
    for utt in items:
        clip_hash = sha256_file(utt.path)
        path = folder / f"{clip_hash}.npy"
        if path.is_file():
            rows.append(np.load(path))
            continue
        if encoder is None:
            encoder = load_whisper_encoder(model_dir, size=size)
        start = time.perf_counter()
        wave = read_audio(utt.path, SAMPLE_RATE)
        if views is not None:
            wave = np.asarray(views(wave, clip_view_seed(view_seed, clip_hash)), dtype=np.float32)  # type: ignore[arg-type]
        with torch.inference_mode():
            values = pool_hidden_states(encoder.wave_hidden_states(wave))
        seconds += time.perf_counter() - start
        atomic_write(path, lambda fh, v=values: np.save(fh, v, allow_pickle=False))
        rows.append(values)
        computed += 1
    features = np.stack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, 0, 0), np.float32)
    return WhisperFeatures(features, computed, seconds, folder)


def whisper_features(
    utterances: Sequence[Utterance],
    *,
    encoder: WhisperAudioEncoder | None = None,
    size: str = "tiny.en",
    model_dir: str | os.PathLike[str] | None = None,
    views: View | None = None,
    view_seed: int | None = None,
    view_tag: str = "view",
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> np.ndarray:
    """``[n, n_layers + 1, 2 d]`` float32 pooled Whisper features (:func:`extract_whisper_features`)."""
    return extract_whisper_features(
        utterances, encoder=encoder, size=size, model_dir=model_dir, views=views, view_seed=view_seed,
        view_tag=view_tag, cache_dir=cache_dir, progress=progress,
    ).features
