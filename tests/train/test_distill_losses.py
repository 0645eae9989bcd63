"""Each distillation loss against a value computed by hand, and gradients reach only the student."""

from __future__ import annotations

import math

import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.distill.losses import (
    ccc_loss,
    dmd_loss,
    logit_kd_loss,
    telme_feature_loss,
    telme_response_loss,
    triplet_loss,
)

torch.set_num_threads(1)
LN3 = math.log(3.0)


def test_logit_kd_hand_value() -> None:
    s, t = torch.tensor([[0.0, 0.0]]), torch.tensor([[LN3, 0.0]])
    # T = 1: p_t = (3/4, 1/4), p_s = (1/2, 1/2); KL = 0.75 ln 1.5 + 0.25 ln 0.5
    expected = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # 0.130812
    assert float(logit_kd_loss(s, t, 1.0)) == pytest.approx(expected, abs=1e-6)
    # T = 2: p_t = (sqrt3, 1) / (sqrt3 + 1), times T^2 = 4
    a, b = math.sqrt(3) / (math.sqrt(3) + 1), 1 / (math.sqrt(3) + 1)
    expected_t2 = 4 * (a * math.log(a / 0.5) + b * math.log(b / 0.5))  # 0.145444
    assert float(logit_kd_loss(s, t, 2.0)) == pytest.approx(expected_t2, abs=1e-6)


def test_logit_kd_weights() -> None:
    s = torch.zeros(2, 2)
    t = torch.tensor([[LN3, 0.0], [0.0, 0.0]])  # KL = 0.130812 and 0
    kl0 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    # weighted mean (1 * kl0 + 3 * 0) / 4
    assert float(logit_kd_loss(s, t, 1.0, torch.tensor([1.0, 3.0]))) == pytest.approx(kl0 / 4, abs=1e-6)


def _logp(*rows: list[float]) -> torch.Tensor:
    return torch.log(torch.tensor(rows))


def test_telme_response_hand_value() -> None:
    s = _logp([0.5, 0.25, 0.25], [0.25, 0.5, 0.25])
    t = _logp([0.5, 0.25, 0.25], [0.25, 0.25, 0.5])
    # inter, example 0: identical rows -> r = 1 -> 0.
    # example 1: centred s = (-1/12, 1/6, -1/12), t = (-1/12, -1/12, 1/6):
    #   dot = (1 - 2 - 2) / 144 = -3/144, |s||t| = 6/144 -> r = -0.5 -> 1 - r = 1.5.  inter = 0.75
    # intra, per class over the batch: class 0 s = t = (.5, .25) -> 0; class 1 t = (.25, .25) is
    #   constant -> r = 0 -> 1; class 2 s = (.25, .25) constant -> 1.  intra = 2/3
    expected = 0.75 + 2 / 3
    assert float(telme_response_loss(s, t, 1.0)) == pytest.approx(expected, abs=1e-5)
    # logits x2 at T = 2 give the same distributions, times T^2 = 4
    assert float(telme_response_loss(2 * s, 2 * t, 2.0)) == pytest.approx(4 * expected, abs=1e-4)
    # inter only / intra only
    assert float(telme_response_loss(s, t, 1.0, 1.0, 0.0)) == pytest.approx(0.75, abs=1e-5)
    assert float(telme_response_loss(s, t, 1.0, 0.0, 1.0)) == pytest.approx(2 / 3, abs=1e-5)


def test_telme_feature_hand_value() -> None:
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[3.0, 0.0], [1.0, 0.0]])  # both normalise to (1, 0)
    # target = t t^T = I -> p rows = softmax(1, 0) = (e, 1) / (e + 1) and its mirror
    # x = t s^T = [[1, 1], [0, 0]] -> q rows = (1/2, 1/2)
    p1, p0 = math.e / (math.e + 1), 1 / (math.e + 1)
    kl_row = p1 * math.log(p1 / 0.5) + p0 * math.log(p0 / 0.5)  # 0.110943, same for both rows
    assert float(telme_feature_loss(s, t, 1.0)) == pytest.approx(kl_row, abs=1e-6)
    # T = 0.5 doubles the similarities: p = softmax(2, 0), q still uniform
    p1, p0 = math.exp(2) / (math.exp(2) + 1), 1 / (math.exp(2) + 1)
    assert float(telme_feature_loss(s, t, 0.5)) == pytest.approx(
        p1 * math.log(p1 / 0.5) + p0 * math.log(p0 / 0.5), abs=1e-6)


def test_triplet_hand_value_is_averaged_over_anchors() -> None:
    t = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    s = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([0, 0, 1])
    # Euclidean, margin 1. anchor 0: pos 0, neg t2 at 2 -> max(0, 0 - 2 + 1) = 0
    # anchor 1: pos 0, neg t2 at sqrt5 -> 0.  anchor 2 (class 1): pos d(s2, t2) = 1;
    #   neg t0 at 1 -> max(0, 1 - 1 + 1) = 1; neg t1 at sqrt2 -> 2 - sqrt2 = 0.585786; mean 0.792893
    a2 = (1.0 + (2 - math.sqrt(2))) / 2
    expected = (0 + 0 + a2) / 3  # averaged over the 3 anchors (the sum would be 0.792893)
    got = triplet_loss(s, t, y, margin=1.0, distance="euclidean")
    assert float(got) == pytest.approx(expected, abs=1e-5)
    # weights: only anchor 2 counts -> a2
    w = torch.tensor([0.0, 0.0, 1.0])
    assert float(triplet_loss(s, t, y, 1.0, "euclidean", w)) == pytest.approx(a2, abs=1e-5)


def test_triplet_cosine_and_no_negatives() -> None:
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    s = torch.tensor([[1.0, 1.0], [0.0, 1.0]])
    y = torch.tensor([0, 1])
    # anchor 0: d(s0, t0) = 1 - 1/sqrt2, d(s0, t1) = 1 - 1/sqrt2 -> hinge = margin = 0.2
    # anchor 1: d(s1, t1) = 0, d(s1, t0) = 1 -> max(0, 0 - 1 + 0.2) = 0.   mean = 0.1
    assert float(triplet_loss(s, t, y, 0.2, "cosine")) == pytest.approx(0.1, abs=1e-6)
    assert float(triplet_loss(s, t, torch.tensor([1, 1]), 0.2)) == 0.0
    with pytest.raises(ConfigError):
        triplet_loss(s, t, y, 0.2, "manhattan")


def test_ccc_hand_value() -> None:
    pred = torch.tensor([[1.0, 0.1], [2.0, 0.5], [3.0, 0.9]])
    target = torch.tensor([[2.0, 0.1], [4.0, 0.5], [6.0, 0.9]])
    # column 0: mu 2 / 4, var 2/3 / 8/3, cov 4/3 -> ccc = (8/3) / (2/3 + 8/3 + 4) = 8/22
    # column 1: identical -> ccc 1.   loss = 1 - (8/22 + 1) / 2
    assert float(ccc_loss(pred, target)) == pytest.approx(1 - (8 / 22 + 1) / 2, abs=1e-6)


def test_dmd_hand_value() -> None:
    embs = {"audio": torch.tensor([[2.0, 0.0]]), "visual": torch.tensor([[0.0, 2.0]])}
    logits = {"audio": torch.tensor([[LN3, 0.0]]), "visual": torch.tensor([[0.0, 0.0]])}
    y = torch.tensor([0])
    shared_s, spec_s, logits_s = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]), torch.zeros(1, 2)
    # shared = (1, 1); specific: audio (1, -1), visual (-1, 1)
    # edge weights: conf audio 0.75, visual 0.5; softmax((1.5, 1.0)) = (1, e^-0.5) / (1 + e^-0.5)
    wa = 1 / (1 + math.exp(-0.5))
    wv = 1 - wa
    homo = ((1 - 1) ** 2 + (0 - 1) ** 2) / 2  # 0.5
    kl_a = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)  # T = 1; visual KL = 0
    hetero = wa * (1.0 + kl_a) + wv * (1.0 + 0.0)  # specific MSE = 1 for both
    got = dmd_loss(shared_s, spec_s, logits_s, embs, logits, y, temperature=1.0, tau=0.5)
    assert float(got) == pytest.approx(homo + hetero, abs=1e-5)


def _grad_case(name: str):  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    s_logits = torch.randn(6, 4, requires_grad=True)
    s_emb = torch.randn(6, 5, requires_grad=True)
    t_logits = torch.randn(6, 4, requires_grad=True)
    t_emb = torch.randn(6, 5, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    if name == "kd":
        loss = logit_kd_loss(s_logits, t_logits, 2.0)
    elif name == "response":
        loss = telme_response_loss(s_logits, t_logits, 4.0)
    elif name == "feature":
        loss = telme_feature_loss(s_emb, t_emb, 1.0)
    elif name == "triplet":
        loss = triplet_loss(s_emb, t_emb, y, margin=5.0)
    elif name == "dmd":
        loss = dmd_loss(s_emb, s_emb * 2, s_logits, {"audio": t_emb, "visual": t_emb * 0.5},
                        {"audio": t_logits, "visual": t_logits * 2}, y)
    else:
        loss = ccc_loss(s_logits[:, :2], t_logits[:, :2])
    return loss, (s_logits, s_emb), (t_logits, t_emb)


@pytest.mark.parametrize("name", ["kd", "response", "feature", "triplet", "dmd", "ccc"])
def test_gradients_reach_only_the_student(name: str) -> None:
    loss, student, teacher = _grad_case(name)
    loss.backward()
    assert all(t.grad is None for t in teacher), "a teacher tensor received a gradient"
    assert any(s.grad is not None and float(s.grad.abs().sum()) > 0 for s in student)
