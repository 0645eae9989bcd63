"""A short real training run: checkpoints, plots, and exact resume after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeemo.errors import ConfigError
from edgeemo.train.checkpoint import load_checkpoint
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


def test_unknown_option_is_rejected():
    from edgeemo.train.trainer import TrainConfig

    with pytest.raises(ConfigError, match="unknown training option"):
        TrainConfig.from_dict({"epochz": 3})
