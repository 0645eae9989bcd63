"""MELD training driver: a short run on the invented MELD fixture with random text features."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

torch.set_num_threads(1)

from edgeemo.errors import ConfigError
from edgeemo.train.dialogue import cli
from edgeemo.train.dialogue.graph.cogmen import load_checkpoint
from edgeemo.train.dialogue.graph import train_meld
from edgeemo.train.dialogue.graph.train_meld import CogmenTrainConfig, load_meld, train
from edgeemo.train.metrics import class_report

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dialogue"


@pytest.mark.slow  # trains a model
def test_train_writes_checkpoint_metrics_and_figure(tmp_path: Path) -> None:
    dset = load_meld(FIX / "meld_release")  # release-CSV folder is detected
    assert [d.dialogue_id for d in dset.dialogues][:2] == ["train_0", "train_1"]
    rng = np.random.default_rng(0)
    dset = dset.replace_dialogues(
        d.with_features({"text": rng.standard_normal((d.n_utterances, 16))}) for d in dset.dialogues
    )
    fig = tmp_path / "img" / "cm.png"
    cfg = CogmenTrainConfig(out=str(tmp_path / "run"), epochs=3, patience=5, batch_size=2, proj_dim=16, hidden=8,
                      seq_layers=1, gnn_heads=1, progress=False, figure=str(fig), class_weighted=True)
    res = train(cfg, dset)
    out = tmp_path / "run"
    assert (out / "best.safetensors").is_file() and fig.is_file() and (out / "confusion_test.png").is_file()
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test"]["n"] == 5 and saved["dev"]["n"] == 2
    assert 1 <= saved["best_epoch"] <= 3 and len(saved["history"]) == 3
    for key in ("weighted_f1", "ua", "accuracy", "macro_f1"):
        assert 0.0 <= res["test"][key] <= 1.0
    model, extra = load_checkpoint(out / "best.safetensors")
    assert extra["label_names"] == dset.label_names and extra["graph"]["n_speakers"] == cfg.n_speakers
    assert model.config.input_dims == {"text": 16}
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_metrics_definitions() -> None:
    y = np.array([0, 0, 0, 0, 1, 2])
    p = np.array([0, 0, 0, 1, 1, 0])
    m = class_report(y, p, 3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["ua"] == pytest.approx((3 / 4 + 1 + 0) / 3)  # macro recall
    # weighted F1: per-class F1 weighted by support (4, 1, 1)
    f0, f1, f2 = 2 * 0.75 * 0.75 / 1.5, 2 * 0.5 * 1 / 1.5, 0.0
    assert m["weighted_f1"] == pytest.approx((4 * f0 + f1 + f2) / 6)
    assert m["confusion"] == [[3, 1, 0], [0, 1, 0], [1, 0, 0]]


def _parse(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> CogmenTrainConfig:
    """Run ``edgeemo cogmen ARGS`` with ``train`` stubbed out; return the config it was given."""
    seen: list[CogmenTrainConfig] = []

    def fake_train(cfg: CogmenTrainConfig) -> dict:
        seen.append(cfg)
        scores = {"weighted_f1": 0.5, "ua": 0.4, "accuracy": 0.6, "macro_f1": 0.3}
        return {"test": scores, "dev": scores, "best_epoch": 2, "seconds": {"total": 1.0}}

    monkeypatch.setattr(train_meld, "train", fake_train)
    result = CliRunner().invoke(cli.cogmen_command, args, catch_exceptions=False)
    assert result.exit_code == 0 and "MELD test (best dev epoch 2): weighted F1 50.00" in result.output
    return seen[0]


def test_cli_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _parse(monkeypatch, ["--out", "x", "--wp", "-1", "--wf", "3", "--class-weighted", "--no-progress"])
    assert (cfg.out, cfg.window_past, cfg.window_future, cfg.class_weighted, cfg.progress) == ("x", -1, 3, True, False)
    with pytest.raises(ConfigError):
        _parse(monkeypatch, ["--epochs", "0"])
    with pytest.raises(FileNotFoundError):
        load_meld(FIX / "nowhere")


def test_cli_defaults_are_the_config_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _parse(monkeypatch, []) == CogmenTrainConfig()


def test_cli_module_imports_no_torch() -> None:
    code = ("import sys; from edgeemo.train.dialogue.cli import cogmen_command; "
            "from click.testing import CliRunner; assert CliRunner().invoke(cogmen_command, ['--help']).exit_code == 0; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
