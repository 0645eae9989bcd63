"""MELD readers: the official release CSVs and the ``shared/data/meld_text/manifest.csv`` layout.

MELD (Poria et al., ACL 2019) ships ``train_sent_emo.csv``, ``dev_sent_emo.csv`` and
``test_sent_emo.csv`` with columns ``Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID,
Utterance_ID, Season, Episode, StartTime, EndTime``. Dialogue ids restart in every split, so a
dialogue is named ``<split>_<Dialogue_ID>`` and an utterance ``<split>/dia<D>_utt<U>`` (the
MELD.Raw clip name). Utterances are ordered by ``Utterance_ID``; some dialogues have gaps in the
numbering (utterances the authors dropped), which is kept as is.

Labels use edgeemo's common lower-case names: joy -> happy, anger -> angry, sadness -> sad. The
order is :data:`MELD_LABELS` (by frequency in MELD). MELD has no valence/arousal, so the only head
is ``emotion``; sentiment is not carried.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data import Dialogue, DialogueDataError, DialogueSet
from ._common import parse_int, read_csv_rows

__all__ = ["MELD_EMOTION_MAP", "MELD_LABELS", "MELD_SPLITS", "read_meld_manifest", "read_meld_release"]

MELD_LABELS: list[str] = ["neutral", "happy", "surprise", "angry", "sad", "disgust", "fear"]
MELD_EMOTION_MAP: dict[str, str] = {
    "neutral": "neutral",
    "joy": "happy",
    "surprise": "surprise",
    "anger": "angry",
    "sadness": "sad",
    "disgust": "disgust",
    "fear": "fear",
}
MELD_SPLITS: tuple[str, ...] = ("train", "dev", "test")
_RELEASE_COLUMNS = (
    "Sr No.",
    "Utterance",
    "Speaker",
    "Emotion",
    "Sentiment",
    "Dialogue_ID",
    "Utterance_ID",
    "Season",
    "Episode",
    "StartTime",
    "EndTime",
)
_MANIFEST_COLUMNS = ("speaker", "label", "transcript", "dialogue_id", "utterance_index", "split")

_Utt = tuple[int, str, str, int, str]  # (index, utterance id, speaker, label, transcript)


def _label_index(name: str, where: str, *, original: bool) -> int:
    key = name.strip().lower()
    common = MELD_EMOTION_MAP.get(key) if original else key
    if common not in MELD_LABELS:
        raise DialogueDataError(f"{where}: unknown MELD emotion {name!r}")
    return MELD_LABELS.index(common)


def _build(name: str, groups: dict[tuple[str, str], list[_Utt]], source: str) -> DialogueSet:
    order = {s: i for i, s in enumerate(MELD_SPLITS)}

    def sort_key(key: tuple[str, str]) -> tuple[int, int | str]:
        split, did = key
        num = did.rsplit("_", 1)[-1]
        return (order.get(split, len(order)), int(num) if num.isdigit() else num)

    dialogues = []
    for split, did in sorted(groups, key=sort_key):
        utts = sorted(groups[(split, did)])
        idx = [u[0] for u in utts]
        if len(set(idx)) != len(idx):
            raise DialogueDataError(f"{source}: dialogue {did!r} repeats an utterance index")
        dialogues.append(
            Dialogue(
                dialogue_id=did,
                split=split,
                utterance_ids=[u[1] for u in utts],
                speakers=[u[2] for u in utts],
                labels=np.asarray([u[3] for u in utts], dtype=np.int64),
                transcripts=[u[4] for u in utts],
            )
        )
    return DialogueSet(
        name=name,
        label_names=list(MELD_LABELS),
        dialogues=dialogues,
        heads=("emotion",),
        meta={"source": source, "dataset": "meld"},
    )


def read_meld_release(root: str | Path, splits: Sequence[str] = MELD_SPLITS) -> DialogueSet:
    """Read MELD's ``{train,dev,test}_sent_emo.csv`` from ``root`` into a :class:`DialogueSet`."""
    root = Path(root)
    groups: dict[tuple[str, str], list[_Utt]] = defaultdict(list)
    for split in splits:
        if split not in MELD_SPLITS:
            raise DialogueDataError(f"unknown MELD split {split!r}; use {MELD_SPLITS}")
        path = root / f"{split}_sent_emo.csv"
        for i, row in enumerate(read_csv_rows(path, _RELEASE_COLUMNS)):
            where = f"{path.name} row {i + 2}"
            dia = parse_int(row["Dialogue_ID"], where)
            utt = parse_int(row["Utterance_ID"], where)
            groups[(split, f"{split}_{dia}")].append(
                (
                    utt,
                    f"{split}/dia{dia}_utt{utt}",
                    row["Speaker"].strip(),
                    _label_index(row["Emotion"], where, original=True),
                    row["Utterance"],
                )
            )
    return _build("meld", groups, f"MELD release CSVs in {root}")


def read_meld_manifest(path: str | Path, splits: Sequence[str] = MELD_SPLITS) -> DialogueSet:
    """Read ``shared/data/meld_text/manifest.csv`` (one row per utterance) into a set."""
    path = Path(path)
    groups: dict[tuple[str, str], list[_Utt]] = defaultdict(list)
    for i, row in enumerate(read_csv_rows(path, _MANIFEST_COLUMNS)):
        split = row["split"].strip()
        if split not in splits:
            continue
        where = f"{path.name} row {i + 2}"
        utt = parse_int(row["utterance_index"], where)
        did = row["dialogue_id"].strip()
        clip = (row.get("clip_id") or "").strip() or f"{did}/utt{utt}"
        groups[(split, did)].append(
            (utt, clip, row["speaker"].strip(), _label_index(row["label"], where, original=False), row["transcript"])
        )
    return _build("meld", groups, f"MELD manifest {path}")
