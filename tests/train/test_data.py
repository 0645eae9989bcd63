"""The data layer: manifests, release layout, speaker-independent splits, audio loading."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeemo.errors import AudioFileError, ConfigError
from edgeemo.train.data import (
    RAVDESS_LABELS, find_data_root, label_indices, load_ravdess, read_audio, select, split_for_actor,
)


def test_manifest_splits_are_speaker_independent(ravdess_utts):
    assert len(ravdess_utts) == 1200
    by_split = {s: {u.actor for u in ravdess_utts if u.split == s} for s in ("train", "dev", "test")}
    assert by_split["train"] == set(range(1, 17))
    assert by_split["dev"] == {17, 18}
    assert by_split["test"] == {19, 20}
    assert {u.label for u in ravdess_utts} == set(RAVDESS_LABELS)
    for u in ravdess_utts:
        assert u.fold == (u.actor - 1) // 4
        assert u.split == split_for_actor(u.actor)


def test_select_by_folds(ravdess_utts):
    fold3 = select(ravdess_utts, folds=[3])
    assert {u.actor for u in fold3} == {13, 14, 15, 16}
    rest = select(ravdess_utts, exclude_folds=[3])
    assert len(rest) + len(fold3) == len(ravdess_utts)


def test_release_layout_gives_same_labels_and_splits(tmp_path: Path, ravdess_utts):
    """A RAVDESS download (Actor_XX/03-01-EE-II-SS-RR-AA.wav) is read like the manifest."""
    import soundfile as sf

    picked = [u for u in ravdess_utts if u.actor in (2, 17, 19)][::10]
    for u in picked:
        folder = tmp_path / "Audio_Speech" / f"Actor_{u.actor:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        wave, sr = sf.read(u.path)
        sf.write(folder / (u.path.stem + ".wav"), wave, sr)
    (tmp_path / "Audio_Speech" / "Actor_02" / "notes.txt").write_text("not audio")
    scanned = load_ravdess(tmp_path)
    assert len(scanned) == len(picked)
    expected = {u.path.stem: (u.label, u.split, u.fold, u.intensity) for u in picked}
    for u in scanned:
        assert (u.label, u.split, u.fold, u.intensity) == expected[u.path.stem]


def test_read_audio_resamples_and_downmixes(tmp_path: Path, ravdess_utts):
    import soundfile as sf

    original = read_audio(ravdess_utts[0].path)
    assert original.dtype == np.float32 and original.ndim == 1
    stereo48 = np.repeat(np.interp(np.arange(len(original) * 3) / 3, np.arange(len(original)), original)[:, None], 2, 1)
    sf.write(tmp_path / "s.wav", stereo48, 48000)
    back = read_audio(tmp_path / "s.wav", 16000)
    assert abs(len(back) - len(original)) <= 1
    n = min(len(back), len(original))
    assert np.corrcoef(back[:n], original[:n])[0, 1] > 0.99


def test_bad_inputs_raise_clear_errors(tmp_path: Path, ravdess_utts):
    with pytest.raises(AudioFileError, match="cannot read"):
        read_audio(tmp_path / "missing.flac")
    broken = tmp_path / "broken.flac"
    broken.write_bytes(ravdess_utts[0].path.read_bytes()[:100])
    with pytest.raises(AudioFileError):
        read_audio(broken)
    with pytest.raises(ConfigError, match="neither"):
        load_ravdess(tmp_path)
    with pytest.raises(ConfigError, match="not one of"):
        label_indices(ravdess_utts[:1], ("happy",))


def test_data_root_override(monkeypatch, tmp_path: Path, data_root: Path):
    monkeypatch.setenv("EDGEEMO_DATA", str(data_root))
    assert find_data_root() == data_root
    copy = tmp_path / "copy"
    shutil.copytree(data_root / "ravdess", copy / "ravdess", ignore=shutil.ignore_patterns("audio"))
    assert find_data_root(copy) == copy
    with pytest.raises(ConfigError, match="does not exist"):
        find_data_root(tmp_path / "missing")
    monkeypatch.setenv("EDGEEMO_DATA", str(tmp_path / "missing"))  # never a silent fallback
    with pytest.raises(ConfigError, match="EDGEEMO_DATA=.*does not exist"):
        find_data_root()
