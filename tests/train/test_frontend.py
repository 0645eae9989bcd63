"""The conv-STFT log-mel front end against a reference STFT."""

from __future__ import annotations

import numpy as np
import torch

from edgeemo.train.frontend import FrontendConfig, LogMelFrontend, mel_filterbank


def test_matches_numpy_stft_log_mel(ravdess_utts):
    from edgeemo.train.data import read_audio

    cfg = FrontendConfig()
    wave = read_audio(ravdess_utts[5].path)[:48000]
    got = LogMelFrontend(cfg)(torch.from_numpy(wave)[None])[0].numpy()
    n_frames = cfg.n_frames(len(wave))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.n_fft) / cfg.n_fft)
    frames = np.stack([wave[i * cfg.hop_length : i * cfg.hop_length + cfg.n_fft] for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    expected = np.log(mel_filterbank(cfg) @ power.T + cfg.log_floor)
    assert got.shape == (cfg.n_mels, n_frames) == expected.shape
    np.testing.assert_allclose(got, expected, atol=2e-3)


def test_filterbank_covers_range():
    bank = mel_filterbank(FrontendConfig())
    assert bank.shape == (64, 201)
    assert (bank.sum(axis=1) > 0).all()  # no empty band
    assert bank[:, 0].sum() == 0  # DC is below f_min


def test_gain_only_shifts_log_mel():
    fe = LogMelFrontend()
    x = torch.randn(1, 16000, generator=torch.Generator().manual_seed(0)) * 0.5
    base = fe(x)
    diff = fe(x * 2) - base
    loud = base > np.log(1e-3)  # where the log floor (1e-6) plays no part
    assert loud.float().mean() > 0.95
    assert torch.allclose(diff[loud], torch.full_like(diff[loud], float(np.log(4.0))), atol=1e-3)
