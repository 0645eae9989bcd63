"""Small real-data subsets and tiny configurations for training tests."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="training tests need the [train] extra (torch)")


@pytest.fixture(scope="session")
def ravdess_utts(data_root: Path):
    from edgeemo.train.data import load_ravdess

    return load_ravdess(data_root)


@pytest.fixture(scope="session")
def tiny_subset(ravdess_utts):
    """24 train clips (3 per label, several actors) and 16 dev clips (2 per label)."""
    from edgeemo.train.data import RAVDESS_LABELS

    train, dev = [], []
    for label in RAVDESS_LABELS:
        train += [u for u in ravdess_utts if u.split == "train" and u.label == label and u.intensity != "normal"][:3]
        dev += [u for u in ravdess_utts if u.split == "dev" and u.label == label][:2]
    return train + dev


def tiny_train_config(out_dir: Path, **overrides):
    from edgeemo.train.trainer import TrainConfig

    fields = dict(out_dir=str(out_dir), epochs=2, batch_size=8, max_steps_per_epoch=2, channels=(4, 8),
                  embedding_dim=16, num_threads=1, warmup_epochs=1, seed=3)
    fields.update(overrides)
    return TrainConfig.from_dict(fields)
