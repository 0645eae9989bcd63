"""The compact speech-only student: conv-STFT log-mel front end + a small 2-D CNN + stats pooling.

Input is raw 16 kHz PCM; the front end is part of the module, so the exported ONNX graph takes
audio and returns class probabilities (and optional valence/arousal), per docs/model_contract.md.
:func:`load_student` rebuilds one from its checkpoint folder (what evaluation and export read).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from edgeemo.errors import ConfigError

from ..checkpoint import load_checkpoint
from ..config import DictConfig
from ..frontend import FrontendConfig, LogMelFrontend


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
    frontend: FrontendConfig = field(default_factory=FrontendConfig)

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
