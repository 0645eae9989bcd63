"""Pieces shared by the recipes' reports: the state file, per-condition fold statistics and the
grouped bar plot of UA per test condition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write

__all__ = ["condition_stats", "plot_conditions", "pooled_predictions", "read_state"]


def condition_stats(per_fold: Mapping[int, Mapping[str, Any]], conditions: Sequence[str],
                    extra: Sequence[str] = ()) -> dict[str, Any]:
    """Mean and sd over folds of each fold's ``ua[condition]`` (for ``conditions`` and ``extra``),
    the mean over the degraded conditions (all but ``clean``) and the worst of them as ``(ua, name)``."""
    s: dict[str, Any] = {"ua": {}, "ua_sd": {}}
    for cond in [*conditions, *extra]:
        vals = np.array([per_fold[k]["ua"][cond] for k in sorted(per_fold)])
        s["ua"][cond], s["ua_sd"][cond] = float(vals.mean()), float(vals.std(ddof=1))
    degraded = [c for c in conditions if c != "clean"]
    s["mean_degraded"] = float(np.mean([s["ua"][c] for c in degraded]))
    s["worst"] = min((s["ua"][c], c) for c in degraded)
    return s


def pooled_predictions(per_fold: Mapping[int, Mapping[str, Any]], n: int, cond: str, key: str | None = None) -> np.ndarray:
    """The folds' test predictions under ``cond`` placed at their ``test_index`` in one vector of the
    corpus's ``n`` clips (``-1`` where no fold tested a clip); ``key`` reads ``r[key]["pred"]``."""
    pred = np.full(n, -1)
    for r in per_fold.values():
        src = r[key] if key else r
        pred[r["test_index"]] = src["pred"][cond]
    return pred


def read_state(path: Path, *, option: str = "--out") -> dict[str, Any]:
    """A recipe's resumable JSON state, e.g. ``OUT.json`` (``{}`` when absent); a damaged file is a
    ConfigError that says to move it away or pass another ``option``."""
    import json

    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a recipe state file ({exc}); move it away or pass another {option}") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{path} is not a recipe state file; move it away or pass another {option}")
    return state


def plot_conditions(summary: Mapping[str, Mapping[str, Any]], conditions: Sequence[str], path: Path, *,
                    title: str, ylabel: str, n_classes: int, legend_columns: int = 3) -> None:
    """Grouped bars of ``summary[row]["ua"][condition]`` (UA %) with the chance level, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    x = np.arange(len(conditions))
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(12, 4.5))
    for i, name in enumerate(names):
        ax.bar(x + i * width, [summary[name]["ua"][c] for c in conditions], width, label=name)
    ax.set_xticks(x + 0.4 - width / 2, conditions, rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 100)
    ax.axhline(100 / n_classes, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=8, ncol=legend_columns)
    ax.set_title(title)
    fig.tight_layout()
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
