"""Paired fold deltas and speaker-bootstrap intervals (edgeemo.train.selection), on hand values."""

from __future__ import annotations

import numpy as np
import pytest

from edgeemo.train.selection import paired_delta, speaker_bootstrap, unweighted_accuracy


def test_paired_delta_hand_values_and_ties() -> None:
    d = paired_delta({0: 70.0, 1: 60.0, 2: 50.0, 3: 55.0}, {0: 65.0, 1: 62.0, 2: 50.0, 4: 99.0})
    assert d.folds == (0, 1, 2)
    assert d.mean == pytest.approx((5 - 2 + 0) / 3)
    assert d.sd == pytest.approx(float(np.std([5, -2, 0], ddof=1)))
    assert (d.won, d.lost, d.tied) == (1, 1, 1)
    assert str(d).endswith("(1/3)")
    with pytest.raises(ValueError):
        paired_delta({0: 1.0}, {1: 1.0})


def test_unweighted_accuracy_is_macro_recall() -> None:
    y = np.array([0, 0, 0, 0, 1, 1])
    p = np.array([0, 0, 0, 0, 0, 1])
    assert unweighted_accuracy(y, p, 3) == pytest.approx((1.0 + 0.5) / 2)


def test_speaker_bootstrap_interval() -> None:
    rng = np.random.default_rng(0)
    speakers = np.repeat(np.arange(10), 24)
    y = np.tile(np.arange(8), 30)
    right = y.copy()
    worse = y.copy()
    worse[speakers == 3] = (y[speakers == 3] + 1) % 8  # one speaker all wrong
    perfect = speaker_bootstrap(y, [right], speakers, 8, n_boot=200)
    assert (perfect.estimate, perfect.low, perfect.high) == (100.0, 100.0, 100.0)
    one_bad = speaker_bootstrap(y, [worse], speakers, 8, n_boot=500, seed=1)
    assert one_bad.estimate == pytest.approx(90.0)
    assert one_bad.low < 90.0 < one_bad.high <= 100.0
    same = speaker_bootstrap(y, [worse, worse], speakers, 8, n_boot=100)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    delta = speaker_bootstrap(y, [right, worse], speakers, 8, n_boot=500)
    assert delta.estimate == pytest.approx(10.0) and delta.low >= 0.0
    noisy = rng.integers(0, 8, len(y))
    assert speaker_bootstrap(y, [noisy], speakers, 8, n_boot=100).high < 40.0
    with pytest.raises(ValueError):
        speaker_bootstrap(y, [right, right, right], speakers, 8)
