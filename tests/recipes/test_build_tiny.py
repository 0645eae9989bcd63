"""``recipe build-tiny``: what it takes from the folds, what it refuses, and its card."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

bt = pytest.importorskip("edgeemo.recipes.build_tiny", reason="needs the [train] extra")


def test_epoch_counts_are_the_medians_of_the_folds_choices():
    per_fold = {k: {"best_epoch": e, "teacher": {"best_epoch": t}} for k, (e, t) in
                enumerate([(10, 3), (20, 5), (30, 7), (25, 2), (12, 9)])}
    # 1-based: the median of 11, 21, 31, 26, 13 (the student records 0-based epochs) and of 3, 5, 7, 2, 9
    # (the teacher head's history counts from 1, as test_whisper_head checks)
    assert bt.final_epochs(per_fold) == (21, 5)


def test_a_row_without_five_folds_is_refused(tmp_path: Path):
    from edgeemo.recipes import function_matching as fm

    state = tmp_path / "fm.json"
    for k in range(3):
        fm._store(state, fm.Settings(), "student_fm_stream", k, {"fold": k})
    with pytest.raises(bt.ConfigError, match=r"folds \[0, 1, 2\].*not all five"):
        bt._row_results(state, "student_fm_stream", fm.Settings())
    with pytest.raises(bt.ConfigError, match="unknown row"):
        bt._row_results(state, "student_kd", fm.Settings())


def test_the_card_reports_the_measured_numbers():
    from edgeemo.train.degrade import EVAL_CONDITIONS

    ua = {c: 40.0 + i for i, c in enumerate(EVAL_CONDITIONS)}
    kind = {"ua": ua, "clean_sd": 5.0, "mean_degraded": 44.5, "worst": 41.0}
    report = {
        "row": "student_fm_stream_x4", "settings": {"views": 4, "epochs": 40}, "epochs": 21, "teacher_epochs": 6,
        "fold_epochs": [11, 21, 31, 26, 13], "learned_parameters": 96138, "streamable": True,
        "fp32_bytes": 400_000, "int8_bytes": 200_000, "stream_bytes": 400_000, "stream_parity_max_abs": 3e-7,
        "summary": {"fp32": kind, "int8": {**kind, "mean_degraded": 43.0}, "int8_minus_fp32": {"mean": -0.4, "sd": 1.1}},
        "calibration": {"temperature": 1.234, "n_clips": 1200, "ece_before_pooled": 0.1, "ece_after_pooled": 0.03,
                        "ece_floor_pooled": 0.02, "ece_before": 0.11, "ece_after": 0.06, "ece_floor": 0.05},
    }
    card = bt.render_card(report)
    assert "CC BY-NC-SA 4.0" in card and "non-commercial" in card
    assert "**40.0 ± 5.0**" in card and "T = 1.234" in card and "**0.100** without a temperature, 0.030 with" in card
    assert "edgeemo-tiny-ravdess.stream.onnx" in card and "3.0e-07" in card
    assert "| telephone_8k |" in card and "[11, 21, 31, 26, 13]" in card
    assert "per clip, mixup, no labels, 160 epochs on the folds" in card  # 40 × the row's epoch factor 4
    assert "talker views" in bt.render_card({**report, "row": "student_fm_talker_stream_x4"})
    babble_card = bt.render_card({**report, "row": "student_fm_babble_ckd_stream_x4"})
    assert "8 augmented views per clip (4 standard + 4 babble;" in babble_card
    teacher_card = bt.render_card({**report, "row": "student_fm_tbabble_ckd_stream_x4"})
    assert "on 4 augmented views per clip (the teacher head also trained on 4 standard + 4 babble views" in teacher_card
    ensemble = dataclasses.replace(bt.ROW_BY_NAME["student_fm_tbabble_ckd_stream_x4"], name="x", teacher_heads=3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(bt.ROW_BY_NAME, "x", ensemble)
        assert "; the teacher the mean of 3 such heads, seeds apart)" in bt.render_card({**report, "row": "x"})


def test_missing_fold_models_are_named(tmp_path: Path, data_root: Path):
    from edgeemo.recipes import function_matching as fm

    state = tmp_path / "fm.json"
    for k in range(5):
        fm._store(state, fm.Settings(), "student_fm_stream", k, {"fold": k, "best_epoch": 9,
                                                                 "teacher": {"best_epoch": 3}})
    with pytest.raises(bt.ConfigError, match=r"fold 0 model of student_fm_stream is not at .*pass --runs"):
        bt.build_tiny(row_name="student_fm_stream", results=state, run=tmp_path / "run", models=None,
                      data_root=str(data_root), threads=1, progress=False, runs=tmp_path / "no-runs")


def test_a_run_folder_belongs_to_one_row(tmp_path: Path):
    from edgeemo.recipes import function_matching as fm

    run = tmp_path / "run"
    bt.claim_run_folder(run, "student_fm_stream_x2", fm.Settings())
    bt.claim_run_folder(run, "student_fm_stream_x2", fm.Settings())  # the same row resumes
    with pytest.raises(bt.ConfigError, match=r"holds the build of student_fm_stream_x2 .*pass another --run"):
        bt.claim_run_folder(run, "student_fm_stream", fm.Settings())  # its fold scores would be reused
    with pytest.raises(bt.ConfigError, match="holds the build"):
        bt.claim_run_folder(run, "student_fm_stream_x2", fm.Settings(epochs=3))
    for damaged in ("{trunc", "[1, 2]"):  # not JSON; JSON but not an object
        (run / "row.json").write_text(damaged)
        with pytest.raises(bt.ConfigError, match="not a recipe state file.*pass another --run"):
            bt.claim_run_folder(run, "student_fm_stream_x2", fm.Settings())


def test_the_shipped_row_and_the_default_run_folder():
    from click.testing import CliRunner

    from edgeemo.recipes import function_matching as fm

    assert bt.SHIPPED_ROW in fm.ROW_BY_NAME
    out = CliRunner().invoke(bt.build_tiny_command, ["--help"]).output
    assert "runs/tiny-build/ROW" in out and bt.SHIPPED_ROW in out
