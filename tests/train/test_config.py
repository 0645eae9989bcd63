"""The helpers every trainer shares: option dicts, the thread count and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.config import check_known, config_from_dict, set_torch_threads
from edgeemo.train.schedule import lr_factor, set_scheduled_lr
from edgeemo.train.teachers.trainer import TeacherTrainConfig
from edgeemo.train.trainer import TrainConfig


def test_lr_factor_warms_up_then_decays_to_zero() -> None:
    assert [lr_factor(s, 10, 4) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert lr_factor(4, 10, 4) == pytest.approx(1.0)
    assert lr_factor(7, 10, 4) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert lr_factor(10, 10, 4) == pytest.approx(0.0) and lr_factor(50, 10, 4) == pytest.approx(0.0)
    assert lr_factor(0, 10, 0) == pytest.approx(1.0)  # no warm-up


def test_set_scheduled_lr_sets_every_group() -> None:
    opt = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                           {"params": [torch.zeros(1, requires_grad=True)]}], lr=1.0)
    set_scheduled_lr(opt, 0.2, 1, 10, 4)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.1])


def test_options_round_trip_and_refuse_unknown_keys_at_any_depth() -> None:
    cfg = TrainConfig.from_dict({"channels": [4, 8], "augment": {"snr_db": [5, 15]}, "train_folds": [0, 1]})
    assert cfg.channels == (4, 8) and cfg.augment.snr_db == (5, 15) and cfg.train_folds == (0, 1)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match=r"unknown augment option\(s\) \['bogus'\]"):
        TrainConfig.from_dict({"augment": {"bogus": 1}})
    with pytest.raises(ConfigError, match=r"unknown teacher training option\(s\) \['x'\]; known: \["):
        TeacherTrainConfig.from_dict({"x": 1})
    with pytest.raises(ConfigError, match="unknown thing option"):
        check_known(TrainConfig, {"labels": 1}, "thing option")
    check_known(TrainConfig, {"epochs": 1}, "thing option")
    assert config_from_dict(TrainConfig, {}, "training option") == TrainConfig()


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_a_bad_thread_count_is_a_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="num_threads"):
        set_torch_threads(bad)  # type: ignore[arg-type]


def test_set_torch_threads_sets_torch() -> None:
    before = torch.get_num_threads()
    try:
        set_torch_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
