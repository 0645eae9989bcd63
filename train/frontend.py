"""Log-mel front end as a fixed-weight convolution STFT (exports to plain ONNX Conv, no complex ops).

The same module runs in training and inside the exported ONNX graph, so the SDKs never compute
features themselves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class FrontendConfig:
    """Log-mel parameters (16 kHz, 25 ms Hann window, 10 ms hop, 64 mel bands by default)."""

    sample_rate: int = 16000
    n_fft: int = 400
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 50.0
    f_max: float = 8000.0
    log_floor: float = 1e-6

    def describe(self) -> str:
        return (
            f"logmel n_fft={self.n_fft} hop={self.hop_length} n_mels={self.n_mels} "
            f"fmin={self.f_min:g} fmax={self.f_max:g} conv-stft"
        )

    def n_frames(self, n_samples: int) -> int:
        return 1 + (n_samples - self.n_fft) // self.hop_length

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + hz / 700.0)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(cfg: FrontendConfig) -> np.ndarray:
    """Triangular HTK-style mel filters, shape ``[n_mels, n_fft // 2 + 1]``, area-normalised."""
    n_bins = cfg.n_fft // 2 + 1
    fft_hz = np.linspace(0.0, cfg.sample_rate / 2, n_bins)
    mel_points = np.linspace(_hz_to_mel(np.array(cfg.f_min)), _hz_to_mel(np.array(cfg.f_max)), cfg.n_mels + 2)
    hz = _mel_to_hz(mel_points)
    bank = np.zeros((cfg.n_mels, n_bins), dtype=np.float64)
    for m in range(cfg.n_mels):
        lo, mid, hi = hz[m], hz[m + 1], hz[m + 2]
        rising = (fft_hz - lo) / max(mid - lo, 1e-9)
        falling = (hi - fft_hz) / max(hi - mid, 1e-9)
        bank[m] = np.clip(np.minimum(rising, falling), 0.0, None)
    bank *= (2.0 / (hz[2:] - hz[:-2]))[:, None]  # Slaney-style area normalisation
    return bank.astype(np.float32)


def stft_kernel(cfg: FrontendConfig) -> np.ndarray:
    """Real and imaginary DFT rows times a periodic Hann window: ``[2 * n_bins, 1, n_fft]``."""
    n = np.arange(cfg.n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.n_fft)
    k = np.arange(cfg.n_fft // 2 + 1)[:, None]
    angle = 2 * np.pi * k * n[None, :] / cfg.n_fft
    kernel = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window], axis=0)
    return kernel[:, None, :].astype(np.float32)


class LogMelFrontend(nn.Module):
    """``[batch, samples]`` float PCM -> ``[batch, n_mels, frames]`` natural-log mel power."""

    def __init__(self, cfg: FrontendConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or FrontendConfig()
        self.n_bins = self.cfg.n_fft // 2 + 1
        self.register_buffer("stft_kernel", torch.from_numpy(stft_kernel(self.cfg)), persistent=False)
        self.register_buffer("mel_matrix", torch.from_numpy(mel_filterbank(self.cfg)), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        spec = nn.functional.conv1d(audio.unsqueeze(1), self.stft_kernel, stride=self.cfg.hop_length)
        real, imag = spec[:, : self.n_bins], spec[:, self.n_bins :]
        power = real * real + imag * imag
        mel = torch.matmul(self.mel_matrix, power)
        return torch.log(mel + self.cfg.log_floor)
