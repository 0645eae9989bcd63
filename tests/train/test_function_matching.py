"""Function matching: the loss terms on hand values, mixup targets, and a short real run that resumes exactly."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.distill.function_matching import (
    FunctionMatchingConfig,
    ViewTargets,
    build_function_matching_terms,
    embedding_regression_loss,
    function_matching_trainer,
    mix_batch,
    soft_kl_loss,
)

from .conftest import tiny_train_config


def _targets(n: int = 6, views: int = 2, classes: int = 8, dim: int = 5, seed: int = 0) -> ViewTargets:
    rng = np.random.default_rng(seed)
    return ViewTargets(logits=rng.standard_normal((n, views + 1, classes)).astype(np.float32) * 2,
                       embedding=rng.standard_normal((n, views + 1, dim)).astype(np.float32),
                       paths=tuple(f"c{i}.wav" for i in range(n)))


# ------------------------------------------------------------------ config
def test_config_errors_are_clear():
    assert FunctionMatchingConfig().temperature == 2.0
    with pytest.raises(ConfigError, match="unknown function-matching option"):
        FunctionMatchingConfig.from_dict({"temprature": 3})
    with pytest.raises(ConfigError, match="embedding_loss"):
        FunctionMatchingConfig(embedding_loss="l2")
    with pytest.raises(ConfigError, match="projection"):
        FunctionMatchingConfig(projection="deep")
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        FunctionMatchingConfig(temperature=0)
    with pytest.raises(ConfigError, match="kl_weight, embedding_weight or frame_weight > 0"):
        FunctionMatchingConfig(kl_weight=0, embedding_weight=0, label_weight=1)
    with pytest.raises(ConfigError, match="label_weight must be >= 0"):
        FunctionMatchingConfig(label_weight=-1)
    with pytest.raises(ConfigError, match="disagree"):
        ViewTargets(logits=np.zeros((2, 3, 8)), embedding=np.zeros((2, 2, 4)), paths=("a", "b"))


# ------------------------------------------------------------------ losses on hand values
def test_kl_is_zero_when_the_student_is_the_teacher_and_matches_a_hand_value():
    t = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    p = torch.softmax(t / 2.0, dim=1)
    assert float(soft_kl_loss(t.clone(), p, 2.0)) == pytest.approx(0.0, abs=1e-6)
    # two classes, T = 1: teacher (0.75, 0.25), student logits (0, 0) -> KL = 0.75 ln 1.5 + 0.25 ln 0.5
    hand = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    got = soft_kl_loss(torch.zeros(1, 2), torch.tensor([[0.75, 0.25]]), 1.0)
    assert float(got) == pytest.approx(hand, rel=1e-5)
    assert float(soft_kl_loss(torch.zeros(1, 2), torch.tensor([[0.75, 0.25]]), 2.0)) == pytest.approx(4 * hand, rel=1e-5)


def test_embedding_regression_hand_values():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    b = torch.tensor([[1.0, 1.0], [0.0, 5.0]])
    expected_cos = ((1 - 1 / math.sqrt(2)) + 0.0) / 2
    assert float(embedding_regression_loss(a, b, "cosine")) == pytest.approx(expected_cos, rel=1e-6)
    # smooth-L1 (beta 1): |d| = (0, 1, 0, 3) -> (0, 0.5, 0, 2.5), mean 0.75
    assert float(embedding_regression_loss(a, b, "smooth_l1", 1.0)) == pytest.approx(0.75)
    with pytest.raises(ConfigError):
        embedding_regression_loss(a, b, "l2")


def test_embedding_gradient_reaches_only_the_student_and_the_projection():
    targets = _targets(dim=5)
    terms, heads = build_function_matching_terms(FunctionMatchingConfig(kl_weight=0.0), targets, student_dim=4)
    assert len(terms) == 1 and set(heads) == {"proj"}
    student = torch.nn.Linear(3, 4)
    teacher_table = torch.from_numpy(targets.embedding).requires_grad_(True)  # a stand-in: never used by the term
    emb = student(torch.randn(4, 3))
    out = {"logits": torch.zeros(4, 8), "embedding": emb, "view": torch.tensor([0, 1, 2, 1])}
    loss = terms[0](out, torch.tensor([0, 1, 2, 3]), 0)
    loss.backward()
    assert student.weight.grad is not None and student.weight.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in heads.parameters())
    assert teacher_table.grad is None
    # the head's initial weights depend on the seed only, not on the global torch state
    torch.manual_seed(123)
    _, again = build_function_matching_terms(FunctionMatchingConfig(kl_weight=0.0), targets, student_dim=4)
    assert torch.equal(again["proj"].weight, build_function_matching_terms(
        FunctionMatchingConfig(kl_weight=0.0), targets, student_dim=4)[1]["proj"].weight)


def test_the_term_reads_the_view_the_trainer_drew():
    targets = _targets()
    cfg = FunctionMatchingConfig(embedding_weight=0.0, temperature=2.0)
    (kl,), _ = build_function_matching_terms(cfg, targets, student_dim=4)
    idx, view = torch.tensor([4, 1, 0]), torch.tensor([2, 0, 1])
    student = torch.from_numpy(targets.logits)[idx, view].clone()  # the teacher's logits on those views
    assert float(kl({"logits": student, "embedding": torch.zeros(3, 4), "view": view}, idx, 0)) == pytest.approx(0, abs=1e-5)
    other = float(kl({"logits": student, "embedding": torch.zeros(3, 4), "view": torch.tensor([0, 1, 2])}, idx, 0))
    assert other > 0.01
    with pytest.raises(ConfigError, match="hold 2 views"):
        kl({"logits": student, "embedding": torch.zeros(3, 4), "view": torch.tensor([3, 0, 0])}, idx, 0)


def test_clean_teacher_view_reads_the_clean_clip_whatever_view_was_drawn():
    targets = _targets(dim=4)
    cfg = FunctionMatchingConfig(temperature=2.0, embedding_loss="smooth_l1", teacher_view="clean")
    (kl, emb_term), heads = build_function_matching_terms(cfg, targets, student_dim=4)
    idx, view = torch.tensor([4, 1, 0]), torch.tensor([2, 0, 1])
    clean = torch.zeros_like(view)
    out = {"logits": torch.from_numpy(targets.logits)[idx, clean].clone(),
           "embedding": torch.from_numpy(targets.embedding)[idx, clean].clone(), "view": view}
    with torch.no_grad():  # an identity projection: the student embedding is compared with the target as is
        heads["proj"].weight.copy_(torch.eye(4))
        heads["proj"].bias.zero_()
    assert float(kl(out, idx, 0)) == pytest.approx(0.0, abs=1e-5)
    assert float(emb_term(out, idx, 0).detach()) == pytest.approx(0.0, abs=1e-7)
    # the same student against the drawn views' targets (the default) is off on both terms
    (kl_same, emb_same), heads_same = build_function_matching_terms(
        FunctionMatchingConfig(temperature=2.0, embedding_loss="smooth_l1"), targets, student_dim=4)
    heads_same.load_state_dict(heads.state_dict())
    assert float(kl_same(out, idx, 0)) > 0.01
    assert float(emb_same(out, idx, 0).detach()) > 0.01
    with pytest.raises(ConfigError, match="teacher_view"):
        FunctionMatchingConfig(teacher_view="mean")
    with pytest.raises(ConfigError, match="embedding_view"):
        FunctionMatchingConfig(embedding_view="mean")
    # embedding_view overrides the embedding target alone: the view's KL, the clean clip's embedding
    (kl_mixed, emb_mixed), heads_mixed = build_function_matching_terms(
        FunctionMatchingConfig(temperature=2.0, embedding_loss="smooth_l1", embedding_view="clean"), targets, student_dim=4)
    heads_mixed.load_state_dict(heads.state_dict())
    assert float(kl_mixed(out, idx, 0)) > 0.01
    assert float(emb_mixed(out, idx, 0).detach()) == pytest.approx(0.0, abs=1e-7)


def test_mixup_targets_are_the_same_mix_of_the_teachers_outputs():
    targets = _targets(classes=3, dim=4)
    temperature = 2.0
    cfg = FunctionMatchingConfig(temperature=temperature, embedding_loss="smooth_l1")
    (kl, emb_term), heads = build_function_matching_terms(cfg, targets, student_dim=4)
    idx, view = torch.tensor([0, 3, 5]), torch.tensor([1, 1, 0])
    lam, perm = 0.7, torch.tensor([2, 0, 1])
    p = torch.softmax(torch.from_numpy(targets.logits)[idx, view] / temperature, dim=1)
    p_mix = lam * p + (1 - lam) * p[perm]  # probabilities are mixed, not logits
    out = {"logits": temperature * torch.log(p_mix), "embedding": torch.zeros(3, 4), "view": view,
           "mixup_lam": torch.tensor(lam), "mixup_perm": perm}
    assert float(kl(out, idx, 0)) == pytest.approx(0.0, abs=1e-5)
    mixed_logits = lam * torch.from_numpy(targets.logits)[idx, view] + (1 - lam) * torch.from_numpy(targets.logits)[idx, view][perm]
    assert float(kl({**out, "logits": mixed_logits}, idx, 0)) > 1e-4  # mixing logits would be another target
    e = torch.from_numpy(targets.embedding)[idx, view]
    np.testing.assert_allclose(mix_batch(e, out).numpy(), (lam * e + (1 - lam) * e[perm]).numpy(), rtol=1e-6)
    with torch.no_grad():  # a projection that returns its input: the student embedding *is* the mixed target
        heads["proj"].weight.copy_(torch.eye(4))
        heads["proj"].bias.zero_()
    assert float(emb_term({**out, "embedding": mix_batch(e, out)}, idx, 0).detach()) == pytest.approx(0.0, abs=1e-7)
    assert torch.equal(mix_batch(e, {"logits": out["logits"]}), e)  # no mixup: unchanged


# ------------------------------------------------------------------ a real run
class _Interrupt(Exception):
    pass


def _fm_targets(train_utts, views: int, seed: int = 1) -> ViewTargets:
    rng = np.random.default_rng(seed)
    n = len(train_utts)
    return ViewTargets(logits=rng.standard_normal((n, views + 1, 8)).astype(np.float32),
                       embedding=rng.standard_normal((n, views + 1, 12)).astype(np.float32),
                       paths=tuple(str(u.path) for u in train_utts))


@pytest.fixture(scope="module")
def small_views(ravdess_utts):
    from edgeemo.train.views import TrainingViews, ViewSet, teacher_babble_pool

    return TrainingViews(ViewSet(2), teacher_babble_pool(ravdess_utts))


@pytest.mark.slow
def test_short_function_matching_run_writes_a_checkpoint_and_resumes_exactly(tmp_path: Path, tiny_subset, small_views):
    from edgeemo.train.checkpoint import load_checkpoint
    from edgeemo.train.trainer import StudentTrainer

    cfg_fm = FunctionMatchingConfig(label_weight=0.5)
    fields = {"augment": {"noise_prob": 0.0, "mixup_prob": 0.5}}
    probe = StudentTrainer(tiny_train_config(tmp_path / "probe", **fields), utterances=tiny_subset, progress=False)
    targets = _fm_targets(probe.train_utts, views=2)

    seen: list[np.ndarray] = []

    def spy(out, idx, epoch):
        assert "view" in out
        seen.append(out["view"].numpy().copy())
        return out["logits"].sum() * 0.0

    cfg_a = tiny_train_config(tmp_path / "a", **fields)
    trainer = function_matching_trainer(cfg_a, cfg_fm, targets, tiny_subset, small_views, progress=False)
    trainer.extra_losses.append(spy)
    straight = trainer.fit()
    best = load_checkpoint(straight.best_dir)
    assert best.config["train_extra"]["views"]["n_views"] == 2 and best.config["train_extra"]["label_weight"] == 0.5
    assert len(straight.history) == 2 and all(np.isfinite(h["train_loss"]) for h in straight.history)
    views_seen = np.concatenate(seen)
    assert set(views_seen.tolist()) <= {0, 1, 2} and len(set(views_seen.tolist())) > 1

    cfg_b = tiny_train_config(tmp_path / "b", **fields)
    interrupted = function_matching_trainer(cfg_b, cfg_fm, targets, tiny_subset, small_views, progress=False)

    def stop(out, idx, epoch):
        if epoch == 1:
            raise _Interrupt
        return out["logits"].sum() * 0.0

    interrupted.extra_losses.append(stop)
    with pytest.raises(_Interrupt):
        interrupted.fit()
    assert load_checkpoint(tmp_path / "b" / "last").config["epoch"] == 0
    resumed = function_matching_trainer(cfg_b, cfg_fm, targets, tiny_subset, small_views, progress=False).fit()
    assert [h["train_loss"] for h in resumed.history] == pytest.approx([h["train_loss"] for h in straight.history], abs=1e-6)
    a = load_checkpoint(tmp_path / "a" / "last", with_state=True)
    b = load_checkpoint(tmp_path / "b" / "last", with_state=True)
    for key in a.weights:
        np.testing.assert_allclose(a.weights[key].numpy(), b.weights[key].numpy(), atol=1e-6)
    for key, value in a.trainer_state["extra_modules"].items():
        np.testing.assert_allclose(value.numpy(), b.trainer_state["extra_modules"][key].numpy(), atol=1e-6)

    # other function-matching settings, or another label weight, are another run: refused
    with pytest.raises(ConfigError, match="other function-matching settings"):
        function_matching_trainer(cfg_b, FunctionMatchingConfig(label_weight=0.0), targets, tiny_subset, small_views,
                                  progress=False)
    # a record written before teacher_view existed reads as its default ("same"), so that run resumes
    record = tmp_path / "b" / "function_matching.json"
    old_record = {k: v for k, v in json.loads(record.read_text()).items() if k != "teacher_view"}
    record.write_text(json.dumps(old_record))
    function_matching_trainer(cfg_b, cfg_fm, targets, tiny_subset, small_views, progress=False)
    with pytest.raises(ConfigError, match="other function-matching settings"):
        function_matching_trainer(cfg_b, FunctionMatchingConfig(label_weight=cfg_fm.label_weight, teacher_view="clean"),
                                  targets, tiny_subset, small_views, progress=False)
    record.unlink()
    with pytest.raises(ConfigError, match="different training configuration"):
        function_matching_trainer(cfg_b, FunctionMatchingConfig(label_weight=0.0), targets, tiny_subset, small_views,
                                  progress=False).fit()


def test_targets_must_follow_the_trainers_clips(tmp_path: Path, tiny_subset, small_views):
    from edgeemo.train.trainer import StudentTrainer

    cfg = tiny_train_config(tmp_path / "x")
    train = StudentTrainer(cfg, utterances=tiny_subset, progress=False).train_utts
    targets = _fm_targets(list(reversed(train)), views=2)
    with pytest.raises(ConfigError, match="not the trainer's training clips"):
        function_matching_trainer(cfg, FunctionMatchingConfig(), targets, tiny_subset, small_views, progress=False)
    with pytest.raises(ConfigError, match="views"):
        function_matching_trainer(cfg, FunctionMatchingConfig(), _fm_targets(train, views=3), tiny_subset, small_views,
                                  progress=False)
    with pytest.raises(ConfigError, match="nothing to learn"):
        StudentTrainer(cfg, utterances=tiny_subset, label_weight=0.0, progress=False)
