"""The small-student recipe's plumbing on synthetic window statistics: folds, window -> clip
averaging, conditions, the summary and the cross-fitted calibration of the build."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edgeemo.train.data import N_FOLDS, RAVDESS_LABELS, Utterance

ss = pytest.importorskip("edgeemo.recipes.small_student", reason="needs the [train] extra")
bs = pytest.importorskip("edgeemo.recipes.build_small", reason="needs the [train] extra")


def fake_bank(n_per_actor: int = 16, dim: int = 12, confusing: float = 0.0) -> SimpleNamespace:
    """Two or three windows per clip; the class signal sits in state 2 (so k = 1 cannot see it)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.small_features import WindowFeatures, variant_names

    rng = np.random.default_rng(0)
    utts, labels = [], []
    for actor in range(1, 21):
        for i in range(n_per_actor):
            utts.append(Utterance(path=Path(f"a{actor}_{i}.wav"), label=RAVDESS_LABELS[i % 8], speaker=f"s{actor}",
                                  actor=actor, split="train", fold=(actor - 1) // 4))
            labels.append(i % 8)
    y = np.array(labels)
    centers = rng.standard_normal((8, dim)) * 2
    variants: dict[str, list[np.ndarray]] = {}
    for name in variant_names(1, list(EVAL_CONDITIONS)):
        noise = 3.0 if name == "eval-white_10dB" else 1.0
        per = []
        for c in range(len(y)):
            n_win = 2 + c % 2
            x = rng.standard_normal((n_win, 5, dim)) * noise
            x[:, 2] += centers[y[c]] * (1 - confusing)
            per.append(x.astype(np.float16))
        variants[name] = per
    return SimpleNamespace(utts=utts, n_views=1, features=WindowFeatures(variants, 0, 0.0, Path(".")))


def test_fold_scores_clips_out_of_fold_under_every_condition() -> None:
    from edgeemo.train.degrade import EVAL_CONDITIONS

    bank = fake_bank()
    y = ss._labels(bank.utts)
    r = ss.run_fold(ss.ROW_BY_NAME["small_k2_views"], 1, bank, y, epochs=10)
    assert {bank.utts[i].fold for i in r["test_index"]} == {1} and len(r["test_index"]) == 64
    assert set(r["pred"]) == set(EVAL_CONDITIONS)
    wp, owner = np.asarray(r[ss.WINDOW_PROBS]), np.asarray(r[ss.WINDOW_CLIPS])
    assert wp.shape == (len(owner), 8) and np.allclose(wp.sum(axis=1), 1, atol=1e-3)
    assert len(owner) == sum(2 + c % 2 for c in r["test_index"])
    # a clip's prediction is the argmax of the mean of its window probabilities
    clip_mean = np.stack([wp[owner == c].mean(axis=0) for c in r["test_index"]])
    assert r["pred"]["clean"] == clip_mean.argmax(axis=1).tolist()
    assert r["ua"]["clean"] > 90 and r["ua"]["white_10dB"] < r["ua"]["clean"]
    assert len(r["layer_weights"]) == 3
    # k = 1 sees states 0-1 only, which carry no class signal here
    k1 = ss.run_fold(ss.ROW_BY_NAME["small_k1_views"], 1, bank, y, epochs=10)
    assert k1["ua"]["clean"] < 40


def test_summary_deltas_and_cross_fitted_calibration(tmp_path: Path) -> None:
    bank = fake_bank(confusing=0.8)
    y = ss._labels(bank.utts)
    results = {name: {k: ss.run_fold(ss.ROW_BY_NAME[name], k, bank, y, epochs=4) for k in range(N_FOLDS)}
               for name in ("small_k2_clean", "small_k2_views")}
    from edgeemo.train.degrade import EVAL_CONDITIONS

    speakers = np.array([u.speaker for u in bank.utts])
    summary = ss.summarize_rows(results, y, speakers, list(EVAL_CONDITIONS), [r.name for r in ss.ROWS], ss.REFERENCE)
    s = summary["small_k2_views"]
    assert tuple(s["delta_vs_reference"]["folds"]) == tuple(range(N_FOLDS))
    assert "delta_vs_reference" not in summary["small_k2_clean"]
    assert len(s["epochs"]) == N_FOLDS and s["worst"][1] != "clean"
    md = ss._markdown(summary, list(EVAL_CONDITIONS), {"command": "test", "feature_seconds": 0, "fit_seconds": 0})
    assert "| small_k2_views |" in md and "white_10dB" in md
    # the saved results round-trip (window probabilities as float16 beside the JSON)
    path = tmp_path / "small.json"
    ss.save_results(path, {"views": 1}, results, summary)
    loaded = ss.load_results(path)
    assert loaded["small_k2_views"][3]["pred"] == results["small_k2_views"][3]["pred"]
    assert np.allclose(loaded["small_k2_views"][3][ss.WINDOW_PROBS], results["small_k2_views"][3][ss.WINDOW_PROBS],
                       atol=1e-3)
    assert path.stat().st_size < 200_000
    cal = bs.cross_fitted_calibration(loaded["small_k2_views"], y)
    assert 0.05 <= cal["temperature"] <= 20 and len(cal["fold_temperatures"]) == N_FOLDS
    assert cal["ece_after"] <= cal["ece_before"] + 0.02


def test_build_refuses_missing_results(tmp_path: Path) -> None:
    from edgeemo.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist: run `edgeemo recipe small-finetune`"):
        bs.build_small(run=tmp_path / "run", models=tmp_path / "models", results=tmp_path / "none.json",
                       row="small_k2_views", data=None, seed=0)
    with pytest.raises(ConfigError, match="fine-tunes the encoder.*--checkpoint"):
        bs.build_small(run=tmp_path / "run", models=tmp_path / "models", results=tmp_path / "none.json",
                       row="ft_all_k3", data=None, seed=0)
    with pytest.raises(ConfigError, match="unknown row"):
        bs.build_small(run=tmp_path / "run", models=tmp_path / "models", results=tmp_path / "none.json",
                       row="nope", data=None, seed=0)


def test_build_takes_only_the_final_model_of_its_row(tmp_path: Path) -> None:
    """A fine-tuned row ships the checkpoint trained for the median of its folds' epochs, nothing else."""
    from edgeemo.errors import ConfigError
    from edgeemo.train.models.whisper_small import SmallConfig, WhisperSmall, save_small

    assert bs._row_spec("ft_all_k3") == bs._RowSpec(3, True, True)
    assert bs._row_spec("frozen_k3").fine_tuned is False
    assert bs._row_spec("small_k2_clean") == bs._RowSpec(2, False, False)
    cfg = SmallConfig(labels=RAVDESS_LABELS, n_layers=3, d_model=32, n_heads=2, ffn_dim=64, hidden=16)
    folder = save_small(WhisperSmall(cfg), tmp_path / "final", {"row": "ft_all_k3", "epochs": 6})
    model, provenance = bs._checkpoint_model(folder, bs._row_spec("ft_all_k3"), "ft_all_k3", 6)
    assert model.cfg.n_layers == 3 and len(provenance["checkpoint_sha256"]) == 64
    with pytest.raises(ConfigError, match="trained for 6 epochs, the folds of ft_all_k3 say 7"):
        bs._checkpoint_model(folder, bs._row_spec("ft_all_k3"), "ft_all_k3", 7)
    with pytest.raises(ConfigError, match="not 'ft_top_k3'"):
        bs._checkpoint_model(folder, bs._row_spec("ft_top_k3"), "ft_top_k3", 6)
