"""Labelled speech data: manifests in ``shared/data`` and the original RAVDESS release layout.

Splits are speaker-independent and taken from the manifest (train = actors 01-16, dev = 17-18,
test = 19-20, ``fold`` = five folds of four actors; :func:`fold_split` is the cross-validation
protocol over them). A RAVDESS download in its release layout
(``Actor_XX/03-01-EE-II-SS-RR-AA.wav``) gets the same splits from the actor number.
Derived features are cached under :func:`cache_root`, never in the repository.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgeemo.errors import AudioFileError, ConfigError

RAVDESS_LABELS: tuple[str, ...] = (
    "neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise",
)
_RAVDESS_EMOTION_CODES = {f"{i + 1:02d}": label for i, label in enumerate(RAVDESS_LABELS)}
_RELEASE_NAME = re.compile(
    r"^(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-(?P<intensity>\d\d)-"
    r"(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)\.(?:wav|flac)$"
)
SPLITS = ("train", "dev", "test")
N_FOLDS = 5


@dataclass(frozen=True)
class Utterance:
    """One labelled clip."""

    path: Path
    label: str
    speaker: str
    actor: int
    split: str
    fold: int
    intensity: str = ""
    duration_s: float = 0.0
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


def find_data_root(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the labelled data lives: ``explicit``, ``$EDGEEMO_DATA``, or ``shared/data`` beside the repo."""
    if explicit:  # a folder the user named must exist: never fall back to another one silently
        if not Path(explicit).is_dir():
            raise ConfigError(f"data folder {explicit} does not exist; pass the folder that holds ravdess/")
        return Path(explicit)
    env = os.environ.get("EDGEEMO_DATA")
    if env:  # an override that points nowhere is a mistake, not a hint
        if not Path(env).is_dir():
            raise ConfigError(f"EDGEEMO_DATA={env} does not exist; set it to the folder that holds ravdess/ "
                              "or unset it")
        return Path(env)
    candidates: list[Path] = []
    candidates.append(Path.cwd().parent / "shared" / "data")
    candidates.append(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    for root in candidates:
        if root.is_dir():
            return root
    raise ConfigError(
        "no data folder found (looked at: " + ", ".join(str(c) for c in candidates) + "). "
        "Pass --data DIR or set EDGEEMO_DATA to the folder that holds ravdess/manifest.csv."
    )


def cache_root() -> Path:
    """Where derived features are cached: ``$EDGEEMO_CACHE``, else ``~/.cache/edgeemo``."""
    env = os.environ.get("EDGEEMO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "edgeemo"


def split_for_actor(actor: int) -> str:
    """The project's speaker-independent split for a RAVDESS actor number."""
    if 1 <= actor <= 16:
        return "train"
    if actor in (17, 18):
        return "dev"
    if actor in (19, 20):
        return "test"
    return "heldout"


def load_ravdess(root: str | os.PathLike[str] | None = None) -> list[Utterance]:
    """RAVDESS speech from a manifest folder (``ravdess/manifest.csv``) or a release layout.

    ``root`` may be the data root (holding ``ravdess/``), the ``ravdess`` folder itself, or a
    folder of ``Actor_XX`` directories as in the original download.
    """
    base = Path(root) if root is not None else find_data_root()
    for folder in (base / "ravdess", base):
        if (folder / "manifest.csv").is_file():
            return _read_manifest(folder)
    actors = sorted(p for p in base.glob("**/Actor_[0-9][0-9]") if p.is_dir())
    if actors:
        return _scan_release(actors)
    raise ConfigError(
        f"{base} holds neither ravdess/manifest.csv nor Actor_XX folders of the RAVDESS release"
    )


def _read_manifest(folder: Path) -> list[Utterance]:
    out: list[Utterance] = []
    with open(folder / "manifest.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            speaker = row["speaker"]
            actor = int(speaker.rsplit("_", 1)[-1])
            out.append(
                Utterance(
                    path=folder / row["path"],
                    label=row["label"],
                    speaker=speaker,
                    actor=actor,
                    split=row.get("split") or split_for_actor(actor),
                    fold=int(row["fold"]) if row.get("fold") else (actor - 1) // 4,
                    intensity=row.get("intensity", ""),
                    duration_s=float(row.get("duration_s") or 0.0),
                    extra={k: v for k, v in row.items() if k not in _CORE_COLUMNS},
                )
            )
    return out


_CORE_COLUMNS = {"path", "label", "speaker", "split", "fold", "intensity", "duration_s"}


def _scan_release(actor_dirs: Iterable[Path]) -> list[Utterance]:
    out: list[Utterance] = []
    for actor_dir in actor_dirs:
        for path in sorted(actor_dir.iterdir()):
            match = _RELEASE_NAME.match(path.name)
            if not match or match["modality"] not in ("01", "03") or match["channel"] != "01":
                continue  # video files and song are not speech audio
            actor = int(match["actor"])
            out.append(
                Utterance(
                    path=path,
                    label=_RAVDESS_EMOTION_CODES[match["emotion"]],
                    speaker=f"ravdess_{actor:02d}",
                    actor=actor,
                    split=split_for_actor(actor),
                    fold=(actor - 1) // 4,
                    intensity="strong" if match["intensity"] == "02" else "normal",
                )
            )
    return out


def select(
    utterances: Sequence[Utterance],
    *,
    splits: Iterable[str] | None = None,
    folds: Iterable[int] | None = None,
    exclude_folds: Iterable[int] | None = None,
) -> list[Utterance]:
    """Utterances in the given splits and/or folds."""
    split_set = set(splits) if splits is not None else None
    fold_set = set(folds) if folds is not None else None
    excluded = set(exclude_folds or ())
    return [
        u for u in utterances
        if (split_set is None or u.split in split_set)
        and (fold_set is None or u.fold in fold_set)
        and u.fold not in excluded
    ]


def fold_split(k: int, n_folds: int = N_FOLDS) -> tuple[tuple[int, ...], int, int]:
    """``(train folds, dev fold, test fold)`` for outer fold ``k``: test = k, dev = (k + 1) % n."""
    if not 0 <= k < n_folds:
        raise ConfigError(f"fold must be in 0..{n_folds - 1}, got {k}")
    dev = (k + 1) % n_folds
    return tuple(f for f in range(n_folds) if f not in (k, dev)), dev, k


def subset_per_actor(utts: Sequence[Utterance], n: int | None) -> list[Utterance]:
    """At most ``n`` clips per actor, taken round-robin over labels (deterministic)."""
    if n is None:
        return list(utts)
    out: list[Utterance] = []
    by_actor: dict[int, dict[str, list[Utterance]]] = {}
    for u in utts:
        by_actor.setdefault(u.actor, {}).setdefault(u.label, []).append(u)
    for actor in sorted(by_actor):
        queues = [list(by_actor[actor][lab]) for lab in sorted(by_actor[actor])]
        taken = 0
        while taken < n and any(queues):
            for q in queues:
                if q and taken < n:
                    out.append(q.pop(0))
                    taken += 1
    return out


def read_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 audio at ``sample_rate`` (soundfile to read, soxr to resample)."""
    import soundfile as sf
    import soxr

    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioFileError(f"cannot read audio file {path}: {exc}") from exc
    mono = wave.mean(axis=1, dtype=np.float32)
    if sr != sample_rate:
        mono = soxr.resample(mono, sr, sample_rate, quality="HQ").astype(np.float32)
    return np.ascontiguousarray(mono)


def load_waves(
    utterances: Sequence[Utterance], sample_rate: int = 16000, *, progress: bool = False
) -> list[np.ndarray]:
    """Read every clip into memory (RAVDESS speech is about 200 MB as float32)."""
    items: Iterable[Utterance] = utterances
    if progress:
        from tqdm import tqdm

        items = tqdm(utterances, desc="loading audio", unit="clip", leave=False)
    return [read_audio(u.path, sample_rate) for u in items]


def label_indices(utterances: Sequence[Utterance], labels: Sequence[str]) -> np.ndarray:
    """Integer class index of each utterance."""
    index = {label: i for i, label in enumerate(labels)}
    try:
        return np.array([index[u.label] for u in utterances], dtype=np.int64)
    except KeyError as exc:
        raise ConfigError(f"label {exc} is not one of the model's labels {list(labels)}") from exc
