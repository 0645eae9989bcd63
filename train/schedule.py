"""The learning-rate schedule every trainer uses: linear warm-up, then a cosine decay to zero."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["lr_factor", "set_scheduled_lr"]


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Multiplier of the base rate at optimizer step ``step`` of ``total`` (``warmup`` steps ramp up)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_scheduled_lr(optimizer: Any, base_lr: float, step: int, total: int, warmup: int) -> None:
    """Set every parameter group of ``optimizer`` to ``base_lr * lr_factor(step, total, warmup)``."""
    lr = base_lr * lr_factor(step, total, warmup)
    for group in optimizer.param_groups:
        group["lr"] = lr
