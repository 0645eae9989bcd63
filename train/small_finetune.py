"""Fine-tuning the small student end to end: the head *and* Whisper's layers, on raw windows.

The frozen recipe (:mod:`edgeemo.recipes.small_student`) trains only the head, on cached
statistics. Here the window encoder (conv stem, positions, the kept layers) learns too, so every
step runs the network on audio: worth it on a GPU, slow on a CPU. What trains is
:attr:`FinetuneConfig.train_encoder`:

* ``"none"``: the encoder stays frozen (the frozen recipe's model, trained by this loop: the
  reference for a paired comparison);
* ``"top"``: only the last kept layer learns (the lower layers and the stem stay pretrained);
* ``"all"``: the stem, the positions and every kept layer learn.

The first :attr:`~FinetuneConfig.head_only_epochs` epochs train the head alone on the pretrained
features (a linear probe first, then fine-tuning: the encoder does not chase a random head, and
what it learned before is kept better under shifted test audio). The head standardises with
statistics of the *pretrained* encoder's training windows, as the frozen head does.

Every epoch draws one window at random from each (clip, variant) of the training rows, so a clip
with three windows is not worth three clips; scoring takes every window of a clip and averages
their probabilities, as :meth:`Recognizer.classify` does.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from edgeemo.errors import ConfigError
from torch import nn

from .config import DictConfig, check_minimum
from .schedule import lr_factor
from .selection import unweighted_accuracy

__all__ = ["TRAIN_ENCODER", "FinetuneConfig", "WindowTable", "clip_mean", "finetune_small", "window_outputs", "window_probs"]

TRAIN_ENCODER = ("none", "top", "all")


@dataclass(frozen=True)
class FinetuneConfig(DictConfig):
    """What learns and how (AdamW, warm-up + cosine per group, class-balanced cross-entropy)."""

    train_encoder: str = "all"
    epochs: int = 12
    head_only_epochs: int = 2
    batch_size: int = 64
    lr_head: float = 1e-3
    lr_encoder: float = 3e-5
    weight_decay: float = 1e-2
    warmup_epochs: int = 1
    label_smoothing: float = 0.1
    seed: int = 0

    _what: ClassVar[str] = "fine-tuning option"

    def __post_init__(self) -> None:
        if self.train_encoder not in TRAIN_ENCODER:
            raise ConfigError(f"train_encoder must be one of {TRAIN_ENCODER}, got {self.train_encoder!r}")
        check_minimum(self, ("epochs", "batch_size"), 1)
        check_minimum(self, ("head_only_epochs", "warmup_epochs", "weight_decay", "label_smoothing"), 0)
        check_minimum(self, ("lr_head",), 0, inclusive=False)
        check_minimum(self, ("lr_encoder",), 0)


@dataclass
class WindowTable:
    """Windows of some clips and variants: ``windows [N, samples]`` float32, and per window its
    clip (index into the corpus) and a group id shared by the windows of one (clip, variant)."""

    windows: torch.Tensor
    clip: np.ndarray
    group: np.ndarray

    def __post_init__(self) -> None:
        n = self.windows.shape[0]
        if self.windows.ndim != 2 or len(self.clip) != n or len(self.group) != n:
            raise ConfigError(f"a window table needs [N, samples] windows and N clip and group ids, got "
                              f"{tuple(self.windows.shape)}, {len(self.clip)}, {len(self.group)}")
        order = np.argsort(self.group, kind="stable")
        if not np.array_equal(order, np.arange(n)):
            raise ConfigError("the windows of a group must be contiguous and groups in increasing order")
        _, self._start, self._count = np.unique(self.group, return_index=True, return_counts=True)

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    @property
    def n_groups(self) -> int:
        return len(self._start)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """One window index per group, uniformly among the group's windows."""
        return self._start + (rng.random(self.n_groups) * self._count).astype(np.int64)


def clip_mean(probs: np.ndarray, clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(clips, mean probability per clip)``: what ``classify`` reports for each clip."""
    clips, inverse = np.unique(clip, return_inverse=True)
    sums = np.zeros((len(clips), probs.shape[1]), np.float64)
    np.add.at(sums, inverse, probs)
    return clips, sums / np.bincount(inverse)[:, None]


def _autocast(device: torch.device) -> Any:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


@torch.no_grad()
def window_probs(model: nn.Module, windows: torch.Tensor, *, batch: int = 256) -> np.ndarray:
    """Class probabilities ``[N, classes]`` of a :class:`WhisperSmall` on ``windows`` (model's device)."""
    return window_outputs(model, windows, batch=batch)[0]


@torch.no_grad()
def window_outputs(model: nn.Module, windows: torch.Tensor, *, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``(probabilities [N, classes], embedding [N, feature_dim])`` of a :class:`WhisperSmall` on
    ``windows``: the embedding is its head's standardised, layer-weighted pooled feature
    (:meth:`~edgeemo.train.teachers.whisper_head.WhisperTeacherHead.embedding`), what a frozen
    teacher's embedding target is."""
    model.eval()
    device = next(model.parameters()).device
    head = model.head
    probs, emb = [], []
    for i in range(0, windows.shape[0], batch):
        with _autocast(device):
            e = head.embedding(model.encoder(windows[i : i + batch].to(device, non_blocking=True)).float())
            logits = head.classifier(head.audio(e))
        probs.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
        emb.append(e.float().cpu().numpy())
    if not probs:
        return np.zeros((0, head.cfg.n_classes), np.float32), np.zeros((0, head.cfg.feature_dim), np.float32)
    return np.concatenate(probs), np.concatenate(emb)


@torch.no_grad()
def _pooled_statistics(encoder: nn.Module, windows: torch.Tensor, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std over ``windows`` of the encoder's pooled states ``[n_states, 2 d]`` (float32)."""
    encoder.eval()
    device = next(encoder.parameters()).device
    total = sq = None
    for i in range(0, windows.shape[0], batch):
        with _autocast(device):
            f = encoder(windows[i : i + batch].to(device, non_blocking=True)).float()
        s, s2 = f.sum(dim=0, dtype=torch.float64), (f.double() ** 2).sum(dim=0)
        total, sq = (s, s2) if total is None else (total + s, sq + s2)
    n = windows.shape[0]
    mean = total / n
    var = (sq - n * mean**2) / max(n - 1, 1)
    return mean.float(), var.clamp_min(0).sqrt().float().clamp_min(1e-4)


def _trainable_encoder_parameters(encoder: nn.Module, which: str) -> list[nn.Parameter]:
    if which == "none":
        return []
    if which == "top":
        return list(encoder.layers[-1].parameters())
    return [p for name, p in encoder.named_parameters() if not name.startswith("frontend.")]


def finetune_small(
    model: nn.Module,
    train: WindowTable,
    train_labels: np.ndarray,
    cfg: FinetuneConfig,
    *,
    dev: WindowTable | None = None,
    dev_labels: np.ndarray | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[nn.Module, list[dict[str, Any]]]:
    """Train ``model`` (a fresh :class:`~edgeemo.train.models.whisper_small.WhisperSmall` with a
    pretrained encoder, on its device) in place. ``train_labels[i]`` is the class of corpus clip
    ``i`` (indexed by the tables' ``clip``). With ``dev`` the weights of the epoch with the best dev
    UA (clip level: mean window probabilities) are kept, else the last epoch's. Returns the model
    in eval mode and one record per epoch (``loss``, ``dev_ua``, ``seconds``)."""
    if dev is not None and dev_labels is None:
        raise ConfigError("dev windows need dev_labels")
    device = next(model.parameters()).device
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    encoder, head = model.encoder, model.head
    mean, std = _pooled_statistics(encoder, train.windows)
    head.mean.copy_(mean)
    head.std.copy_(std)
    enc_params = _trainable_encoder_parameters(encoder, cfg.train_encoder)
    for p in encoder.parameters():
        p.requires_grad_(False)
    for p in enc_params:
        p.requires_grad_(True)
    groups = [{"params": list(head.parameters()), "base": cfg.lr_head}]
    if enc_params:
        groups.append({"params": enc_params, "base": cfg.lr_encoder})
    opt = torch.optim.AdamW(groups, lr=cfg.lr_head, weight_decay=cfg.weight_decay)
    y_all = torch.as_tensor(np.asarray(train_labels, np.int64), device=device)
    labels_of_windows = np.asarray(train_labels)[train.clip]
    counts = np.bincount(labels_of_windows, minlength=head.cfg.n_classes).astype(np.float64)
    weights = np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / head.cfg.n_classes, 0.0)
    loss_fn = nn.CrossEntropyLoss(weight=torch.tensor(weights, dtype=torch.float32, device=device),
                                  label_smoothing=cfg.label_smoothing)
    clip_of = torch.as_tensor(train.clip, device=device)
    steps_per_epoch = math.ceil(train.n_groups / cfg.batch_size)
    total, warmup = cfg.epochs * steps_per_epoch, cfg.warmup_epochs * steps_per_epoch
    encoder_start = cfg.head_only_epochs * steps_per_epoch
    history: list[dict[str, Any]] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        t0 = time.perf_counter()
        tune_encoder = bool(enc_params) and epoch > cfg.head_only_epochs
        model.train()
        encoder.train(tune_encoder)
        order = torch.as_tensor(rng.permutation(train.draw(rng)))
        running = 0.0
        for i in range(0, len(order), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            opt.param_groups[0]["lr"] = cfg.lr_head * lr_factor(step, total, warmup)
            if enc_params:  # the encoder's own warm-up starts when it starts learning
                opt.param_groups[1]["lr"] = (cfg.lr_encoder * lr_factor(step - encoder_start, total - encoder_start, warmup)
                                             if tune_encoder else 0.0)
            x = train.windows[idx].to(device, non_blocking=True)
            target = y_all[clip_of[idx.to(device)]]
            with _autocast(device):
                if tune_encoder:
                    pooled = encoder(x)
                else:
                    with torch.no_grad():
                        pooled = encoder(x)
                logits = head.classifier(head.audio(head.embedding(pooled.float())))
                loss = loss_fn(logits.float(), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            running += float(loss.detach()) * len(idx)
            step += 1
        record: dict[str, Any] = {"epoch": epoch, "loss": running / len(order), "encoder": tune_encoder}
        if dev is not None:
            clips, probs = clip_mean(window_probs(model, dev.windows), dev.clip)
            record["dev_ua"] = 100 * unweighted_accuracy(np.asarray(dev_labels)[clips], probs.argmax(axis=1),
                                                         head.cfg.n_classes)
            if best is None or record["dev_ua"] > best[0]:
                best = (record["dev_ua"], epoch, copy.deepcopy(model.state_dict()))
        record["seconds"] = round(time.perf_counter() - t0, 2)
        history.append(record)
        if progress is not None:
            progress(record)
    for p in model.parameters():
        p.requires_grad_(True)
    if best is not None:
        model.load_state_dict(best[2])
    return model.eval(), history
