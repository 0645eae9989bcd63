"""Exponential moving average over probability vectors (and valence/arousal)."""

from __future__ import annotations

import numpy as np

__all__ = ["EMA"]


class EMA:
    """``state = factor * state + (1 - factor) * value``; the first value initialises the state.

    ``factor = 0`` passes values through unchanged. A convex combination of probability vectors
    is again a probability vector, so smoothed scores still sum to 1.
    """

    def __init__(self, factor: float) -> None:
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"EMA factor must be in [0, 1), not {factor!r}")
        self.factor = float(factor)
        self._state: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray | None:
        """The current smoothed vector (``None`` before the first update)."""
        return self._state

    def update(self, value: np.ndarray) -> np.ndarray:
        """Fold in ``value`` and return the new smoothed vector (a copy)."""
        v = np.asarray(value, dtype=np.float64)
        if self._state is None or self.factor == 0.0:
            self._state = v.copy()
        else:
            self._state = self.factor * self._state + (1.0 - self.factor) * v
        return self._state.copy()

    def reset(self) -> None:
        """Forget the state."""
        self._state = None
