"""The Whisper-teacher recipe's plumbing on a synthetic feature bank: folds, conditions, report."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgeemo.train.data import N_FOLDS, RAVDESS_LABELS, Utterance

wt = pytest.importorskip("edgeemo.recipes.whisper_teachers", reason="needs the [train] extra")

CONDITIONS = ["clean", "floor_-50dBFS", "telephone_8k"]


def fake_bank(n_per_actor: int = 16, layers: int = 3, dim: int = 12) -> SimpleNamespace:
    rng = np.random.default_rng(0)
    utts, labels = [], []
    for actor in range(1, 21):
        for i in range(n_per_actor):
            label = RAVDESS_LABELS[i % len(RAVDESS_LABELS)]
            utts.append(Utterance(path=Path(f"a{actor}_{i}.wav"), label=label, speaker=f"s{actor}", actor=actor,
                                  split="train", fold=(actor - 1) // 4))
            labels.append(i % len(RAVDESS_LABELS))
    y = np.array(labels)
    centers = rng.standard_normal((len(RAVDESS_LABELS), dim)) * 2
    clean = rng.standard_normal((len(y), layers, dim)).astype(np.float32)
    clean[:, 1] += centers[y]
    noisy = clean + rng.standard_normal(clean.shape).astype(np.float32) * 3
    return SimpleNamespace(utts=utts, clean=clean, views=[clean + 0.1], y=y,
                           conditions={"clean": clean, "floor_-50dBFS": noisy, "telephone_8k": clean * 0.5},
                           au=rng.standard_normal((len(y), 5)).astype(np.float32))


def test_rows_score_every_condition_out_of_fold() -> None:
    bank = fake_bank()
    lr = wt.run_fold(wt.ROW_BY_NAME["whisper_lr_all"], 0, bank, bank.au, bank.y)
    test_folds = {bank.utts[i].fold for i in lr["test_index"]}
    assert test_folds == {0} and len(lr["test_index"]) == 4 * 16
    assert set(lr["pred"]) == set(CONDITIONS)
    assert lr["ua"]["clean"] > 90 and lr["ua"]["floor_-50dBFS"] < lr["ua"]["clean"]
    head = wt.run_fold(wt.ROW_BY_NAME["whisper_av_head_views"], 2, bank, bank.au, bank.y, epochs=12)
    assert set(head["pred"]) == {*CONDITIONS, "clean_with_video"}
    assert 1 <= head["epochs"] <= 12 and len(head["layer_weights"]) == 3
    assert head["ua"]["clean"] > 50  # chance is 12.5; 12 epochs on 192 synthetic rows


def test_summary_pairs_rows_and_writes_a_report(tmp_path: Path) -> None:
    bank = fake_bank()
    rows = [wt.ROW_BY_NAME["whisper_lr_all"], wt.ROW_BY_NAME["whisper_lr_layer2"]]
    results = {r.name: {k: wt.run_fold(r, k, bank, bank.au, bank.y) for k in range(N_FOLDS)} for r in rows}
    speakers = np.array([u.speaker for u in bank.utts])
    summary = wt._summary(rows, results, bank.y, speakers, CONDITIONS)
    assert set(summary) == {"whisper_lr_all", "whisper_lr_layer2"}
    s = summary["whisper_lr_layer2"]
    assert tuple(s["delta_vs_reference"]["folds"]) == tuple(range(N_FOLDS))
    assert s["interval_clean"]["low"] <= s["ua"]["clean"] + 1e-9
    assert s["worst"][1] in CONDITIONS[1:]
    text = wt._markdown(summary, CONDITIONS, {"size": "tiny.en", "views": 1, "feature_seconds": 1.0,
                                              "fit_seconds": 1.0, "command": "test"})
    assert "| whisper_lr_layer2 |" in text and "telephone_8k" in text
    wt._plot(summary, CONDITIONS, tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000


def test_an_ensemble_row_averages_three_heads_and_is_paired_with_its_single_head() -> None:
    bank = fake_bank()
    single, ensemble = wt.ROW_BY_NAME["whisper_av_head_views"], wt.ROW_BY_NAME["whisper_av_head_views_x3"]
    assert ensemble.heads == 3 and ensemble.single == single.name and ensemble.views == single.views
    results = {r.name: {k: wt.run_fold(r, k, bank, bank.au, bank.y, epochs=4) for k in range(N_FOLDS)}
               for r in (single, ensemble)}
    for k in range(N_FOLDS):
        one, three = results[single.name][k], results[ensemble.name][k]
        assert len(three["head_epochs"]) == 3 and "head_epochs" not in one
        # head 0 of the ensemble is the single head (same seed), so its epoch is the single row's
        assert three["head_epochs"][0] == one["epochs"]
        assert three["epochs"] == int(np.median(three["head_epochs"]))
        assert set(three["pred"]) == set(one["pred"])
    speakers = np.array([u.speaker for u in bank.utts])
    summary = wt._summary([single, ensemble], results, bank.y, speakers, CONDITIONS)
    d = summary[ensemble.name]["delta_vs_single"]
    assert set(d) == {"clean", "clean_with_video", "mean_degraded"}
    want = np.mean([results[ensemble.name][k]["ua"]["clean"] - results[single.name][k]["ua"]["clean"]
                    for k in range(N_FOLDS)])
    assert d["clean"]["mean"] == pytest.approx(want)
    assert "delta_vs_single" not in summary[single.name]
    text = wt._markdown(summary, CONDITIONS, {"size": "tiny.en", "views": 1, "feature_seconds": 1.0,
                                              "fit_seconds": 1.0, "command": "test"})
    assert "| whisper_av_head_views_x3 | whisper_av_head_views |" in text


def test_a_damaged_state_file_is_a_config_error(tmp_path: Path) -> None:
    from edgeemo.errors import ConfigError
    from edgeemo.recipes.report import read_state

    assert read_state(tmp_path / "none.json") == {}
    bad = tmp_path / "out.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="another --out"):
        read_state(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError):
        read_state(bad)
