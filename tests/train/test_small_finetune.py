"""Fine-tuning the small student end to end (edgeemo.train.small_finetune): which parameters learn
in each mode, the head-only start, window sampling per (clip, variant) and clip-level scoring.

A reduced WhisperSmall (d 32, 2 layers, 0.5 s windows) keeps these fast; the real encoder and real
clips run in tests/recipes/test_small_finetune.py."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from edgeemo.errors import ConfigError
from edgeemo.train.data import RAVDESS_LABELS
from edgeemo.train.models.whisper_small import SmallConfig, WhisperSmall
from edgeemo.train.small_finetune import FinetuneConfig, WindowTable, clip_mean, finetune_small, window_probs

pytestmark = pytest.mark.usefixtures("one_torch_thread")
WINDOW = 8000


def _model(seed: int = 0) -> WhisperSmall:
    torch.manual_seed(seed)
    cfg = SmallConfig(labels=RAVDESS_LABELS, n_layers=2, d_model=32, n_heads=2, ffn_dim=64, hidden=16,
                      window_samples=WINDOW, hop_samples=WINDOW // 2, min_samples=WINDOW // 2)
    return WhisperSmall(cfg)


def _tones(n_clips: int, windows_per_clip: int = 2, seed: int = 0) -> tuple[WindowTable, np.ndarray]:
    """Clips of two classes (0: a 300 Hz tone, 4: 2 kHz) in noise, several windows each."""
    rng = np.random.default_rng(seed)
    t = np.arange(WINDOW) / 16000
    labels = np.array([0 if i % 2 == 0 else 4 for i in range(n_clips)])
    wins, clip = [], []
    for c in range(n_clips):
        f = 300.0 if labels[c] == 0 else 2000.0
        for _ in range(windows_per_clip):
            wins.append(0.1 * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) + 0.02 * rng.standard_normal(WINDOW))
            clip.append(c)
    clip_arr = np.array(clip)
    return WindowTable(torch.tensor(np.array(wins), dtype=torch.float32), clip_arr, clip_arr.copy()), labels


def _snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _changed(before: dict[str, torch.Tensor], module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.state_dict().items() if not torch.equal(before[k], v)}


@pytest.mark.parametrize("mode", ["none", "top", "all"])
def test_what_learns_in_each_mode(mode: str) -> None:
    table, labels = _tones(12)
    model = _model()
    enc_before, head_before = _snapshot(model.encoder), _snapshot(model.head)
    cfg = FinetuneConfig(train_encoder=mode, epochs=3, head_only_epochs=1, batch_size=8, lr_encoder=1e-3)
    finetune_small(model, table, labels, cfg)
    changed = _changed(enc_before, model.encoder)
    learnable = {k for k in enc_before if not k.startswith("frontend.")}
    if mode == "none":
        assert changed == set()
    elif mode == "top":
        assert changed and all(k.startswith("layers.1.") for k in changed)
    else:
        assert {"conv1.weight", "conv2.weight", "positions", "layers.0.q.weight", "layers.1.fc2.weight"} <= changed
        assert changed <= learnable  # the fixed STFT and mel constants never move
    assert {"layer_logits", "audio.1.weight", "classifier.1.weight"} <= _changed(head_before, model.head)
    assert all(p.requires_grad for p in model.parameters())  # handed back trainable, in eval mode
    assert not model.training


def test_head_only_epochs_keep_the_encoder_pretrained() -> None:
    table, labels = _tones(8)
    model = _model()
    before = _snapshot(model.encoder)
    cfg = FinetuneConfig(train_encoder="all", epochs=2, head_only_epochs=2, batch_size=8, lr_encoder=1e-3)
    _, history = finetune_small(model, table, labels, cfg)
    assert _changed(before, model.encoder) == set()
    assert [h["encoder"] for h in history] == [False, False]


def test_it_learns_and_keeps_the_best_dev_epoch() -> None:
    train, y_train = _tones(16, seed=1)
    dev, y_dev = _tones(8, seed=2)
    model = _model()
    cfg = FinetuneConfig(train_encoder="all", epochs=12, head_only_epochs=1, batch_size=8, lr_head=1e-2, lr_encoder=1e-3)
    model, history = finetune_small(model, train, y_train, cfg, dev=dev, dev_labels=y_dev)
    assert len(history) == 12 and all("dev_ua" in h for h in history)
    assert history[-1]["loss"] < history[0]["loss"]
    clips, probs = clip_mean(window_probs(model, dev.windows), dev.clip)
    ua = 100 * np.mean([(probs.argmax(axis=1)[y_dev[clips] == c] == c).mean() for c in (0, 4)])
    assert ua == pytest.approx(max(h["dev_ua"] for h in history))  # the best epoch's weights came back
    assert ua >= 90


def test_head_standardises_with_the_pretrained_features() -> None:
    table, labels = _tones(6)
    model = _model()
    with torch.no_grad():
        feats = model.encoder(table.windows)
    finetune_small(model, table, labels, FinetuneConfig(train_encoder="none", epochs=1, batch_size=4))
    assert torch.allclose(model.head.mean, feats.mean(dim=0), atol=1e-4)
    assert torch.allclose(model.head.std, feats.std(dim=0).clamp_min(1e-4), rtol=1e-3, atol=1e-5)


def test_one_window_per_clip_and_variant_per_draw() -> None:
    windows = torch.zeros(7, 4)
    clip = np.array([0, 0, 0, 1, 1, 0, 1])  # clip 0 and 1, variants a then b
    group = np.array([0, 0, 0, 1, 1, 2, 3])
    table = WindowTable(windows, clip, group)
    rng = np.random.default_rng(0)
    draws = np.stack([table.draw(rng) for _ in range(300)])
    assert table.n_groups == 4 and draws.shape == (300, 4)
    assert set(draws[:, 0]) == {0, 1, 2} and set(draws[:, 1]) == {3, 4}
    assert set(draws[:, 2]) == {5} and set(draws[:, 3]) == {6}
    with pytest.raises(ConfigError, match="contiguous"):
        WindowTable(windows, clip, np.array([0, 1, 0, 1, 1, 2, 3]))
    with pytest.raises(ConfigError, match="window table"):
        WindowTable(windows, clip[:5], group)


def test_clip_mean_averages_window_probabilities() -> None:
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.6, 0.4]])
    clips, mean = clip_mean(probs, np.array([5, 3, 5, 3]))
    assert clips.tolist() == [3, 5]
    assert np.allclose(mean, [[0.35, 0.65], [0.55, 0.45]])


def test_config_is_checked() -> None:
    with pytest.raises(ConfigError, match="train_encoder"):
        FinetuneConfig(train_encoder="some")
    with pytest.raises(ConfigError, match="epochs"):
        FinetuneConfig(epochs=0)
    with pytest.raises(ConfigError, match="dev_labels"):
        table, labels = _tones(2)
        finetune_small(_model(), table, labels, FinetuneConfig(epochs=1), dev=table)
