"""IEMOCAP release-layout reader on invented fixtures in the original file formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgeemo.errors import ConfigError
from edgeemo.train.dialogue.readers.iemocap import IEMOCAP4_LABELS, IEMOCAP6_LABELS, read_iemocap_release

ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "dialogue" / "iemocap_release"


def test_six_class_reader() -> None:
    ds = read_iemocap_release(ROOT, classes=6, dev_fraction=0.0)
    assert ds.label_names == IEMOCAP6_LABELS
    assert ds.heads == ("emotion", "valence", "arousal")
    ids = [d.dialogue_id for d in ds.dialogues]
    assert ids == ["Ses01F_impro01", "Ses01M_script01_1", "Ses02F_impro02", "Ses03M_impro03",
                   "Ses04F_script02_2", "Ses05M_impro04"]  # the ._ resource fork is skipped
    d = ds.dialogues[0]
    # sorted by start time; the xxx turn (M000) is dropped
    assert d.utterance_ids == ["Ses01F_impro01_F000", "Ses01F_impro01_M001", "Ses01F_impro01_F001"]
    assert [ds.label_names[i] for i in d.labels] == ["neutral", "frustrated", "angry"]
    assert d.speakers == ["Ses01_F", "Ses01_M", "Ses01_F"]
    assert d.transcripts == ["Hello, is this the right desk?", "No. You need the other line.",
                             "I have been in that line for an hour!"]
    # valence/arousal: (x - 3) / 2 from the bracketed [V, A, D]
    np.testing.assert_allclose(d.valence, [0.0, -0.5, -0.75])  # type: ignore[arg-type]
    np.testing.assert_allclose(d.arousal, [-0.5, 0.25, 0.5])  # type: ignore[arg-type]
    # CRLF file (Ses01M_script01_1) parses; 'sur' is outside the 6 classes
    s = ds.dialogues[1]
    assert [ds.label_names[i] for i in s.labels] == ["happy", "excited"]
    assert {d.split for d in ds.dialogues if d.dialogue_id.startswith("Ses05")} == {"test"}
    assert {d.split for d in ds.dialogues if not d.dialogue_id.startswith("Ses05")} == {"train"}


def test_four_class_merges_excited_into_happy_and_drops_frustrated() -> None:
    ds = read_iemocap_release(ROOT, classes=4, dev_fraction=0.0)
    assert ds.label_names == IEMOCAP4_LABELS
    by_id = {d.dialogue_id: d for d in ds.dialogues}
    assert [ds.label_names[i] for i in by_id["Ses01M_script01_1"].labels] == ["happy", "happy"]
    assert [ds.label_names[i] for i in by_id["Ses01F_impro01"].labels] == ["neutral", "angry"]
    assert [ds.label_names[i] for i in by_id["Ses05M_impro04"].labels] == ["happy", "neutral"]


def test_keep_unlabeled_keeps_context_turns_with_label_minus_one() -> None:
    ds = read_iemocap_release(ROOT, classes=6, dev_fraction=0.0, keep_unlabeled=True)
    d = ds.dialogues[0]
    assert d.utterance_ids[1] == "Ses01F_impro01_M000"
    assert d.labels.tolist()[1] == -1
    assert d.transcripts[1] == "Which form is it?"  # type: ignore[index]
    assert ds.label_counts()["neutral"] == 4


def test_dev_fraction_is_seeded_and_excludes_test_session() -> None:
    a = read_iemocap_release(ROOT, dev_fraction=0.4, seed=3)
    b = read_iemocap_release(ROOT, dev_fraction=0.4, seed=3)
    dev = [d.dialogue_id for d in a.dialogues if d.split == "dev"]
    assert dev == [d.dialogue_id for d in b.dialogues if d.split == "dev"]
    assert len(dev) == 2 and not any(x.startswith("Ses05") for x in dev)


def test_bad_options_and_missing_tree(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        read_iemocap_release(ROOT, classes=5)
    with pytest.raises(FileNotFoundError):
        read_iemocap_release(tmp_path)
