"""Function matching (Beyer et al. 2022, "Knowledge distillation: a good teacher is patient and
consistent"): the student matches the teacher's function on the very inputs it sees.

Teacher and student see the same augmented view of a clip: the trainer draws one view per clip and
epoch (``StudentTrainer(views=...)``, see :mod:`edgeemo.train.views`) and the targets are the
teacher's outputs on *that* view, precomputed per (clip, view) in :class:`ViewTargets` (for a
Whisper teacher head: :func:`whisper_view_targets`). Loss terms, each weighted:

* ``kl_weight`` — ``T^2 · KL(p_t ‖ softmax(s / T))`` with ``p_t = softmax(teacher logits / T)``;
* ``embedding_weight`` — a projection head (student embedding → teacher embedding, trained with the
  student, never exported) regresses the teacher's embedding: ``1 − cos`` or smooth-L1 (mean over
  dimensions), as DistilHuBERT predicts its teacher's hidden states;
* ``frame_weight`` — a linear head regresses one Whisper layer's hidden states frame by frame from
  the student's trunk columns, on the view it sees (:mod:`edgeemo.train.distill.frame_matching`);
  ``frame_extra_layers`` adds more layers, one head and one term of that weight each;
* ``label_weight`` — the trainer's own label cross-entropy (class-balanced, label-smoothed),
  passed as ``StudentTrainer(label_weight=...)``; 0 = no labels.

``teacher_view`` says which of the clip's teacher outputs both targets come from: ``"same"`` (the
default, Beyer's consistency) the view the student sees; ``"clean"`` the clean clip whatever view the
student sees, so a degraded view is mapped to what the teacher knows of the clean speech (as
RobustDistiller and other noise-robust distillation do): the student cannot inherit where the
teacher fails under noise, e.g. babble. ``embedding_view`` (None: as ``teacher_view``) overrides it
for the embedding target alone, e.g. the view's softened outputs with the clean clip's embedding.

With mixup (``outputs["mixup_lam"]``, ``outputs["mixup_perm"]``) the targets are mixed exactly as
the inputs were: ``lam · p_t[i] + (1 − lam) · p_t[perm[i]]`` (the softened probabilities, not
the logits) and the same mix of the embeddings. Teacher tensors carry no gradient.
The teacher only sees whole clips (pooled features), the student a 3 s crop of the same view.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text

from ..config import DictConfig, check_minimum
from ..data import Utterance
from .frame_matching import FrameTargets, frame_regression_term
from .heads import PROJECTIONS, projection_head

if TYPE_CHECKING:
    from ..models.student import StudentConfig
    from ..teachers.whisper_head import WhisperTeacherHead
    from ..trainer import StudentTrainer, TrainConfig
    from ..views import TrainingViews

__all__ = [
    "EMBEDDING_LOSSES",
    "TEACHER_VIEWS",
    "FunctionMatchingConfig",
    "ViewTargets",
    "build_function_matching_terms",
    "embedding_regression_loss",
    "function_matching_trainer",
    "mix_batch",
    "soft_kl_loss",
    "whisper_view_targets",
]

EMBEDDING_LOSSES = ("cosine", "smooth_l1")
TEACHER_VIEWS = ("same", "clean")
LossTerm = Callable[[dict[str, torch.Tensor], torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class FunctionMatchingConfig(DictConfig):
    """Weights and settings of the function-matching losses."""

    _what: ClassVar[str] = "function-matching option"

    temperature: float = 2.0
    kl_weight: float = 1.0
    embedding_weight: float = 1.0
    embedding_loss: str = "cosine"  # or "smooth_l1"
    smooth_l1_beta: float = 1.0
    projection: str = "linear"  # or "mlp"
    label_weight: float = 0.0
    teacher_view: str = "same"  # or "clean": the teacher's outputs on the clean clip for every view
    embedding_view: str | None = None  # the embedding target's view; None = teacher_view
    #: > 0: regress this Whisper layer's hidden states frame by frame from the student's trunk columns,
    #: on the view the student sees (edgeemo.train.distill.frame_matching); needs frame targets
    frame_weight: float = 0.0
    frame_layer: int = 2
    #: more Whisper layers regressed the same way, each by its own head and with weight frame_weight
    #: (DistilHuBERT predicts several of its teacher's layers from one trunk); each needs its frames
    frame_extra_layers: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        check_minimum(self, ("kl_weight", "embedding_weight", "label_weight", "frame_weight", "frame_layer"))
        layers = self.frame_layers
        numbers = all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in layers)
        if not numbers or len(set(layers)) < len(layers):
            raise ConfigError(f"frame_layer and frame_extra_layers must be distinct layer numbers >= 0, got {layers}")
        if self.frame_extra_layers and self.frame_weight == 0:
            raise ConfigError("frame_extra_layers needs frame_weight > 0")
        if self.teacher_view not in TEACHER_VIEWS:
            raise ConfigError(f"teacher_view={self.teacher_view!r} is not one of {TEACHER_VIEWS}")
        if self.embedding_view is not None and self.embedding_view not in TEACHER_VIEWS:
            raise ConfigError(f"embedding_view={self.embedding_view!r} is not one of {TEACHER_VIEWS} (or None)")
        check_minimum(self, ("temperature", "smooth_l1_beta"), inclusive=False)
        if self.embedding_loss not in EMBEDDING_LOSSES:
            raise ConfigError(f"embedding_loss={self.embedding_loss!r} is not one of {EMBEDDING_LOSSES}")
        if self.projection not in PROJECTIONS:
            raise ConfigError(f"projection={self.projection!r} is not one of {PROJECTIONS}")
        if self.kl_weight == 0 and self.embedding_weight == 0 and self.frame_weight == 0:
            raise ConfigError("function matching needs kl_weight, embedding_weight or frame_weight > 0 "
                              "(labels alone are the plain student)")

    @property
    def frame_layers(self) -> tuple[int, ...]:
        """Every Whisper layer whose frames are regressed (``frame_layer`` first)."""
        return (self.frame_layer, *self.frame_extra_layers)


@dataclass(frozen=True)
class ViewTargets:
    """Teacher outputs per training clip (rows, in the trainer's ``train_utts`` order) and view
    (column 0 = the clean clip): ``logits [N, V + 1, C]``, ``embedding [N, V + 1, D]``; ``paths``
    name the clips, to check the order against the trainer's."""

    logits: np.ndarray
    embedding: np.ndarray
    paths: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.logits.ndim != 3 or self.embedding.ndim != 3:
            raise ConfigError(f"logits and embedding must be [clips, views, dim], got {self.logits.shape} "
                              f"and {self.embedding.shape}")
        if self.logits.shape[:2] != self.embedding.shape[:2] or len(self.paths) != self.logits.shape[0]:
            raise ConfigError(f"logits {self.logits.shape[:2]}, embedding {self.embedding.shape[:2]} and "
                              f"{len(self.paths)} paths disagree on clips x views")

    @property
    def n_views(self) -> int:
        """Augmented views per clip (the clean clip not counted)."""
        return int(self.logits.shape[1]) - 1


@torch.no_grad()
def whisper_view_targets(head: WhisperTeacherHead, features: np.ndarray, utts: Sequence[Utterance],
                         batch: int = 512) -> ViewTargets:
    """:class:`ViewTargets` of a Whisper teacher head from pooled features ``[N, V + 1, L, D]``
    (view 0 clean): its logits and :meth:`~WhisperTeacherHead.embedding` per (clip, view)."""
    if features.ndim != 4 or features.shape[0] != len(utts):
        raise ConfigError(f"features must be [clips={len(utts)}, views, layers, dim], got {features.shape}")
    head.eval()
    n, v = features.shape[:2]
    flat = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32).reshape(n * v, *features.shape[2:]))
    logits, emb = [], []
    for i in range(0, len(flat), batch):
        x = flat[i : i + batch]
        logits.append(head(x).numpy())
        emb.append(head.embedding(x).numpy())
    return ViewTargets(logits=np.concatenate(logits).reshape(n, v, -1),
                       embedding=np.concatenate(emb).reshape(n, v, -1),
                       paths=tuple(str(u.path) for u in utts))


def soft_kl_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 · KL(p_t ‖ softmax(s / T))``, batch mean; ``teacher_probs`` are already softened
    (and possibly mixed), so mixup mixes probabilities."""
    p = teacher_probs.detach()
    log_ps = F.log_softmax(student_logits / temperature, dim=1)
    kl = (p * (torch.log(p.clamp_min(1e-12)) - log_ps)).sum(dim=1)
    return temperature**2 * kl.mean()


def embedding_regression_loss(pred: torch.Tensor, target: torch.Tensor, kind: str = "cosine",
                              beta: float = 1.0) -> torch.Tensor:
    """``1 − cos(pred, target)`` or smooth-L1 (mean over dimensions), batch mean; target detached."""
    t = target.detach()
    if kind == "cosine":
        return (1.0 - F.cosine_similarity(pred, t, dim=1)).mean()
    if kind == "smooth_l1":
        return F.smooth_l1_loss(pred, t, beta=beta)
    raise ConfigError(f"embedding_loss={kind!r} is not one of {EMBEDDING_LOSSES}")


def mix_batch(values: torch.Tensor, out: dict[str, torch.Tensor]) -> torch.Tensor:
    """``values`` (one row per batch example) mixed as the trainer mixed the batch, if it did."""
    if "mixup_perm" not in out:
        return values
    lam = float(out["mixup_lam"])
    return lam * values + (1.0 - lam) * values[out["mixup_perm"]]


def build_function_matching_terms(cfg: FunctionMatchingConfig, targets: ViewTargets, student_dim: int,
                                  *, seed: int = 0, frames: FrameTargets | Sequence[FrameTargets] | None = None,
                                  student: StudentConfig | None = None) -> tuple[list[LossTerm], nn.ModuleDict]:
    """Loss terms for ``StudentTrainer(extra_losses=...)`` and the projection heads for
    ``extra_modules=...`` (initialised from ``seed``, whatever the global torch state). The label
    term is not among them: pass ``label_weight=cfg.label_weight`` to the trainer
    (:func:`function_matching_trainer` does). ``cfg.frame_weight`` > 0 needs ``frames`` (one
    :class:`FrameTargets` per layer of ``cfg.frame_layers``, in that order) and the ``student``'s
    architecture (its columns' alignment). The first layer's head is ``frame_proj``, another layer
    L's ``frame_proj_L``."""
    probs = torch.softmax(torch.from_numpy(targets.logits.astype(np.float32)) / cfg.temperature, dim=2)
    emb = torch.from_numpy(targets.embedding.astype(np.float32))
    heads = nn.ModuleDict()
    terms: list[LossTerm] = []

    def gather(table: torch.Tensor, out: dict[str, torch.Tensor], idx: torch.Tensor, which: str) -> torch.Tensor:
        view = out.get("view")
        if view is None or which == "clean":
            view = torch.zeros_like(idx)
        if int(view.max()) > targets.n_views:
            raise ConfigError(f"the trainer drew view {int(view.max())} but the targets hold {targets.n_views} views")
        return mix_batch(table[idx, view], out).to(out["logits"].device)

    if cfg.kl_weight > 0:
        def kl(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            return cfg.kl_weight * soft_kl_loss(out["logits"], gather(probs, out, idx, cfg.teacher_view), cfg.temperature)
        terms.append(kl)

    if cfg.embedding_weight > 0:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            heads["proj"] = projection_head(student_dim, int(emb.shape[2]), cfg.projection, force=True)

        def embedding(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
            pred = heads["proj"](out["embedding"])
            target = gather(emb, out, idx, cfg.embedding_view or cfg.teacher_view)
            loss = embedding_regression_loss(pred, target, cfg.embedding_loss, cfg.smooth_l1_beta)
            return cfg.embedding_weight * loss
        terms.append(embedding)

    if cfg.frame_weight > 0:
        if frames is None or student is None:
            raise ConfigError("frame_weight > 0 needs the frame targets and the student's config")
        per_layer = (frames,) if isinstance(frames, FrameTargets) else tuple(frames)
        if tuple(f.layer for f in per_layer) != cfg.frame_layers:
            raise ConfigError(f"the frame targets' layers {[f.layer for f in per_layer]} do not match the layers "
                              f"{list(cfg.frame_layers)} of frame_layer and frame_extra_layers")
        for i, layer_frames in enumerate(per_layer):
            if layer_frames.paths != targets.paths or layer_frames.n_views != targets.n_views:
                raise ConfigError(f"the frame targets of layer {layer_frames.layer} ({len(layer_frames.paths)} clips, "
                                  f"{layer_frames.n_views} views) do not match the view targets' clips and views")
            name = "frame_proj" if i == 0 else f"frame_proj_{layer_frames.layer}"
            frame_term, heads[name] = frame_regression_term(layer_frames, student, cfg.frame_weight, seed=seed + 1 + i)
            terms.append(frame_term)
    return terms, heads


def function_matching_trainer(train_cfg: TrainConfig, cfg: FunctionMatchingConfig, targets: ViewTargets,
                              utterances: Sequence[Utterance], views: TrainingViews | None,
                              *, frames: FrameTargets | Sequence[FrameTargets] | None = None,
                              progress: bool = True) -> StudentTrainer:
    """A :class:`~edgeemo.train.trainer.StudentTrainer` wired for function matching (``views``:
    the same views the targets were computed on; None trains on clean clips with column 0;
    ``frames``: the Whisper frame targets ``cfg.frame_weight`` > 0 needs, one per layer of
    ``cfg.frame_layers``). The settings are
    recorded in ``OUT/function_matching.json``; resuming with others is refused."""
    from ..trainer import StudentTrainer, student_config

    if views is not None and views.n_views != targets.n_views:
        raise ConfigError(f"the trainer's views ({views.n_views}) and the targets' ({targets.n_views}) differ")
    if frames is not None and views is None and tuple(train_cfg.augment.speed_factors) != (1.0,):
        raise ConfigError("frame targets follow the clean clips' timing, which speed perturbation moves: train on "
                          "views (each has its own frames) or set augment.speed_factors to (1.0,)")
    record = Path(train_cfg.out_dir) / "function_matching.json"
    # a record written before an option existed was trained with that option's default
    if record.is_file() and {**FunctionMatchingConfig().to_dict(), **json.loads(record.read_text())} != cfg.to_dict():
        raise ConfigError(f"{train_cfg.out_dir} was trained with other function-matching settings ({record}); "
                          "use another out_dir or delete it")
    terms, heads = build_function_matching_terms(cfg, targets, train_cfg.embedding_dim, seed=train_cfg.seed,
                                                 frames=frames, student=student_config(train_cfg))
    trainer = StudentTrainer(train_cfg, utterances=utterances, extra_losses=terms, extra_modules=heads,
                             views=views, label_weight=cfg.label_weight, progress=progress)
    if tuple(str(u.path) for u in trainer.train_utts) != targets.paths:
        raise ConfigError("the targets' clips are not the trainer's training clips in its order")
    atomic_write_text(record, json.dumps(cfg.to_dict(), indent=2))
    return trainer

