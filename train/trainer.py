"""Training loop for the speech-only student: augmentation, EMA, dev selection, resumable checkpoints.

Features are computed once per clip and speed factor with the model's own front end; every step
crops, mixes noise in, applies SpecAugment and mixup, and runs the CNN. Each epoch re-seeds every
random generator from ``(seed, epoch)``, so a run resumed from its last checkpoint continues
exactly as the uninterrupted run would have.

Two options for function matching (:mod:`edgeemo.train.distill.function_matching`), both off by
default (and then nothing changes, not even a random draw):

* ``views`` (:class:`~edgeemo.train.views.TrainingViews`): each training clip is held as its clean
  wave plus the teacher's ``n`` augmented views (log-mel computed once per (clip, view), no speed
  perturbation: a view carries its own). Every epoch draws one view per clip from
  ``(seed, epoch)``; loss terms find it in ``outputs["view"]`` (0 = clean).
* ``label_weight``: the weight of the built-in label cross-entropy (1.0; 0 trains on the extra
  loss terms alone).

A run records both in its checkpoints (``config["train_extra"]``) and refuses to resume with others.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text

from .augment import AugmentConfig, add_noise_logmel, mixup_params, noise_bank, spec_augment, speed_perturb
from .checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from .config import DictConfig, set_torch_threads
from .data import RAVDESS_LABELS, Utterance, label_indices, load_ravdess, load_waves, select
from .frontend import FrontendConfig
from .metrics import Scores, save_confusion_png, save_curves_png, score
from .models.student import LEVEL_INVARIANT_LOG_FLOOR, StudentConfig, StudentNet, count_parameters
from .schedule import set_scheduled_lr
from .windows import clip_windows

if TYPE_CHECKING:
    from .distributed import DistContext
    from .views import TrainingViews

log = logging.getLogger("edgeemo.train")

_VIEW_STREAM = 0x7669  # the third seed word of the per-epoch view draw (views are on)

#: An extra loss term: (model outputs, batch example indices, epoch) -> scalar loss.
#: Indices index ``StudentTrainer.train_utts``. When the step used mixup, ``outputs`` also holds
#: ``"mixup_lam"`` (0-d tensor, >= 0.5) and ``"mixup_perm"`` (partner positions within the batch):
#: example ``b`` of the batch is ``lam * idx[b] + (1 - lam) * idx[perm[b]]``. When the trainer has
#: ``views``, ``outputs["view"]`` (``[B]`` int64) says which view of each clip was used (0 = clean).
#: ``outputs["columns"]`` is the conv trunk's output ``[B, C, F, T']`` (before pooling) and
#: ``outputs["crop_start"]`` (``[B]`` int64) the first log-mel frame of each example's crop in its
#: clip or view (frame-level targets align with both).
LossTerm = Callable[[dict[str, torch.Tensor], torch.Tensor, int], torch.Tensor]


@dataclass
class TrainConfig(DictConfig):
    """Everything that defines a training run (saved inside every checkpoint)."""

    _what: ClassVar[str] = "training option"
    _nested: ClassVar[dict[str, type]] = {"augment": AugmentConfig}

    out_dir: str = "runs/student"
    data_root: str | None = None
    train_splits: tuple[str, ...] = ("train",)
    dev_splits: tuple[str, ...] = ("dev",)
    train_folds: tuple[int, ...] | None = None  # cross-validation: overrides the splits when set
    dev_folds: tuple[int, ...] | None = None
    epochs: int = 80
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-3
    warmup_epochs: int = 3
    label_smoothing: float = 0.05
    class_balance: bool = True
    ema_decay: float = 0.99
    seed: int = 0
    num_threads: int = 2
    max_steps_per_epoch: int | None = None  # for smoke tests
    dev_every: int = 1  # score dev and checkpoint every this many epochs (and always after the last)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    channels: tuple[int, ...] = (16, 32, 48, 64)
    embedding_dim: int = 48
    freq_bins: int = 8
    normalization: str = "global"
    relative_floor_db: float | None = None  # level-invariant input (StudentConfig); None = off
    time_padding: str = "same"  # "valid" + normalization "local_max": a streamable student (StudentConfig)
    time_pools: tuple[int, ...] | None = None  # time pooling factor per pooled block; None = 2
    local_context_frames: int = 25  # "local_max" normalisation context, frames either side
    dropout: float = 0.1
    device: str = "cpu"  # or "cuda" / "auto" (cuda when available; not yet run on a GPU); see distributed.py


@dataclass
class TrainResult:
    """What a finished run leaves behind."""

    best_dir: Path
    last_dir: Path
    best_epoch: int
    dev: Scores
    parameters: int
    seconds: float
    history: list[dict[str, float]]


class EMA:
    """Exponential moving average of a model's parameters and buffers."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for ema_p, p in zip(self.model.parameters(), model.parameters()):
            ema_p.mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)
        for ema_b, b in zip(self.model.buffers(), model.buffers()):
            ema_b.copy_(b)


#: Options that do not change what is learned: a run may resume with other values.
#: ``dev_every`` changes which epochs the dev set may choose, never the weights of an epoch (scoring
#: draws no random numbers), so a run may resume with another.
_NON_RESULT_OPTIONS = ("out_dir", "data_root", "num_threads", "device", "dev_every")
#: Options added later, with the value that means "as before": left out of the comparison when they
#: have it, so runs written before the option existed still resume.
_LATER_OPTIONS: dict[str, Any] = {"relative_floor_db": None}


def _result_defining(train_cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in train_cfg.items()
            if k not in _NON_RESULT_OPTIONS and not (k in _LATER_OPTIONS and v == _LATER_OPTIONS[k])}


@dataclass(frozen=True)
class ClipWindowBatches:
    """Clips cut into windows per the contract and batched as :func:`predict_clips` runs them:
    ``batches`` of audio ``[b, window]`` or, after :meth:`to_logmel`, of log-mel ``[b, n_mels, frames]``
    (the fixed front end computed once: the trainer scores its dev clips every epoch), and
    ``counts``, the windows of each clip in order."""

    batches: tuple[torch.Tensor, ...]
    counts: tuple[int, ...]
    logmel: bool = False

    @classmethod
    def of(cls, waves: Sequence[np.ndarray], window: int, hop: int, batch_windows: int = 64) -> ClipWindowBatches:
        """The windows of ``waves`` (zero-padded when shorter than a window), ``batch_windows`` per batch."""
        per_clip = [clip_windows(w, window, hop) for w in waves]
        flat = np.concatenate(per_clip)
        batches = tuple(torch.from_numpy(flat[i : i + batch_windows]) for i in range(0, len(flat), batch_windows))
        return cls(batches=batches, counts=tuple(len(w) for w in per_clip))

    @torch.no_grad()
    def to_logmel(self, frontend: nn.Module) -> ClipWindowBatches:
        """The same batches through ``frontend`` (a :class:`~edgeemo.train.frontend.LogMelFrontend`)."""
        if self.logmel:
            return self
        return ClipWindowBatches(batches=tuple(frontend(b) for b in self.batches), counts=self.counts, logmel=True)


@torch.no_grad()
def predict_window_batches(model: StudentNet, windows: ClipWindowBatches) -> np.ndarray:
    """Clip probabilities ``[n_clips, n_labels]``: the mean of the softmax over each clip's windows."""
    model.eval()
    device = next(model.parameters()).device
    probs = []
    for batch in windows.batches:
        x = batch.to(device)
        out = model.forward_features(model.normalize(x)) if windows.logmel else model(x)
        probs.append(torch.softmax(out["logits"], dim=1).cpu().numpy())
    all_probs = np.concatenate(probs)
    bounds = np.cumsum((0, *windows.counts))
    return np.stack([all_probs[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])


def predict_clips(model: StudentNet, waves: Sequence[np.ndarray], batch_windows: int = 64) -> np.ndarray:
    """Clip probabilities ``[n_clips, n_labels]``: mean of window softmax, windows per the contract."""
    cfg = model.cfg
    return predict_window_batches(model, ClipWindowBatches.of(waves, cfg.window_samples, cfg.hop_samples,
                                                              batch_windows))


class _TrainForward(nn.Module):
    """One training forward: normalise (the learned input BatchNorm), augment, then the network.

    Everything with parameters runs inside this ``forward``, the call DistributedDataParallel wraps,
    so that all gradients are averaged across ranks."""

    def __init__(self, model: StudentNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, logmel: torch.Tensor, augment: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
        columns = self.model.trunk(augment(self.model.normalize(logmel)))
        return {**self.model.pool_head(columns), "columns": columns}


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}


def student_config(cfg: TrainConfig) -> StudentConfig:
    """The :class:`StudentConfig` a :class:`StudentTrainer` with ``cfg`` trains."""
    return StudentConfig(
        labels=RAVDESS_LABELS,
        channels=cfg.channels,
        embedding_dim=cfg.embedding_dim,
        freq_bins=cfg.freq_bins,
        normalization=cfg.normalization,
        dropout=cfg.dropout,
        relative_floor_db=cfg.relative_floor_db,  # needs the low absolute floor (StudentConfig checks)
        time_padding=cfg.time_padding,
        time_pools=None if cfg.time_pools is None else tuple(cfg.time_pools),
        local_context_frames=cfg.local_context_frames,
        frontend=(FrontendConfig() if cfg.relative_floor_db is None and cfg.normalization != "local_max"
                  else FrontendConfig(log_floor=LEVEL_INVARIANT_LOG_FLOOR)),
    )


class StudentTrainer:
    """Trains a :class:`StudentNet` on RAVDESS-style utterances with optional extra loss terms."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        utterances: Sequence[Utterance] | None = None,
        extra_losses: Sequence[LossTerm] = (),
        extra_modules: nn.Module | None = None,
        views: TrainingViews | None = None,
        label_weight: float = 1.0,
        progress: bool = True,
    ) -> None:
        """``extra_modules``: trainable parts of the extra losses (e.g. distillation projection
        heads); optimised with the student and saved in the trainer state, never exported.
        ``views`` and ``label_weight``: see the module docstring."""
        if not label_weight >= 0.0:
            raise ConfigError(f"label_weight must be >= 0, got {label_weight}")
        if isinstance(cfg.dev_every, bool) or not isinstance(cfg.dev_every, int) or cfg.dev_every < 1:
            raise ConfigError(f"dev_every must be an integer >= 1, got {cfg.dev_every!r}")
        if label_weight == 0.0 and not extra_losses:
            raise ConfigError("label_weight=0 needs extra loss terms: there would be nothing to learn")
        self.cfg = cfg
        self.views = views
        self.label_weight = float(label_weight)
        self.extra_modules = extra_modules
        self.out = Path(cfg.out_dir)
        self.progress = progress
        self.extra_losses = list(extra_losses)
        all_utts = list(utterances) if utterances is not None else load_ravdess(cfg.data_root)
        if cfg.train_folds is not None:
            self.train_utts = select(all_utts, folds=cfg.train_folds)
            self.dev_utts = select(all_utts, folds=cfg.dev_folds or ())
        else:
            self.train_utts = select(all_utts, splits=cfg.train_splits)
            self.dev_utts = select(all_utts, splits=cfg.dev_splits)
        if not self.train_utts or not self.dev_utts:
            raise ConfigError(
                f"empty train ({len(self.train_utts)}) or dev ({len(self.dev_utts)}) set: check the splits/folds"
            )
        self.model_cfg = student_config(cfg)

    def _extra_config(self) -> dict[str, Any]:
        """The non-default ``views`` / ``label_weight`` settings (empty for a plain run)."""
        extra: dict[str, Any] = {}
        if self.views is not None:
            extra["views"] = self.views.signature()
        if self.label_weight != 1.0:
            extra["label_weight"] = self.label_weight
        return json.loads(json.dumps(extra))  # as a checkpoint reads it back (lists, not tuples)

    # ----------------------------------------------------------------- data
    def _prepare(self) -> None:
        set_torch_threads(self.cfg.num_threads)
        sr = self.model_cfg.frontend.sample_rate
        window = self.model_cfg.window_samples
        self.train_waves = load_waves(self.train_utts, sr, progress=self.progress)
        self.dev_waves = load_waves(self.dev_utts, sr, progress=self.progress)
        self.train_y = label_indices(self.train_utts, self.model_cfg.labels)
        self.dev_y = label_indices(self.dev_utts, self.model_cfg.labels)
        frontend = StudentNet(self.model_cfg).frontend.eval()
        self.feats: list[list[torch.Tensor]] = []  # [clip][speed or view] -> [mels, frames]

        def logmel(w: np.ndarray) -> torch.Tensor:
            if len(w) < window:
                w = np.pad(w, (0, window - len(w)))
            return frontend(torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))[None])[0]

        with torch.no_grad():
            if self.views is not None:
                self.feats = [[logmel(v) for v in self.views.waves(u, wave)]
                              for u, wave in zip(self.train_utts, self._progress(self.train_waves, "views"))]
            else:
                for wave in self.train_waves:
                    self.feats.append([logmel(speed_perturb(wave, f, sr)) for f in self.cfg.augment.speed_factors])
            rng = np.random.default_rng(1234)
            self.noise_feats = frontend(torch.from_numpy(noise_bank(sr * 20, rng)))
        # the dev clips are scored twice an epoch (raw and EMA weights): their front end once, here
        self.dev_windows = ClipWindowBatches.of(self.dev_waves, window, self.model_cfg.hop_samples).to_logmel(frontend)
        self.n_frames = self.model_cfg.frontend.n_frames(window)
        counts = np.bincount(self.train_y, minlength=len(self.model_cfg.labels)).astype(np.float64)
        weights = counts.sum() / np.maximum(counts, 1) / len(counts)
        self.class_weights = torch.tensor(weights if self.cfg.class_balance else np.ones_like(weights), dtype=torch.float32)

    def _progress(self, items: Sequence[Any], desc: str) -> Any:
        if not self.progress:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit="clip", leave=False)

    def _epoch_views(self, epoch: int) -> np.ndarray | None:
        """The view of every training clip this epoch (None without views): from (seed, epoch) only."""
        if self.views is None:
            return None
        rng = np.random.default_rng([self.cfg.seed, epoch, _VIEW_STREAM])
        return rng.integers(0, self.views.n_views + 1, size=len(self.train_utts))

    def _batch(self, idx: np.ndarray, rng: np.random.Generator,
               views: np.ndarray | None = None) -> tuple[torch.Tensor, np.ndarray]:
        """The batch's log-mel crops (noise mixed in) and each crop's first frame in its clip or view."""
        aug = self.cfg.augment
        crops, starts = [], []
        for i in idx:
            feat = self.feats[i][views[i]] if views is not None else self.feats[i][rng.integers(len(self.feats[i]))]
            start = rng.integers(0, feat.shape[1] - self.n_frames + 1)
            crops.append(feat[:, start : start + self.n_frames])
            starts.append(start)
        logmel = torch.stack(crops)
        noisy = torch.from_numpy(rng.random(len(idx)) < aug.noise_prob)
        if noisy.any():
            n_idx = rng.integers(0, self.noise_feats.shape[0], size=int(noisy.sum()))
            n_start = rng.integers(0, self.noise_feats.shape[2] - self.n_frames + 1, size=len(n_idx))
            noise = torch.stack([self.noise_feats[k, :, s : s + self.n_frames] for k, s in zip(n_idx, n_start)])
            snr = torch.from_numpy(rng.uniform(*aug.snr_db, size=len(n_idx))).float()
            floor = self.model_cfg.frontend.log_floor
            logmel[noisy] = add_noise_logmel(logmel[noisy], noise, snr, floor)
        return logmel, np.asarray(starts, dtype=np.int64)

    # ----------------------------------------------------------------- loop
    def fit(self) -> TrainResult:
        """Train (or resume) to ``cfg.epochs``; under torchrun, data-parallel (see distributed.py)."""
        from .distributed import context_from_env

        ctx = context_from_env(self.cfg.device)
        try:
            return self._fit(ctx)
        finally:
            ctx.close()

    def _fit(self, ctx: DistContext) -> TrainResult:
        cfg = self.cfg
        started = time.time()
        self._prepare()
        device = torch.device(ctx.device)
        self.class_weights = self.class_weights.to(device)
        torch.manual_seed(cfg.seed)  # the initial weights (a resumed run loads its own)
        model = StudentNet(self.model_cfg)
        params = list(model.parameters())
        if self.extra_modules is not None:
            self.extra_modules.to(device)
            params += list(self.extra_modules.parameters())
        optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        ema = EMA(model, cfg.ema_decay)
        steps_per_epoch = math.ceil(len(self.train_utts) / cfg.batch_size)
        if cfg.max_steps_per_epoch:
            steps_per_epoch = min(steps_per_epoch, cfg.max_steps_per_epoch)
        total_steps = steps_per_epoch * cfg.epochs
        history: list[dict[str, float]] = []
        best = {"epoch": -1, "dev_ua": -1.0}
        start_epoch = 0
        self._seconds_before = 0.0
        last_dir = self.out / "last"

        try:
            resolve_checkpoint(last_dir)
            has_last = True
        except FileNotFoundError:
            has_last = False
        if has_last:
            ckpt = load_checkpoint(last_dir, with_state=True)
            if (_result_defining(ckpt.config.get("train", {})) != _result_defining(cfg.to_dict())
                    or ckpt.config.get("train_extra", {}) != self._extra_config()):
                raise ConfigError(
                    f"{last_dir} was written by a different training configuration; "
                    "use another --out folder or delete it to start afresh"
                )
            model.load_state_dict(ckpt.weights)
            state = ckpt.trainer_state or {}
            model.to(device)
            optimizer.load_state_dict(state["optimizer"])
            ema.model.load_state_dict(state["ema"])
            if self.extra_modules is not None and "extra_modules" in state:
                self.extra_modules.load_state_dict(state["extra_modules"])
            history = state["history"]
            best = state["best"]
            self._seconds_before = float(state.get("seconds", 0.0))
            start_epoch = int(state["epoch"]) + 1
            log.info("resuming from %s at epoch %d", last_dir, start_epoch)

        model.to(device)
        ema.model.to(device)
        forward: nn.Module = _TrainForward(model)
        if ctx.enabled:
            from torch.nn.parallel import DistributedDataParallel

            # DDP broadcasts rank 0's weights here, so every rank starts (or resumes) identically
            forward = DistributedDataParallel(forward, device_ids=[device.index] if device.type == "cuda" else None)
            if self.extra_modules is not None:  # e.g. distillation heads, initialised per process
                ctx.broadcast_module(self.extra_modules)
            log.info("rank %d/%d on %s (%s)", ctx.rank, ctx.world_size, device, ctx.backend)
        epochs = range(start_epoch, cfg.epochs)
        bar = None
        if self.progress and ctx.is_main:
            from tqdm import tqdm

            bar = tqdm(total=cfg.epochs, initial=start_epoch, desc="training", unit="epoch")
        for epoch in epochs:
            rng = np.random.default_rng([cfg.seed, epoch])  # the batch order: the same on every rank
            gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
            torch.manual_seed(cfg.seed * 100003 + epoch)
            aug_rng = rng
            if ctx.enabled:  # each rank augments its own share of the batch differently
                aug_rng = np.random.default_rng([cfg.seed, epoch, ctx.rank])
                gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch + 7919 * ctx.rank)
                torch.manual_seed(cfg.seed * 100003 + epoch + 7919 * ctx.rank)
            model.train()
            if self.extra_modules is not None:
                self.extra_modules.train()
            order = rng.permutation(len(self.train_utts))
            epoch_views = self._epoch_views(epoch)
            losses = []
            for step in range(steps_per_epoch):
                idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                if len(idx) < 2 * ctx.world_size:  # decided on the global batch, so all ranks agree
                    continue
                idx = idx[ctx.rank :: ctx.world_size]
                set_scheduled_lr(optimizer, cfg.lr, epoch * steps_per_epoch + step, total_steps,
                                 cfg.warmup_epochs * steps_per_epoch)
                logmel, crop_start = self._batch(idx, aug_rng, epoch_views)
                logmel = logmel.to(device)
                n_classes = len(self.model_cfg.labels)
                targets = nn.functional.one_hot(torch.from_numpy(self.train_y[idx]), n_classes).float()
                targets = targets * (1 - cfg.label_smoothing) + cfg.label_smoothing / n_classes
                targets = targets.to(device)
                mix: list[tuple[float, torch.Tensor]] = []
                do_mix = aug_rng.random() < cfg.augment.mixup_prob

                def augment(feats: torch.Tensor) -> torch.Tensor:  # runs inside the (DDP) forward
                    feats = spec_augment(feats, cfg.augment, gen)
                    if do_mix:
                        lam, perm = mixup_params(feats.shape[0], cfg.augment.mixup_alpha, gen)
                        mix.append((lam, perm))
                        feats = lam * feats + (1 - lam) * feats[perm]
                    return feats

                out = forward(logmel, augment)
                if mix:
                    lam, perm = mix[0]
                    targets = lam * targets + (1 - lam) * targets[perm]
                logp = torch.log_softmax(out["logits"], dim=1)
                loss = -(targets * logp * self.class_weights).sum(dim=1).mean()
                if self.label_weight != 1.0:
                    loss = self.label_weight * loss
                batch_idx = torch.from_numpy(idx)
                if self.extra_losses:
                    term_out = dict(out)
                    if mix:
                        term_out["mixup_lam"], term_out["mixup_perm"] = torch.tensor(mix[0][0]), mix[0][1]
                    if epoch_views is not None:
                        term_out["view"] = torch.from_numpy(epoch_views[idx])
                    term_out["crop_start"] = torch.from_numpy(crop_start)
                    for term in self.extra_losses:
                        loss = loss + term(term_out, batch_idx, epoch)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.extra_modules is not None:
                    ctx.average_gradients(self.extra_modules.parameters())
                nn.utils.clip_grad_norm_(params, 5.0)
                optimizer.step()
                ema.update(model)
                losses.append(float(loss.detach()))
            if (epoch + 1) % cfg.dev_every and epoch != cfg.epochs - 1:  # no dev score, no checkpoint
                if bar is not None:
                    bar.update(1)
                continue
            if ctx.is_main:
                dev = self._evaluate_and_save(epoch, model, ema, optimizer, losses, history, best, started)
            # the other ranks take rank 0's record and wait until its checkpoints are written
            if ctx.enabled:
                history, best = ctx.broadcast((history, best))
            ctx.barrier()
            if bar is not None:
                bar.set_postfix(loss=f"{history[-1]['train_loss']:.3f}", dev_ua=f"{100 * dev.ua:.1f}",
                                best=f"{100 * best['dev_ua']:.1f}@{best['epoch']}")
                bar.update(1)
        if bar is not None:
            bar.close()
        return self._finish(history, best, started, write=ctx.is_main)

    def _evaluate_and_save(self, epoch: int, model: StudentNet, ema: EMA, optimizer: torch.optim.Optimizer,
                           losses: list[float], history: list[dict[str, float]], best: dict[str, Any],
                           started: float) -> Scores:
        """Score raw and EMA weights on dev, append to ``history``, update ``best`` and write checkpoints."""
        # Both the raw weights and their EMA are candidates; the dev set picks (EMA lags early on).
        candidates = {"raw": model, "ema": ema.model}
        dev_scores = {
            name: score(self.dev_y, predict_window_batches(m, self.dev_windows).argmax(1), len(self.model_cfg.labels))
            for name, m in candidates.items()
        }
        model.train()
        pick = max(dev_scores, key=lambda name: dev_scores[name].ua)
        dev = dev_scores[pick]
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)), "dev_ua": dev.ua, "dev_wa": dev.wa,
                        "dev_f1": dev.f1, "dev_ua_raw": dev_scores["raw"].ua, "dev_ua_ema": dev_scores["ema"].ua})
        if dev.ua > best["dev_ua"]:
            best.clear()
            best.update({"epoch": epoch, "dev_ua": dev.ua, "weights": pick})
            save_checkpoint(self.out / "best", config=self._config(epoch, dev), weights=_cpu_state(candidates[pick]))
        save_checkpoint(
            self.out / "last",
            config=self._config(epoch, dev),
            weights=_cpu_state(model),
            trainer_state={"optimizer": optimizer.state_dict(), "ema": _cpu_state(ema.model),
                           "history": history, "best": best, "epoch": epoch,
                           "seconds": self._seconds_before + time.time() - started,
                           **({"extra_modules": _cpu_state(self.extra_modules)}
                              if self.extra_modules is not None else {})},
        )
        return dev

    def _config(self, epoch: int, dev: Scores) -> dict[str, Any]:
        return {
            "kind": "student",
            "model": self.model_cfg.to_dict(),
            "train": self.cfg.to_dict(),
            "epoch": epoch,
            "dev": dev.to_dict(),
            "train_speakers": sorted({u.speaker for u in self.train_utts}),
            **({"train_extra": extra} if (extra := self._extra_config()) else {}),
        }

    def _finish(self, history: list[dict[str, float]], best: dict[str, Any], started: float,
                write: bool = True) -> TrainResult:
        best_ckpt = load_checkpoint(self.out / "best")
        model = StudentNet(self.model_cfg)
        model.load_state_dict(best_ckpt.weights)
        probs = predict_window_batches(model, self.dev_windows)
        dev = score(self.dev_y, probs.argmax(1), len(self.model_cfg.labels))
        if write:
            save_confusion_png(self.dev_y, probs.argmax(1), self.model_cfg.labels, self.out / "confusion_dev.png",
                               title=f"dev (best epoch {best['epoch']}): {dev}")
            save_curves_png(history, self.out / "curves.png", title="student training")
            atomic_write_text(self.out / "history.json", json.dumps(history, indent=1))
        return TrainResult(
            best_dir=self.out / "best", last_dir=self.out / "last", best_epoch=int(best["epoch"]),
            dev=dev, parameters=count_parameters(model), history=history,
            seconds=self._seconds_before + time.time() - started,  # all sessions of a resumed run
        )
