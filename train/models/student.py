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
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from edgeemo.errors import ConfigError

from ..checkpoint import load_checkpoint
from ..config import DictConfig
from ..frontend import FrontendConfig, LogMelFrontend


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
    frontend: FrontendConfig = field(default_factory=FrontendConfig)

    def __post_init__(self) -> None:
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


class ConvBlock(nn.Module):
    """3x3 conv, batch norm, ReLU, optional 2x2 max pooling."""

    def __init__(self, c_in: int, c_out: int, pool: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

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
        for i, c_out in enumerate(cfg.channels):
            blocks.append(ConvBlock(c_in, c_out, pool=i < len(cfg.channels) - 1))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.embed = nn.Sequential(
            nn.Linear(2 * c_in * cfg.freq_bins, cfg.embedding_dim), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout)
        )
        self.classifier = nn.Linear(cfg.embedding_dim, len(cfg.labels))
        self.va_head = nn.Linear(cfg.embedding_dim, 2) if cfg.valence_arousal else None

    def normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        """``[batch, n_mels, frames]`` log-mel -> normalised ``[batch, 1, n_mels, frames]``."""
        # Both remove the recording gain (a constant in log-mel); "global" keeps the spectral tilt.
        if self.cfg.relative_floor_db is not None:
            top = logmel.amax(dim=(1, 2), keepdim=True)
            logmel = torch.maximum(logmel, top - self.cfg.relative_floor_db * _LN10_OVER_10)
        dims = (1, 2) if self.cfg.normalization == "global" else (2,)
        logmel = logmel - logmel.mean(dim=dims, keepdim=True)
        return self.input_norm(logmel.unsqueeze(1))

    def forward_features(self, feats: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits, embedding (and valence/arousal) from normalised features."""
        x = self.blocks(feats)
        batch, channels, n_freq, n_frames = x.shape
        bins = self.cfg.freq_bins
        # average groups of frequency rows -> [batch, channels * bins, frames] (static reshapes only)
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
