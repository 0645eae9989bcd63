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
    assert "T > 1 softens the scores" in card  # far from 1: the card says what the temperature corrects
    close = {**report, "calibration": {**report["calibration"], "temperature": 0.95, "ece_before_pooled": 0.03}}
    assert "A T this close to 1" in bt.render_card(close) and "T < 1 sharpens" not in bt.render_card(close)
    assert "edgeemo-tiny-ravdess.stream.onnx" in card and "3.0e-07" in card
    assert "| telephone_8k |" in card and "[11, 21, 31, 26, 13]" in card
    assert "per clip, mixup, no labels, 160 epochs on the folds" in card  # 40 × the row's epoch factor 4
    assert "talker views" in bt.render_card({**report, "row": "student_fm_talker_stream_x4"})
    assert "embedding regression to the teacher's embedding of the clean clip" in bt.render_card(
        {**report, "row": "student_fm_cleanemb_stream_x4"}) and "clean clip" not in card
    frames_card = bt.render_card({**report, "row": "student_fm_frames_cleanemb_stream_x8"})
    assert "clean clip; each column of the student's trunk also regresses Whisper tiny.en's layer 2 frames" in frames_card
    assert "frames of its" not in card and "one head per layer" not in frames_card
    two_layers = bt.render_card({**report, "row": "student_fm_frames24_cleanemb_stream_x4"})
    assert "regresses Whisper tiny.en's layers 2 and 4 frames of its 100 ms (1 - cos, weight 1, one head per layer)" \
        in two_layers
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


def test_last_epoch_fold_weights_train_the_whole_schedule(tmp_path: Path):
    from edgeemo.recipes import function_matching as fm

    row, settings = bt.ROW_BY_NAME["student_fm_stream_x4"], fm.Settings()
    per_fold = {k: {"best_epoch": e, "teacher": {"best_epoch": t}, "last": {"ua": {"clean": 60.0}}}
                for k, (e, t) in enumerate([(10, 3), (20, 5), (30, 7), (25, 2), (12, 9)])}
    assert bt.final_epochs_at_last_epoch(per_fold, row, settings) == (160, 5)  # 40 × 4; the teacher's median
    del per_fold[3]["last"]
    with pytest.raises(bt.ConfigError, match=r"folds \[3\] .*--rescore-last"):
        bt.final_epochs_at_last_epoch(per_fold, row, settings)
    run = tmp_path / "run"
    bt.claim_run_folder(run, row.name, settings, "last-epoch")
    with pytest.raises(bt.ConfigError, match="fold weights last-epoch.*dev-choice"):
        bt.claim_run_folder(run, row.name, settings)  # its fold scores are of other weights
    report = {"epochs": 160, "teacher_epochs": 5, "fold_epochs": [11, 21], "fold_weights": "last-epoch", "row": row.name}
    assert "160 student: the folds' whole schedule" in bt._epochs_in_words(report)
    assert bt._weights_option(report) == " --fold-weights last-epoch" and bt._weights_option({}) == ""
    assert "dev-chosen [11, 21]" in bt._epochs_in_words({**report, "fold_weights": "dev-choice"})


@pytest.mark.slow
def test_a_last_epoch_fold_model_is_the_runs_moving_average(tmp_path: Path):
    import torch

    from edgeemo.recipes import function_matching as fm
    from edgeemo.train.checkpoint import load_checkpoint, save_checkpoint
    from edgeemo.train.data import RAVDESS_LABELS
    from edgeemo.train.models.student import StudentConfig, StudentNet

    row, settings = bt.ROW_BY_NAME["student_fm_stream_x4"], fm.Settings()
    model = StudentNet(StudentConfig(labels=RAVDESS_LABELS, channels=(4, 8), embedding_dim=16))
    raw = {k: v.clone() for k, v in model.state_dict().items()}
    ema = {k: (v + 1.0 if v.is_floating_point() else v.clone()) for k, v in raw.items()}
    run_dir = tmp_path / "runs" / settings.key() / row.name / "fold2"
    config = {"kind": "student", "model": model.cfg.to_dict(), "epoch": 159}
    save_checkpoint(run_dir / "best", config={**config, "epoch": 100}, weights=raw)
    save_checkpoint(run_dir / "last", config=config, weights=raw, trainer_state={"ema": ema})
    work = tmp_path / "work"
    assert bt.fold_checkpoint(row, settings, tmp_path / "runs", work, 2) == run_dir / "best"
    got = bt.fold_checkpoint(row, settings, tmp_path / "runs", work, 2, "last-epoch")
    weights = load_checkpoint(got).weights
    assert got == work / "fold2-last-ema" and all(torch.equal(weights[k], ema[k]) for k in ema)
    save_checkpoint(run_dir / "last", config={**config, "epoch": 150}, weights=raw, trainer_state={"ema": ema})
    with pytest.raises(bt.ConfigError, match="stopped at epoch 151 of 160"):
        bt.fold_checkpoint(row, settings, tmp_path / "runs", tmp_path / "work2", 2, "last-epoch")
