"""``DistillConfig`` -> extra loss terms (and their trainable heads) for ``StudentTrainer``.

Each active loss (weight > 0) becomes one ``LossTerm`` ``(outputs, batch_indices, epoch) -> loss``.
Teacher targets are looked up by the batch indices (which index ``trainer.train_utts``) in
precomputed :class:`~edgeemo.train.distill.teacher_cache.TeacherOutputs`. When the trainer mixed
the batch (``outputs["mixup_lam"]``, ``outputs["mixup_perm"]``), teacher logits, embeddings and
weights are mixed the same way (a linear approximation of the teacher's output on the mixed
input) and class labels stay those of the dominant example (``lam >= 0.5``).
Weights ramp linearly over the first ``ramp_epochs`` epochs.

The projection heads (student embedding -> teacher dimension) are returned as an ``nn.ModuleDict``
to hand to ``StudentTrainer(extra_modules=...)``; they are trained with the student and not
exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError

from ..config import DictConfig, check_minimum
from ..data import RAVDESS_LABELS, Utterance, label_indices
from ..teachers.trainer import CROPS
from .heads import PROJECTIONS, projection_head
from .losses import (
    DISTANCES,
    ccc_loss,
    dmd_loss,
    logit_kd_loss,
    telme_feature_loss,
    telme_response_loss,
    triplet_loss,
)
from .teacher_cache import WEIGHTINGS, TeacherOutputs, example_weights

LossTerm = Any  # Callable[[dict[str, torch.Tensor], torch.Tensor, int], torch.Tensor]
WEIGHT_FIELDS = ("kd_weight", "triplet_weight", "response_weight", "feature_weight", "dmd_weight", "ccc_weight")


@dataclass
class DistillConfig(DictConfig):
    """Which distillation losses to use, their weights and hyper-parameters, and the teacher."""

    _what: ClassVar[str] = "distillation option"

    teacher: str | None = None  # teacher checkpoint folder (CLI); experiments pass outputs directly
    teacher_crop: str = "windows"
    teacher_with_video: bool = True
    crossfit: bool = False
    weighting: str = "none"  # none | confidence | correct
    ramp_epochs: int = 0
    projection: str = "linear"
    kd_weight: float = 0.0
    temperature: float = 2.0
    triplet_weight: float = 0.0
    triplet_margin: float = 0.2
    triplet_distance: str = "cosine"
    response_weight: float = 0.0
    response_temperature: float = 4.0
    response_inter: float = 1.0
    response_intra: float = 1.0
    feature_weight: float = 0.0
    feature_temperature: float = 1.0
    dmd_weight: float = 0.0
    dmd_tau: float = 0.5
    ccc_weight: float = 0.0

    def __post_init__(self) -> None:
        check_minimum(self, WEIGHT_FIELDS + ("triplet_margin", "ramp_epochs"))
        check_minimum(self, ("temperature", "response_temperature", "feature_temperature", "dmd_tau"), inclusive=False)
        for name, value, allowed in (("weighting", self.weighting, WEIGHTINGS), ("teacher_crop", self.teacher_crop, CROPS),
                                     ("triplet_distance", self.triplet_distance, DISTANCES),
                                     ("projection", self.projection, PROJECTIONS)):
            if value not in allowed:
                raise ConfigError(f"{name}={value!r} is not one of {allowed}")

    @property
    def active(self) -> tuple[str, ...]:
        """The loss weights that are > 0."""
        return tuple(n for n in WEIGHT_FIELDS if getattr(self, n) > 0)


class _Targets:
    """Teacher tensors aligned with ``train_utts``, gathered (and mixed) per batch."""

    def __init__(self, outputs: TeacherOutputs, y: np.ndarray, weighting: str) -> None:
        self.t = {n: outputs.tensor(n) for n in outputs.arrays}
        self.y = torch.from_numpy(y)
        self.w = torch.from_numpy(example_weights(outputs.arrays["probs"], y, weighting))
        self.weighted = weighting != "none"

    def batch(self, out: dict[str, torch.Tensor], idx: torch.Tensor, names: Sequence[str]) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor | None]:
        device = out["logits"].device  # teacher tensors stay on the CPU; each batch moves to the student
        got = {n: self.t[n][idx].to(device) for n in names}
        w = self.w[idx].to(device)
        if "mixup_perm" in out:
            lam, perm = float(out["mixup_lam"]), out["mixup_perm"]
            got = {n: lam * v + (1 - lam) * v[perm] for n, v in got.items()}
            w = lam * w + (1 - lam) * w[perm]
        return got, self.y[idx].to(device), (w if self.weighted else None)


def _ramp(cfg: DistillConfig, epoch: int) -> float:
    return 1.0 if cfg.ramp_epochs <= 0 else min(1.0, (epoch + 1) / cfg.ramp_epochs)


def build_distill_terms(
    cfg: DistillConfig,
    train_utts: Sequence[Utterance],
    outputs: TeacherOutputs,
    student_dim: int,
    *,
    labels: Sequence[str] = RAVDESS_LABELS,
    va_targets: np.ndarray | None = None,
) -> tuple[list[LossTerm], nn.ModuleDict]:
    """Loss terms for ``StudentTrainer(extra_losses=...)`` and heads for ``extra_modules=...``."""
    if not cfg.active:
        raise ConfigError("no distillation loss is active: set at least one of " + ", ".join(WEIGHT_FIELDS))
    outputs = outputs.rows(train_utts)
    y = label_indices(train_utts, labels)
    tg = _Targets(outputs, y, cfg.weighting)
    teacher_dim = int(outputs.arrays["embedding"].shape[1])
    heads = nn.ModuleDict()
    terms: list[LossTerm] = []

    if cfg.kd_weight > 0:
        def kd(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            t, _, w = tg.batch(out, idx, ["logits"])
            return cfg.kd_weight * _ramp(cfg, epoch) * logit_kd_loss(out["logits"], t["logits"], cfg.temperature, w)
        terms.append(kd)

    if cfg.response_weight > 0:
        def response(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            t, _, w = tg.batch(out, idx, ["logits"])
            loss = telme_response_loss(out["logits"], t["logits"], cfg.response_temperature,
                                       cfg.response_inter, cfg.response_intra, w)
            return cfg.response_weight * _ramp(cfg, epoch) * loss
        terms.append(response)

    if cfg.triplet_weight > 0 or cfg.feature_weight > 0:
        heads["proj"] = projection_head(student_dim, teacher_dim, cfg.projection)

    if cfg.triplet_weight > 0:
        def triplet(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            t, yb, w = tg.batch(out, idx, ["embedding"])
            s = heads["proj"](out["embedding"])
            loss = triplet_loss(s, t["embedding"], yb, cfg.triplet_margin, cfg.triplet_distance, w)
            return cfg.triplet_weight * _ramp(cfg, epoch) * loss
        terms.append(triplet)

    if cfg.feature_weight > 0:
        def feature(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            t, _, _ = tg.batch(out, idx, ["embedding"])
            loss = telme_feature_loss(heads["proj"](out["embedding"]), t["embedding"], cfg.feature_temperature)
            return cfg.feature_weight * _ramp(cfg, epoch) * loss
        terms.append(feature)

    if cfg.dmd_weight > 0:
        modalities = [m for m in ("audio", "visual") if f"embedding_{m}" in outputs.arrays and f"logits_{m}" in outputs.arrays]
        if not modalities:
            raise ConfigError("DMD needs a teacher with per-modality embeddings and aux heads (aux_heads=True)")
        heads["dmd_shared"] = projection_head(student_dim, teacher_dim, cfg.projection, force=True)
        heads["dmd_specific"] = projection_head(student_dim, teacher_dim, cfg.projection, force=True)
        names = [f"embedding_{m}" for m in modalities] + [f"logits_{m}" for m in modalities]

        def dmd(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            t, yb, _ = tg.batch(out, idx, names)
            loss = dmd_loss(heads["dmd_shared"](out["embedding"]), heads["dmd_specific"](out["embedding"]), out["logits"],
                            {m: t[f"embedding_{m}"] for m in modalities}, {m: t[f"logits_{m}"] for m in modalities},
                            yb, cfg.temperature, cfg.dmd_tau)
            return cfg.dmd_weight * _ramp(cfg, epoch) * loss
        terms.append(dmd)

    if cfg.ccc_weight > 0:
        if va_targets is None or len(va_targets) != len(train_utts):
            raise ConfigError("ccc_weight > 0 needs va_targets: one (valence, arousal) row per training clip")
        va = torch.from_numpy(np.asarray(va_targets, dtype=np.float32))

        def ccc_term(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            if "valence_arousal" not in out:
                raise ConfigError("ccc_weight > 0 needs a student with a valence/arousal head")
            target = va[idx].to(out["valence_arousal"].device)
            if "mixup_perm" in out:
                lam = float(out["mixup_lam"])
                target = lam * target + (1 - lam) * target[out["mixup_perm"]]
            return cfg.ccc_weight * _ramp(cfg, epoch) * ccc_loss(out["valence_arousal"], target)
        terms.append(ccc_term)
    return terms, heads
