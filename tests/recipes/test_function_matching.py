"""The function-matching recipe's plumbing: summary over partial folds, two writers, the report, the CLI."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np
import pytest

fm = pytest.importorskip("edgeemo.recipes.function_matching", reason="needs the [train] extra")

CONDITIONS = ["clean", "floor_-50dBFS", "telephone_8k"]


def _fake_results(rng: np.random.Generator, folds=(0, 1), rows=("student_labels", "student_fm"), per_fold: int = 16):
    """Predictions on ``per_fold`` clips of each fold (4 speakers each); student_fm is more often right."""
    n = 5 * per_fold
    y = rng.integers(0, 8, size=n)
    speakers = np.array([f"s{(i // per_fold) * 4 + i % 4}" for i in range(n)])
    results: dict[str, dict[int, dict]] = {}
    for r, name in enumerate(rows):
        for k in folds:
            index = np.arange(k * per_fold, (k + 1) * per_fold)
            pred = {}
            for c, cond in enumerate(CONDITIONS):
                right = rng.random(per_fold) < 0.5 + 0.2 * r - 0.1 * c
                pred[cond] = np.where(right, y[index], (y[index] + 1) % 8).tolist()
            ua = {c: 100 * fm.unweighted_accuracy(y[index], np.array(p), 8) for c, p in pred.items()}
            results.setdefault(name, {})[k] = {"fold": k, "test_index": index.tolist(), "pred": pred, "ua": ua,
                                               "dev_ua": 50.0, "best_epoch": 3, "seconds": 60.0,
                                               **({"teacher": {"test_ua": {c: 70.0 for c in CONDITIONS}}}
                                                  if name != "student_labels" else {})}
    return results, y, speakers


def test_summary_over_the_folds_measured_and_the_report(tmp_path: Path):
    results, y, speakers = _fake_results(np.random.default_rng(0))
    summary = fm.summarize(results, y, speakers, CONDITIONS)
    assert list(summary) == ["student_labels", "student_fm"]
    s = summary["student_fm"]
    assert s["folds"] == [0, 1] and tuple(s["delta"]["folds"]) == (0, 1)
    assert s["delta"]["mean"] == pytest.approx(s["ua"]["clean"] - summary["student_labels"]["ua"]["clean"])
    assert s["delta_interval"]["low"] <= s["delta_interval"]["estimate"] <= s["delta_interval"]["high"]
    assert "delta" not in summary["student_labels"] and s["teacher_ua"]["clean"] == 70.0
    text = fm.render_markdown(summary, CONDITIONS, {"epochs": 40, "views": 4, "size": "tiny.en", "command": "--x"})
    assert "| student_fm | 0,1 |" in text and "telephone_8k" in text and "teacher head itself" in text
    assert "(views per clip: 4 standard; folds of `student_fm`)" in text
    fm.render_plot(summary, CONDITIONS, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    one, _, _ = _fake_results(np.random.default_rng(1), folds=(0,))
    assert fm.summarize(one, y, speakers, CONDITIONS)["student_fm"]["ua_sd"]["clean"] is None  # one fold: no sd


def test_a_row_is_also_paired_with_its_controls():
    rows = ("student_labels", "student_labels_stream_x2", "student_labels_views_stream_x2", "student_fm_stream_x2")
    results, y, speakers = _fake_results(np.random.default_rng(2), folds=(0, 1, 2), rows=rows)
    del results["student_labels_stream_x2"][2]  # the control has two folds so far: Δ over those
    summary = fm.summarize(results, y, speakers, CONDITIONS)
    s, control = summary["student_fm_stream_x2"], summary["student_labels_stream_x2"]
    first, second = s["controls"]
    assert first["row"] == "student_labels_stream_x2" and tuple(first["delta"]["folds"]) == (0, 1)
    assert second["row"] == "student_labels_views_stream_x2" and tuple(second["delta"]["folds"]) == (0, 1, 2)
    by_fold = [results["student_fm_stream_x2"][k]["ua"]["clean"] - results["student_labels_stream_x2"][k]["ua"]["clean"]
               for k in (0, 1)]
    assert first["delta"]["mean"] == pytest.approx(np.mean(by_fold))
    assert tuple(s["delta"]["folds"]) == (0, 1, 2) and "controls" not in control  # still paired with student_labels
    text = fm.render_markdown(summary, CONDITIONS, {"epochs": 40, "views": 4, "size": "tiny.en", "command": "--x"})
    assert "| student_fm_stream_x2 | student_labels_stream_x2 | 0,1 |" in text
    assert "| student_fm_stream_x2 | student_labels_views_stream_x2 | 0,1,2 |" in text
    del results["student_labels_stream_x2"]
    assert [c["row"] for c in fm.summarize(results, y, speakers, CONDITIONS)["student_fm_stream_x2"]["controls"]] == [
        "student_labels_views_stream_x2"]
    del results["student_labels_views_stream_x2"]
    assert "controls" not in fm.summarize(results, y, speakers, CONDITIONS)["student_fm_stream_x2"]


def test_the_kl_only_row_drops_the_embedding_target():
    row = fm.ROW_BY_NAME["student_fm_kl_stream_x2"]
    ref = fm.ROW_BY_NAME["student_fm_stream_x2"]
    assert row.fm == {**ref.fm, "embedding_weight": 0.0} and row.model == ref.model and row.augment == ref.augment
    assert row.epoch_factor == ref.epoch_factor and set(row.controls) <= set(fm.ROW_BY_NAME)


def _writer(path: str, row: str, n: int) -> None:
    settings = fm.Settings(epochs=2)
    for k in range(n):
        fm._store(Path(path), settings, row, k, {"fold": k, "row": row})


def test_two_processes_share_one_state_file(tmp_path: Path):
    path = tmp_path / "out.json"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), row, 25)) for row in ("student_labels", "student_fm")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    got = fm._load(path, fm.Settings(epochs=2))
    assert {r: sorted(v) for r, v in got.items()} == {"student_labels": list(range(25)), "student_fm": list(range(25))}
    assert fm._load(path, fm.Settings(epochs=3)) == {}  # other settings never mix


def test_rows_and_the_cli_mount():
    from edgeemo.recipes.cli import RECIPE_COMMANDS

    assert [r.name for r in fm.ROWS] == ["student_labels", "student_labels_views", "student_fm", "student_fm_label",
                                         "student_fm_stream", "student_fm_stream_x2",
                                         "student_labels_stream_x2", "student_labels_views_stream_x2",
                                         "student_fm_kl_stream_x2", "student_fm_stream_x4",
                                         "student_labels_stream_x4", "student_labels_views_stream_x4",
                                         "student_fm_talker_stream_x4", "student_fm_v8_stream_x4",
                                         "student_fm_label_stream_x4", "student_fm_clean_stream_x4",
                                         "student_fm_cleanemb_stream_x4", "student_fm_babble_stream_x4",
                                         "student_fm_babble_ckd_stream_x4", "student_fm_tbabble_ckd_stream_x4",
                                         "student_fm_b1_tbabble_ckd_stream_x4", "student_fm_t3_stream_x4",
                                         "student_fm_stream_x8", "student_labels_stream_x8",
                                         "student_fm_b1_tbabble_ckd_stream_x8", "student_fm_cleanemb_stream_x8",
                                         "student_fm_ftcleanemb_stream_x4", "student_fm_xfit_cleanemb_stream_x4",
                                         "student_fm_xfit_label_cleanemb_stream_x4",
                                         "student_fm_talker_cleanemb_stream_x4",
                                         "student_fm_frames_cleanemb_stream_x4",
                                         "student_fm_frames_cleanemb_stream_x8",
                                         "student_fm_frames4_cleanemb_stream_x4",
                                         "student_fm_frames24_cleanemb_stream_x4",
                                         "student_fm_frames_w2_cleanemb_stream_x4",
                                         "student_labels_views_babble_stream_x4"]
    from edgeemo.train.views import VIEW_KINDS

    def recipe(r):  # everything but the schedule
        return {k: v for k, v in r.__dict__.items() if k not in ("name", "description", "epoch_factor", "controls")}

    for row in fm.ROWS:  # every control is a row with the same student: the same schedule, or only a shorter one
        assert row.view_kind in VIEW_KINDS, row.name
        for control in row.controls:
            other = fm.ROW_BY_NAME[control]
            assert other.model == row.model, (row.name, control)
            assert other.epoch_factor == row.epoch_factor or (
                other.epoch_factor < row.epoch_factor and recipe(other) == recipe(row)), (row.name, control)
    for name in ("student_fm_stream", "student_labels_stream", "student_fm_b1_tbabble_ckd_stream",
                 "student_fm_cleanemb_stream", "student_fm_frames_cleanemb_stream"):  # x8: x4 twice as long, nothing else
        x4, x8 = fm.ROW_BY_NAME[name + "_x4"], fm.ROW_BY_NAME[name + "_x8"]
        assert recipe(x4) == recipe(x8) and (x4.epoch_factor, x8.epoch_factor) == (4, 8)
    talker, plain = fm.ROW_BY_NAME["student_fm_talker_stream_x4"], fm.ROW_BY_NAME["student_fm_stream_x4"]
    assert talker.view_kind == "talker" and plain.view_kind == "standard"
    assert (talker.fm, talker.augment, talker.views) == (plain.fm, plain.augment, plain.views)  # only the views differ
    v8 = fm.ROW_BY_NAME["student_fm_v8_stream_x4"]
    assert (v8.fm, v8.augment, v8.model, v8.view_kind) == (plain.fm, plain.augment, plain.model, plain.view_kind)
    assert (v8.view_count(4), plain.view_count(4), plain.view_count(2)) == (8, 4, 2)
    t3 = fm.ROW_BY_NAME["student_fm_t3_stream_x4"]  # only the teacher differs: three heads instead of one
    assert (t3.teacher_heads, plain.teacher_heads) == (3, 1)
    assert (t3.fm, t3.augment, t3.model, t3.view_sets(4), t3.teacher_view_sets(4), t3.teacher_clean_kd) == (
        plain.fm, plain.augment, plain.model, plain.view_sets(4), plain.teacher_view_sets(4), plain.teacher_clean_kd)
    assert fm.ROW_BY_NAME["student_fm_stream"].model == fm.STREAMABLE_MODEL
    assert fm.ROW_BY_NAME["student_fm"].fm == {"label_weight": 0.0}
    assert fm.ROW_BY_NAME["student_fm_label"].fm == {"label_weight": 0.5}
    with_labels = fm.ROW_BY_NAME["student_fm_label_stream_x4"]
    assert with_labels.fm == {"label_weight": 0.5} and (with_labels.augment, with_labels.model) == (plain.augment, plain.model)
    clean_targets = fm.ROW_BY_NAME["student_fm_clean_stream_x4"]  # only where the targets come from differs
    assert clean_targets.fm == {**plain.fm, "teacher_view": "clean"}
    assert (clean_targets.augment, clean_targets.model, clean_targets.epoch_factor) == (plain.augment, plain.model, 4)
    clean_embedding = fm.ROW_BY_NAME["student_fm_cleanemb_stream_x4"]
    assert clean_embedding.fm == {**plain.fm, "embedding_view": "clean"}
    cross_fitted = fm.ROW_BY_NAME["student_fm_xfit_cleanemb_stream_x4"]  # only the teacher's kind differs
    assert (cross_fitted.teacher, clean_embedding.teacher) == ("head_xfit", "head")
    assert {**cross_fitted.__dict__, "name": "", "description": "", "teacher": "", "controls": ()} == {
        **clean_embedding.__dict__, "name": "", "description": "", "teacher": "", "controls": ()}
    xfit_label = fm.ROW_BY_NAME["student_fm_xfit_label_cleanemb_stream_x4"]  # + the label term, nothing else
    assert xfit_label.fm == {**cross_fitted.fm, "label_weight": 0.5} and xfit_label.teacher == "head_xfit"
    assert (xfit_label.augment, xfit_label.model, xfit_label.epoch_factor, xfit_label.views) == (
        cross_fitted.augment, cross_fitted.model, 4, True)
    talker_clean = fm.ROW_BY_NAME["student_fm_talker_cleanemb_stream_x4"]  # only the views' kind differs
    assert (talker_clean.view_kind, [v.tag for v in talker_clean.view_sets(4)]) == ("talker", ["view-talker"])
    assert {**talker_clean.__dict__, "name": "", "description": "", "view_kind": "", "controls": ()} == {
        **clean_embedding.__dict__, "name": "", "description": "", "view_kind": "", "controls": ()}
    frames = fm.ROW_BY_NAME["student_fm_frames_cleanemb_stream_x4"]  # + the frame term, nothing else
    assert frames.fm == {**clean_embedding.fm, "frame_weight": 1.0, "frame_layer": 2}
    assert {**frames.__dict__, "name": "", "description": "", "fm": None, "controls": ()} == {
        **clean_embedding.__dict__, "name": "", "description": "", "fm": None, "controls": ()}
    last_layer = fm.ROW_BY_NAME["student_fm_frames4_cleanemb_stream_x4"]  # only the layer differs
    assert last_layer.fm == {**frames.fm, "frame_layer": 4}
    assert {**last_layer.__dict__, "name": "", "description": "", "fm": None, "controls": ()} == {
        **frames.__dict__, "name": "", "description": "", "fm": None, "controls": ()}
    two_layers = fm.ROW_BY_NAME["student_fm_frames24_cleanemb_stream_x4"]  # + layer 4's frames, own head
    weight_two = fm.ROW_BY_NAME["student_fm_frames_w2_cleanemb_stream_x4"]  # layer 2's frames at twice the weight
    assert two_layers.fm == {**frames.fm, "frame_extra_layers": (4,)}
    assert weight_two.fm == {**frames.fm, "frame_weight": 2.0}
    for row in (two_layers, weight_two):
        assert {**row.__dict__, "name": "", "description": "", "fm": None, "controls": ()} == {
            **frames.__dict__, "name": "", "description": "", "fm": None, "controls": ()}
    from edgeemo.train.distill.function_matching import FunctionMatchingConfig

    assert FunctionMatchingConfig.from_dict(two_layers.fm).frame_layers == (2, 4)
    assert FunctionMatchingConfig.from_dict(weight_two.fm).frame_layers == (2,)
    babble, ckd = fm.ROW_BY_NAME["student_fm_babble_stream_x4"], fm.ROW_BY_NAME["student_fm_babble_ckd_stream_x4"]
    labels_babble = fm.ROW_BY_NAME["student_labels_views_babble_stream_x4"]
    for row in (babble, ckd):  # the views (and the teacher's refit) are all that differ from the plain row
        assert (row.fm, row.augment, row.model, row.epoch_factor) == (plain.fm, plain.augment, plain.model, 4)
    assert babble.extra_views == ckd.extra_views == labels_babble.extra_views == (("babble", 4),)
    assert (plain.teacher_clean_kd, babble.teacher_clean_kd, ckd.teacher_clean_kd) == (0.0, 0.0, 0.5)
    assert labels_babble.fm is None and labels_babble.augment == fm.ROW_BY_NAME["student_labels_views_stream_x4"].augment
    assert (babble.view_count(4), babble.views_label(4), plain.views_label(4)) == (8, "4 standard + 4 babble", "4 standard")
    assert [(v.tag, v.seeds) for v in babble.view_sets(4)] == [("view", (1, 2, 3, 4)), ("view-babble", (1, 2, 3, 4))]
    assert [(v.tag, v.seeds) for v in v8.view_sets(4)] == [("view", tuple(range(1, 9)))]
    assert babble.teacher_view_sets(4) == babble.view_sets(4)  # teacher and student see the same views
    teacher_only = fm.ROW_BY_NAME["student_fm_tbabble_ckd_stream_x4"]  # the student keeps the standard views
    assert teacher_only.view_sets(4) == plain.view_sets(4) and teacher_only.teacher_view_sets(4) == ckd.view_sets(4)
    assert (teacher_only.views_label(4), teacher_only.views_label(4, teacher=True)) == ("4 standard",
                                                                                          "4 standard + 4 babble")
    assert (teacher_only.fm, teacher_only.model, teacher_only.teacher_clean_kd) == (plain.fm, plain.model, 0.5)
    one_babble = fm.ROW_BY_NAME["student_fm_b1_tbabble_ckd_stream_x4"]  # the first of the teacher's babble views
    assert [(v.tag, v.seeds) for v in one_babble.view_sets(4)] == [("view", (1, 2, 3, 4)), ("view-babble", (1,))]
    assert one_babble.teacher_view_sets(4) == teacher_only.teacher_view_sets(4)  # the same teacher: one fit
    assert (one_babble.views_label(4), one_babble.views_label(4, teacher=True)) == ("4 standard + 1 babble",
                                                                                        "4 standard + 4 babble")
    assert (one_babble.fm, one_babble.model, one_babble.teacher_clean_kd) == (plain.fm, plain.model, 0.5)
    split = fm.Row("x", "x", views=True, extra_views=(("babble", 2), ("standard", 2)),
                   teacher_extra_views=(("standard", 1),))  # a kind's seeds go on where it stopped
    assert [(v.tag, v.seeds) for v in split.view_sets(4, teacher=True)] == [
        ("view", (1, 2, 3, 4)), ("view-babble", (1, 2)), ("view", (5, 6, 7))]
    assert split.views_label(4, teacher=True) == "4 standard + 2 babble + 3 standard"
    assert fm.merge_view_parts([("babble", 1), ("babble", 3), ("standard", 2)]) == [("babble", 4), ("standard", 2)]
    assert "function-matching" in RECIPE_COMMANDS
    with pytest.raises(fm.ConfigError, match="unknown row"):
        fm.run_function_matching(Path("/nonexistent/x"), fm.Settings(), rows=["student_kd"])


def test_the_last_epoch_is_summarised_beside_the_dev_choice():
    results, y, speakers = _fake_results(np.random.default_rng(4), folds=(0, 1, 2))
    later, _, _ = _fake_results(np.random.default_rng(5), folds=(0, 1, 2))
    for name in ("student_labels", "student_fm"):
        for k in (0, 1):  # fold 2 has no last-epoch scores (a run scored before they existed)
            results[name][k]["last"] = {"epoch": 9, "weights": "ema", "pred": later[name][k]["pred"],
                                        "ua": later[name][k]["ua"]}
    last = fm.at_last_epoch(results)
    assert {n: sorted(per) for n, per in last.items()} == {"student_labels": [0, 1], "student_fm": [0, 1]}
    assert last["student_fm"][1]["ua"] == later["student_fm"][1]["ua"] and results["student_fm"][1]["ua"] != last[
        "student_fm"][1]["ua"]
    vs = fm.last_vs_dev_choice(results, CONDITIONS)
    by_fold = [later["student_fm"][k]["ua"]["clean"] - results["student_fm"][k]["ua"]["clean"] for k in (0, 1)]
    assert vs["student_fm"]["delta"]["mean"] == pytest.approx(np.mean(by_fold))
    assert tuple(vs["student_fm"]["delta"]["folds"]) == (0, 1)
    summary, summary_last = (fm.summarize(r, y, speakers, CONDITIONS) for r in (results, last))
    assert summary["student_fm"]["folds"] == [0, 1, 2] and summary_last["student_fm"]["folds"] == [0, 1]
    text = fm.render_markdown(summary, CONDITIONS, {"epochs": 40, "views": 4, "size": "tiny.en", "command": "--x"},
                              summary_last, vs)
    section = text[text.index("## At the end of the schedule"):]
    assert "| student_fm | 0,1 |" in section and "Rows:" in section
    assert "| student_fm | 0,1,2 |" in text[: text.index("## At the end of the schedule")]
    assert fm.at_last_epoch({"student_fm": {0: {"ua": {}, "pred": {}}}}) == {}


def test_an_unfinished_run_has_no_last_epoch_score(tmp_path: Path):
    from edgeemo.errors import ConfigError
    from edgeemo.train.checkpoint import save_checkpoint

    save_checkpoint(tmp_path / "last", config={"kind": "student", "epoch": 4}, weights={}, trainer_state={"ema": {}})
    with pytest.raises(ConfigError, match="stopped at epoch 5 of 10"):
        fm.score_last_epoch(tmp_path, 10, {}, np.zeros(0, dtype=int))
    save_checkpoint(tmp_path / "last", config={"kind": "student", "epoch": 9}, weights={}, trainer_state={})
    with pytest.raises(ConfigError, match="no moving-average weights"):
        fm.last_epoch_ema(tmp_path, 10)
    with pytest.raises(ConfigError, match="no finished run at .*train it first"):
        fm.last_epoch_ema(tmp_path / "elsewhere", 10)
    assert not fm._same_run(tmp_path, {"best_epoch": 3, "dev_ua": 50.0})  # no dev-chosen checkpoint: not that run


@pytest.mark.slow
def test_the_last_epoch_score_is_the_ema_of_a_real_run(tmp_path: Path, data_root: Path):
    from edgeemo.train.checkpoint import load_checkpoint
    from edgeemo.train.data import RAVDESS_LABELS, label_indices, load_ravdess, load_waves
    from edgeemo.train.models.student import load_student
    from edgeemo.train.trainer import StudentTrainer, TrainConfig, predict_clips

    utts = load_ravdess(data_root)
    train = [u for u in utts if u.split == "train"][:24]
    dev = [u for u in utts if u.split == "dev"][:8]
    cfg = TrainConfig.from_dict(dict(out_dir=str(tmp_path / "run"), epochs=2, batch_size=8, max_steps_per_epoch=2,
                                     channels=(4, 8), embedding_dim=16, num_threads=1, warmup_epochs=1, seed=3))
    StudentTrainer(cfg, utterances=train + dev, progress=False).fit()
    waves, y = {"clean": load_waves(dev, 16000)}, label_indices(dev, RAVDESS_LABELS)
    last = fm.score_last_epoch(tmp_path / "run", 2, waves, y)
    assert (last["epoch"], last["weights"]) == (1, "ema") and len(last["pred"]["clean"]) == len(dev)
    model, _ = load_student(tmp_path / "run" / "last")
    raw = predict_clips(model, waves["clean"])
    model.load_state_dict(load_checkpoint(tmp_path / "run" / "last", with_state=True).trainer_state["ema"])
    ema = predict_clips(model, waves["clean"])
    assert not np.allclose(raw, ema)  # the moving average is not the raw weights
    assert last["pred"]["clean"] == ema.argmax(1).tolist()
    assert last["ua"]["clean"] == pytest.approx(100 * fm.unweighted_accuracy(y, ema.argmax(1), 8))
    with pytest.raises(fm.ConfigError, match="stopped at epoch 2 of 3"):
        fm.score_last_epoch(tmp_path / "run", 3, waves, y)


def test_dev_every_reaches_the_trainer_and_defines_no_result(tmp_path: Path):
    row = fm.ROW_BY_NAME["student_labels_stream_x8"]
    cfg = fm._train_config(row, 2, fm.Settings(), tmp_path / "run", 1, dev_every=4)
    assert (cfg.dev_every, cfg.epochs, tuple(cfg.train_folds), tuple(cfg.dev_folds)) == (4, 320, (0, 1, 4), (3,))
    from edgeemo.train.trainer import _result_defining

    plain = fm._train_config(row, 2, fm.Settings(), tmp_path / "run", 1)
    assert plain.dev_every == 1 and _result_defining(cfg.to_dict()) == _result_defining(plain.to_dict())
