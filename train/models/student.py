"""The compact speech-only student: conv-STFT log-mel front end + a small 2-D CNN + stats pooling.

Input is raw 16 kHz PCM; the front end is part of the module, so the exported ONNX graph takes
audio and returns class probabilities (and optional valence/arousal), per docs/model_contract.md.
:func:`load_student` rebuilds one from its checkpoint folder (what evaluation and export read).

Input level. Mean normalisation of the log-mel removes a constant gain only where the front end's
absolute floor (``log(mel + 1e-6)``) plays no part; on quiet clips it does (RAVDESS speech sits
about 45 dB above it), and a quiet noise floor fills the pauses, moving the mean. With
``relative_floor_db`` set (off by default; the bundled model does not use it), every value below
the window's loudest log-mel value minus that many dB is raised to it before the mean is taken
(Whisper clamps at its maximum minus 80 dB the same way), and the front end's absolute floor must
be far below any speech (:data:`LEVEL_INVARIANT_LOG_FLOOR`): a gain then only shifts the features,
which the mean removes, and noise more than ``relative_floor_db`` below the peak is not seen. In
ONNX it adds one ReduceMax, one Sub and one Max.

Streamable students. ``normalization="local_max"`` subtracts from each frame the loudest log-mel
value within ``local_context_frames`` frames either side (a sliding max, so the reference is local,
not the window's), and ``time_padding="valid"`` pads the convolutions in frequency only: every
output column of the conv trunk then depends on a fixed span of frames and nothing else, so a
stream can compute each column once and reuse it in all the windows that contain it
(:mod:`edgeemo.export.stream_graph`). Such a window's pooling sees fewer columns at its edges than
a padded trunk, which is the price. ``time_pools`` sets each pooled block's time factor; their
product (the trunk's frame stride) must divide the hop in frames for the reuse to line up.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError

from ..checkpoint import load_checkpoint
from ..config import DictConfig
from ..frontend import FrontendConfig, LogMelFrontend


#: Input normalisations: "band" (per-band mean over the window), "global" (one mean over the
#: window), "local_max" (each frame minus a sliding maximum: frame-local, for streaming).
NORMALIZATIONS = ("band", "global", "local_max")

#: The front end's absolute floor that ``relative_floor_db`` needs (-100 dB re 1): well below the
#: mel power of any recorded speech, so only the relative floor decides what counts as silence.
LEVEL_INVARIANT_LOG_FLOOR = 1e-10
_LN10_OVER_10 = math.log(10.0) / 10.0  # dB of power -> natural-log units


@dataclass(frozen=True)
class StudentConfig(DictConfig):
    """Architecture of the student (everything export needs to rebuild it)."""

    _what: ClassVar[str] = "student model option"
    _nested: ClassVar[dict[str, type]] = {"frontend": FrontendConfig}

    labels: tuple[str, ...]
    channels: tuple[int, ...] = (16, 32, 48, 64)
    embedding_dim: int = 96
    freq_bins: int = 1  # frequency positions kept before time pooling (1 = mean over frequency)
    normalization: str = "band"  # "band": per-band mean over time; "global": one mean (keeps spectral tilt)
    dropout: float = 0.2
    window_samples: int = 48000
    hop_samples: int = 8000
    min_samples: int = 8000
    valence_arousal: bool = False
    relative_floor_db: float | None = None  # see the module docstring; None = off (plain mean normalisation)
    time_padding: str = "same"  # "valid": no padding in time (a streamable trunk, see the module docstring)
    time_pools: tuple[int, ...] | None = None  # time factor of each pooled block; None = 2 (2 x 2 pooling)
    local_context_frames: int = 25  # "local_max" normalisation: frames either side of the sliding max
    local_floor_db: float = -60.0  # "local_max": the reference never falls below this mel power (dB re 1)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ConfigError(f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        if self.time_padding not in ("same", "valid"):
            raise ConfigError(f"time_padding must be 'same' or 'valid', got {self.time_padding!r}")
        if self.time_pools is not None and (
            len(self.time_pools) != len(self.channels) - 1 or any(int(p) < 1 for p in self.time_pools)
        ):
            raise ConfigError(
                f"time_pools needs one factor >= 1 per pooled block ({len(self.channels) - 1}), got {self.time_pools}"
            )
        if self.local_context_frames < 0:
            raise ConfigError(f"local_context_frames must be >= 0, got {self.local_context_frames}")
        if self.normalization == "local_max" and self.frontend.log_floor > LEVEL_INVARIANT_LOG_FLOOR:
            raise ConfigError(
                f"normalization='local_max' needs frontend.log_floor <= {LEVEL_INVARIANT_LOG_FLOOR:g} (got "
                f"{self.frontend.log_floor:g}); pass frontend=FrontendConfig(log_floor={LEVEL_INVARIANT_LOG_FLOOR:g})"
            )
        if self.relative_floor_db is None:
            return
        if not 0.0 < self.relative_floor_db <= 120.0:
            raise ConfigError(f"relative_floor_db must be in (0, 120] dB, got {self.relative_floor_db}")
        if self.frontend.log_floor > LEVEL_INVARIANT_LOG_FLOOR:
            raise ConfigError(
                f"relative_floor_db needs frontend.log_floor <= {LEVEL_INVARIANT_LOG_FLOOR:g} (got "
                f"{self.frontend.log_floor:g}): the absolute floor would decide the level of quiet clips; "
                f"pass frontend=FrontendConfig(log_floor={LEVEL_INVARIANT_LOG_FLOOR:g})"
            )

    @property
    def heads(self) -> tuple[str, ...]:
        return ("categories", "valence_arousal") if self.valence_arousal else ("categories",)

    @property
    def block_time_pools(self) -> tuple[int, ...]:
        """The time pooling factor after each conv block (1 = none; the last block never pools)."""
        pools = tuple(int(p) for p in self.time_pools) if self.time_pools is not None else (2,) * (len(self.channels) - 1)
        return (*pools, 1)

    @property
    def frame_stride(self) -> int:
        """Log-mel frames per output column of the conv trunk."""
        return math.prod(self.block_time_pools)

    def column_centers(self, n_columns: int) -> np.ndarray:
        """The log-mel frame (of the network's input, fractional) on which each of the conv trunk's
        first ``n_columns`` output columns is centred: the centre of its receptive field in time
        (after ``local_max`` normalisation's ``local_context_frames`` and each unpadded 3-wide conv;
        with time padding, the nominal centre: an edge column's field is cut off by the padding);
        columns are ``frame_stride`` frames apart."""
        offset = float(self.local_context_frames) if self.normalization == "local_max" else 0.0
        stride = 1
        for pool in self.block_time_pools:
            if self.time_padding == "valid":
                offset += stride  # a 3-wide conv without time padding: column t is centred on input t + 1
            offset += stride * (pool - 1) / 2  # a pool of ``pool`` columns is centred between them
            stride *= pool
        return offset + stride * np.arange(n_columns, dtype=np.float64)

    @property
    def streamable(self) -> bool:
        """Whether each trunk column depends only on its own span of frames (see the module docstring)."""
        return self.time_padding == "valid" and self.normalization == "local_max"


class ConvBlock(nn.Module):
    """3x3 conv, batch norm, ReLU, optional max pooling (2 in frequency, ``time_pool`` in time)."""

    def __init__(self, c_in: int, c_out: int, pool: bool, *, time_pool: int = 2, pad_time: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=(1, 1 if pad_time else 0), bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d((2, time_pool)) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.act(self.norm(self.conv(x))))


class StudentNet(nn.Module):
    """Log-mel CNN with per-band mean normalisation and mean+std pooling over time."""

    def __init__(self, cfg: StudentConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.frontend = LogMelFrontend(cfg.frontend)
        self.input_norm = nn.BatchNorm2d(1)
        blocks = []
        c_in = 1
        pools = cfg.block_time_pools
        for i, c_out in enumerate(cfg.channels):
            blocks.append(ConvBlock(c_in, c_out, pool=i < len(cfg.channels) - 1, time_pool=pools[i],
                                    pad_time=cfg.time_padding == "same"))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.embed = nn.Sequential(
            nn.Linear(2 * c_in * cfg.freq_bins, cfg.embedding_dim), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)
        )
        self.classifier = nn.Linear(cfg.embedding_dim, len(cfg.labels))
        self.va_head = nn.Linear(cfg.embedding_dim, 2) if cfg.valence_arousal else None

    def normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        """``[batch, n_mels, frames]`` log-mel -> normalised ``[batch, 1, n_mels, frames]``."""
        # All three remove the recording gain (a constant in log-mel); "global" keeps the spectral tilt.
        if self.cfg.normalization == "local_max":
            return self.input_norm(self.local_max_normalize(logmel).unsqueeze(1))
        if self.cfg.relative_floor_db is not None:
            top = logmel.amax(dim=(1, 2), keepdim=True)
            logmel = torch.maximum(logmel, top - self.cfg.relative_floor_db * _LN10_OVER_10)
        dims = (1, 2) if self.cfg.normalization == "global" else (2,)
        logmel = logmel - logmel.mean(dim=dims, keepdim=True)
        return self.input_norm(logmel.unsqueeze(1))

    def local_max_normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        """``[batch, n_mels, frames]`` -> ``[batch, n_mels, frames - 2 K]``: each frame minus the loudest
        value within K frames either side (K = ``local_context_frames``; no padding) or ``local_floor_db``
        if that is louder (so a pause with no speech near it stays quiet), floored at
        ``relative_floor_db`` below the reference when set."""
        k = self.cfg.local_context_frames
        loudest = logmel.amax(dim=1, keepdim=True).unsqueeze(1)  # [batch, 1, 1, frames]
        # a 2-D pool of height 1 (the same numbers as a 1-D one; TensorRT has no 1-D pooling)
        reference = nn.functional.max_pool2d(loudest, kernel_size=(1, 2 * k + 1), stride=1) if k else loudest
        reference = reference[:, 0]  # [batch, 1, frames - 2 K]
        reference = torch.clamp(reference, min=self.cfg.local_floor_db * _LN10_OVER_10)
        x = logmel[:, :, k : logmel.shape[2] - k] - reference
        if self.cfg.relative_floor_db is not None:
            x = torch.clamp(x, min=-self.cfg.relative_floor_db * _LN10_OVER_10)
        return x

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        """Normalised ``[batch, 1, n_mels, frames]`` -> conv trunk columns ``[batch, C, F, T']``."""
        return self.blocks(feats)

    def forward_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits, embedding (and valence/arousal) from normalised features."""
        return self.pool_head(self.trunk(feats))

    def pool_head(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits, embedding (and valence/arousal) from trunk columns ``[batch, C, F, T']``."""
        batch, channels, n_freq, n_frames = x.shape
        bins = self.cfg.freq_bins
        # average groups of frequency rows -> [batch, channels * bins, frames] (static reshapes only);
        # with one row per group there is nothing to average (ONNX Runtime's ReduceMean over that
        # size-1 axis cost 78 us of a 690 us stream step)
        if n_freq // bins > 1:
            x = x.reshape(batch, channels, bins, n_freq // bins, n_frames).mean(dim=3)
        x = x.reshape(batch, channels * bins, n_frames)
        pooled = torch.cat([x.mean(dim=2), x.std(dim=2)], dim=1)
        emb = self.embed(pooled)
        out = {"logits": self.classifier(emb), "embedding": emb}
        if self.va_head is not None:
            out["valence_arousal"] = torch.tanh(self.va_head(emb))
        return out

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.forward_features(self.normalize(self.frontend(audio)))


def count_parameters(model: nn.Module) -> int:
    """Learned parameters (fixed front-end buffers are not parameters)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def load_student(checkpoint: str | os.PathLike[str]) -> tuple[StudentNet, dict[str, Any]]:
    """Rebuild a student (in eval mode) and its config from a self-describing checkpoint folder."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt.config.get("kind", "student") != "student":
        raise ConfigError(f"{checkpoint} holds a {ckpt.config.get('kind')!r} model, not a student")
    model = StudentNet(StudentConfig.from_dict(ckpt.config["model"]))
    model.load_state_dict(ckpt.weights)
    return model.eval(), ckpt.config
