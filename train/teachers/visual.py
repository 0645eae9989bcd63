"""The visual modality for RAVDESS: 35-d OpenFace Action-Unit clip vectors aligned with Utterances.

``shared/data/ravdess_visual/manifest.csv`` maps each AV video (``visual_key`` / ``visual_row`` in
``features/Actor_XX.npz``) to its audio-only take (``audio_path``). Clips are matched by the audio
file's stem (``03-01-EE-II-SS-RR-AA``), so both the manifest layout and a release download
(``.wav``) line up. The features are clip-level means only (no time axis): see that folder's
SOURCE.md.

Standardisation is fitted on training clips only (:meth:`Standardizer.fit`) and stored with the
teacher checkpoint, so dev/test statistics never leak into training.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeemo.errors import ConfigError

from ..data import Utterance, find_data_root

AU_DIM = 35
VISUAL_ARRAY = "au_dynamic"


def clip_key(path: str | os.PathLike[str]) -> str:
    """The key that joins audio, visual features and teacher caches: the audio file's stem."""
    return Path(path).stem


def find_visual_root(root: str | os.PathLike[str] | None = None) -> Path:
    """``root`` itself, ``root/ravdess_visual``, or ``ravdess_visual`` under the data root."""
    candidates = []
    if root is not None:
        candidates += [Path(root), Path(root) / "ravdess_visual"]
    else:
        candidates.append(find_data_root() / "ravdess_visual")
    for folder in candidates:
        if (folder / "manifest.csv").is_file():
            return folder
    raise ConfigError(
        "no RAVDESS visual features found (looked for manifest.csv in: "
        + ", ".join(str(c) for c in candidates) + ")"
    )


def load_visual_table(root: str | os.PathLike[str] | None = None) -> dict[str, np.ndarray]:
    """All AU vectors of the visual folder, keyed by the matching audio clip's stem."""
    folder = find_visual_root(root)
    arrays: dict[str, np.ndarray] = {}
    table: dict[str, np.ndarray] = {}
    with open(folder / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            rel = row["visual_path"]
            if rel not in arrays:
                with np.load(folder / rel) as npz:
                    names = npz["names"]
                    arrays[rel] = np.asarray(npz[VISUAL_ARRAY], dtype=np.float32)
                    _check_names(folder / rel, names, arrays[rel])
            table[clip_key(row["audio_path"])] = arrays[rel][int(row["visual_row"])]
    return table


def _check_names(path: Path, names: np.ndarray, values: np.ndarray) -> None:
    if values.ndim != 2 or values.shape[1] != AU_DIM or len(names) != len(values):
        raise ConfigError(f"{path}: expected {VISUAL_ARRAY} of shape [n, {AU_DIM}], got {values.shape}")


def visual_features(
    utterances: Sequence[Utterance],
    root: str | os.PathLike[str] | None = None,
    *,
    table: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """``[n, 35]`` raw AU vectors in the order of ``utterances`` (ConfigError if any is missing)."""
    table = table if table is not None else load_visual_table(root)
    missing = [str(u.path) for u in utterances if clip_key(u.path) not in table]
    if missing:
        raise ConfigError(
            f"{len(missing)} of {len(utterances)} clips have no visual features, e.g. {missing[:3]}"
        )
    if not utterances:
        return np.zeros((0, AU_DIM), dtype=np.float32)
    return np.stack([table[clip_key(u.path)] for u in utterances]).astype(np.float32)


@dataclass(frozen=True)
class Standardizer:
    """Per-column z-scoring with statistics from the training clips only."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, x: np.ndarray, eps: float = 1e-6) -> "Standardizer":
        """Statistics of ``x`` (``[n, d]``, training rows only); constant columns get std 1."""
        if x.ndim != 2 or len(x) == 0:
            raise ConfigError(f"cannot fit a standardizer on an array of shape {x.shape}")
        std = x.std(axis=0)
        std = np.where(std < eps, 1.0, std)
        return cls(tuple(float(v) for v in x.mean(axis=0)), tuple(float(v) for v in std))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``(x - mean) / std`` as float32."""
        if x.shape[-1] != len(self.mean):
            raise ConfigError(f"standardizer fitted on {len(self.mean)} columns, got {x.shape[-1]}")
        return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Standardizer":
        return cls(tuple(data["mean"]), tuple(data["std"]))


def standardize_per_speaker(x: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
    """Z-score each speaker's rows of ``x`` with that speaker's own mean and std (no labels used).

    Speaker normalisation removes who is speaking (voice, face at rest) from clip features. It is
    transductive: the statistics come from all rows of a speaker in ``x``, so they are only
    meaningful when those rows are many and cover the emotions roughly evenly (a speaker's full
    RAVDESS set does; a handful of clips or one emotion does not, see docs/results/NOTES.md).
    """
    speakers = np.asarray(list(speakers))
    if len(speakers) != len(x):
        raise ConfigError(f"{len(speakers)} speaker ids for {len(x)} rows")
    out = np.empty(x.shape, dtype=np.float32)
    for speaker in np.unique(speakers):
        rows = np.flatnonzero(speakers == speaker)
        if len(rows) < 2:
            raise ConfigError(f"speaker {str(speaker)!r} has {len(rows)} clip; per-speaker normalisation needs "
                              "at least 2 clips of every speaker (more, covering all emotions, to be useful)")
        out[rows] = Standardizer.fit(x[rows]).transform(x[rows])
    return out
