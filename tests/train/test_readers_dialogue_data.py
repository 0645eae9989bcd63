"""DialogueSet: validation and safe round trips through .npz and .safetensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edgeemo.errors import ConfigError
from edgeemo.train.dialogue.data import Dialogue, DialogueDataError, DialogueSet, load_dialogue_set


def _set(with_va: bool = True) -> DialogueSet:
    rng = np.random.default_rng(0)
    ds = []
    for k, n in enumerate((3, 1, 4)):
        ds.append(
            Dialogue(
                dialogue_id=f"d{k}",
                split=["train", "dev", "test"][k],
                utterance_ids=[f"d{k}_u{i}" for i in range(n)],
                speakers=["Ann", "Bo", "Ann", "Cy"][:n],
                labels=[-1 if i == 2 else i % 3 for i in range(n)],
                valence=rng.uniform(-1, 1, n) if with_va else None,
                arousal=np.where(np.arange(n) == 0, np.nan, 0.5) if with_va else None,
                features={"text": rng.standard_normal((n, 4)), "audio": rng.standard_normal((n, 2))},
                transcripts=[f"héllo “{k}” {i}" for i in range(n)],
            )
        )
    heads = ("emotion", "valence", "arousal") if with_va else ("emotion",)
    return DialogueSet("toy", ["neutral", "happy", "sad"], ds, heads=heads, meta={"k": "v"})


def _same(a: DialogueSet, b: DialogueSet) -> None:
    assert (a.name, a.label_names, a.heads, a.meta) == (b.name, b.label_names, b.heads, b.meta)
    assert len(a.dialogues) == len(b.dialogues)
    for x, y in zip(a.dialogues, b.dialogues):
        assert (x.dialogue_id, x.split, x.utterance_ids, x.speakers, x.transcripts) == (
            y.dialogue_id, y.split, y.utterance_ids, y.speakers, y.transcripts)
        np.testing.assert_array_equal(x.labels, y.labels)
        for h in ("valence", "arousal"):
            xa, ya = getattr(x, h), getattr(y, h)
            assert (xa is None) == (ya is None)
            if xa is not None:
                np.testing.assert_array_equal(xa, ya)
        assert x.features.keys() == y.features.keys()
        for m in x.features:
            assert y.features[m].dtype == np.float32
            np.testing.assert_array_equal(x.features[m], y.features[m])


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("with_va", [True, False])
def test_round_trip(tmp_path: Path, suffix: str, with_va: bool) -> None:
    ds = _set(with_va)
    path = ds.save(tmp_path / f"toy{suffix}")
    _same(ds, load_dialogue_set(path))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_views() -> None:
    ds = _set()
    assert ds.modalities == ("text", "audio")
    assert ds.feature_dims == {"text": 4, "audio": 2}
    assert ds.n_utterances == 8
    assert ds.splits == ["train", "dev", "test"]
    assert [d.dialogue_id for d in ds.split("dev", "test").dialogues] == ["d1", "d2"]
    assert sum(ds.label_counts().values()) == 6  # two utterances have label -1
    with pytest.raises(ConfigError):
        ds.split("valid")


def test_npz_with_object_arrays_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, __meta__=np.array({"a": 1}, dtype=object))
    with pytest.raises(DialogueDataError, match="not a safe"):
        load_dialogue_set(path)


def test_validation_errors() -> None:
    with pytest.raises(DialogueDataError, match="speakers"):
        Dialogue("x", ["a", "b"], ["s"], [0, 0])
    with pytest.raises(DialogueDataError, match="NaN"):
        Dialogue("x", ["a"], ["s"], [0], features={"text": np.array([[np.nan]])})
    with pytest.raises(DialogueDataError, match="modality"):
        Dialogue("x", ["a"], ["s"], [0], features={"lidar": np.zeros((1, 2))})
    with pytest.raises(DialogueDataError, match="at least one"):
        Dialogue("x", [], [], [])
    good = Dialogue("x", ["a"], ["s"], [2])
    with pytest.raises(DialogueDataError, match="label outside"):
        DialogueSet("s", ["a", "b"], [good])
    with pytest.raises(DialogueDataError, match="duplicate dialogue"):
        DialogueSet("s", ["a", "b", "c"], [good, good])
    with pytest.raises(DialogueDataError, match="valence"):
        DialogueSet("s", ["a", "b", "c"], [good], heads=("emotion", "valence"))
    other = Dialogue("y", ["a"], ["s"], [0], features={"text": np.zeros((1, 3))})
    with pytest.raises(DialogueDataError, match="same modalities"):
        DialogueSet("s", ["a", "b", "c"], [good, other])
    with pytest.raises(ConfigError):
        DialogueSet("s", ["a", "b", "c"], [good]).save("x.pkl")
