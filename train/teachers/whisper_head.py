"""A teacher head on a frozen Whisper encoder's pooled layer features (audio, or audio + AUs).

Input: per clip the mean + std of every hidden state of the encoder over the clip's real frames,
``[n_layers, 2·d]`` (:mod:`edgeemo.train.teachers.whisper_features`). The head learns a softmax
weighting over the layers (emotion peaks in the middle ones), standardises with statistics of the
training rows (stored in the module), and classifies through a small MLP. With ``au_dim > 0`` the
35 OpenFace AU features join by concatenation; during training the video is removed from a
fraction of the rows (``video_dropout``, a learned "missing" vector takes its place), so one
teacher also works speech-only — the masking scenario that matters for a speech-only student.

The layer-weighted pooled feature (:meth:`WhisperTeacherHead.embedding`) is the regression target
a student can be distilled on, beside the head's softened outputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError

from ..config import DictConfig, check_minimum
from ..schedule import set_scheduled_lr
from ..selection import unweighted_accuracy

__all__ = ["HeadData", "HeadTrainConfig", "WhisperHeadConfig", "WhisperHeadEnsemble", "WhisperTeacherHead",
           "ensemble_seeds", "fit_whisper_head", "fit_whisper_head_on_views", "predict_logits", "predict_proba"]

#: the seeds of an ensemble's heads: ``seed + ENSEMBLE_SEED_STEP * j`` (head 0 is the single head's)
ENSEMBLE_SEED_STEP = 100


def ensemble_seeds(seed: int, heads: int) -> list[int]:
    """The seeds of an ensemble of ``heads`` heads: ``seed + ENSEMBLE_SEED_STEP * j`` (head 0's is ``seed``)."""
    return [seed + ENSEMBLE_SEED_STEP * j for j in range(heads)]


@dataclass(frozen=True)
class WhisperHeadConfig(DictConfig):
    """Shape and regularisation of the head."""

    n_layers: int = 5
    feature_dim: int = 768
    n_classes: int = 8
    au_dim: int = 0
    hidden: int = 256
    dropout: float = 0.3
    video_dropout: float = 0.3

    _what: ClassVar[str] = "Whisper head option"

    def __post_init__(self) -> None:
        check_minimum(self, ("n_layers", "feature_dim", "n_classes", "hidden"), 1)
        check_minimum(self, ("au_dim",), 0)
        for name in ("dropout", "video_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")


@dataclass(frozen=True)
class HeadTrainConfig(DictConfig):
    """Optimisation of the head (AdamW, warm-up + cosine, class-balanced cross-entropy)."""

    epochs: int = 60
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 3
    label_smoothing: float = 0.1
    seed: int = 0
    kd_weight: float = 0.0  # weight of the KL to the teacher's softened outputs (rows need teacher_logits)
    kd_temperature: float = 2.0

    _what: ClassVar[str] = "Whisper head training option"

    def __post_init__(self) -> None:
        check_minimum(self, ("epochs", "batch_size"), 1)
        check_minimum(self, ("lr", "kd_temperature"), 0, inclusive=False)
        check_minimum(self, ("weight_decay", "warmup_epochs", "label_smoothing"), 0)
        if not 0.0 <= self.kd_weight <= 1.0:
            raise ConfigError(f"kd_weight must be in [0, 1], got {self.kd_weight}")


@dataclass(frozen=True)
class HeadData:
    """Rows for the head: ``features [N, n_layers, feature_dim]``, labels ``[N]``, optional AUs
    ``[N, au_dim]`` and ``clip [N]`` (which clip a row is a view of; rows of one clip share it)."""

    features: np.ndarray
    labels: np.ndarray
    au: np.ndarray | None = None
    clip: np.ndarray | None = field(default=None)
    teacher_logits: np.ndarray | None = None  # [N, n_classes]: a teacher's logits for each row (distillation)

    def __post_init__(self) -> None:
        n = len(self.labels)
        if self.features.ndim != 3 or self.features.shape[0] != n:
            raise ConfigError(f"features must be [N, layers, dim] with N = {n}, not {self.features.shape}")
        if self.au is not None and self.au.shape[0] != n:
            raise ConfigError(f"au must have {n} rows, not {self.au.shape[0]}")
        if self.teacher_logits is not None and self.teacher_logits.shape[0] != n:
            raise ConfigError(f"teacher_logits must have {n} rows, not {self.teacher_logits.shape[0]}")


class WhisperTeacherHead(nn.Module):
    """Layer weighting → standardisation → MLP (→ + AU branch) → class logits.

    ``n_layers`` counts every hidden state the features carry (for Whisper: the embedding output
    plus each encoder layer, i.e. 5 for tiny.en).
    """

    def __init__(self, cfg: WhisperHeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.layer_logits = nn.Parameter(torch.zeros(cfg.n_layers))
        self.register_buffer("mean", torch.zeros(cfg.n_layers, cfg.feature_dim))
        self.register_buffer("std", torch.ones(cfg.n_layers, cfg.feature_dim))
        self.audio = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.feature_dim, cfg.hidden), nn.GELU())
        video_dim = 0
        if cfg.au_dim:
            video_dim = cfg.hidden // 2
            self.register_buffer("au_mean", torch.zeros(cfg.au_dim))
            self.register_buffer("au_std", torch.ones(cfg.au_dim))
            self.video = nn.Sequential(nn.Linear(cfg.au_dim, video_dim), nn.GELU())
            self.missing_video = nn.Parameter(torch.zeros(video_dim))
        self.classifier = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden + video_dim, cfg.n_classes))

    def layer_weights(self) -> torch.Tensor:
        """The softmax weights over the encoder's hidden states."""
        return torch.softmax(self.layer_logits, dim=0)

    def embedding(self, features: torch.Tensor) -> torch.Tensor:
        """The standardised, layer-weighted pooled feature ``[B, feature_dim]``."""
        z = (features - self.mean) / self.std
        return torch.einsum("l,bld->bd", self.layer_weights(), z)

    def forward(
        self, features: torch.Tensor, au: torch.Tensor | None = None, video_present: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``[B, n_classes]``; without ``au`` (or where ``video_present`` is False) the
        learned missing-video vector stands in for the AU branch."""
        h = self.audio(self.embedding(features))
        if self.cfg.au_dim:
            missing = self.missing_video.expand(h.shape[0], -1)
            if au is None:
                v = missing
            else:
                v = self.video((au - self.au_mean) / self.au_std)
                if video_present is not None:
                    v = torch.where(video_present[:, None], v, missing)
            h = torch.cat([h, v], dim=1)
        return self.classifier(h)

    def set_statistics(self, data: HeadData) -> None:
        """Standardisation from the training rows (never from dev or test)."""
        x = torch.from_numpy(np.asarray(data.features, np.float32))
        self.mean.copy_(x.mean(dim=0))
        self.std.copy_(x.std(dim=0).clamp_min(1e-4))
        if self.cfg.au_dim and data.au is not None:
            a = torch.from_numpy(np.asarray(data.au, np.float32))
            self.au_mean.copy_(a.mean(dim=0))
            self.au_std.copy_(a.std(dim=0).clamp_min(1e-4))


class WhisperHeadEnsemble(nn.Module):
    """Heads fitted alike with different seeds; logits and :meth:`embedding` are their means.

    One head's outputs vary by several UA points per fold from seed to seed; the mean of a few is a
    steadier (and usually better) teacher. It stands wherever a :class:`WhisperTeacherHead` does."""

    def __init__(self, heads: Sequence[WhisperTeacherHead]) -> None:
        super().__init__()
        if not heads:
            raise ConfigError("an ensemble needs at least one head")
        self.heads = nn.ModuleList(heads)
        self.cfg = heads[0].cfg

    def embedding(self, features: torch.Tensor) -> torch.Tensor:
        """The heads' layer-weighted pooled features, averaged ``[B, feature_dim]``."""
        return torch.stack([h.embedding(features) for h in self.heads]).mean(0)

    def forward(
        self, features: torch.Tensor, au: torch.Tensor | None = None, video_present: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The heads' logits, averaged ``[B, n_classes]``."""
        return torch.stack([h(features, au, video_present) for h in self.heads]).mean(0)


def _class_weights(labels: np.ndarray, n_classes: int) -> torch.Tensor:
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / n_classes, 0.0)
    return torch.tensor(w, dtype=torch.float32)


@torch.no_grad()
def predict_logits(model: WhisperTeacherHead | WhisperHeadEnsemble, data: HeadData, *, with_video: bool = True,
                   batch: int = 512) -> np.ndarray:
    """Class logits ``[N, n_classes]`` (video used when the model and ``data`` have it)."""
    model.eval()
    out = []
    for i in range(0, len(data.labels), batch):
        x = torch.from_numpy(np.asarray(data.features[i : i + batch], np.float32))
        au = None
        if with_video and data.au is not None and model.cfg.au_dim:
            au = torch.from_numpy(np.asarray(data.au[i : i + batch], np.float32))
        out.append(model(x, au).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.n_classes), np.float32)


def predict_proba(model: WhisperTeacherHead | WhisperHeadEnsemble, data: HeadData, *, with_video: bool = True,
                  batch: int = 512) -> np.ndarray:
    """Class probabilities ``[N, n_classes]`` (video used when the model and ``data`` have it)."""
    logits = predict_logits(model, data, with_video=with_video, batch=batch)
    return torch.softmax(torch.from_numpy(logits), dim=1).numpy()


def fit_whisper_head(
    train: HeadData,
    dev: HeadData | None,
    cfg: WhisperHeadConfig,
    tcfg: HeadTrainConfig = HeadTrainConfig(),
) -> tuple[WhisperTeacherHead, list[dict[str, Any]]]:
    """Train a head; with ``dev`` keep the epoch of best dev UA (speech-only if the model has video
    and dev has none), else the last epoch. Returns the model (eval mode) and the history.

    With ``tcfg.kd_weight > 0`` the loss is ``(1 - w) * cross-entropy + w * T² * KL(teacher || head)``
    on temperature-``T`` softened outputs (Hinton et al. 2015), the teacher's logits taken from
    ``train.teacher_logits``."""
    if cfg.au_dim and train.au is None:
        raise ConfigError("the head has an AU branch (au_dim > 0) but the training rows carry no AUs")
    if tcfg.kd_weight > 0 and train.teacher_logits is None:
        raise ConfigError("kd_weight > 0 needs teacher_logits on the training rows")
    g = torch.Generator().manual_seed(tcfg.seed)
    torch.manual_seed(tcfg.seed)
    model = WhisperTeacherHead(cfg)
    model.set_statistics(train)
    x = torch.from_numpy(np.asarray(train.features, np.float32))
    y = torch.from_numpy(np.asarray(train.labels, np.int64))
    au = torch.from_numpy(np.asarray(train.au, np.float32)) if (cfg.au_dim and train.au is not None) else None
    soft = None
    if tcfg.kd_weight > 0:
        soft = torch.softmax(torch.from_numpy(np.asarray(train.teacher_logits, np.float32)) / tcfg.kd_temperature, dim=1)
    loss_fn = nn.CrossEntropyLoss(weight=_class_weights(train.labels, cfg.n_classes), label_smoothing=tcfg.label_smoothing)
    opt = torch.optim.AdamW(model.parameters(), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
    steps_per_epoch = math.ceil(len(y) / tcfg.batch_size)
    total, warmup = tcfg.epochs * steps_per_epoch, tcfg.warmup_epochs * steps_per_epoch
    history: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    step = 0
    for epoch in range(1, tcfg.epochs + 1):
        model.train()
        order = torch.randperm(len(y), generator=g)
        running = 0.0
        for i in range(0, len(y), tcfg.batch_size):
            idx = order[i : i + tcfg.batch_size]
            set_scheduled_lr(opt, tcfg.lr, step, total, warmup)
            present = None
            if au is not None:
                present = torch.rand(len(idx), generator=g) >= cfg.video_dropout
            logits = model(x[idx], None if au is None else au[idx], present)
            loss = loss_fn(logits, y[idx])
            if soft is not None:
                t = tcfg.kd_temperature
                kd = nn.functional.kl_div(torch.log_softmax(logits / t, dim=1), soft[idx], reduction="batchmean")
                loss = (1.0 - tcfg.kd_weight) * loss + tcfg.kd_weight * t * t * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += float(loss.detach()) * len(idx)
            step += 1
        record: dict[str, Any] = {"epoch": epoch, "loss": running / len(y)}
        if dev is not None:
            pred = predict_proba(model, dev).argmax(axis=1)
            record["dev_ua"] = unweighted_accuracy(np.asarray(dev.labels), pred, cfg.n_classes)
            if best is None or record["dev_ua"] > best[0]:
                best = (record["dev_ua"], epoch, {k: v.clone() for k, v in model.state_dict().items()})
        history.append(record)
    if best is not None:
        model.load_state_dict(best[2])
    model.eval()
    return model, history


def fit_whisper_head_on_views(
    features: np.ndarray,
    labels: np.ndarray,
    dev: HeadData | None,
    cfg: WhisperHeadConfig,
    tcfg: HeadTrainConfig = HeadTrainConfig(),
    *,
    clean_kd: float = 0.0,
    heads: int = 1,
) -> tuple[WhisperTeacherHead | WhisperHeadEnsemble, list[dict[str, Any]]]:
    """A head on every view of every clip: ``features [N, V + 1, layers, dim]`` (column 0 the clean
    clip, then its augmented views), ``labels [N]``.

    With ``clean_kd > 0`` a second head is fitted on the same rows, its loss mixing the labels with
    the first head's T-softened outputs *on the clean clip* for every view of that clip (weight
    ``clean_kd``, :attr:`HeadTrainConfig.kd_temperature`): the head learns to say on a degraded view
    what it says on the clean speech, a self-distillation across views on frozen features. Returns
    the (last) head and its history.

    With ``heads > 1`` that is done ``heads`` times, with seeds ``tcfg.seed + ENSEMBLE_SEED_STEP * j``
    (each picks its own epoch on ``dev``), and a :class:`WhisperHeadEnsemble` of them is returned; the
    history's records then carry ``"head": j``."""
    if features.ndim != 4 or features.shape[0] != len(labels):
        raise ConfigError(f"features must be [clips={len(labels)}, views, layers, dim], got {features.shape}")
    if not 0.0 <= clean_kd <= 1.0:
        raise ConfigError(f"clean_kd must be in [0, 1], got {clean_kd}")
    if heads < 1:
        raise ConfigError(f"heads must be >= 1, got {heads}")
    if heads > 1:
        members, history = [], []
        for j, head_seed in enumerate(ensemble_seeds(tcfg.seed, heads)):
            seeded = HeadTrainConfig.from_dict({**tcfg.to_dict(), "seed": head_seed})
            head, h = fit_whisper_head_on_views(features, labels, dev, cfg, seeded, clean_kd=clean_kd)
            members.append(head)
            history += [{**r, "head": j} for r in h]
        return WhisperHeadEnsemble(members).eval(), history
    n, v = features.shape[:2]
    rows = HeadData(features=features.reshape(n * v, *features.shape[2:]), labels=np.repeat(labels, v))
    head, history = fit_whisper_head(rows, dev, cfg, tcfg)
    if clean_kd == 0.0:
        return head, history
    clean_logits = predict_logits(head, HeadData(features=features[:, 0], labels=labels))
    rows = HeadData(features=rows.features, labels=rows.labels, teacher_logits=np.repeat(clean_logits, v, axis=0))
    second = HeadTrainConfig.from_dict({**tcfg.to_dict(), "seed": tcfg.seed + 1, "kd_weight": clean_kd})
    return fit_whisper_head(rows, dev, cfg, second)


def stack_views(per_view: Sequence[np.ndarray]) -> np.ndarray:
    """``[V, N, L, D]`` → ``[V·N, L, D]`` rows (view-major), for :class:`HeadData`."""
    return np.concatenate(list(per_view), axis=0)
