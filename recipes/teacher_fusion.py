"""The fine-tuned audio teacher with the face: late fusion with an action-unit classifier.

The audio + AU heads of ``recipe whisper-teachers`` fuse the 35 OpenFace action units with the
*frozen* encoder's features inside one head (84.0 tiny.en, 84.5 base, with video). Here the
fine-tuned audio teacher of a fold (:mod:`edgeemo.recipes.finetuned_teacher`) is combined with a
logistic regression on the action units fitted on the same clips (the train and dev folds;
standardised over those clips, class-balanced: no per-speaker statistics). The fused posterior is
the normalised product ``p_audio · p_au^w`` (both models are trained class-balanced, so their
posteriors share a flat prior and the product does not count it twice).

The weight ``w`` cannot be fitted on the training clips (the audio network has learned them), and
must not be fitted on the test fold: :func:`cross_fitted_fusion` picks it for each fold on the
*other* folds' test clips (out-of-fold for their own teachers) from :data:`WEIGHTS`, so every
fused score is still out-of-fold. Without video the teacher is the audio network alone.

Per fold :func:`with_video_fold` writes ``with_video.json`` beside the teacher's ``record.json``:
both models' probabilities on the clean test clips and their UA alone; the audio probabilities
are recomputed from the saved network (about 30 s a fold).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text
from edgeemo.train.data import RAVDESS_LABELS, Utterance, label_indices

if TYPE_CHECKING:
    from .finetuned_teacher import FoldClips

__all__ = ["FUSION_FILE", "WEIGHTS", "au_classifier", "cross_fitted_fusion", "fuse", "with_video_fold"]

FUSION_FILE = "with_video.json"
#: the action units' weights tried (0: audio alone)
WEIGHTS: tuple[float, ...] = tuple(float(w) for w in np.arange(0.0, 2.0001, 0.125))


def au_classifier(au: np.ndarray, y: np.ndarray) -> Any:
    """Standardised, class-balanced logistic regression on action-unit vectors ``[n, 35]``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced")).fit(au, y)


def fuse(p_audio: np.ndarray, p_au: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """Normalised ``p_audio · p_au^weight`` per row (a product of experts, in log space)."""
    z = np.log(np.clip(p_audio, 1e-12, None)) + weight * np.log(np.clip(p_au, 1e-12, None))
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=1, keepdims=True)


def _audio_probs(folder: Path, test: Sequence[Utterance]) -> np.ndarray:
    """Clip probabilities (mean over its windows) of the fold's saved teacher on the clean test clips."""
    import torch
    from edgeemo.train.data import read_audio
    from edgeemo.train.models.whisper_small import load_small
    from edgeemo.train.small_features import clip_windows
    from edgeemo.train.small_finetune import window_probs

    from .small_student import HOP, WINDOW

    model, _ = load_small(folder)
    return np.stack([window_probs(model, torch.from_numpy(clip_windows(read_audio(u.path), WINDOW, HOP))).mean(axis=0)
                     for u in test])


def with_video_fold(data: FoldClips, fold: int, folder: Path) -> dict[str, Any]:
    """The fold's clean test probabilities of the audio network and of the action units (read from
    ``folder/with_video.json``, else computed and written)."""
    from edgeemo.train.selection import unweighted_accuracy
    from edgeemo.train.teachers.visual import visual_features

    path = Path(folder) / FUSION_FILE
    if path.is_file():
        return json.loads(path.read_text())
    train, dev, test = data.split(fold)
    fit = [*train, *dev]
    if len({u.label for u in fit}) < 2:
        raise ConfigError(f"fold {fold}: the action-unit classifier needs clips of two classes or more to fit")
    au_model = au_classifier(visual_features(fit, data.root), label_indices(fit, RAVDESS_LABELS))
    p_au = np.zeros((len(test), len(RAVDESS_LABELS)))
    p_au[:, au_model.classes_] = au_model.predict_proba(visual_features(test, data.root))  # classes the fit saw
    p_audio = _audio_probs(Path(folder), test)
    y = label_indices(test, RAVDESS_LABELS)
    out = {"fold": fold, "test_paths": [str(u.path) for u in test], "y": y.tolist(),
           "p_audio": np.round(p_audio, 6).tolist(), "p_au": np.round(p_au, 6).tolist(),
           "ua": {"audio_only": 100 * unweighted_accuracy(y, p_audio.argmax(axis=1), len(RAVDESS_LABELS)),
                  "au_only": 100 * unweighted_accuracy(y, p_au.argmax(axis=1), len(RAVDESS_LABELS))}}
    atomic_write_text(path, json.dumps(out))
    return out


def cross_fitted_fusion(folds: dict[int, dict[str, Any]], weights: Sequence[float] = WEIGHTS) -> dict[int, dict[str, Any]]:
    """Per fold (:func:`with_video_fold` outputs): the weight whose fusion has the best mean UA over
    the *other* folds (the smallest such weight on ties; 1 when there is no other fold), and the
    fold's fused predictions and UA with it."""
    from edgeemo.train.selection import unweighted_accuracy

    def ua(f: dict[str, Any], w: float) -> float:
        pred = fuse(np.asarray(f["p_audio"]), np.asarray(f["p_au"]), w).argmax(axis=1)
        return 100 * unweighted_accuracy(np.asarray(f["y"]), pred, len(RAVDESS_LABELS))

    table = {k: [ua(f, w) for w in weights] for k, f in folds.items()}
    out: dict[int, dict[str, Any]] = {}
    for k, f in folds.items():
        others = [table[j] for j in folds if j != k]
        w = float(weights[int(np.argmax(np.mean(others, axis=0)))]) if others else 1.0
        pred = fuse(np.asarray(f["p_audio"]), np.asarray(f["p_au"]), w).argmax(axis=1)
        out[k] = {"weight": w, "weight_from": f"folds {sorted(j for j in folds if j != k)}" if others else "fixed",
                  "pred": pred.tolist(), "ua": 100 * unweighted_accuracy(np.asarray(f["y"]), pred, len(RAVDESS_LABELS))}
    return out
