"""Precomputed teacher inputs per clip: full-clip log-mel, openSMILE functionals and AU vectors.

Teachers train on these (cheap: no audio decoding or STFT per step). Log-mel is computed once
with the same conv-STFT front end as the student and kept in memory (about 95 kB per RAVDESS
clip); the functionals (eGeMAPS by default, or ComParE; held in the ``egemaps`` field either way)
are cached on disk per clip by :mod:`edgeemo.train.teachers.egemaps`; AUs come from
:mod:`edgeemo.train.teachers.visual`. Standardisation is *not* applied here: the trainer fits it on the
training rows only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from edgeemo.errors import ConfigError

from ..data import Utterance, label_indices, load_waves
from ..frontend import FrontendConfig, LogMelFrontend
from .egemaps import FEATURE_SET, opensmile_functionals
from .visual import clip_key, visual_features


@dataclass
class TeacherInputs:
    """Raw (unstandardised) teacher inputs for a list of utterances, row-aligned."""

    utterances: list[Utterance]
    y: np.ndarray  # [n] class indices
    logmel: list[torch.Tensor] | None  # per clip [n_mels, frames], frames >= one window
    n_samples: np.ndarray  # [n] clip length in samples (after padding to one window)
    egemaps: np.ndarray | None  # [n, 88] eGeMAPS, or [n, dim] of another openSMILE set
    visual: np.ndarray | None  # [n, 35]
    functionals: str = FEATURE_SET  # the openSMILE set in ``egemaps``

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def keys(self) -> list[str]:
        return [clip_key(u.path) for u in self.utterances]

    def subset(self, index: Sequence[int] | np.ndarray) -> "TeacherInputs":
        """Rows ``index`` (shares the log-mel tensors)."""
        idx = np.asarray(index, dtype=np.int64)
        return TeacherInputs(
            utterances=[self.utterances[i] for i in idx],
            y=self.y[idx],
            logmel=[self.logmel[i] for i in idx] if self.logmel is not None else None,
            n_samples=self.n_samples[idx],
            egemaps=self.egemaps[idx] if self.egemaps is not None else None,
            visual=self.visual[idx] if self.visual is not None else None,
            functionals=self.functionals,
        )

    def concat(self, other: "TeacherInputs") -> "TeacherInputs":
        """These rows followed by ``other``'s (both must hold the same kinds of input)."""
        if (self.functionals, self.logmel is None, self.egemaps is None, self.visual is None) != (
            other.functionals, other.logmel is None, other.egemaps is None, other.visual is None
        ):
            raise ConfigError("cannot join teacher inputs that hold different kinds of features")

        def cat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            return None if a is None or b is None else np.concatenate([a, b])

        return TeacherInputs(
            utterances=self.utterances + other.utterances,
            y=np.concatenate([self.y, other.y]),
            logmel=self.logmel + other.logmel if self.logmel is not None and other.logmel is not None else None,
            n_samples=np.concatenate([self.n_samples, other.n_samples]),
            egemaps=cat(self.egemaps, other.egemaps),
            visual=cat(self.visual, other.visual),
            functionals=self.functionals,
        )

    def select_utterances(self, utterances: Sequence[Utterance]) -> "TeacherInputs":
        """The rows of ``utterances`` (matched by clip key), in their order."""
        pos = {k: i for i, k in enumerate(self.keys)}
        return self.subset([pos[clip_key(u.path)] for u in utterances])


def compute_logmel(
    utterances: Sequence[Utterance], frontend_cfg: FrontendConfig, window_samples: int, *, progress: bool = False
) -> tuple[list[torch.Tensor], np.ndarray]:
    """Full-clip log-mel of each clip (clips shorter than a window are zero-padded to one)."""
    frontend = LogMelFrontend(frontend_cfg).eval()
    waves = load_waves(utterances, frontend_cfg.sample_rate, progress=progress)
    out, lengths = [], []
    with torch.no_grad():
        for wave in waves:
            if len(wave) < window_samples:
                wave = np.pad(wave, (0, window_samples - len(wave)))
            lengths.append(len(wave))
            out.append(frontend(torch.from_numpy(wave)[None])[0].contiguous())
    return out, np.asarray(lengths, dtype=np.int64)


def build_teacher_inputs(
    utterances: Sequence[Utterance],
    labels: Sequence[str],
    *,
    use_logmel: bool = True,
    use_egemaps: bool = True,
    use_visual: bool = True,
    functionals: str = FEATURE_SET,
    frontend_cfg: FrontendConfig | None = None,
    window_samples: int = 48000,
    visual_root: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> TeacherInputs:
    """Everything a teacher needs for ``utterances`` (what is not used is left None).

    ``functionals`` names the openSMILE set of the clip functionals (``TeacherConfig.functionals``).
    """
    utts = list(utterances)
    frontend_cfg = frontend_cfg or FrontendConfig()
    logmel, n_samples = None, np.zeros(len(utts), dtype=np.int64)
    if use_logmel:
        logmel, n_samples = compute_logmel(utts, frontend_cfg, window_samples, progress=progress)
    return TeacherInputs(
        utterances=utts,
        y=label_indices(utts, labels),
        logmel=logmel,
        n_samples=n_samples,
        egemaps=(opensmile_functionals(utts, functionals, cache_dir=cache_dir, progress=progress)
                 if use_egemaps else None),
        visual=visual_features(utts, visual_root) if use_visual else None,
        functionals=functionals,
    )
