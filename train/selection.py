"""Choosing between recipes on the five actor folds: paired deltas and speaker-bootstrap intervals.

Two actors choose nothing; five folds of four actors each, paired fold by fold, and a bootstrap
over *speakers* (the unit that generalises) say how sure a difference is.

* :func:`paired_delta` — per-fold differences of two rows measured on the same folds: mean, sd,
  folds won (a tie is not a win);
* :func:`speaker_bootstrap` — a 95 % interval of out-of-fold UA (or of a UA difference between two
  systems scored on the same clips) by resampling speakers with replacement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["PairedDelta", "Interval", "paired_delta", "speaker_bootstrap", "unweighted_accuracy"]


@dataclass(frozen=True)
class PairedDelta:
    """``a − b`` over the folds both rows have: mean, sample sd, folds won / lost / tied."""

    mean: float
    sd: float | None
    won: int
    lost: int
    tied: int
    folds: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def __str__(self) -> str:
        sd = "" if self.sd is None else f" ± {self.sd:.1f}"
        return f"{self.mean:+.1f}{sd} ({self.won}/{len(self.folds)})"


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval (same units, e.g. UA %)."""

    estimate: float
    low: float
    high: float
    level: float
    n_boot: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.estimate:.1f} [{self.low:.1f}, {self.high:.1f}]"


def paired_delta(a: Mapping[int, float], b: Mapping[int, float], *, tie: float = 1e-9) -> PairedDelta:
    """Per-fold ``a[k] − b[k]`` for the folds in both; |Δ| ≤ ``tie`` counts as a tie."""
    folds = tuple(sorted(set(a) & set(b)))
    if not folds:
        raise ValueError("the two rows share no fold")
    d = np.array([a[k] - b[k] for k in folds], dtype=np.float64)
    return PairedDelta(
        mean=float(d.mean()),
        sd=float(d.std(ddof=1)) if len(d) > 1 else None,
        won=int((d > tie).sum()),
        lost=int((d < -tie).sum()),
        tied=int((np.abs(d) <= tie).sum()),
        folds=folds,
    )


def unweighted_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Macro recall over the classes present in ``y_true`` (UA), as a fraction."""
    recalls = [float((y_pred[y_true == c] == c).mean()) for c in range(n_classes) if (y_true == c).any()]
    return float(np.mean(recalls)) if recalls else float("nan")


def speaker_bootstrap(
    y_true: Sequence[int] | np.ndarray,
    predictions: Sequence[Sequence[int] | np.ndarray],
    speakers: Sequence[int | str] | np.ndarray,
    n_classes: int,
    *,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Interval of UA % (one prediction vector) or of ΔUA % = UA(first) − UA(second) (two vectors
    scored on the same clips), resampling whole speakers with replacement."""
    if len(predictions) not in (1, 2):
        raise ValueError("pass one prediction vector (UA) or two (a UA difference)")
    y = np.asarray(y_true)
    preds = [np.asarray(p) for p in predictions]
    spk = np.asarray(speakers)
    ids = np.unique(spk)
    rows = {s: np.flatnonzero(spk == s) for s in ids}

    def stat(index: np.ndarray) -> float:
        uas = [unweighted_accuracy(y[index], p[index], n_classes) for p in preds]
        return 100.0 * (uas[0] - uas[1] if len(uas) == 2 else uas[0])

    rng = np.random.default_rng(seed)
    boots = np.empty(n_boot)
    for i in range(n_boot):
        pick = rng.choice(ids, size=len(ids), replace=True)
        boots[i] = stat(np.concatenate([rows[s] for s in pick]))
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(boots, [alpha, 1.0 - alpha])
    return Interval(estimate=stat(np.arange(len(y))), low=float(low), high=float(high), level=level,
                    n_boot=n_boot)
