"""Teacher outputs computed once per (teacher checkpoint, clip, crop setting) and cached on disk.

A student step never runs the teacher: :func:`teacher_outputs` looks the clips up in
``<cache>/teacher_outputs/<key>.npz`` (``<cache>`` = ``$EDGEEMO_CACHE`` or ``~/.cache/edgeemo``),
where ``key`` hashes the checkpoint's weights and config, the crop setting and whether video was
given. Missing clips are computed in one pass and merged in (atomic rewrite). Rows are keyed by
clip (:func:`edgeemo.train.teachers.visual.clip_key`). A teacher with per-speaker normalisation
(``speaker_norm``) labels a clip according to the other clips of its speaker, so its outputs are
cached per set of clips instead.

Also here: per-example target weights (:func:`example_weights`) and cross-fitted teachers
(:func:`crossfit_teacher_outputs`), whose targets for a training clip come from a teacher that
never saw that clip's actors (out-of-fold), as a teacher's outputs on its own training data are
over-confident.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write

from ..checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_checkpoint_config, resolve_checkpoint
from ..data import Utterance, cache_root
from ..teachers.features import TeacherInputs
from ..teachers.visual import clip_key

WEIGHTINGS = ("none", "confidence", "correct")
CACHE_VERSION = "1"


@dataclass
class TeacherOutputs:
    """Row-aligned teacher outputs: ``arrays[name]`` is ``[n, dim]`` for each clip in ``keys``."""

    keys: list[str]
    arrays: dict[str, np.ndarray]
    source: str

    def rows(self, utterances: Sequence[Utterance]) -> "TeacherOutputs":
        """The rows of ``utterances`` in their order (ConfigError if a clip is missing)."""
        pos = {k: i for i, k in enumerate(self.keys)}
        keys = [clip_key(u.path) for u in utterances]
        missing = [k for k in keys if k not in pos]
        if missing:
            raise ConfigError(f"teacher outputs lack {len(missing)} clips, e.g. {missing[:3]}")
        idx = np.array([pos[k] for k in keys], dtype=np.int64)
        return TeacherOutputs(keys, {n: a[idx] for n, a in self.arrays.items()}, self.source)

    def tensor(self, name: str) -> torch.Tensor:
        if name not in self.arrays:
            raise ConfigError(f"the teacher outputs have no {name!r} (have: {sorted(self.arrays)})")
        return torch.from_numpy(np.ascontiguousarray(self.arrays[name])).float()


def teacher_fingerprint(teacher_dir: str | os.PathLike[str]) -> str:
    """SHA-256 over a teacher checkpoint's weights and config (first 16 hex digits)."""
    path = resolve_checkpoint(teacher_dir)
    h = hashlib.sha256()
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        h.update((path / name).read_bytes())
    return h.hexdigest()[:16]


def _cache_file(fingerprint: str, crop: str, with_video: bool, cache_dir: str | os.PathLike[str] | None) -> Path:
    key = hashlib.sha256(f"{fingerprint}|{crop}|video={with_video}|v{CACHE_VERSION}".encode()).hexdigest()[:24]
    return (Path(cache_dir) if cache_dir is not None else cache_root()) / "teacher_outputs" / f"{key}.npz"


def _load(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    if not path.is_file():
        return [], {}
    with np.load(path) as npz:
        keys = [str(k) for k in npz["__keys__"]]
        return keys, {n: npz[n] for n in npz.files if n != "__keys__"}


def teacher_outputs(
    teacher_dir: str | os.PathLike[str],
    inputs: TeacherInputs,
    *,
    crop: str = "windows",
    with_video: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> TeacherOutputs:
    """Outputs of the teacher at ``teacher_dir`` for every clip of ``inputs`` (cached)."""
    from ..teachers.trainer import load_teacher, predict_teacher

    fingerprint = teacher_fingerprint(teacher_dir)
    if read_checkpoint_config(teacher_dir).get("model", {}).get("speaker_norm", False):
        # a clip's output depends on the other clips of its speaker in this call: cache per clip
        # set, so that the outputs are always computed for the whole set at once
        clips = hashlib.sha256("\n".join(sorted(inputs.keys)).encode()).hexdigest()[:16]
        fingerprint = f"{fingerprint}+clips{clips}"
    path = _cache_file(fingerprint, crop, with_video, cache_dir)
    keys, arrays = _load(path)
    known = set(keys)
    missing = [i for i, k in enumerate(inputs.keys) if k not in known]
    if missing:
        model, std, _ = load_teacher(teacher_dir)
        new = predict_teacher(model, std, inputs.subset(missing), crop=crop, with_video=with_video)
        new_keys = [inputs.keys[i] for i in missing]
        if arrays:
            arrays = {n: np.concatenate([arrays[n], new[n]]) for n in arrays}
        else:
            arrays = new
        keys = keys + new_keys
        atomic_write(path, lambda fh: np.savez(fh, __keys__=np.array(keys), **arrays))
    return TeacherOutputs(keys, arrays, f"{fingerprint}:{crop}:video={with_video}").rows(inputs.utterances)


def example_weights(probs: np.ndarray, y: np.ndarray, mode: str = "none") -> np.ndarray:
    """Per-example target weights: 1 (``none``), teacher prob of the true class (``confidence``)
    or 1/0 for a correct/incorrect teacher (``correct``)."""
    if mode == "none":
        return np.ones(len(y), dtype=np.float32)
    if mode == "confidence":
        return probs[np.arange(len(y)), y].astype(np.float32)
    if mode == "correct":
        return (probs.argmax(axis=1) == y).astype(np.float32)
    raise ConfigError(f"unknown weighting {mode!r}; choose one of {WEIGHTINGS}")


#: ``(train utterances, dev utterances, tag) -> teacher checkpoint folder``
TrainTeacherFn = Callable[[list[Utterance], list[Utterance], str], "str | os.PathLike[str]"]


def crossfit_groups(utterances: Sequence[Utterance]) -> dict[int, list[Utterance]]:
    """Cross-fitting groups: the actor folds when there are >= 2, else the actors."""
    folds = sorted({u.fold for u in utterances})
    key = (lambda u: u.fold) if len(folds) >= 2 else (lambda u: u.actor)
    groups: dict[int, list[Utterance]] = {}
    for u in utterances:
        groups.setdefault(key(u), []).append(u)
    if len(groups) < 2:
        raise ConfigError("cross-fitting needs training clips from at least two actors")
    return groups


def crossfit_teacher_outputs(
    train: Sequence[Utterance],
    train_teacher: TrainTeacherFn,
    dev: Sequence[Utterance],
    inputs: TeacherInputs,
    *,
    crop: str = "windows",
    with_video: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
) -> TeacherOutputs:
    """Out-of-fold teacher outputs for ``train``: for each group (fold), a teacher trained on the
    other groups (epoch chosen on ``dev``) labels that group. ``inputs`` must cover ``train``."""
    keys: list[str] = []
    parts: list[dict[str, np.ndarray]] = []
    sources = []
    for g, held in sorted(crossfit_groups(train).items()):
        held_set = set(held)
        rest = [u for u in train if u not in held_set]
        ckpt = train_teacher(rest, list(dev), f"-oof{g}")
        out = teacher_outputs(ckpt, inputs.select_utterances(held), crop=crop, with_video=with_video,
                              cache_dir=cache_dir)
        keys += out.keys
        parts.append(out.arrays)
        sources.append(out.source)
    arrays = {n: np.concatenate([p[n] for p in parts]) for n in parts[0]}
    return TeacherOutputs(keys, arrays, "crossfit[" + ",".join(sources) + "]").rows(train)
