"""Training and inference for :class:`~edgeemo.train.teachers.model.TeacherAV` on precomputed inputs.

A step crops a random window of the clip's log-mel (the student's window length), applies light
SpecAugment, optional modality masking (:mod:`edgeemo.train.teachers.masking`) and Gaussian noise on the
standardised clip features, and minimises class-balanced, label-smoothed cross-entropy on the
fused logits plus ``aux_weight`` times the per-modality auxiliary heads. The dev set picks the
epoch (UA; with ``select_without_video`` the video-removed UA, for masked speech-only models).
With ``refit_with_dev`` a fresh model is then trained on train + dev with the same schedule and
stopped after the selected epoch: more speakers for the final teacher, the epoch still chosen
without looking at any test clip (its recorded dev score is the selection run's).
Inference averages over the windows the deployed student would see (``crop="windows"``) or takes
the centre window (``crop="center"``).

A finished run leaves ``OUT/best`` (a checkpoint per :mod:`edgeemo.train.checkpoint`, with the
standardisers inside) and ``OUT/done.json``; running the same configuration again returns at once.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text

from ..augment import AugmentConfig, spec_augment
from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import DictConfig, set_torch_threads
from ..metrics import Scores, score
from ..schedule import set_scheduled_lr
from ..windows import clip_window_starts
from .features import TeacherInputs
from .masking import MaskingConfig, apply_masks, plan_masks
from .model import TeacherAV, TeacherConfig
from .visual import Standardizer, standardize_per_speaker

log = logging.getLogger("edgeemo.train.teacher")
CROPS = ("windows", "center")


@dataclass
class TeacherTrainConfig(DictConfig):
    """How a teacher is trained (saved in its checkpoint)."""

    _what: ClassVar[str] = "teacher training option"
    _nested: ClassVar[dict[str, type]] = {"masking": MaskingConfig}

    out_dir: str = "runs/teacher"
    epochs: int = 40
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-2
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    class_balance: bool = True
    aux_weight: float = 0.3
    feature_noise: float = 0.1
    freq_masks: int = 1
    freq_mask_width: int = 8
    time_masks: int = 1
    time_mask_width: int = 20
    masking: MaskingConfig | None = None
    select_without_video: bool = False
    refit_with_dev: bool = False
    seed: int = 0
    num_threads: int = 1
    max_steps_per_epoch: int | None = None


@dataclass
class TeacherResult:
    """What a finished teacher run leaves behind."""

    best_dir: Path
    best_epoch: int
    dev: Scores
    history: list[dict[str, float]]
    seconds: float


@dataclass
class Standardizers:
    """The clip-feature standardisers of one teacher (fitted on its training rows)."""

    egemaps: Standardizer | None = None
    visual: Standardizer | None = None

    @classmethod
    def fit(cls, inputs: TeacherInputs, model_cfg: TeacherConfig | None = None) -> "Standardizers":
        """Statistics of ``inputs`` (training rows), after per-speaker normalisation where
        ``model_cfg.speaker_norm`` asks for it."""
        per_speaker = model_cfg is not None and model_cfg.speaker_norm
        e = _clip_features(inputs, "egemaps", per_speaker)
        v = _clip_features(inputs, "visual", per_speaker)
        return cls(Standardizer.fit(e) if e is not None else None, Standardizer.fit(v) if v is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.to_dict() if v is not None else None) for k, v in (("egemaps", self.egemaps), ("visual", self.visual))}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Standardizers":
        return cls(*(Standardizer.from_dict(data[k]) if data.get(k) else None for k in ("egemaps", "visual")))

    def tensors(self, inputs: TeacherInputs, model_cfg: TeacherConfig) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Standardised ``(egemaps, visual)`` tensors of ``inputs`` for what ``model_cfg`` uses."""
        e = v = None
        if model_cfg.use_egemaps:
            if inputs.egemaps is None or self.egemaps is None:
                raise ConfigError(f"this teacher needs {model_cfg.functionals} functionals")
            if inputs.functionals != model_cfg.functionals:
                raise ConfigError(f"this teacher uses {model_cfg.functionals} functionals but the inputs hold "
                                  f"{inputs.functionals}: build them with functionals={model_cfg.functionals!r}")
            e = torch.from_numpy(self.egemaps.transform(_clip_features(inputs, "egemaps", model_cfg.speaker_norm)))
        if model_cfg.use_visual:
            if inputs.visual is None or self.visual is None:
                raise ConfigError("this teacher needs visual (AU) features")
            v = torch.from_numpy(self.visual.transform(_clip_features(inputs, "visual", model_cfg.speaker_norm)))
        return e, v


def _clip_features(inputs: TeacherInputs, name: str, per_speaker: bool) -> np.ndarray | None:
    """``inputs.<name>`` (``egemaps`` or ``visual``), z-scored per speaker when ``per_speaker``."""
    x = getattr(inputs, name)
    if x is None or not per_speaker:
        return x
    return standardize_per_speaker(x, [u.speaker for u in inputs.utterances])


def _window_frames(model_cfg: TeacherConfig) -> int:
    return model_cfg.frontend.n_frames(model_cfg.window_samples)


def _crop_starts(inputs: TeacherInputs, i: int, model_cfg: TeacherConfig, crop: str) -> list[int]:
    """Frame offsets of the windows of clip ``i`` for ``crop``."""
    fe = model_cfg.frontend
    n_frames = inputs.logmel[i].shape[1] if inputs.logmel is not None else 0
    win = _window_frames(model_cfg)
    if crop == "center":
        return [max(0, (n_frames - win) // 2)]
    starts = clip_window_starts(int(inputs.n_samples[i]), model_cfg.window_samples, model_cfg.hop_samples)
    return [min(s // fe.hop_length, max(0, n_frames - win)) for s in starts]


@torch.no_grad()
def predict_teacher(
    model: TeacherAV,
    std: Standardizers,
    inputs: TeacherInputs,
    *,
    crop: str = "windows",
    with_video: bool = True,
    batch_size: int = 128,
) -> dict[str, np.ndarray]:
    """Clip-level teacher outputs: window-mean ``logits``, ``probs`` (mean window softmax) and embeddings."""
    if crop not in CROPS:
        raise ConfigError(f"unknown crop {crop!r}; choose one of {CROPS}")
    model.eval()
    cfg = model.cfg
    e_all, v_all = std.tensors(inputs, cfg)
    win = _window_frames(cfg)
    rows: list[int] = []
    crops: list[torch.Tensor] = []
    for i in range(len(inputs)):
        starts = _crop_starts(inputs, i, cfg, crop) if cfg.use_logmel else [0]
        for s in starts:
            rows.append(i)
            if cfg.use_logmel:
                crops.append(inputs.logmel[i][:, s : s + win])
    row_idx = torch.tensor(rows)
    chunks: dict[str, list[torch.Tensor]] = {}
    for b in range(0, len(rows), batch_size):
        sl = row_idx[b : b + batch_size]
        feats = model.normalize(torch.stack(crops[b : b + batch_size])) if cfg.use_logmel else None
        e = e_all[sl] if e_all is not None else None
        v = v_all[sl] if (v_all is not None and with_video) else None
        out = model.forward_features(feats, e, v)
        out["probs"] = torch.softmax(out["logits"], dim=1)
        for k, t in out.items():
            chunks.setdefault(k, []).append(t)
    result: dict[str, np.ndarray] = {}
    counts = torch.bincount(row_idx, minlength=len(inputs)).clamp_min(1)[:, None].float()
    for k, parts in chunks.items():
        flat = torch.cat(parts)
        summed = torch.zeros(len(inputs), flat.shape[1]).index_add_(0, row_idx, flat)
        result[k] = (summed / counts).numpy()
    return result


class TeacherTrainer:
    """Fits one teacher on ``train`` inputs, selecting the epoch on ``dev``."""

    def __init__(self, model_cfg: TeacherConfig, cfg: TeacherTrainConfig, train: TeacherInputs,
                 dev: TeacherInputs, *, progress: bool = False) -> None:
        if len(train) == 0 or len(dev) == 0:
            raise ConfigError(f"empty teacher train ({len(train)}) or dev ({len(dev)}) set")
        if cfg.masking is not None and not model_cfg.use_visual:
            log.info("masking with an audio-only teacher: only audio scenarios have an effect")
        self.model_cfg, self.cfg, self.train, self.dev = model_cfg, cfg, train, dev
        self.out = Path(cfg.out_dir)
        self.progress = progress

    def _signature(self) -> dict[str, Any]:
        return {
            "model": self.model_cfg.to_dict(),
            "train": {k: v for k, v in self.cfg.to_dict().items() if k != "out_dir"},
            "train_clips": sorted(self.train.keys),
            "dev_clips": sorted(self.dev.keys),
        }

    def fit(self) -> TeacherResult:
        done = self.out / "done.json"
        signature = json.loads(json.dumps(self._signature()))
        if done.is_file():
            record = json.loads(done.read_text())
            if _with_defaults(record.get("signature")) == signature:
                d = record["dev"]
                return TeacherResult(self.out / "best", record["best_epoch"], Scores(**d), record["history"], 0.0)
            raise ConfigError(f"{self.out} holds a teacher trained with another configuration; use another folder")
        return self._fit(signature)

    def _fit(self, signature: dict[str, Any]) -> TeacherResult:
        cfg = self.cfg
        started = time.time()
        set_torch_threads(cfg.num_threads)
        _, _, history, best = self._train(self.train, cfg.epochs, dev=self.dev)
        if cfg.refit_with_dev:
            joint = self.train.concat(self.dev)
            log.info("refitting on train + dev (%d clips) for %d epochs", len(joint), best["epoch"] + 1)
            model, std, _, _ = self._train(joint, best["epoch"] + 1)
            dev = Scores(**best["dev"])
            save_checkpoint(self.out / "best", config=self._config(best["epoch"], dev, std, joint),
                            weights=model.state_dict())
        record = {"signature": signature, "best_epoch": best["epoch"], "dev": best["dev"], "history": history,
                  "refit_with_dev": cfg.refit_with_dev}
        atomic_write_text(self.out / "history.json", json.dumps(history, indent=1))
        atomic_write_text(self.out / "done.json", json.dumps(record))
        return TeacherResult(self.out / "best", best["epoch"], Scores(**best["dev"]), history, time.time() - started)

    def _train(
        self, train: TeacherInputs, n_epochs: int, *, dev: TeacherInputs | None = None
    ) -> tuple[TeacherAV, Standardizers, list[dict[str, float]], dict[str, Any]]:
        """Train a fresh model on ``train`` for ``n_epochs`` of the ``cfg.epochs`` schedule.

        Returns the final model, its standardisers, and with ``dev`` the per-epoch history and the
        best epoch's record (that epoch's weights are saved to ``OUT/best`` as training goes).
        """
        cfg, mcfg = self.cfg, self.model_cfg
        torch.manual_seed(cfg.seed)
        model = TeacherAV(mcfg)
        std = Standardizers.fit(train, mcfg)
        e_train, v_train = std.tensors(train, mcfg)
        y = torch.from_numpy(train.y)
        n_cls = len(mcfg.labels)
        counts = np.bincount(train.y, minlength=n_cls).astype(np.float64)
        weights = counts.sum() / np.maximum(counts, 1) / n_cls if cfg.class_balance else np.ones(n_cls)
        class_w = torch.tensor(weights, dtype=torch.float32)
        ce = nn.CrossEntropyLoss(weight=class_w, label_smoothing=cfg.label_smoothing)
        optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps = math.ceil(len(train) / cfg.batch_size)
        if cfg.max_steps_per_epoch:
            steps = min(steps, cfg.max_steps_per_epoch)
        total = steps * cfg.epochs
        aug = AugmentConfig(freq_masks=cfg.freq_masks, freq_mask_width=cfg.freq_mask_width,
                            time_masks=cfg.time_masks, time_mask_width=cfg.time_mask_width)
        win = _window_frames(mcfg)
        history: list[dict[str, float]] = []
        best: dict[str, Any] = {"epoch": -1, "dev_ua": -1.0}
        for epoch in range(n_epochs):
            rng = np.random.default_rng([cfg.seed, epoch])
            gen = torch.Generator().manual_seed(cfg.seed * 100003 + epoch)
            model.train()
            order = rng.permutation(len(train))
            losses = []
            for step in range(steps):
                idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
                if len(idx) < 2:
                    continue
                set_scheduled_lr(optimizer, cfg.lr, epoch * steps + step, total, cfg.warmup_epochs * steps)
                feats = None
                if mcfg.use_logmel:
                    crops = []
                    for i in idx:
                        lm = train.logmel[i]
                        s = int(rng.integers(0, lm.shape[1] - win + 1))
                        crops.append(lm[:, s : s + win])
                    feats = spec_augment(model.normalize(torch.stack(crops)), aug, gen)
                t_idx = torch.from_numpy(idx)
                e = e_train[t_idx] if e_train is not None else None
                v = v_train[t_idx] if v_train is not None else None
                if cfg.feature_noise > 0:
                    e = e + cfg.feature_noise * torch.randn(e.shape, generator=gen) if e is not None else None
                    v = v + cfg.feature_noise * torch.randn(v.shape, generator=gen) if v is not None else None
                a_present = v_present = None
                if cfg.masking is not None:
                    plan = plan_masks(len(idx), win, mcfg.visual_dim, cfg.masking, gen)
                    feats, e, v = apply_masks(plan, feats, e, v)
                    a_present, v_present = plan.audio_present, plan.video_present
                out = model.forward_features(feats, e, v, audio_present=a_present, video_present=v_present)
                loss = ce(out["logits"], y[t_idx])
                if cfg.aux_weight > 0:
                    for key, present in (("logits_audio", a_present), ("logits_visual", v_present)):
                        if key in out:
                            keep = present if present is not None else torch.ones(len(idx), dtype=torch.bool)
                            if keep.any():
                                loss = loss + cfg.aux_weight * ce(out[key][keep], y[t_idx][keep])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                losses.append(float(loss.detach()))
            train_loss = float(np.mean(losses)) if losses else float("nan")
            if dev is None:
                if self.progress:
                    print(f"  teacher refit epoch {epoch}: loss {train_loss:.3f}", flush=True)
                continue
            with_video = mcfg.use_visual and not cfg.select_without_video
            probs = predict_teacher(model, std, dev, with_video=with_video)["probs"]
            scores = score(dev.y, probs.argmax(1), n_cls)
            history.append({"epoch": epoch, "train_loss": train_loss,
                            "dev_ua": scores.ua, "dev_wa": scores.wa, "dev_f1": scores.f1})
            if scores.ua > best["dev_ua"]:
                best = {"epoch": epoch, "dev_ua": scores.ua, "dev": scores.to_dict()}
                save_checkpoint(self.out / "best", config=self._config(epoch, scores, std, train),
                                weights=model.state_dict())
            if self.progress:
                print(f"  teacher epoch {epoch}: loss {train_loss:.3f} dev {scores}", flush=True)
        return model, std, history, best

    def _config(self, epoch: int, dev: Scores, std: Standardizers, train: TeacherInputs) -> dict[str, Any]:
        return {
            "kind": "teacher_av",
            "model": self.model_cfg.to_dict(),
            "train": self.cfg.to_dict(),
            "standardizers": std.to_dict(),
            "epoch": epoch,
            "dev": dev.to_dict(),
            "train_speakers": sorted({u.speaker for u in train.utterances}),
        }


def _with_defaults(signature: Any) -> Any:
    """A stored run signature with the options added since it was written set to their defaults,
    so that adding an option does not orphan finished runs."""
    if not isinstance(signature, dict) or not {"model", "train"} <= set(signature):
        return signature
    try:
        model = TeacherConfig.from_dict(signature["model"]).to_dict()
        train = TeacherTrainConfig.from_dict(signature["train"]).to_dict()
    except (ConfigError, TypeError, KeyError):
        return signature
    train.pop("out_dir", None)
    return json.loads(json.dumps({**signature, "model": model, "train": train}))


def load_teacher(folder: str | Path) -> tuple[TeacherAV, Standardizers, dict[str, Any]]:
    """A teacher checkpoint folder -> (model in eval mode, its standardisers, its config)."""
    ckpt = load_checkpoint(folder)
    if ckpt.config.get("kind") != "teacher_av":
        raise ConfigError(f"{ckpt.path} is not a teacher checkpoint (kind={ckpt.config.get('kind')!r})")
    model = TeacherAV(TeacherConfig.from_dict(ckpt.config["model"]))
    model.load_state_dict(ckpt.weights)
    model.eval()
    return model, Standardizers.from_dict(ckpt.config["standardizers"]), ckpt.config
