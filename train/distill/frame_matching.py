"""Frame-level regression of the Whisper encoder's hidden states (as DistilHuBERT predicts its teacher's
layers frame by frame), a richer target than one pooled embedding per clip.

Every column of the student's conv trunk (one per ``frame_stride`` log-mel frames: 100 ms for the
streamable student) is projected by a linear head (trained with the student, never exported) onto
the mean of the Whisper frames that fall inside that column's span (Whisper's encoder has one frame
per 20 ms), and the loss is ``1 − cos`` averaged over the columns. A 3 s crop of the streamable
student thus gives 19 targets of 384 numbers instead of one, on the very view the student sees
(``same``-view: a view's own timing, e.g. after speed perturbation, is what its frames describe).

Alignment, in samples of the view's 16 kHz audio: the student's log-mel frame ``k`` (no centring)
is centred at ``160 k + 200``; a trunk column's centre is :meth:`StudentConfig.column_centers` log-mel
frames after the crop's first frame; Whisper's encoder frame ``i`` (centred STFT, stride-2 conv
stem) is centred at ``320 i``. A column whose span runs past the view's last Whisper frame (a short
clip padded to the window) has no target and is left out of the loss.

Targets come from the frozen encoder, whatever the teacher head, so they are cached once per
(clip, view, layer) next to the pooled features
(``<cache>/whisper/<weights>/<clean | TAG-SEED>/frames-layer<L>/<clip sha256>.npy``, float16
``[frames, d]``, written atomically: an interrupted extraction resumes) and standardised per
dimension over the training clips' clean frames when loaded (Whisper has a few dimensions of very
large magnitude that would otherwise decide every cosine).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write, sha256_file

from ..data import Utterance, read_audio

if TYPE_CHECKING:
    from ..models.student import StudentConfig
    from ..teachers.whisper import WhisperAudioEncoder
    from ..views import TrainingViews

__all__ = ["WHISPER_FRAME_SAMPLES", "FrameTargets", "frame_folder", "frame_regression_term", "whisper_frame_targets"]

#: Samples of 16 kHz audio per Whisper encoder frame (two 10 ms hops; the conv stem has stride 2).
WHISPER_FRAME_SAMPLES = 320
LossTerm = Callable[[dict[str, torch.Tensor], torch.Tensor, int], torch.Tensor]


@dataclass(frozen=True)
class FrameTargets:
    """Standardised hidden states of one Whisper layer per training clip (rows in the trainer's
    ``train_utts`` order, named by ``paths``) and variant (0 = the clean clip, then the views):
    ``frames[clip][variant]`` is ``[whisper frames, d]`` float16; ``seconds``: what computing the
    missing ones took (0 when all came from the cache)."""

    frames: tuple[tuple[torch.Tensor, ...], ...]
    paths: tuple[str, ...]
    layer: int
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if len(self.frames) != len(self.paths) or not self.frames:
            raise ConfigError(f"{len(self.frames)} clips of frames for {len(self.paths)} paths")
        variants = {len(f) for f in self.frames}
        if len(variants) != 1:
            raise ConfigError(f"every clip needs the same number of variants, got {sorted(variants)}")

    @property
    def n_views(self) -> int:
        """Augmented views per clip (the clean clip not counted)."""
        return len(self.frames[0]) - 1

    @property
    def dim(self) -> int:
        return int(self.frames[0][0].shape[1])


def frame_folder(fingerprint: str, layer: int, *, view_seed: int | None = None, view_tag: str = "view",
                 cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder of one layer's frames of one view (``clean`` when ``view_seed`` is None)."""
    from ..teachers.whisper_features import feature_folder

    return feature_folder(fingerprint, view_seed=view_seed, view_tag=view_tag, cache_dir=cache_dir) / f"frames-layer{layer}"


def whisper_frame_targets(
    utterances: Sequence[Utterance],
    views: TrainingViews | None,
    *,
    layer: int = 2,
    fingerprint: str,
    load_encoder: Callable[[], WhisperAudioEncoder],
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> FrameTargets:
    """:class:`FrameTargets` of layer ``layer`` (0 = the conv stem's output, then each layer) for
    ``utterances`` and their ``views`` (the same views, seeds, tags and babble pool the student
    trains on; None = the clean clips alone). ``load_encoder`` is called once, and only if a frame
    file is missing; ``fingerprint`` names the weights in the cache path."""
    from ..teachers.whisper import SAMPLE_RATE
    from ..teachers.whisper_features import clip_view_seed
    from ..views import view_function

    if layer < 0:
        raise ConfigError(f"layer must be >= 0, got {layer}")
    variants: list[tuple[int | None, str, object]] = [(None, "clean", None)]
    for view_set in views.view_sets if views is not None else ():
        variants += [(s, view_set.tag, view_set.cfg) for s in view_set.seeds]
    encoder: WhisperAudioEncoder | None = None
    seconds = 0.0
    items: Sequence[Utterance] = utterances
    if progress:
        from tqdm import tqdm

        items = tqdm(utterances, desc=f"Whisper layer-{layer} frames", unit="clip", leave=False)
    rows: list[tuple[torch.Tensor, ...]] = []
    for utt in items:
        digest = sha256_file(utt.path)
        wave: np.ndarray | None = None
        per_variant = []
        for seed, tag, view_cfg in variants:
            path = frame_folder(fingerprint, layer, view_seed=seed, view_tag=tag, cache_dir=cache_dir) / f"{digest}.npy"
            if not path.is_file():
                start = time.perf_counter()
                if encoder is None:
                    encoder = load_encoder()
                    if layer > encoder.n_layers:
                        raise ConfigError(f"layer {layer} does not exist: the encoder has {encoder.n_layers} layers")
                if wave is None:
                    wave = read_audio(utt.path, SAMPLE_RATE)
                audio = wave
                if seed is not None:  # the view, exactly as the student's TrainingViews makes it
                    make = view_function(views.pool, utt.speaker, view_cfg)  # type: ignore[union-attr, arg-type]
                    audio = make(wave, clip_view_seed(seed, digest))
                with torch.inference_mode():
                    states = encoder.wave_hidden_states(np.asarray(audio, dtype=np.float32))[layer]
                values = states.numpy().astype(np.float16)
                atomic_write(path, lambda fh, v=values: np.save(fh, v, allow_pickle=False))
                seconds += time.perf_counter() - start
            per_variant.append(torch.from_numpy(np.load(path)))
        rows.append(tuple(per_variant))
    clean = torch.cat([r[0].float() for r in rows])
    mean, std = clean.mean(dim=0), clean.std(dim=0).clamp_min(1e-3)
    frames = tuple(tuple(((f.float() - mean) / std).half() for f in r) for r in rows)
    return FrameTargets(frames=frames, paths=tuple(str(u.path) for u in utterances), layer=layer, seconds=seconds)


def _column_spans(student: StudentConfig, n_columns: int) -> tuple[np.ndarray, int]:
    """First Whisper frame (fractional, relative to a crop starting at log-mel frame 0) of each
    trunk column's span, and the span's length in Whisper frames."""
    hop = student.frontend.hop_length
    per_column = student.frame_stride * hop / WHISPER_FRAME_SAMPLES
    width = max(1, round(per_column))
    centers = hop * student.column_centers(n_columns) + student.frontend.n_fft / 2  # samples
    return (centers - per_column * WHISPER_FRAME_SAMPLES / 2) / WHISPER_FRAME_SAMPLES, width


def frame_regression_term(targets: FrameTargets, student: StudentConfig, weight: float = 1.0, *, seed: int = 0,
                          view_key: str = "view") -> tuple[LossTerm, nn.Module]:
    """The loss term (for ``StudentTrainer(extra_losses=...)``) and its projection head (for
    ``extra_modules``; a linear map from the trunk's channels to the Whisper dimension, initialised
    from ``seed``). The term reads the trainer's ``outputs["columns"]`` (the conv trunk, ``[B, C, F,
    T']``), ``outputs["crop_start"]`` (each crop's first log-mel frame) and, with views,
    ``outputs[view_key]``; under mixup the targets are mixed as the inputs were."""
    if not weight > 0:
        raise ConfigError(f"the frame regression weight must be > 0, got {weight}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = nn.Linear(student.channels[-1], targets.dim)
    cache: dict[int, tuple[np.ndarray, int]] = {}

    def term(out: dict[str, torch.Tensor], idx: torch.Tensor, epoch: int) -> torch.Tensor:
        for key in ("columns", "crop_start"):
            if key not in out:
                raise ConfigError(f"frame regression needs outputs[{key!r}] from the trainer")
        columns = out["columns"].mean(dim=2).transpose(1, 2)  # [B, T', C]
        n_columns = columns.shape[1]
        if n_columns not in cache:
            cache[n_columns] = _column_spans(student, n_columns)
        first, width = cache[n_columns]
        views = out.get(view_key)
        starts = out["crop_start"].cpu().numpy()
        hop_ratio = student.frontend.hop_length / WHISPER_FRAME_SAMPLES
        target = torch.zeros(len(idx), n_columns, targets.dim)
        valid = torch.zeros(len(idx), n_columns, dtype=torch.bool)
        for b, clip in enumerate(idx.tolist()):
            if views is not None and int(views[b]) > targets.n_views:
                raise ConfigError(f"the trainer drew view {int(views[b])} but the frame targets hold {targets.n_views}")
            frames = targets.frames[clip][int(views[b]) if views is not None else 0]
            begin = np.ceil(first + starts[b] * hop_ratio).astype(np.int64)  # [T']
            ok = (begin >= 0) & (begin + width <= frames.shape[0])
            if ok.any():
                rows = torch.from_numpy(begin[ok][:, None] + np.arange(width)[None, :])  # [n_ok, width]
                target[b, torch.from_numpy(ok)] = frames[rows].float().mean(dim=1)
            valid[b] = torch.from_numpy(ok)
        if "mixup_perm" in out:
            lam, perm = float(out["mixup_lam"]), out["mixup_perm"].cpu()
            target = lam * target + (1.0 - lam) * target[perm]
            valid = valid & valid[perm]
        if not valid.any():
            return columns.sum() * 0.0
        pred = head(columns)
        target = target.to(pred.device)
        mask = valid.to(pred.device)
        cos = F.cosine_similarity(pred[mask], target[mask], dim=-1)
        return weight * (1.0 - cos).mean()

    return term, head

