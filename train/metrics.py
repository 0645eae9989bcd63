"""Classification metrics (UA = macro recall, WA = accuracy, macro-F1) and their plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeemo.fileio import atomic_write

__all__ = ["Scores", "class_report", "confusion", "save_confusion_matrix_png", "save_confusion_png", "save_curves_png", "score"]


@dataclass(frozen=True)
class Scores:
    """Headline metrics of one evaluation, as fractions in [0, 1]."""

    ua: float
    wa: float
    f1: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"UA {100 * self.ua:.1f} / WA {100 * self.wa:.1f} / F1 {100 * self.f1:.1f} (n={self.n})"


def score(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int) -> Scores:
    """UA, WA and macro-F1 over the classes present in ``y_true``."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    labels = sorted(set(np.asarray(y_true).tolist()))
    return Scores(
        ua=float(recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        wa=float(accuracy_score(y_true, y_pred)),
        f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        n=int(len(y_true)),
    )


def class_report(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int) -> dict[str, Any]:
    """Over all ``n_classes`` classes: weighted F1 (what the ERC literature reports), UA, accuracy,
    macro F1, per-class recall, the confusion matrix (rows = true) and ``n``."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    labels = list(range(n_classes))
    return {
        "weighted_f1": float(f1_score(y_true, y_pred, average="weighted", labels=labels, zero_division=0)),
        "ua": float(recall_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)),
        "recall_per_class": recall_score(y_true, y_pred, average=None, labels=labels, zero_division=0).tolist(),
        "confusion": confusion(y_true, y_pred, n_classes).tolist(),
        "n": len(y_true),
    }


def confusion(y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray, n_classes: int) -> np.ndarray:
    """``[n_classes, n_classes]`` counts, rows = true class, columns = predicted."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=list(range(n_classes)))


def save_confusion_png(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    labels: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """Row-normalised confusion matrix of ``y_pred`` against ``y_true`` as a PNG."""
    return save_confusion_matrix_png(confusion(y_true, y_pred, len(labels)), labels, [path], title)[0]


def save_confusion_matrix_png(
    counts: Sequence[Sequence[int]] | np.ndarray,
    labels: Sequence[str],
    paths: Sequence[str | Path],
    title: str = "",
) -> list[Path]:
    """A confusion matrix of ``counts`` (rows = true), coloured by recall, each cell showing its
    row share and count, written to every path in ``paths``."""
    plt = _pyplot()
    cm = np.asarray(counts, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=7)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="recall (row-normalised)")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9, wrap=True)
    return _save(fig, paths)


def save_curves_png(history: Sequence[dict[str, float]], path: str | Path, title: str = "") -> Path:
    """Training loss and dev UA per epoch as a PNG."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax1 = plt.subplots(figsize=(6.4, 4.0))
    ax1.plot(epochs, [h["train_loss"] for h in history], color="tab:blue", label="train loss")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("train loss", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(epochs, [100 * h["dev_ua"] for h in history], color="tab:orange", label="dev UA")
    ax2.set_ylabel("dev UA (%)", color="tab:orange")
    ax1.set_title(title)
    return _save(fig, [path])[0]


def _pyplot():  # type: ignore[no-untyped-def]
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, paths: Sequence[str | Path]) -> list[Path]:  # type: ignore[no-untyped-def]
    """Write ``fig`` as PNG to each path atomically, then close it."""
    fig.tight_layout()
    try:
        return [atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120)) for path in paths]
    finally:
        _pyplot().close(fig)
