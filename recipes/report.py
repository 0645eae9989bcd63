"""Pieces shared by the recipes' reports: the grouped bar plot of UA per test condition."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write

__all__ = ["plot_conditions", "read_state"]


def read_state(path: Path) -> dict[str, Any]:
    """A recipe's resumable ``OUT.json`` (``{}`` when absent); a damaged file is a ConfigError."""
    import json

    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not a recipe state file ({exc}); move it away or pass another --out") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{path} is not a recipe state file; move it away or pass another --out")
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
