"""The bundled model's card is written from measured numbers, for either recipe."""

from __future__ import annotations

import pytest

from edgeemo.recipes.build_default import DEFAULT_RECIPE, REPRODUCE, render_model_card
from edgeemo.train.trainer import TrainConfig

REPORT = {
    "scores": {"fp32 dev": {"ua": 0.61, "wa": 0.62, "f1": 0.6}, "int8 test": {"ua": 0.655, "wa": 0.642, "f1": 0.631}},
    "int8_bytes": 456 * 1024, "fp32_bytes": 728 * 1024, "frontend_constants": 173664,
    "parity_fp32": {"max_abs_diff": 2e-7}, "parity_int8_vs_fp32": {"top1_agreement": 0.97, "n_windows": 64},
}


def test_plain_card_has_the_measured_numbers_and_the_licence():
    card = render_model_card(REPORT, 96138, 61, TrainConfig().to_dict(), 780.0)
    assert "non-commercial use only" in card
    assert "| INT8 ONNX (this file) | n/a | 65.5 / 64.2 / 63.1 |" in card
    assert "distillation" not in card
    assert card.rstrip().endswith(REPRODUCE if DEFAULT_RECIPE == "plain" else f"{REPRODUCE} --recipe plain")


def test_distilled_card_names_the_teacher_and_losses():
    distill = {"teacher_dev": {"ua": 0.703, "wa": 0.7, "f1": 0.718}, "teacher_epoch": 6,
               "losses": {"triplet_weight": 1.0, "weighting": "confidence"}}
    card = render_model_card(REPORT, 96138, 61, TrainConfig().to_dict(), 780.0, distill=distill, recipe="distilled")
    row = next(line for line in card.splitlines() if line.startswith("| distillation |"))
    assert "epoch 6" in row and "dev UA 70.3" in row and "triplet_weight 1.0, weighting confidence" in row
    expected = REPRODUCE if DEFAULT_RECIPE == "distilled" else f"{REPRODUCE} --recipe distilled"
    assert card.rstrip().endswith(expected)


def test_unknown_recipe_is_refused():
    from edgeemo.recipes.build_default import main

    with pytest.raises(SystemExit):
        main(["--recipe", "magic"])


def test_a_missing_data_folder_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    from edgeemo.recipes.build_default import main

    monkeypatch.setenv("EDGEEMO_DATA", str(tmp_path / "nowhere"))
    assert main(["--run", str(tmp_path / "run"), "--models", str(tmp_path / "models")]) == 2
    assert "EDGEEMO_DATA=" in capsys.readouterr().err
    assert not (tmp_path / "models").exists()
