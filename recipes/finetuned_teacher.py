"""A fine-tuned Whisper teacher for function matching: tiny.en's first three layers trained end to end.

The frozen teachers of ``recipe function-matching`` (a head on the frozen encoder's pooled
features) score 72-74 % clean on the folds; the small model with its Whisper layers fine-tuned
scored 76.3 (``recipe small-finetune``, row ``ft_all_k3``, on a GPU). This teacher is that network
(:class:`~edgeemo.train.models.whisper_small.WhisperSmall`, k = 3, stem, positions and layers
learning after two head-only epochs: :data:`TEACHER_TRAINING`) fitted per outer fold on the
clips of the train **and** dev folds and their views, for a fixed number of epochs (the median of
the five dev choices of that GPU run), so nothing picks an epoch and the test fold stays unseen.
It runs on a CPU: about 15 minutes a fold on two threads.

Its targets for the student, per training clip and view (column 0 the clean clip, then the views
``view-1..n``, the audio :mod:`edgeemo.train.views` makes from the same seeds as the student's):
the log of the mean of its window probabilities (the clip score ``classify`` reports) as logits,
and the mean over windows of its head's standardised, layer-weighted pooled feature as the
embedding, as a frozen teacher's :func:`~edgeemo.train.distill.function_matching.whisper_view_targets`.

A fold's teacher is fitted once and cached under ``RUNS/<settings key>/teachers/<name>/fold<k>/``
(``small.pt`` + ``small.json``, ``targets.npz``, ``record.json`` written last and atomically; a
file lock keeps two processes from fitting the same fold); ``record.json`` holds its test-fold UA
and predictions under every evaluation condition.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write, atomic_write_text
from edgeemo.train.data import RAVDESS_LABELS, label_indices
from edgeemo.train.small_finetune import FinetuneConfig

if TYPE_CHECKING:
    from edgeemo.train.data import Utterance
    from edgeemo.train.distill.function_matching import ViewTargets

__all__ = ["TEACHER_LAYERS", "TEACHER_TRAINING", "FinetunedTeacher", "FoldClips", "cached_records", "teacher_folder",
           "teacher_in_words"]

#: Whisper tiny.en layers the teacher keeps (the small student's k).
TEACHER_LAYERS = 3
#: ``ft_all_k3``'s training (docs/results/small_finetune.md) with its epochs fixed: the dev folds of
#: that run chose 5, 4, 9, 6 and 8, median 6 (2 head-only + 4 with the encoder learning).
TEACHER_TRAINING = FinetuneConfig(train_encoder="all", epochs=6, head_only_epochs=2)
TEACHER_NAME = "whisper_ft_k3"
RECORD = "record.json"
TARGETS = "targets.npz"


class FoldClips(Protocol):
    """What a fold's teacher needs of the corpus (``recipes.function_matching.FoldData`` has it)."""

    root: Path
    corpus: list[Utterance]
    progress: bool

    @property
    def settings(self) -> Any: ...  # has ``key()``

    def split(self, fold: int) -> tuple[list[Utterance], list[Utterance], list[Utterance]]: ...


def teacher_folder(runs: Path, settings_key: str, n_views: int, cfg: FinetuneConfig = TEACHER_TRAINING) -> Path:
    """The cache folder of one teacher recipe (its folds below it): named by what defines it."""
    from .small_student import HOP, WINDOW

    text = json.dumps({"layers": TEACHER_LAYERS, "views": n_views, "train": cfg.to_dict(), "window": WINDOW,
                       "hop": HOP, "fit_on": "train+dev"}, sort_keys=True)
    return Path(runs) / settings_key / "teachers" / f"{TEACHER_NAME}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def cached_records(folder: Path, attach: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The ``record.json`` of every fold fitted so far under one teacher recipe's ``folder``; each
    ``attach`` ``{key: file name}`` found in a fold's folder is read into its record under ``key``
    (e.g. the fused scores of :mod:`edgeemo.recipes.teacher_fusion`)."""
    records = []
    for path in sorted(Path(folder).glob(f"fold*/{RECORD}")):
        record = json.loads(path.read_text())
        for key, name in (attach or {}).items():
            if (path.parent / name).is_file():
                record[key] = json.loads((path.parent / name).read_text())
        records.append(record)
    return records


def teacher_in_words(cfg: FinetuneConfig = TEACHER_TRAINING, n_views: int = 4) -> str:
    """One paragraph for reports: what the teacher is and how it was trained."""
    return (f"Teacher: Whisper tiny.en's log-mel front end, conv stem and first {TEACHER_LAYERS} layers with a "
            f"layer-weighted head on mean + std pooled states (recipe small-finetune's `ft_all_k3`), trained per fold "
            f"on the clips of the train and dev folds, each clean and as {n_views} views, one random 3 s window per "
            f"clip and view per epoch, for a fixed {cfg.epochs} epochs ({cfg.head_only_epochs} head-only, then the "
            f"stem, positions and layers too at lr {cfg.lr_encoder:g}; head lr {cfg.lr_head:g}, batch "
            f"{cfg.batch_size}, AdamW, label smoothing {cfg.label_smoothing:g}) on a CPU; a clip's score is the "
            "mean of its window probabilities.")


@contextlib.contextmanager
def _fold_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class FinetunedTeacher:
    """The fold's fine-tuned teacher: fitted once (or read from its cache), its targets on the
    training clips' views and its test-fold scores."""

    def __init__(self, data: FoldClips, fold: int, n_views: int, runs: Path, *,
                 cfg: FinetuneConfig = TEACHER_TRAINING, log: Callable[[str], None] | None = None) -> None:
        if n_views < 1:
            raise ConfigError("the fine-tuned teacher trains on the clips' views: pass --views 1 or more")
        self.n_views = n_views
        self.folder = teacher_folder(runs, data.settings.key(), n_views, cfg) / f"fold{fold}"
        t0 = time.perf_counter()
        with _fold_lock(self.folder.parent / f"fold{fold}.lock"):
            if not (self.folder / RECORD).is_file():
                _fit_fold(data, fold, n_views, cfg, self.folder, log or (lambda _text: None))
        self._full: dict[str, Any] = json.loads((self.folder / RECORD).read_text())
        #: what a student's result keeps of its teacher (the test predictions stay in the cache)
        self.record: dict[str, Any] = {k: self._full[k] for k in ("kind", "epochs", "trained_on", "seconds")}
        with np.load(self.folder / TARGETS) as z:
            self._logits, self._embedding, self._paths = z["logits"], z["embedding"], tuple(z["paths"].tolist())
        self.train = data.split(fold)[0]
        if self._paths != tuple(str(u.path) for u in self.train):
            raise ConfigError(f"the cached teacher targets in {self.folder} are for other clips than fold {fold}'s "
                              "training clips; delete that folder to fit the teacher again")
        self.seconds = time.perf_counter() - t0

    def view_targets(self, n_views: int) -> ViewTargets:
        """Targets on the clean clip and the first ``n_views`` views of every training clip."""
        from edgeemo.train.distill.function_matching import ViewTargets

        if n_views > self.n_views:
            raise ConfigError(f"the teacher has targets on {self.n_views} views per clip, {n_views} asked")
        return ViewTargets(logits=self._logits[:, : 1 + n_views], embedding=self._embedding[:, : 1 + n_views],
                           paths=self._paths)

    def score(self, data: FoldClips, fold: int, conditions: Sequence[str]) -> dict[str, float]:
        """Test UA % per condition (measured when the teacher was fitted)."""
        missing = [c for c in conditions if c not in self._full["test_ua"]]
        if missing:
            raise ConfigError(f"the cached teacher in {self.folder} was not scored under {missing}")
        return {c: self._full["test_ua"][c] for c in conditions}


def _clip_outputs(model: Any, tables: Any, variant: str, clips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per clip of ``clips`` (in order): mean window probabilities and mean window embedding."""
    from edgeemo.train.small_finetune import clip_mean, window_outputs

    tab = tables.table([variant], clips)
    probs, emb = window_outputs(model, tab.windows)
    order, p = clip_mean(probs, tab.clip)
    _, e = clip_mean(emb, tab.clip)
    if not np.array_equal(order, np.sort(clips)) or not np.array_equal(np.sort(clips), clips):
        raise ConfigError("clip outputs must be asked for clips in increasing order")
    return p, e


def _fit_fold(data: FoldClips, fold: int, n_views: int, cfg: FinetuneConfig, folder: Path,
              log: Callable[[str], None]) -> None:
    import torch
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.models.whisper_small import save_small
    from edgeemo.train.selection import unweighted_accuracy
    from edgeemo.train.small_finetune import finetune_small

    from .small_finetune import PretrainedEncoders, WindowTables, fresh_small_model, make_variant_windows

    train, dev, test = data.split(fold)
    fit = [*train, *dev]
    views = ["clean", *(f"view-{i}" for i in range(1, n_views + 1))]
    conditions = ["clean", *(f"eval-{c}" for c in EVAL_CONDITIONS if c != "clean")]
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    log(f"fine-tuned teacher, fold {fold}: making the windows of {len(fit)} clips x {len(views)} variants")
    fit_windows = make_variant_windows(fit, corpus=data.corpus, n_views=n_views, variants=views,
                                       progress=data.progress)
    seconds["windows"] = round(time.perf_counter() - t0, 1)
    device = torch.device("cpu")
    tables = WindowTables(fit_windows, device)
    y_fit = label_indices(fit, RAVDESS_LABELS)
    t0 = time.perf_counter()
    model = fresh_small_model(PretrainedEncoders(None), TEACHER_LAYERS, device)
    model, history = finetune_small(
        model, tables.table(views, np.arange(len(fit))), y_fit, cfg,
        progress=lambda r: log(f"  teacher fold {fold} epoch {r['epoch']}/{cfg.epochs}: loss {r['loss']:.3f} "
                               f"({r['seconds']:.0f} s)"))
    seconds["fit"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    own = np.arange(len(train))  # the training clips come first in ``fit``
    logits, embedding = [], []
    for v in views:
        p, e = _clip_outputs(model, tables, v, own)
        logits.append(np.log(np.clip(p, 1e-8, None)))
        embedding.append(e)
    del tables, fit_windows
    seconds["targets"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    test_windows = make_variant_windows(test, corpus=data.corpus, n_views=n_views, variants=conditions,
                                        progress=data.progress)
    test_tables = WindowTables(test_windows, device)
    y_test = label_indices(test, RAVDESS_LABELS)
    pred: dict[str, list[int]] = {}
    ua: dict[str, float] = {}
    for cond in EVAL_CONDITIONS:
        p, _ = _clip_outputs(model, test_tables, "clean" if cond == "clean" else f"eval-{cond}", np.arange(len(test)))
        pred[cond] = p.argmax(axis=1).tolist()
        ua[cond] = 100 * unweighted_accuracy(y_test, p.argmax(axis=1), len(RAVDESS_LABELS))
    seconds["scoring"] = round(time.perf_counter() - t0, 1)
    folder.mkdir(parents=True, exist_ok=True)
    save_small(model, folder, {"fold": fold, "trained_on": "train + dev folds"})
    atomic_write(folder / TARGETS, lambda fh: np.savez(
        fh, logits=np.stack(logits, axis=1).astype(np.float32), embedding=np.stack(embedding, axis=1).astype(np.float32),
        paths=np.array([str(u.path) for u in train])))
    record = {"fold": fold, "kind": TEACHER_NAME, "layers": TEACHER_LAYERS, "training": cfg.to_dict(),
              "trained_on": f"train + dev folds: {len(fit)} clips, clean + {n_views} views each",
              "epochs": cfg.epochs, "history": history, "test_ua": ua, "test_pred": pred,
              "test_paths": [str(u.path) for u in test], "seconds": seconds}
    atomic_write_text(folder / RECORD, json.dumps(record, indent=1))
    log(f"fine-tuned teacher, fold {fold}: clean UA {ua['clean']:.1f}, mean degraded "
        f"{np.mean([ua[c] for c in EVAL_CONDITIONS if c != 'clean']):.1f} ({sum(seconds.values()) / 60:.1f} min)")
