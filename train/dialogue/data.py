"""Dialogue datasets in one safe format: :class:`DialogueSet` (in memory, ``.npz`` or safetensors).

A :class:`DialogueSet` holds conversations for emotion recognition in conversation (ERC):
per dialogue the utterance ids, speaker names, emotion labels (``-1`` = not supervised, e.g. a
context-only utterance), optional valence/arousal in ``[-1, 1]`` (``NaN`` = unknown), optional
transcripts, and per-modality float32 feature arrays ``[n_utt, d]`` keyed ``text``/``audio``/
``visual``. ``heads`` says which outputs the source data can supervise (``emotion``, ``valence``,
``arousal``).

On disk there is no pickle anywhere:

* ``.npz`` (read with ``allow_pickle=False``): flat per-utterance arrays plus ``offsets`` (where
  each dialogue starts), strings as fixed-width unicode arrays and a JSON header (``__meta__``).
* ``.safetensors``: the numeric arrays as tensors; every string (ids, speakers, transcripts,
  label names) lives in one JSON document stored in the safetensors header metadata under
  ``edgeemo.dialogue_set``. One file, so data and strings cannot drift apart.

Readers for the original releases live in :mod:`edgeemo.train.dialogue.readers`; a COGMEN/DialogueRNN
pickle is converted once into this format by
:func:`edgeemo.train.dialogue.readers.cogmen_pickle.convert_cogmen_pickle`.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from edgeemo.errors import ConfigError, EdgeEmoError
from edgeemo.fileio import atomic_write

__all__ = [
    "FORMAT_VERSION",
    "HEADS",
    "MODALITIES",
    "Dialogue",
    "DialogueDataError",
    "DialogueSet",
    "load_dialogue_set",
]

MODALITIES: tuple[str, ...] = ("text", "audio", "visual")
HEADS: tuple[str, ...] = ("emotion", "valence", "arousal")
FORMAT_VERSION = 1
_META_KEY = "edgeemo.dialogue_set"


class DialogueDataError(EdgeEmoError, ValueError):
    """A dialogue dataset (file or in-memory object) is malformed or inconsistent."""


def _as_labels(values: Any, n: int, where: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise DialogueDataError(f"{where}: labels have shape {arr.shape}, expected ({n},)")
    if arr.size and not np.issubdtype(arr.dtype, np.integer) and not np.all(np.mod(arr, 1) == 0):
        raise DialogueDataError(f"{where}: labels must be integers")
    return arr.astype(np.int64)


def _as_dim(values: Any, n: int, where: str, name: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values, dtype=np.float32)
    if arr.shape != (n,):
        raise DialogueDataError(f"{where}: {name} has shape {arr.shape}, expected ({n},)")
    return arr


@dataclass
class Dialogue:
    """One conversation: parallel per-utterance lists and arrays, in speaking order."""

    dialogue_id: str
    utterance_ids: list[str]
    speakers: list[str]
    labels: np.ndarray
    split: str = ""
    valence: np.ndarray | None = None
    arousal: np.ndarray | None = None
    features: dict[str, np.ndarray] = field(default_factory=dict)
    transcripts: list[str] | None = None

    def __post_init__(self) -> None:
        where = f"dialogue {self.dialogue_id!r}"
        self.dialogue_id = str(self.dialogue_id)
        self.split = str(self.split)
        self.utterance_ids = [str(u) for u in self.utterance_ids]
        self.speakers = [str(s) for s in self.speakers]
        n = len(self.utterance_ids)
        if n == 0:
            raise DialogueDataError(f"{where}: a dialogue needs at least one utterance")
        if len(self.speakers) != n:
            raise DialogueDataError(f"{where}: {len(self.speakers)} speakers for {n} utterances")
        if len(set(self.utterance_ids)) != n:
            raise DialogueDataError(f"{where}: utterance ids are not unique")
        self.labels = _as_labels(self.labels, n, where)
        self.valence = _as_dim(self.valence, n, where, "valence")
        self.arousal = _as_dim(self.arousal, n, where, "arousal")
        if self.transcripts is not None:
            self.transcripts = [str(t) for t in self.transcripts]
            if len(self.transcripts) != n:
                raise DialogueDataError(f"{where}: {len(self.transcripts)} transcripts for {n}")
        feats: dict[str, np.ndarray] = {}
        for name, value in self.features.items():
            if name not in MODALITIES:
                raise DialogueDataError(f"{where}: unknown modality {name!r}; use {MODALITIES}")
            arr = np.asarray(value, dtype=np.float32)
            if arr.ndim != 2 or arr.shape[0] != n:
                raise DialogueDataError(
                    f"{where}: {name} features have shape {arr.shape}, expected ({n}, d)"
                )
            if not np.all(np.isfinite(arr)):
                raise DialogueDataError(f"{where}: {name} features contain NaN or Inf")
            feats[name] = np.ascontiguousarray(arr)
        self.features = feats

    @property
    def n_utterances(self) -> int:
        """Number of utterances (graph nodes) in the dialogue."""
        return len(self.utterance_ids)

    def with_features(self, features: Mapping[str, np.ndarray]) -> Dialogue:
        """A copy with ``features`` added to (or replacing) this dialogue's modalities."""
        merged = dict(self.features)
        merged.update(features)
        return replace(self, features=merged)


@dataclass
class DialogueSet:
    """A list of dialogues with one label set, the heads it supervises and free-form metadata."""

    name: str
    label_names: list[str]
    dialogues: list[Dialogue]
    heads: tuple[str, ...] = ("emotion",)
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.label_names = [str(x) for x in self.label_names]
        self.heads = tuple(self.heads)
        self.meta = {str(k): str(v) for k, v in self.meta.items()}
        self.validate()

    # ------------------------------------------------------------------ checks and views
    def validate(self) -> None:
        """Raise :class:`DialogueDataError` unless the set is internally consistent."""
        if len(set(self.label_names)) != len(self.label_names):
            raise DialogueDataError(f"{self.name}: duplicate label names {self.label_names}")
        for h in self.heads:
            if h not in HEADS:
                raise DialogueDataError(f"{self.name}: unknown head {h!r}; use {HEADS}")
        ids = [d.dialogue_id for d in self.dialogues]
        if len(set(ids)) != len(ids):
            dup = [k for k, c in Counter(ids).items() if c > 1][:3]
            raise DialogueDataError(f"{self.name}: duplicate dialogue ids, e.g. {dup}")
        n_labels = len(self.label_names)
        dims: dict[str, int] | None = None
        for d in self.dialogues:
            if d.labels.size and (d.labels.max() >= n_labels or d.labels.min() < -1):
                raise DialogueDataError(
                    f"{self.name}: dialogue {d.dialogue_id!r} has a label outside "
                    f"-1..{n_labels - 1} ({n_labels} label names)"
                )
            here = {k: v.shape[1] for k, v in d.features.items()}
            if dims is None:
                dims = here
            elif here != dims:
                raise DialogueDataError(
                    f"{self.name}: dialogue {d.dialogue_id!r} has features {here}, "
                    f"the first dialogue has {dims}; every dialogue needs the same modalities"
                )
            for h in ("valence", "arousal"):
                if h in self.heads and getattr(d, h) is None:
                    raise DialogueDataError(
                        f"{self.name}: head {h!r} declared but dialogue {d.dialogue_id!r} has none"
                    )

    @property
    def modalities(self) -> tuple[str, ...]:
        """Modalities with features, in the canonical order text, audio, visual."""
        if not self.dialogues:
            return ()
        return tuple(m for m in MODALITIES if m in self.dialogues[0].features)

    @property
    def feature_dims(self) -> dict[str, int]:
        """Feature width per modality."""
        if not self.dialogues:
            return {}
        return {m: int(self.dialogues[0].features[m].shape[1]) for m in self.modalities}

    @property
    def n_utterances(self) -> int:
        """Total utterances over all dialogues."""
        return sum(d.n_utterances for d in self.dialogues)

    @property
    def splits(self) -> list[str]:
        """Split names in first-seen order."""
        return list(dict.fromkeys(d.split for d in self.dialogues))

    def split(self, *names: str) -> DialogueSet:
        """The dialogues whose split is one of ``names`` (a new set sharing the arrays)."""
        unknown = set(names) - set(self.splits)
        if unknown:
            raise ConfigError(f"{self.name}: no split {sorted(unknown)}; have {self.splits}")
        return self.replace_dialogues([d for d in self.dialogues if d.split in names])

    def replace_dialogues(self, dialogues: Iterable[Dialogue]) -> DialogueSet:
        """A copy of this set with other dialogues (same labels, heads and metadata)."""
        return DialogueSet(
            name=self.name,
            label_names=list(self.label_names),
            dialogues=list(dialogues),
            heads=self.heads,
            meta=dict(self.meta),
        )

    def label_counts(self) -> dict[str, int]:
        """Utterances per label name (unsupervised ``-1`` utterances not counted)."""
        counts = np.zeros(len(self.label_names), dtype=np.int64)
        for d in self.dialogues:
            lab = d.labels[d.labels >= 0]
            counts += np.bincount(lab, minlength=len(self.label_names))
        return {n: int(c) for n, c in zip(self.label_names, counts)}

    # ------------------------------------------------------------------ flat view for saving
    def _flat(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        ds = self.dialogues
        offsets = np.zeros(len(ds) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([d.n_utterances for d in ds])
        arrays: dict[str, np.ndarray] = {
            "offsets": offsets,
            "labels": np.concatenate([d.labels for d in ds]) if ds else np.zeros(0, np.int64),
        }
        for h in ("valence", "arousal"):
            if ds and all(getattr(d, h) is not None for d in ds):
                arrays[h] = np.concatenate([getattr(d, h) for d in ds]).astype(np.float32)
        for m in self.modalities:
            arrays[f"feat_{m}"] = np.concatenate([d.features[m] for d in ds]).astype(np.float32)
        has_text = bool(ds) and all(d.transcripts is not None for d in ds)
        strings: dict[str, Any] = {
            "dialogue_ids": [d.dialogue_id for d in ds],
            "splits": [d.split for d in ds],
            "utterance_ids": [u for d in ds for u in d.utterance_ids],
            "speakers": [s for d in ds for s in d.speakers],
            "transcripts": [t for d in ds for t in (d.transcripts or [])] if has_text else None,
        }
        return arrays, strings

    def _header(self) -> dict[str, Any]:
        return {
            "format": "edgeemo.dialogue_set",
            "version": FORMAT_VERSION,
            "name": self.name,
            "label_names": self.label_names,
            "heads": list(self.heads),
            "meta": self.meta,
        }

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the set to ``path`` (``.npz`` or ``.safetensors``) atomically; return the path."""
        path = Path(path)
        arrays, strings = self._flat()
        header = self._header()
        if path.suffix == ".npz":
            payload = dict(arrays)
            for key, value in strings.items():
                if value is not None:
                    payload[f"str_{key}"] = np.asarray(value, dtype=np.str_)
            payload["__meta__"] = np.asarray(json.dumps(header))
            atomic_write(path, lambda fh: np.savez_compressed(fh, **payload))  # type: ignore[arg-type]
        elif path.suffix == ".safetensors":
            st = _safetensors_numpy()
            doc = dict(header)
            doc["strings"] = strings
            blob = st.save(
                {k: np.ascontiguousarray(v) for k, v in arrays.items()},
                metadata={_META_KEY: json.dumps(doc)},
            )
            atomic_write(path, lambda fh: fh.write(blob))
        else:
            raise ConfigError(f"unknown dialogue-set file type {path.suffix!r}: use .npz or .safetensors")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DialogueSet:
        """Read a set written by :meth:`save` (never unpickles anything)."""
        return load_dialogue_set(path)


def _safetensors_numpy() -> Any:
    from edgeemo._deps import require

    return require("safetensors.numpy", purpose="dialogue sets in safetensors format")


def load_dialogue_set(path: str | os.PathLike[str]) -> DialogueSet:
    """Load a :class:`DialogueSet` from ``.npz`` (``allow_pickle=False``) or ``.safetensors``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no dialogue-set file at {path}")
    arrays: dict[str, np.ndarray]
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except ValueError as exc:  # e.g. an object array that would need pickle
            raise DialogueDataError(f"{path}: not a safe dialogue-set .npz ({exc})") from exc
        if "__meta__" not in data:
            raise DialogueDataError(f"{path}: no __meta__ header; not an edgeemo dialogue set")
        header = json.loads(str(data.pop("__meta__")))
        strings: dict[str, Any] = {}
        for key in ("dialogue_ids", "splits", "utterance_ids", "speakers", "transcripts"):
            arr = data.pop(f"str_{key}", None)
            strings[key] = None if arr is None else [str(x) for x in arr.tolist()]
        arrays = data
    elif path.suffix == ".safetensors":
        st = _safetensors_numpy()
        raw = path.read_bytes()
        meta = _read_safetensors_metadata(raw, path)
        if _META_KEY not in meta:
            raise DialogueDataError(f"{path}: no {_META_KEY} metadata; not an edgeemo dialogue set")
        header = json.loads(meta[_META_KEY])
        strings = header.pop("strings")
        arrays = dict(st.load(raw))
    else:
        raise ConfigError(f"unknown dialogue-set file type {path.suffix!r}: use .npz or .safetensors")
    return _from_flat(header, arrays, strings, path)


def _read_safetensors_metadata(raw: bytes, path: Path) -> dict[str, str]:
    if len(raw) < 8:
        raise DialogueDataError(f"{path}: too short for a safetensors file")
    n = int.from_bytes(raw[:8], "little")
    try:
        head = json.loads(raw[8 : 8 + n])
    except ValueError as exc:
        raise DialogueDataError(f"{path}: corrupt safetensors header ({exc})") from exc
    return dict(head.get("__metadata__", {}))


def _from_flat(
    header: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    strings: Mapping[str, Sequence[str] | None],
    path: Path,
) -> DialogueSet:
    if header.get("format") != "edgeemo.dialogue_set":
        raise DialogueDataError(f"{path}: not an edgeemo dialogue set")
    if int(header.get("version", -1)) > FORMAT_VERSION:
        raise DialogueDataError(
            f"{path}: format version {header.get('version')} is newer than this edgeemo "
            f"({FORMAT_VERSION}); upgrade edgeemo"
        )
    try:
        offsets = np.asarray(arrays["offsets"], dtype=np.int64)
        labels = arrays["labels"]
        ids = list(strings["dialogue_ids"] or [])
        splits = list(strings["splits"] or [])
        utt_ids = list(strings["utterance_ids"] or [])
        speakers = list(strings["speakers"] or [])
    except KeyError as exc:
        raise DialogueDataError(f"{path}: missing field {exc}") from exc
    n_total = int(offsets[-1]) if offsets.size else 0
    if (
        offsets.size != len(ids) + 1
        or offsets[0] != 0
        or np.any(np.diff(offsets) <= 0)
        or len(splits) != len(ids)
        or len(utt_ids) != n_total
        or len(speakers) != n_total
        or labels.shape != (n_total,)
    ):
        raise DialogueDataError(f"{path}: inconsistent sizes (offsets, ids, labels)")
    transcripts = strings.get("transcripts")
    feats = {k[5:]: v for k, v in arrays.items() if k.startswith("feat_")}
    for name, arr in list(feats.items()) + [(h, arrays[h]) for h in ("valence", "arousal") if h in arrays]:
        if arr.shape[0] != n_total:
            raise DialogueDataError(f"{path}: {name} has {arr.shape[0]} rows, expected {n_total}")
    dialogues = []
    for i, did in enumerate(ids):
        a, b = int(offsets[i]), int(offsets[i + 1])
        dialogues.append(
            Dialogue(
                dialogue_id=did,
                split=splits[i],
                utterance_ids=utt_ids[a:b],
                speakers=speakers[a:b],
                labels=labels[a:b],
                valence=arrays["valence"][a:b] if "valence" in arrays else None,
                arousal=arrays["arousal"][a:b] if "arousal" in arrays else None,
                features={m: v[a:b] for m, v in feats.items()},
                transcripts=list(transcripts[a:b]) if transcripts is not None else None,
            )
        )
    return DialogueSet(
        name=str(header.get("name", path.stem)),
        label_names=list(header["label_names"]),
        dialogues=dialogues,
        heads=tuple(header.get("heads", ("emotion",))),
        meta=dict(header.get("meta", {})),
    )
