"""The Whisper teacher head (edgeemo.train.teachers.whisper_head) on synthetic layer features.

Only one of five "hidden states" carries the class: the head must learn to weight it and classify
held-out rows; with an AU branch it must still work with the video removed.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.teachers.whisper_head import (
    HeadData,
    HeadTrainConfig,
    WhisperHeadConfig,
    fit_whisper_head,
    fit_whisper_head_on_views,
    predict_proba,
)

torch.set_num_threads(1)
N_CLASSES, LAYERS, DIM, AU = 4, 5, 32, 6


def synthetic(n: int, seed: int, *, informative_layer: int = 3, au_signal: bool = False) -> HeadData:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    centers = np.random.default_rng(123).standard_normal((N_CLASSES, DIM)) * 1.5
    x = rng.standard_normal((n, LAYERS, DIM)).astype(np.float32) * 2.0
    x[:, informative_layer] = centers[y] + rng.standard_normal((n, DIM)) * 0.8
    au = rng.standard_normal((n, AU)).astype(np.float32)
    if au_signal:
        au[:, 0] += 2.0 * y
    return HeadData(features=x.astype(np.float32), labels=y, au=au)


def accuracy(model, data: HeadData, **kw) -> float:  # type: ignore[no-untyped-def]
    return float((predict_proba(model, data, **kw).argmax(1) == data.labels).mean())


def test_head_learns_the_informative_layer_and_generalises() -> None:
    train, dev, test = synthetic(600, 0), synthetic(200, 1), synthetic(300, 2)
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, hidden=32)
    model, history = fit_whisper_head(train, dev, cfg, HeadTrainConfig(epochs=15, batch_size=32, lr=3e-3))
    assert accuracy(model, test) > 0.9
    weights = model.layer_weights().detach().numpy()
    assert weights.argmax() == 3 and weights.sum() == pytest.approx(1.0, abs=1e-5)
    assert len(history) == 15 and all("dev_ua" in h for h in history)
    assert [h["epoch"] for h in history] == list(range(1, 16))  # 1-based (build-tiny's final_epochs relies on it)
    # the kept model is the best dev epoch
    best = max(h["dev_ua"] for h in history)
    assert accuracy(model, dev) == pytest.approx(best, abs=0.05)


def test_av_head_uses_video_and_still_works_without_it() -> None:
    train, test = synthetic(600, 0, au_signal=True), synthetic(300, 2, au_signal=True)
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, au_dim=AU, hidden=32,
                            video_dropout=0.3)
    model, _ = fit_whisper_head(train, None, cfg, HeadTrainConfig(epochs=15, batch_size=32, lr=3e-3))
    assert accuracy(model, test, with_video=True) > 0.9
    assert accuracy(model, test, with_video=False) > 0.85  # the missing-video vector stands in


def test_training_is_reproducible_and_statistics_come_from_training_rows() -> None:
    train = synthetic(200, 0)
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, hidden=16)
    a, _ = fit_whisper_head(train, None, cfg, HeadTrainConfig(epochs=3, seed=7))
    b, _ = fit_whisper_head(train, None, cfg, HeadTrainConfig(epochs=3, seed=7))
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(va, vb), ka
    np.testing.assert_allclose(a.mean.numpy(), train.features.mean(axis=0), rtol=1e-4, atol=1e-4)


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        WhisperHeadConfig(dropout=1.0)
    with pytest.raises(ConfigError):
        WhisperHeadConfig.from_dict({"layers": 3})
    with pytest.raises(ConfigError):
        HeadTrainConfig(epochs=0)
    with pytest.raises(ConfigError):
        HeadData(features=np.zeros((3, 2), np.float32), labels=np.zeros(3, np.int64))
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, au_dim=AU)
    with pytest.raises(ConfigError, match="AU"):
        fit_whisper_head(HeadData(features=np.zeros((4, LAYERS, DIM), np.float32), labels=np.zeros(4, np.int64)),
                         None, cfg)


def test_distillation_follows_the_teacher_logits() -> None:
    """With kd_weight 1 the head learns the teacher's (here: shifted) classes, not the labels."""
    from dataclasses import replace

    train, test = synthetic(400, 0), synthetic(200, 1)
    shifted = (train.labels + 1) % N_CLASSES
    teacher = np.eye(N_CLASSES, dtype=np.float32)[shifted] * 8.0
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, hidden=32)
    distilled, _ = fit_whisper_head(replace(train, teacher_logits=teacher), None, cfg,
                                    HeadTrainConfig(epochs=25, kd_weight=1.0, seed=0))
    plain, _ = fit_whisper_head(train, None, cfg, HeadTrainConfig(epochs=25, seed=0))
    pred = predict_proba(distilled, test).argmax(1)
    assert (pred == (test.labels + 1) % N_CLASSES).mean() > 0.8
    assert accuracy(plain, test) > 0.8
    with pytest.raises(ConfigError, match="teacher_logits"):
        fit_whisper_head(train, None, cfg, HeadTrainConfig(epochs=1, kd_weight=0.5))
    with pytest.raises(ConfigError, match="kd_weight"):
        HeadTrainConfig(kd_weight=1.5)


def _views_of(data: HeadData, n_views: int, seed: int) -> np.ndarray:
    """``[N, n_views + 1, layers, dim]``: the clean rows, then noisier copies of them."""
    rng = np.random.default_rng(seed)
    noisy = [data.features + rng.standard_normal(data.features.shape).astype(np.float32) * 1.5 for _ in range(n_views)]
    return np.stack([data.features, *noisy], axis=1)


def test_a_head_on_views_is_a_head_on_their_rows_clip_by_clip() -> None:
    train = synthetic(120, 0)
    features = _views_of(train, 2, seed=3)
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, hidden=16)
    tcfg = HeadTrainConfig(epochs=3, seed=5)
    on_views, _ = fit_whisper_head_on_views(features, train.labels, None, cfg, tcfg)
    rows = HeadData(features=features.reshape(-1, LAYERS, DIM), labels=np.repeat(train.labels, 3))
    plain, _ = fit_whisper_head(rows, None, cfg, tcfg)
    for (k, a), (_, b) in zip(on_views.state_dict().items(), plain.state_dict().items()):
        assert torch.equal(a, b), k
    with pytest.raises(ConfigError, match="views, layers, dim"):
        fit_whisper_head_on_views(features[:, 0], train.labels, None, cfg, tcfg)
    with pytest.raises(ConfigError, match="clean_kd"):
        fit_whisper_head_on_views(features, train.labels, None, cfg, tcfg, clean_kd=1.5)


def test_clean_kd_refits_on_the_first_heads_clean_clip_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The second fit sees, for every view of a clip, the first head's logits on that clip's clean
    features, at weight clean_kd; and the refitted head agrees on the views with the clean outputs."""
    import edgeemo.train.teachers.whisper_head as wh

    train, test = synthetic(400, 0), synthetic(200, 1)
    features, test_views = _views_of(train, 3, seed=3), _views_of(test, 3, seed=4)
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, hidden=32)
    calls: list[tuple[HeadData, HeadTrainConfig, wh.WhisperTeacherHead]] = []

    def spy(rows, dev, c, t):  # type: ignore[no-untyped-def]
        model, history = fit_whisper_head(rows, dev, c, t)
        calls.append((rows, t, model))
        return model, history

    monkeypatch.setattr(wh, "fit_whisper_head", spy)
    refitted, _ = wh.fit_whisper_head_on_views(features, train.labels, None, cfg, HeadTrainConfig(epochs=15, seed=2),
                                               clean_kd=1.0)
    (first_rows, first_cfg, first), (second_rows, second_cfg, second) = calls
    assert first_rows.teacher_logits is None and first_cfg.kd_weight == 0.0
    assert second is refitted and second_cfg.kd_weight == 1.0 and second_cfg.seed == 3
    clean_logits = wh.predict_logits(first, HeadData(features=features[:, 0], labels=train.labels))
    np.testing.assert_array_equal(second_rows.teacher_logits, np.repeat(clean_logits, 4, axis=0))
    np.testing.assert_array_equal(second_rows.features, first_rows.features)

    def agreement(model) -> float:  # type: ignore[no-untyped-def]
        """How often the model's class on a test view is the first head's class on the clean clip."""
        clean = predict_proba(first, HeadData(features=test_views[:, 0], labels=test.labels)).argmax(1)
        views = [predict_proba(model, HeadData(features=test_views[:, v], labels=test.labels)).argmax(1)
                 for v in range(1, 4)]
        return float(np.mean([(p == clean).mean() for p in views]))

    assert agreement(refitted) > 0.8


def test_an_ensemble_is_the_mean_of_heads_fitted_seeds_apart() -> None:
    """heads=2: two fits on the same rows with seeds s and s + ENSEMBLE_SEED_STEP (each with its own
    dev-chosen epoch); logits and embeddings are their means; the first is the single head."""
    import edgeemo.train.teachers.whisper_head as wh

    train, dev, test = synthetic(160, 0), synthetic(80, 1), synthetic(100, 2)
    features = _views_of(train, 1, seed=3)
    cfg = WhisperHeadConfig(n_layers=LAYERS, feature_dim=DIM, n_classes=N_CLASSES, hidden=16)
    tcfg = HeadTrainConfig(epochs=4, seed=5)
    ensemble, history = fit_whisper_head_on_views(features, train.labels, dev, cfg, tcfg, heads=2)
    assert isinstance(ensemble, wh.WhisperHeadEnsemble) and len(ensemble.heads) == 2 and not ensemble.training
    assert [h["head"] for h in history] == [0] * 4 + [1] * 4
    assert wh.ensemble_seeds(5, 3) == [5, 5 + wh.ENSEMBLE_SEED_STEP, 5 + 2 * wh.ENSEMBLE_SEED_STEP]
    single, _ = fit_whisper_head_on_views(features, train.labels, dev, cfg, tcfg)
    other, _ = fit_whisper_head_on_views(features, train.labels, dev, cfg,
                                         HeadTrainConfig(epochs=4, seed=5 + wh.ENSEMBLE_SEED_STEP))
    for (k, a), (_, b) in zip(ensemble.heads[0].state_dict().items(), single.state_dict().items()):
        assert torch.equal(a, b), k
    x = torch.from_numpy(test.features)
    with torch.no_grad():
        assert not torch.allclose(single(x), other(x))  # the seeds make two different heads
        torch.testing.assert_close(ensemble(x), (single(x) + other(x)) / 2)
        torch.testing.assert_close(ensemble.embedding(x), (single.embedding(x) + other.embedding(x)) / 2)
    assert predict_proba(ensemble, test).shape == (100, N_CLASSES)
    with pytest.raises(ConfigError, match="heads"):
        fit_whisper_head_on_views(features, train.labels, None, cfg, tcfg, heads=0)
    with pytest.raises(ConfigError, match="at least one head"):
        wh.WhisperHeadEnsemble([])
