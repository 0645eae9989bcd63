"""A tiny untrained student checkpoint to export (fast; accuracy is not the point here)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="export tests need the [export] extra (torch)")
pytest.importorskip("onnx", reason="export tests need the [export] extra (onnx)")


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    import torch

    from edgeemo.train.checkpoint import save_checkpoint
    from edgeemo.train.data import RAVDESS_LABELS
    from edgeemo.train.models.student import StudentConfig, StudentNet

    torch.manual_seed(0)
    cfg = StudentConfig(labels=RAVDESS_LABELS, channels=(4, 8, 8), embedding_dim=16)
    model = StudentNet(cfg).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics, so folding them is really tested
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    path = tmp_path_factory.mktemp("ckpt") / "best"
    save_checkpoint(path, config={"kind": "student", "model": cfg.to_dict(), "train_speakers": ["ravdess_01", "ravdess_02"]},
                    weights=model.state_dict())
    return path
