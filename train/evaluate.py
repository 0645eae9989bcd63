"""Evaluate a model on RAVDESS splits: ONNX files through the SDK, checkpoints through PyTorch."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import Utterance, label_indices, load_ravdess, load_waves, select
from .metrics import Scores, save_confusion_png, score


@dataclass(frozen=True)
class EvalReport:
    model: str
    splits: tuple[str, ...]
    scores: Scores
    labels: tuple[str, ...]
    y_true: tuple[int, ...]
    y_pred: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "splits": list(self.splits), **self.scores.to_dict()}


def onnx_clip_probs(model_path: str | os.PathLike[str], utts: Sequence[Utterance], num_threads: int = 1) -> tuple[np.ndarray, tuple[str, ...]]:
    """Clip probabilities from the SDK's ``Recognizer.classify`` (what users get)."""
    import edgeemo

    rec = edgeemo.Recognizer(str(model_path), num_threads=num_threads)
    waves = load_waves(utts, rec.sample_rate)
    probs = np.stack([
        np.array([rec.classify(w, rec.sample_rate).scores[label] for label in rec.labels]) for w in waves
    ])
    return probs, tuple(rec.labels)


def checkpoint_clip_probs(checkpoint: str | os.PathLike[str], utts: Sequence[Utterance]) -> tuple[np.ndarray, tuple[str, ...]]:
    from .models.student import load_student
    from .trainer import predict_clips

    model, _ = load_student(checkpoint)
    waves = load_waves(utts, model.cfg.frontend.sample_rate)
    return predict_clips(model, waves), tuple(model.cfg.labels)


def evaluate_model(
    model: str | os.PathLike[str],
    *,
    splits: Sequence[str] = ("test",),
    folds: Sequence[int] | None = None,
    data_root: str | None = None,
    num_threads: int = 1,
    plot: str | os.PathLike[str] | None = None,
    utterances: Sequence[Utterance] | None = None,
) -> EvalReport:
    """UA / WA / macro-F1 of ``model`` (an ``.onnx`` file or a checkpoint folder)."""
    all_utts = list(utterances) if utterances is not None else load_ravdess(data_root)
    utts = select(all_utts, folds=folds) if folds is not None else select(all_utts, splits=splits)
    path = Path(model)
    if path.is_file():
        probs, labels = onnx_clip_probs(path, utts, num_threads)
    else:
        probs, labels = checkpoint_clip_probs(path, utts)
    y_true = label_indices(utts, labels)
    y_pred = probs.argmax(axis=1)
    scores = score(y_true, y_pred, len(labels))
    if plot:
        save_confusion_png(y_true, y_pred, labels, plot, title=f"{path.name} on {','.join(splits)}: {scores}")
    return EvalReport(str(model), tuple(splits), scores, labels, tuple(y_true.tolist()), tuple(y_pred.tolist()))
