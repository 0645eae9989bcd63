"""Modality masking for training multimodal models that must also work with a modality missing.

Two schemes, combinable:

* The four "Bridging Modalities" scenarios, one drawn per sample with probabilities
  ``p_none / p_audio / p_video / p_span``: nothing masked; audio fully masked; video fully masked;
  random span masking of *each* modality (``audio_span_count`` spans of ``audio_span_frames``
  log-mel frames, ``video_span_count`` spans of ``video_span_dims`` contiguous AU columns).
* The multi-task paper's random modality masking: after the scenario, each modality is dropped
  independently with probability ``modality_dropout`` (never both: if both fall, the one to keep
  is drawn with equal odds).

A fully masked modality is reported as *absent* (``audio_present`` / ``video_present`` False): the
model replaces its embedding by a learned "missing" vector and zeroes the inputs. A span is set to
0, which is the mean after standardisation / per-band normalisation. The RAVDESS visual features
are clip-level means with no time axis, so a video "span" is a run of contiguous AU columns: the
closest analogue available, and documented as such.

A model trained with masking and evaluated with ``video_present`` all False is the
"COGMEN-Mask"-style speech-only model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import IntEnum
from typing import Any

import torch

from edgeemo.errors import ConfigError

from ..config import check_minimum


class Scenario(IntEnum):
    """The four per-sample scenarios."""

    NONE = 0
    AUDIO_MASKED = 1
    VIDEO_MASKED = 2
    SPAN = 3


@dataclass(frozen=True)
class MaskingConfig:
    """Scenario probabilities (must sum to 1) and span sizes."""

    p_none: float = 0.4
    p_audio: float = 0.1
    p_video: float = 0.3
    p_span: float = 0.2
    audio_span_frames: int = 25
    audio_span_count: int = 2
    video_span_dims: int = 5
    video_span_count: int = 1
    modality_dropout: float = 0.0

    def __post_init__(self) -> None:
        probs = self.probabilities
        if any(p < 0 for p in probs) or abs(sum(probs) - 1.0) > 1e-6:
            raise ConfigError(
                f"masking probabilities must be >= 0 and sum to 1, got p_none={self.p_none}, "
                f"p_audio={self.p_audio}, p_video={self.p_video}, p_span={self.p_span} (sum {sum(probs):.4f})"
            )
        if not 0.0 <= self.modality_dropout <= 1.0:
            raise ConfigError(f"modality_dropout must be in [0, 1], got {self.modality_dropout}")
        check_minimum(self, ("audio_span_frames", "audio_span_count", "video_span_dims", "video_span_count"))

    @property
    def probabilities(self) -> tuple[float, float, float, float]:
        """In :class:`Scenario` order."""
        return (self.p_none, self.p_audio, self.p_video, self.p_span)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MaskPlan:
    """What to mask in one batch. Masks are True where a value is hidden."""

    scenario: torch.Tensor  # [B] long, Scenario values
    audio_present: torch.Tensor  # [B] bool
    video_present: torch.Tensor  # [B] bool
    audio_time_mask: torch.Tensor  # [B, T] bool
    video_dim_mask: torch.Tensor  # [B, D] bool


def draw_scenarios(n: int, cfg: MaskingConfig, generator: torch.Generator) -> torch.Tensor:
    """``[n]`` scenario indices drawn independently with ``cfg``'s probabilities."""
    probs = torch.tensor(cfg.probabilities, dtype=torch.float64)
    return torch.multinomial(probs, n, replacement=True, generator=generator)


def draw_modality_dropout(
    n: int, p: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(audio_keep, video_keep)`` bool ``[n]``: each dropped with prob ``p``, never both."""
    drop = torch.rand(n, 2, generator=generator) < p
    both = drop.all(dim=1)
    keep_audio = torch.rand(n, generator=generator) < 0.5
    drop[both, 0] = ~keep_audio[both]
    drop[both, 1] = keep_audio[both]
    return ~drop[:, 0], ~drop[:, 1]


def _spans(n: int, length: int, width: int, count: int, rows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``[n, length]`` bool with ``count`` random spans of ``width`` in the selected rows."""
    mask = torch.zeros(n, length, dtype=torch.bool)
    width = min(width, length)
    if width == 0 or count == 0:
        return mask
    for b in torch.nonzero(rows).flatten().tolist():
        starts = torch.randint(0, length - width + 1, (count,), generator=generator)
        for s in starts.tolist():
            mask[b, s : s + width] = True
    return mask


def plan_masks(
    n: int, n_frames: int, n_video_dims: int, cfg: MaskingConfig, generator: torch.Generator
) -> MaskPlan:
    """Draw scenarios, spans and (optionally) random modality dropout for a batch of ``n``."""
    scenario = draw_scenarios(n, cfg, generator)
    audio_present = scenario != Scenario.AUDIO_MASKED
    video_present = scenario != Scenario.VIDEO_MASKED
    span = scenario == Scenario.SPAN
    audio_time = _spans(n, n_frames, cfg.audio_span_frames, cfg.audio_span_count, span, generator)
    video_dims = _spans(n, n_video_dims, cfg.video_span_dims, cfg.video_span_count, span, generator)
    if cfg.modality_dropout > 0:
        keep_a, keep_v = draw_modality_dropout(n, cfg.modality_dropout, generator)
        # never leave a sample with both modalities absent
        keep_a = keep_a | ~video_present
        keep_v = keep_v | ~(audio_present & keep_a)
        audio_present = audio_present & keep_a
        video_present = video_present & keep_v
    return MaskPlan(scenario, audio_present, video_present, audio_time, video_dims)


def apply_masks(
    plan: MaskPlan,
    audio_feats: torch.Tensor | None = None,
    egemaps: torch.Tensor | None = None,
    visual: torch.Tensor | None = None,
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """Zero the hidden parts of normalised inputs (returns new tensors; inputs are untouched).

    ``audio_feats``: ``[B, ..., T]`` normalised log-mel (time last); ``egemaps``: ``[B, 88]`` and
    ``visual``: ``[B, D]`` standardised. Absent modalities are zeroed entirely (the model also
    gets the ``*_present`` flags).
    """
    if audio_feats is not None:
        keep = (~plan.audio_time_mask) & plan.audio_present[:, None]
        shape = [keep.shape[0]] + [1] * (audio_feats.dim() - 2) + [keep.shape[1]]
        audio_feats = audio_feats * keep.view(shape).to(audio_feats.dtype)
    if egemaps is not None:
        egemaps = egemaps * plan.audio_present[:, None].to(egemaps.dtype)
    if visual is not None:
        keep_v = (~plan.video_dim_mask) & plan.video_present[:, None]
        visual = visual * keep_v.to(visual.dtype)
    return audio_feats, egemaps, visual
