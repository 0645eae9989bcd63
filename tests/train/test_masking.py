"""Modality masking: scenario frequencies, span shapes, modality dropout, zeroing."""

from __future__ import annotations

import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.teachers.masking import MaskingConfig, Scenario, apply_masks, draw_scenarios, plan_masks

torch.set_num_threads(1)


def test_scenario_frequencies_match_probabilities() -> None:
    cfg = MaskingConfig(p_none=0.4, p_audio=0.1, p_video=0.3, p_span=0.2)
    n = 20000
    draws = draw_scenarios(n, cfg, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4).double() / n
    # binomial sd <= sqrt(0.25 / 20000) = 0.0035; 0.012 is > 3 sd
    for s, p in zip(Scenario, cfg.probabilities, strict=True):
        assert abs(float(freq[s]) - p) < 0.012, (s, float(freq[s]), p)


def test_same_seed_same_draws() -> None:
    cfg = MaskingConfig()
    a = plan_masks(64, 100, 35, cfg, torch.Generator().manual_seed(3))
    b = plan_masks(64, 100, 35, cfg, torch.Generator().manual_seed(3))
    assert torch.equal(a.scenario, b.scenario) and torch.equal(a.audio_time_mask, b.audio_time_mask)


def test_plan_follows_scenarios() -> None:
    cfg = MaskingConfig(p_none=0.25, p_audio=0.25, p_video=0.25, p_span=0.25, audio_span_frames=10,
                        audio_span_count=1, video_span_dims=4, video_span_count=1)
    plan = plan_masks(400, 50, 35, cfg, torch.Generator().manual_seed(1))
    assert torch.equal(~plan.audio_present, plan.scenario == Scenario.AUDIO_MASKED)
    assert torch.equal(~plan.video_present, plan.scenario == Scenario.VIDEO_MASKED)
    span = plan.scenario == Scenario.SPAN
    assert (plan.audio_time_mask[span].sum(dim=1) == 10).all()  # one span of exactly 10 frames
    assert (plan.video_dim_mask[span].sum(dim=1) == 4).all()
    assert not plan.audio_time_mask[~span].any() and not plan.video_dim_mask[~span].any()
    # spans are contiguous
    for row in plan.audio_time_mask[span][:20]:
        idx = torch.nonzero(row).flatten()
        assert int(idx[-1] - idx[0]) == 9


def test_modality_dropout_never_removes_both() -> None:
    cfg = MaskingConfig(p_none=0.5, p_audio=0.25, p_video=0.25, p_span=0.0, modality_dropout=0.6)
    plan = plan_masks(5000, 20, 35, cfg, torch.Generator().manual_seed(2))
    assert (plan.audio_present | plan.video_present).all()
    none = plan.scenario == Scenario.NONE
    # among "no mask" samples, each modality is dropped with prob p (both-drops re-split evenly):
    # P(audio dropped) = p(1-p) + p^2 / 2 = 0.24 + 0.18 = 0.42
    rate = 1 - plan.audio_present[none].double().mean()
    assert abs(float(rate) - 0.42) < 0.04


def test_apply_masks_zeroes_hidden_parts() -> None:
    cfg = MaskingConfig(p_none=0.0, p_audio=0.0, p_video=0.0, p_span=1.0, audio_span_frames=3,
                        audio_span_count=1, video_span_dims=2, video_span_count=1)
    plan = plan_masks(2, 8, 5, cfg, torch.Generator().manual_seed(0))
    plan.audio_present[1] = False
    feats, eg, vis = apply_masks(plan, torch.ones(2, 1, 4, 8), torch.ones(2, 3), torch.ones(2, 5))
    assert feats[0].sum() == 4 * (8 - 3) and feats[1].sum() == 0 and eg[1].sum() == 0 and eg[0].sum() == 3
    assert vis[0].sum() == 3 and vis[1].sum() == 3


@pytest.mark.parametrize("kwargs", [{"p_none": 0.5}, {"p_audio": -0.1, "p_none": 0.5}, {"modality_dropout": 1.5}])
def test_bad_config_is_a_config_error(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        MaskingConfig(**kwargs)
