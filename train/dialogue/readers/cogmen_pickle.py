"""One-time conversion of COGMEN / DialogueRNN feature pickles into a safe :class:`DialogueSet`.

**A pickle can run arbitrary code when it is loaded.** These files come from third-party drives
and repositories, so edgeemo reads one only when you name the file and pass
``i_understand_pickle_risk=True``; it converts it *once* into ``.npz``/``.safetensors``, which is
what every other part of edgeemo reads. As defence in depth the pickle is read by an unpickler
that only resolves an allow-list of globals (numpy array reconstruction, dtypes, plain
containers); a file that needs anything else is refused unless you also pass ``restricted=False``
(do that only for a file whose origin you trust). Loading uses ``encoding="latin1"``, which these
files (written by Python 2) need.

Two tuple layouts exist, both of 9 elements, with dicts keyed by dialogue id:

* ``iemocap`` (COGMEN's ``IEMOCAP_features.pkl`` / ``IEMOCAP_features_4.pkl``, DialogueRNN's
  IEMOCAP file): ``video_ids, video_speakers, video_labels, video_text, video_audio,
  video_visual, video_sentence, trainVids, test_vids``. Speakers are ``'M'``/``'F'``; labels index
  ``hap, sad, neu, ang, exc, fru`` (6-class) or ``hap, sad, neu, ang`` (4-class).
* ``meld`` (DialogueRNN's ``MELD_features_raw.pkl``): ``video_ids, video_speakers,
  video_labels (emotion), video_text, video_audio, video_sentence, trainVids, test_vids,
  video_labels (sentiment)``; no visual. Speakers are one-hot vectors (9 wide); emotion labels
  index ``neutral, surprise, fear, sadness, joy, disgust, anger``.

``variant="auto"`` tells them apart: in the ``iemocap`` layout the 7th element is a dict of
sentences, in the ``meld`` layout it is the list of training ids.

Dev split: COGMEN's preprocessing takes the first 10 % of ``trainVids`` as dev
(``dev_size = int(len(trainVids) * 0.1)``); that is ``dev="cogmen"``, the default for the
``iemocap`` layout. For ``meld`` the DialogueRNN convention is ``trainVids[1038:]`` (MELD's 1,038
train dialogues come first, the dev ones after); that is ``dev="meld"``, the default there. When
``trainVids`` is a set its order depends on Python's hash seed, so it is sorted first.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from edgeemo.errors import ConfigError

from ..data import Dialogue, DialogueDataError, DialogueSet
from .iemocap import IEMOCAP4_LABELS, IEMOCAP6_LABELS

__all__ = ["DIALOGUERNN_MELD_LABELS", "PickleRefusedError", "convert_cogmen_pickle", "read_cogmen_pickle"]

# DialogueRNN's MELD emotion indices, in edgeemo's common names.
DIALOGUERNN_MELD_LABELS: list[str] = ["neutral", "surprise", "fear", "sad", "happy", "disgust", "angry"]

_ALLOWED_GLOBALS: set[tuple[str, str]] = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "list"),
    ("builtins", "dict"),
    ("builtins", "tuple"),
    ("builtins", "complex"),
    ("__builtin__", "set"),
    ("__builtin__", "frozenset"),
    ("__builtin__", "list"),
    ("__builtin__", "dict"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
}


class PickleRefusedError(DialogueDataError):
    """The restricted unpickler met a global outside its allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise PickleRefusedError(
            f"the pickle asks for the global {module}.{name}, which the safe reader does not "
            "allow. If you trust where this file came from, pass restricted=False."
        )


def _load(path: Path, restricted: bool) -> Any:
    data = path.read_bytes()
    if restricted:
        return _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    return pickle.load(io.BytesIO(data), encoding="latin1")


def _ordered_ids(ids: Any) -> list[Any]:
    if isinstance(ids, (set, frozenset)):
        return sorted(ids, key=lambda x: (str(type(x)), x))
    return list(np.asarray(ids).tolist()) if isinstance(ids, np.ndarray) else list(ids)


def _speaker_names(raw: Any) -> list[str]:
    out = []
    for s in raw:
        if isinstance(s, (bytes, str)):
            out.append(s.decode("latin1") if isinstance(s, bytes) else s)
        else:  # one-hot vector (MELD layout)
            vec = np.asarray(s)
            out.append(f"spk{int(np.argmax(vec))}" if vec.ndim == 1 and vec.size > 1 else str(vec.item()))
    return out


def _feat(raw: Any, n: int, what: str, vid: Any) -> np.ndarray:
    if isinstance(raw, (list, tuple)):
        rows = [np.asarray(r, dtype=np.float32).ravel() for r in raw]
        arr = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
    else:
        arr = np.asarray(raw, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise DialogueDataError(f"dialogue {vid!r}: {what} features have shape {arr.shape}, expected ({n}, d)")
    return arr


def read_cogmen_pickle(
    path: str | os.PathLike[str],
    *,
    i_understand_pickle_risk: bool = False,
    variant: str = "auto",
    label_names: Sequence[str] | None = None,
    dev: str | int = "auto",
    restricted: bool = True,
    name: str | None = None,
) -> DialogueSet:
    """Read a COGMEN/DialogueRNN pickle into a :class:`DialogueSet` (see the module doc).

    Prefer :func:`convert_cogmen_pickle`, which also writes the safe file once.
    ``dev``: ``"cogmen"`` (first 10 % of trainVids), ``"meld"`` (trainVids[1038:]), an integer
    ``k`` (the first ``k`` of trainVids), ``"none"``, or ``"auto"`` (per variant).
    """
    if not i_understand_pickle_risk:
        raise ConfigError(
            "refusing to read a pickle: loading a pickle can run arbitrary code. Convert a file you "
            "trust once with convert_cogmen_pickle(path, out_path, i_understand_pickle_risk=True) "
            "and use the safe .npz/.safetensors file it writes from then on."
        )
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no pickle at {path}")
    obj = _load(path, restricted)
    if not isinstance(obj, (tuple, list)) or len(obj) != 9:
        raise DialogueDataError(f"{path}: expected a 9-tuple of COGMEN/DialogueRNN features")
    if variant == "auto":
        variant = "iemocap" if isinstance(obj[6], Mapping) else "meld"
    if variant == "iemocap":
        ids, spk, lab, text, audio, visual, sent, train_ids, test_ids = obj
        feats: dict[str, Mapping[Any, Any]] = {"text": text, "audio": audio, "visual": visual}
    elif variant == "meld":
        ids, spk, lab, text, audio, sent, train_ids, test_ids, _sentiment = obj
        feats = {"text": text, "audio": audio}
    else:
        raise ConfigError(f"variant must be 'auto', 'iemocap' or 'meld', not {variant!r}")
    train_list = _ordered_ids(train_ids)
    test_list = _ordered_ids(test_ids)
    if dev == "auto":
        dev = "cogmen" if variant == "iemocap" else "meld"
    if dev == "cogmen":
        n_dev = int(len(train_list) * 0.1)
        dev_list, train_list = train_list[:n_dev], train_list[n_dev:]
    elif dev == "meld":
        train_list, dev_list = train_list[:1038], train_list[1038:]
    elif dev == "none":
        dev_list = []
    elif isinstance(dev, int) and not isinstance(dev, bool):
        dev_list, train_list = train_list[:dev], train_list[dev:]
    else:
        raise ConfigError(f"dev must be 'auto', 'cogmen', 'meld', 'none' or an int, not {dev!r}")

    all_labels = [int(x) for vid in train_list + dev_list + test_list for x in np.asarray(lab[vid]).ravel()]
    if label_names is None:
        if variant == "meld":
            label_names = DIALOGUERNN_MELD_LABELS
        else:
            label_names = IEMOCAP4_LABELS if max(all_labels, default=0) < 4 else IEMOCAP6_LABELS
    dialogues: list[Dialogue] = []
    for split, vids in (("train", train_list), ("dev", dev_list), ("test", test_list)):
        for vid in vids:
            speakers = _speaker_names(spk[vid])
            n = len(speakers)
            labels = np.asarray(lab[vid], dtype=np.int64).ravel()
            sentences = [str(s) for s in sent[vid]] if sent is not None and vid in sent else None
            utt_ids = [str(u) for u in ids[vid]] if vid in ids and len(ids[vid]) == n else None
            dialogues.append(
                Dialogue(
                    dialogue_id=str(vid),
                    split=split,
                    utterance_ids=utt_ids or [f"{vid}_{i}" for i in range(n)],
                    speakers=speakers,
                    labels=labels,
                    features={m: _feat(f[vid], n, m, vid) for m, f in feats.items()},
                    transcripts=sentences,
                )
            )
    return DialogueSet(
        name=name or path.stem,
        label_names=list(label_names),
        dialogues=dialogues,
        heads=("emotion",),
        meta={"source": f"converted from pickle {path.name}", "variant": variant, "dev": str(dev)},
    )


def convert_cogmen_pickle(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    i_understand_pickle_risk: bool,
    variant: str = "auto",
    label_names: Sequence[str] | None = None,
    dev: str | int = "auto",
    restricted: bool = True,
) -> DialogueSet:
    """Convert a COGMEN/DialogueRNN pickle ``path`` once into the safe file ``out_path``.

    ``out_path`` ends in ``.npz`` or ``.safetensors``. Refuses (``ConfigError``) unless
    ``i_understand_pickle_risk=True``: loading a pickle can run code. Returns the converted set;
    read it later with :func:`edgeemo.train.dialogue.data.load_dialogue_set`.
    """
    dset = read_cogmen_pickle(
        path,
        i_understand_pickle_risk=i_understand_pickle_risk,
        variant=variant,
        label_names=label_names,
        dev=dev,
        restricted=restricted,
    )
    dset.save(out_path)
    return dset
