"""MELD readers on fixtures written in the original formats (tests/fixtures/dialogue)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgeemo.train.dialogue.data import DialogueDataError
from edgeemo.train.dialogue.readers.meld import MELD_LABELS, read_meld_manifest, read_meld_release

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dialogue"


def test_release_reader_structure_and_labels() -> None:
    ds = read_meld_release(FIX / "meld_release")
    assert ds.label_names == MELD_LABELS
    assert ds.heads == ("emotion",)
    assert [d.dialogue_id for d in ds.dialogues] == ["train_0", "train_1", "dev_0", "test_0", "test_1"]
    assert ds.splits == ["train", "dev", "test"]
    d0 = ds.dialogues[0]
    # Utterance_ID 3 is missing (a gap, as in real MELD); order follows Utterance_ID
    assert d0.utterance_ids == ["train/dia0_utt0", "train/dia0_utt1", "train/dia0_utt2", "train/dia0_utt4"]
    assert d0.speakers == ["Rowan", "Tess", "Rowan", "Tess"]
    names = [ds.label_names[i] for i in d0.labels]
    assert names == ["neutral", "surprise", "angry", "happy"]
    assert d0.transcripts is not None
    assert d0.transcripts[1] == "Again? That\u2019s the third time!"
    assert d0.transcripts[2] == 'I know, and I told them, "never again".'
    assert ds.split("test").n_utterances == 5
    assert ds.label_counts()["angry"] == 2
    assert d0.features == {}


def test_manifest_reader_matches_release_reader() -> None:
    a = read_meld_release(FIX / "meld_release")
    b = read_meld_manifest(FIX / "meld_manifest" / "manifest.csv")
    assert [d.dialogue_id for d in a.dialogues] == [d.dialogue_id for d in b.dialogues]
    for x, y in zip(a.dialogues, b.dialogues):
        assert x.utterance_ids == y.utterance_ids
        assert x.speakers == y.speakers
        assert x.transcripts == y.transcripts
        assert x.split == y.split
        np.testing.assert_array_equal(x.labels, y.labels)


def test_manifest_split_filter() -> None:
    ds = read_meld_manifest(FIX / "meld_manifest" / "manifest.csv", splits=("dev",))
    assert [d.dialogue_id for d in ds.dialogues] == ["dev_0"]


def test_cp1252_release_file_is_read(tmp_path: Path) -> None:
    for split in ("train", "dev", "test"):
        text = (FIX / "meld_release" / f"{split}_sent_emo.csv").read_text(encoding="utf-8")
        (tmp_path / f"{split}_sent_emo.csv").write_bytes(text.encode("cp1252"))
    ds = read_meld_release(tmp_path)
    assert ds.dialogues[0].transcripts[1] == "Again? That\u2019s the third time!"  # type: ignore[index]


def test_missing_column_and_bad_label_are_reported(tmp_path: Path) -> None:
    src = (FIX / "meld_release" / "dev_sent_emo.csv").read_text(encoding="utf-8")
    (tmp_path / "dev_sent_emo.csv").write_text(src.replace("Emotion", "Feeling"), encoding="utf-8")
    with pytest.raises(DialogueDataError, match="Emotion"):
        read_meld_release(tmp_path, splits=("dev",))
    (tmp_path / "dev_sent_emo.csv").write_text(src.replace("fear", "boredom"), encoding="utf-8")
    with pytest.raises(DialogueDataError, match="boredom"):
        read_meld_release(tmp_path, splits=("dev",))
    with pytest.raises(FileNotFoundError):
        read_meld_release(tmp_path, splits=("test",))
