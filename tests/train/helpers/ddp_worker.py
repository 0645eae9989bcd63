"""Run by ``torch.distributed.run`` from test_distributed.py: a few DDP steps on real clips.

Each rank writes ``rank<N>.json`` with its final weights' checksum and the run's history, so the
test can check that the ranks trained the same model together.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from edgeemo.train.data import RAVDESS_LABELS, load_ravdess
from edgeemo.train.trainer import StudentTrainer, TrainConfig


def main(out: str, data_root: str) -> None:
    utts = load_ravdess(data_root)
    train, dev = [], []
    for label in RAVDESS_LABELS:
        train += [u for u in utts if u.split == "train" and u.label == label][:4]
        dev += [u for u in utts if u.split == "dev" and u.label == label][:2]
    cfg = TrainConfig(out_dir=str(Path(out) / "run"), epochs=2, batch_size=8, max_steps_per_epoch=3, channels=(4, 8),
                      embedding_dim=16, num_threads=1, warmup_epochs=1, seed=5, device="cpu")
    # an extra trainable head, as distillation adds: DDP does not wrap it, the trainer keeps it in sync
    torch.manual_seed(100 + int(os.environ["RANK"]))  # deliberately different initial heads per rank
    head = torch.nn.Linear(16, 4)

    def head_loss(out: dict, idx: torch.Tensor, epoch: int) -> torch.Tensor:
        return 0.1 * head(out["embedding"]).pow(2).mean()

    result = StudentTrainer(cfg, utterances=train + dev, extra_losses=[head_loss], extra_modules=head,
                            progress=False).fit()
    from edgeemo.train.checkpoint import load_checkpoint

    weights = load_checkpoint(result.last_dir).weights
    rank = int(os.environ["RANK"])
    report = {
        "rank": rank,
        "world_size": int(os.environ["WORLD_SIZE"]),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "weights_sum": float(sum(v.double().abs().sum() for v in weights.values())),
        "head_sum": float(sum(p.detach().double().abs().sum() for p in head.parameters())),
        "process_group_left_initialised": torch.distributed.is_initialized(),
    }
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
