"""Augmentation for small emotional-speech data: speed perturbation, noise, SpecAugment, mixup.

Noise is mixed in the mel-power domain (speech and independent noise powers add in expectation),
so features can be computed once per speed factor and augmented cheaply at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class AugmentConfig:
    """What to draw at each training step (probabilities in [0, 1])."""

    speed_factors: tuple[float, ...] = (0.9, 1.0, 1.1)
    noise_prob: float = 0.2
    snr_db: tuple[float, float] = (10.0, 30.0)
    freq_masks: int = 2
    freq_mask_width: int = 8
    time_masks: int = 2
    time_mask_width: int = 30
    mixup_prob: float = 0.0  # off in the bundled recipe (it underfit on dev); on with > 0
    mixup_alpha: float = 0.4


def speed_perturb(wave: np.ndarray, factor: float, sample_rate: int = 16000) -> np.ndarray:
    """Play ``wave`` ``factor`` times faster (tempo and pitch change together), via soxr."""
    if factor == 1.0:
        return wave
    import soxr

    return soxr.resample(wave, sample_rate * factor, sample_rate, quality="HQ").astype(np.float32)


def noise_bank(n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink and brown noise clips ``[3, n_samples]`` at unit RMS."""
    white = rng.standard_normal(n_samples)
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.maximum(np.fft.rfftfreq(n_samples), 1.0 / n_samples)
    pink = np.fft.irfft(spectrum / np.sqrt(freqs), n_samples)
    brown = np.fft.irfft(spectrum / freqs, n_samples)
    bank = np.stack([white, pink, brown])
    bank /= np.sqrt((bank**2).mean(axis=1, keepdims=True))
    return bank.astype(np.float32)


def add_noise_logmel(
    logmel: torch.Tensor, noise_logmel: torch.Tensor, snr_db: torch.Tensor, floor: float
) -> torch.Tensor:
    """Mix noise into ``[batch, mels, frames]`` log-mel at per-example SNRs (dB), in power."""
    speech = torch.exp(logmel) - floor
    noise = torch.exp(noise_logmel) - floor
    speech_power = speech.mean(dim=(1, 2), keepdim=True)
    noise_power = noise.mean(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    scale = speech_power / noise_power / (10.0 ** (snr_db.view(-1, 1, 1) / 10.0))
    return torch.log(speech + scale * noise + floor)


def spec_augment(feats: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """Zero random frequency bands and time spans of ``[batch, 1, mels, frames]`` features."""
    out = feats.clone()
    batch, _, n_mels, n_frames = out.shape
    for b in range(batch):
        for _ in range(cfg.freq_masks):
            width = int(torch.randint(0, cfg.freq_mask_width + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, n_mels - width), (1,), generator=generator))
            out[b, :, start : start + width, :] = 0.0
        for _ in range(cfg.time_masks):
            width = int(torch.randint(0, cfg.time_mask_width + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, n_frames - width), (1,), generator=generator))
            out[b, :, :, start : start + width] = 0.0
    return out


def mixup_params(n: int, alpha: float, generator: torch.Generator) -> tuple[float, torch.Tensor]:
    """The mixup weight ``lam >= 0.5`` (Beta(alpha, alpha)) and the partner permutation of ``n`` examples."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    lam = max(lam, 1.0 - lam)
    return lam, torch.randperm(n, generator=generator)


def mixup(
    feats: torch.Tensor, targets: torch.Tensor, alpha: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix pairs of examples and their soft targets with a Beta(alpha, alpha) weight."""
    lam, perm = mixup_params(feats.shape[0], alpha, generator)
    return lam * feats + (1 - lam) * feats[perm], lam * targets + (1 - lam) * targets[perm]
