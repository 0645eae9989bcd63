"""A short real training run: checkpoints, plots, and exact resume after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeemo.errors import ConfigError
from edgeemo.train.checkpoint import load_checkpoint
from edgeemo.train.models.student import StudentNet
from edgeemo.train.trainer import StudentTrainer

from .conftest import tiny_train_config

pytestmark = pytest.mark.slow


class _Interrupt(Exception):
    pass


def _interrupt_at(epoch_to_stop: int):
    def term(outputs, idx, epoch):
        if epoch == epoch_to_stop:
            raise _Interrupt
        return outputs["logits"].sum() * 0.0

    return term


def test_short_run_writes_self_describing_checkpoints(tmp_path: Path, tiny_subset):
    result = StudentTrainer(tiny_train_config(tmp_path / "run"), utterances=tiny_subset, progress=False).fit()
    best = load_checkpoint(result.best_dir)
    assert best.config["kind"] == "student"
    assert best.config["model"]["labels"][0] == "neutral"
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000
    assert (tmp_path / "run" / "confusion_dev.png").stat().st_size > 1000
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())) == 2
    assert 0.0 <= result.dev.ua <= 1.0 and result.parameters > 0


def test_resume_after_interruption_gives_identical_run(tmp_path: Path, tiny_subset):
    straight = StudentTrainer(tiny_train_config(tmp_path / "a"), utterances=tiny_subset, progress=False).fit()
    cfg = tiny_train_config(tmp_path / "b")
    with pytest.raises(_Interrupt):
        StudentTrainer(cfg, utterances=tiny_subset, extra_losses=[_interrupt_at(1)], progress=False).fit()
    assert load_checkpoint(tmp_path / "b" / "last").config["epoch"] == 0
    resumed = StudentTrainer(cfg, utterances=tiny_subset, progress=False).fit()
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in straight.history], abs=1e-6)
    a = load_checkpoint(tmp_path / "a" / "last").weights
    b = load_checkpoint(tmp_path / "b" / "last").weights
    for key in a:
        np.testing.assert_allclose(a[key].numpy(), b[key].numpy(), atol=1e-6)


def test_resume_refuses_a_different_configuration(tmp_path: Path, tiny_subset):
    StudentTrainer(tiny_train_config(tmp_path / "c", epochs=1), utterances=tiny_subset, progress=False).fit()
    with pytest.raises(ConfigError, match="different training configuration"):
        StudentTrainer(tiny_train_config(tmp_path / "c", epochs=1, lr=0.1), utterances=tiny_subset, progress=False).fit()


def test_scoring_dev_less_often_trains_the_same_weights(tmp_path: Path, tiny_subset):
    every = StudentTrainer(tiny_train_config(tmp_path / "a", epochs=5), utterances=tiny_subset, progress=False).fit()
    sparse = StudentTrainer(tiny_train_config(tmp_path / "b", epochs=5, dev_every=2), utterances=tiny_subset,
                            progress=False).fit()
    assert [h["epoch"] for h in every.history] == [0, 1, 2, 3, 4]
    assert [h["epoch"] for h in sparse.history] == [1, 3, 4]  # every 2nd epoch and always the last
    assert [h["train_loss"] for h in sparse.history] == pytest.approx(
        [h["train_loss"] for h in every.history if h["epoch"] in (1, 3, 4)], abs=1e-6)
    a, b = (load_checkpoint(tmp_path / run / "last", with_state=True) for run in ("a", "b"))
    assert b.config["epoch"] == 4
    for key in a.weights:
        np.testing.assert_allclose(a.weights[key].numpy(), b.weights[key].numpy(), atol=1e-6)
    for key, value in a.trainer_state["ema"].items():
        np.testing.assert_allclose(value.numpy(), b.trainer_state["ema"][key].numpy(), atol=1e-6)
    assert sparse.best_epoch in (1, 3, 4)
    # dev_every defines no result: a run resumes with another value
    again = StudentTrainer(tiny_train_config(tmp_path / "b", epochs=5), utterances=tiny_subset, progress=False).fit()
    assert again.best_epoch == sparse.best_epoch and len(again.history) == 3
    with pytest.raises(ConfigError, match="dev_every"):
        StudentTrainer(tiny_train_config(tmp_path / "c", dev_every=0), utterances=tiny_subset, progress=False)


def test_unknown_option_is_rejected():
    from edgeemo.train.trainer import TrainConfig

    with pytest.raises(ConfigError, match="unknown training option"):
        TrainConfig.from_dict({"epochz": 3})


@pytest.mark.parametrize("streamable", [False, True])
def test_dev_scoring_from_cached_logmels_equals_predict_clips(tmp_path: Path, tiny_subset, streamable):
    """The trainer scores dev from log-mels computed once; the probabilities are predict_clips' own."""
    import torch

    from edgeemo.train.data import load_waves
    from edgeemo.train.trainer import ClipWindowBatches, predict_clips, predict_window_batches

    model_opts = ({"normalization": "local_max", "time_padding": "valid", "time_pools": (5, 2, 1),
                   "channels": (4, 8, 8, 8)} if streamable else {})
    trainer = StudentTrainer(tiny_train_config(tmp_path / "run", **model_opts), utterances=tiny_subset,
                             progress=False)
    trainer._prepare()
    torch.manual_seed(0)
    model = StudentNet(trainer.model_cfg)
    model.input_norm.running_mean.fill_(-3.0)  # non-trivial eval statistics
    waves = load_waves(trainer.dev_utts, trainer.model_cfg.frontend.sample_rate)
    assert sum(len(b) for b in trainer.dev_windows.batches) == sum(trainer.dev_windows.counts) > len(waves)
    assert trainer.dev_windows.logmel
    expected = predict_clips(model, waves, batch_windows=64)
    np.testing.assert_array_equal(predict_window_batches(model, trainer.dev_windows), expected)
    audio = ClipWindowBatches.of(waves, trainer.model_cfg.window_samples, trainer.model_cfg.hop_samples)
    np.testing.assert_array_equal(predict_window_batches(model, audio), expected)
    assert expected.shape == (len(waves), 8) and np.allclose(expected.sum(axis=1), 1.0, atol=1e-5)
    # not merely self-consistent: another model's scores differ
    other = StudentNet(trainer.model_cfg)
    assert not np.allclose(predict_window_batches(other, trainer.dev_windows), expected)
