"""COGMEN / DialogueRNN pickle conversion: opt-in, restricted, converted once to a safe file."""

from __future__ import annotations

import importlib.util
import os
import pickle
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from edgeemo.errors import ConfigError
from edgeemo.train.dialogue.data import load_dialogue_set
from edgeemo.train.dialogue.readers.cogmen_pickle import (
    DIALOGUERNN_MELD_LABELS,
    PickleRefusedError,
    convert_cogmen_pickle,
    read_cogmen_pickle,
)
from edgeemo.train.dialogue.readers.iemocap import IEMOCAP6_LABELS

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dialogue"


def _writer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_dialogue_fixtures", FIX / "make_fixtures.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def pickles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _writer().write_cogmen_pickles(tmp_path_factory.mktemp("pkl"))


def test_refuses_without_the_flag_before_touching_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="arbitrary code"):
        convert_cogmen_pickle(tmp_path / "does_not_exist.pkl", tmp_path / "x.npz",
                              i_understand_pickle_risk=False)
    assert not (tmp_path / "x.npz").exists()


def test_iemocap_layout_converts_once_to_npz(pickles: dict[str, Path], tmp_path: Path) -> None:
    raw = _writer().cogmen_iemocap_tuple()
    out = tmp_path / "iemocap.npz"
    ds = convert_cogmen_pickle(pickles["iemocap"], out, i_understand_pickle_risk=True)
    back = load_dialogue_set(out)
    assert ds.label_names == IEMOCAP6_LABELS
    assert back.modalities == ("text", "audio", "visual")
    assert back.feature_dims == {"text": 8, "audio": 5, "visual": 6}
    # COGMEN's dev rule: the first int(0.1 * len(trainVids)) training ids
    assert [d.dialogue_id for d in back.dialogues if d.split == "dev"] == [raw[7][0]]
    assert len([d for d in back.dialogues if d.split == "train"]) == 9
    assert sorted(d.dialogue_id for d in back.dialogues if d.split == "test") == sorted(raw[8])
    vid = raw[7][3]
    d = next(x for x in back.dialogues if x.dialogue_id == vid)
    assert d.speakers == raw[1][vid]
    assert d.utterance_ids == raw[0][vid]
    assert d.labels.tolist() == raw[2][vid]
    assert d.transcripts == raw[6][vid]
    np.testing.assert_allclose(d.features["text"], np.stack(raw[3][vid]))
    np.testing.assert_allclose(d.features["visual"], np.stack(raw[5][vid]).astype(np.float32))


def test_meld_layout_to_safetensors(pickles: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "meld.safetensors"
    convert_cogmen_pickle(pickles["meld"], out, i_understand_pickle_risk=True)
    ds = load_dialogue_set(out)
    assert ds.label_names == DIALOGUERNN_MELD_LABELS
    assert ds.modalities == ("text", "audio")
    splits = [d.split for d in ds.dialogues]
    assert splits.count("train") == 1038 and splits.count("dev") == 2 and splits.count("test") == 3
    d = next(x for x in ds.dialogues if x.dialogue_id == "2")
    assert d.speakers == ["spk0", "spk2", "spk1"]  # from one-hot vectors
    assert d.utterance_ids == ["0", "1", "2"]


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (os.getcwd, ())

    bad = tmp_path / "evil.pkl"
    bad.write_bytes(pickle.dumps((Evil(),) * 9, protocol=2))
    with pytest.raises(PickleRefusedError, match="getcwd"):
        read_cogmen_pickle(bad, i_understand_pickle_risk=True)


def test_explicit_dev_count_and_label_names(pickles: dict[str, Path]) -> None:
    names = ["a", "b", "c", "d", "e", "f"]
    ds = read_cogmen_pickle(pickles["iemocap"], i_understand_pickle_risk=True, dev=3, label_names=names)
    assert ds.label_names == names
    assert sum(d.split == "dev" for d in ds.dialogues) == 3
    with pytest.raises(ConfigError):
        read_cogmen_pickle(pickles["iemocap"], i_understand_pickle_risk=True, dev="half")
