"""Student-side projection heads used only while distilling (not part of the exported student)."""

from __future__ import annotations

from torch import nn

from edgeemo.errors import ConfigError

PROJECTIONS = ("linear", "mlp")


def projection_head(d_student: int, d_teacher: int, kind: str = "linear", *, force: bool = False) -> nn.Module:
    """Map student embeddings to the teacher's dimension: Identity when they match (unless ``force``)."""
    if kind not in PROJECTIONS:
        raise ConfigError(f"unknown projection {kind!r}; choose one of {PROJECTIONS}")
    if d_student == d_teacher and not force:
        return nn.Identity()
    if kind == "linear":
        return nn.Linear(d_student, d_teacher)
    return nn.Sequential(nn.Linear(d_student, d_teacher), nn.ReLU(), nn.Linear(d_teacher, d_teacher))
