"""DistillConfig -> loss terms, teacher-output cache, example weights, and the trainer hook."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.data import RAVDESS_LABELS, Utterance, load_ravdess
from edgeemo.train.distill.heads import projection_head
from edgeemo.train.distill.recipe import DistillConfig, build_distill_terms
from edgeemo.train.distill.teacher_cache import (
    TeacherOutputs,
    crossfit_groups,
    example_weights,
    teacher_outputs,
)
from edgeemo.train.data import subset_per_actor
from edgeemo.train.teachers.visual import clip_key

torch.set_num_threads(1)


def _utts(n: int = 6) -> list[Utterance]:
    return [Utterance(path=Path(f"a/03-01-0{1 + i % 8}-01-01-01-{i:02d}.flac"), label=RAVDESS_LABELS[i % 8],
                      speaker=f"s{i}", actor=1 + i, split="train", fold=i % 2) for i in range(n)]


def _outputs(utts: list[Utterance], d: int = 12) -> TeacherOutputs:
    rng = np.random.default_rng(0)
    n = len(utts)
    logits = rng.normal(size=(n, 8)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    arrays = {"logits": logits, "probs": probs.astype(np.float32),
              **{k: rng.normal(size=(n, d)).astype(np.float32) for k in ("embedding", "embedding_audio", "embedding_visual")},
              "logits_audio": logits * 0.5, "logits_visual": logits * 2}
    return TeacherOutputs([clip_key(u.path) for u in utts], arrays, "test")


def test_example_weights_hand_values() -> None:
    probs = np.array([[0.7, 0.3], [0.4, 0.6], [0.8, 0.2]])
    y = np.array([0, 0, 1])
    np.testing.assert_allclose(example_weights(probs, y, "confidence"), [0.7, 0.4, 0.2], rtol=1e-6)
    np.testing.assert_array_equal(example_weights(probs, y, "correct"), [1, 0, 0])
    np.testing.assert_array_equal(example_weights(probs, y, "none"), [1, 1, 1])
    with pytest.raises(ConfigError):
        example_weights(probs, y, "bogus")


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        DistillConfig(weighting="sometimes")
    with pytest.raises(ConfigError):
        DistillConfig(kd_weight=-1)
    with pytest.raises(ConfigError):
        DistillConfig.from_dict({"kd_wieght": 1.0})
    with pytest.raises(ConfigError):
        build_distill_terms(DistillConfig(), _utts(), _outputs(_utts()), 96)


def test_projection_head() -> None:
    assert isinstance(projection_head(8, 8), torch.nn.Identity)
    assert projection_head(8, 12)(torch.zeros(2, 8)).shape == (2, 12)


@pytest.mark.parametrize("mix", [False, True])
def test_every_term_runs_and_trains_heads(mix: bool) -> None:
    utts = _utts(6)
    cfg = DistillConfig(kd_weight=1, triplet_weight=1, response_weight=1, feature_weight=1, dmd_weight=1,
                        weighting="confidence", ramp_epochs=2)
    # the outputs come in another order than the training list: rows are matched by clip
    terms, heads = build_distill_terms(cfg, utts, _outputs(utts[::-1]), 10)
    assert len(terms) == 5 and {"proj", "dmd_shared", "dmd_specific"} <= set(heads)
    emb = torch.randn(4, 10, requires_grad=True)
    out = {"logits": torch.randn(4, 8, requires_grad=True), "embedding": emb}
    if mix:
        out["mixup_lam"], out["mixup_perm"] = torch.tensor(0.7), torch.tensor([1, 0, 3, 2])
    idx = torch.tensor([0, 2, 3, 5])
    losses = [t(out, idx, 0) for t in terms]
    assert all(loss.dim() == 0 and torch.isfinite(loss) for loss in losses)
    # ramp: epoch 0 of 2 -> half weight
    assert terms[0](out, idx, 0).item() == pytest.approx(0.5 * terms[0](out, idx, 5).item(), rel=1e-5)
    sum(losses).backward()
    assert heads["proj"].weight.grad is not None and emb.grad is not None


def test_ccc_term_needs_targets() -> None:
    utts = _utts(4)
    with pytest.raises(ConfigError):
        build_distill_terms(DistillConfig(ccc_weight=1), utts, _outputs(utts), 10)
    terms, _ = build_distill_terms(DistillConfig(ccc_weight=1), utts, _outputs(utts), 10,
                                   va_targets=np.array([[0.1, 0.2], [0.5, -0.3], [-0.4, 0.9], [0.0, 0.0]]))
    out = {"logits": torch.zeros(4, 8), "embedding": torch.zeros(4, 10),
           "valence_arousal": torch.tensor([[0.1, 0.2], [0.5, -0.3], [-0.4, 0.9], [0.0, 0.0]])}
    assert float(terms[0](out, torch.arange(4), 0)) == pytest.approx(0.0, abs=1e-5)


def test_crossfit_groups() -> None:
    groups = crossfit_groups(_utts(6))
    assert sorted(groups) == [0, 1] and sum(len(g) for g in groups.values()) == 6
    with pytest.raises(ConfigError):
        crossfit_groups(_utts(1))


def _tiny_teacher(data_root: Path, tmp_path: Path, **model: object):  # type: ignore[no-untyped-def]
    """(inputs of 6 clips each of actors 2 and 6, a one-epoch teacher trained on the first 6)."""
    from edgeemo.train.teachers import trainer as teacher_trainer
    from edgeemo.train.teachers.features import build_teacher_inputs
    from edgeemo.train.teachers.model import TeacherConfig

    utts = subset_per_actor([u for u in load_ravdess(data_root) if u.actor in (2, 6)], 6)
    inputs = build_teacher_inputs(utts, RAVDESS_LABELS, use_logmel=bool(model.get("use_logmel", True)),
                                  use_egemaps=bool(model.get("use_egemaps", True)),
                                  visual_root=data_root / "ravdess_visual")
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, hidden=32, **model)  # type: ignore[arg-type]
    tcfg = teacher_trainer.TeacherTrainConfig(out_dir=str(tmp_path / "teacher"), epochs=1, batch_size=4)
    trainer = teacher_trainer.TeacherTrainer(mcfg, tcfg, inputs.subset(range(6)), inputs.subset(range(6, 12)))
    return inputs, trainer.fit().best_dir


@pytest.mark.slow  # trains a model
def test_teacher_outputs_cached_on_disk(data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeemo.train.teachers import trainer as teacher_trainer

    inputs, best = _tiny_teacher(data_root, tmp_path, use_egemaps=False, audio_channels=(16,))
    calls = []
    real = teacher_trainer.predict_teacher
    monkeypatch.setattr(teacher_trainer, "predict_teacher", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    first = teacher_outputs(best, inputs.subset(range(8)), cache_dir=tmp_path / "cache")
    again = teacher_outputs(best, inputs.subset(range(8)), cache_dir=tmp_path / "cache")
    more = teacher_outputs(best, inputs, cache_dir=tmp_path / "cache")  # only the 4 new clips are computed
    assert calls == [8, 4]
    np.testing.assert_allclose(first.arrays["logits"], again.arrays["logits"])
    np.testing.assert_allclose(more.arrays["logits"][:8], first.arrays["logits"], atol=1e-6)
    assert len(list((tmp_path / "cache" / "teacher_outputs").glob("*.npz"))) == 1
    center = teacher_outputs(best, inputs.subset(range(2)), crop="center", cache_dir=tmp_path / "cache")
    assert center.source != first.source and calls == [8, 4, 2]


@pytest.mark.slow  # trains a model
def test_speaker_normalised_teacher_outputs_are_cached_per_clip_set(
        data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeemo.train.teachers import trainer as teacher_trainer

    monkeypatch.setenv("EDGEEMO_CACHE", str(tmp_path / "egemaps"))
    inputs, best = _tiny_teacher(data_root, tmp_path, use_logmel=False, speaker_norm=True)
    calls = []
    real = teacher_trainer.predict_teacher
    monkeypatch.setattr(teacher_trainer, "predict_teacher", lambda *a, **k: calls.append(len(a[2])) or real(*a, **k))
    part = teacher_outputs(best, inputs.subset(range(8)), cache_dir=tmp_path / "cache")
    whole = teacher_outputs(best, inputs, cache_dir=tmp_path / "cache")
    again = teacher_outputs(best, inputs, cache_dir=tmp_path / "cache")
    # the whole set is computed at once (actor 6's statistics come from all its clips), never
    # completed from the 8 clips cached before, whose actor-6 rows used 2 of its clips only
    assert calls == [8, 12]
    model, std, _ = teacher_trainer.load_teacher(best)
    np.testing.assert_allclose(whole.arrays["logits"], real(model, std, inputs)["logits"], atol=1e-6)
    np.testing.assert_allclose(again.arrays["logits"], whole.arrays["logits"])
    assert not np.allclose(part.arrays["logits"][6:8], whole.arrays["logits"][6:8], atol=1e-4)
    assert len(list((tmp_path / "cache" / "teacher_outputs").glob("*.npz"))) == 2


@pytest.mark.slow  # trains a model
def test_student_trainer_runs_distill_terms_and_saves_heads(data_root: Path, tmp_path: Path) -> None:
    from edgeemo.train.checkpoint import load_checkpoint
    from edgeemo.train.trainer import StudentTrainer, TrainConfig

    utts = subset_per_actor([u for u in load_ravdess(data_root) if u.actor in (3, 7)], 6)
    cfg = TrainConfig(out_dir=str(tmp_path / "s"), train_folds=(0,), dev_folds=(1,), epochs=1, batch_size=4,
                      max_steps_per_epoch=1, num_threads=1, channels=(4, 8), embedding_dim=16)
    train_utts = [u for u in utts if u.fold == 0]
    cfg_d = DistillConfig(kd_weight=1.0, triplet_weight=1.0, feature_weight=1.0)
    terms, heads = build_distill_terms(cfg_d, train_utts, _outputs(train_utts), 16)
    before = heads["proj"].weight.detach().clone()
    seen: list[set[str]] = []
    terms.append(lambda out, idx, epoch: seen.append(set(out)) or out["logits"].sum() * 0)
    trainer = StudentTrainer(cfg, utterances=utts, extra_losses=terms, extra_modules=heads, progress=False)
    trainer.fit()
    assert not torch.equal(before, heads["proj"].weight.detach())  # heads are optimised with the student
    state = load_checkpoint(tmp_path / "s" / "last", with_state=True).trainer_state
    assert "extra_modules" in state and "proj.weight" in state["extra_modules"]
    best = json.loads((tmp_path / "s" / "best" / "config.json").read_text())
    assert best["kind"] == "student"
    assert not any(k.startswith("proj") for k in load_checkpoint(tmp_path / "s" / "best").weights)
    assert seen and {"logits", "embedding"} <= seen[0]


def test_unknown_teacher_option_is_a_config_error(tmp_path: Path) -> None:
    from edgeemo.train.distill.run import train_teacher

    with pytest.raises(ConfigError, match="unknown teacher model option.*bogus"):
        train_teacher(str(tmp_path / "t"), model_fields={"bogus": 1})
