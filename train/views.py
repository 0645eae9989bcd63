"""The augmented views of the Whisper teacher cache, regenerated for the student.

A teacher learns from (and labels) pooled Whisper features of each training clip's views, cached
per (clip, view) by :mod:`edgeemo.train.teachers.whisper_features`. Function matching needs the
student to see *the very same* audio, so this module rebuilds a view from what defines it: the
clip's bytes (their SHA-256), the view seed, :class:`~edgeemo.train.degrade.ViewConfig` and the
babble pool without the clip's speaker. It is the one place that says how
``recipes/whisper_teachers.py`` (``FeatureBank``) derives views and degraded test audio:

* training view ``v`` (seed ``v`` = 1..n, tag ``"view"``): ``make_view(wave, s, ViewConfig(),
  pool.excluding(speaker))`` with ``s = clip_view_seed(v, sha256(clip))``;
* evaluation condition number ``i`` of :data:`~edgeemo.train.degrade.EVAL_CONDITIONS`
  (``clean`` is 0): ``cond(wave, s, pool.excluding(speaker))`` with
  ``s = clip_view_seed(1000 + i, sha256(clip))``, tag ``"eval-<name>"``;
* the pool: :func:`teacher_babble_pool` over *all* clips of the corpus (4 per speaker, seed 0),
  whatever subset is trained on;
* a recipe may ask for another kind of views (:data:`VIEW_KINDS`, :func:`view_set`): ``"talker"``
  adds pitch and formant shifts (:func:`~edgeemo.train.degrade.voice_shift`) and caches under its
  own tag, ``"view-talker"``; ``"babble"`` (tag ``"view-babble"``) puts 2-6 other talkers at 0-20 dB
  SNR into every view; the seeds are the same. Views of several kinds can be combined
  (:class:`TrainingViews` takes a sequence of :class:`ViewSet`: their views follow one another).

:class:`TrainingViews` is what :class:`~edgeemo.train.trainer.StudentTrainer` takes as ``views``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from edgeemo.errors import ConfigError
from edgeemo.fileio import sha256_file

from .data import Utterance
from .degrade import (
    EVAL_CONDITIONS,
    BabblePool,
    ViewConfig,
    load_babble_pool,
    make_view,
)

__all__ = [
    "BABBLE_PER_SPEAKER",
    "BABBLE_SEED",
    "CONDITION_SEED_BASE",
    "TRAIN_VIEW_TAG",
    "TALKER_VIEWS",
    "BABBLE_VIEWS",
    "VIEW_KINDS",
    "TrainingViews",
    "ViewSet",
    "condition_function",
    "condition_seed",
    "condition_tag",
    "condition_wave",
    "teacher_babble_pool",
    "view_function",
    "view_set",
]

TRAIN_VIEW_TAG = "view"
CONDITION_SEED_BASE = 1000
BABBLE_PER_SPEAKER = 4
BABBLE_SEED = 0
#: the standard views plus other talkers: pitch ±2 semitones and formants ×0.9-1.1 (VTLP), each p 0.3
TALKER_VIEWS = ViewConfig(pitch_prob=0.3, formant_prob=0.3)
#: the standard views with other talkers in every one: babble of 2-6 training speakers at 0-20 dB SNR
#: (the standard views draw an SNR step in 40 % of views and babble in 40 % of those, at 0-30 dB)
BABBLE_VIEWS = ViewConfig(snr_prob=1.0, babble_share=1.0, snr_db=(0.0, 20.0))
#: view kinds a recipe can name: (ViewConfig, feature-cache tag); equal seeds, distinct tags
VIEW_KINDS: Mapping[str, tuple[ViewConfig, str]] = MappingProxyType({
    "standard": (ViewConfig(), TRAIN_VIEW_TAG),
    "talker": (TALKER_VIEWS, "view-talker"),
    "babble": (BABBLE_VIEWS, "view-babble"),
})

WaveFn = Callable[[np.ndarray, int], np.ndarray]


def _clip_view_seed(view_seed: int, clip_hash: str) -> int:
    from .teachers.whisper_features import clip_view_seed

    return clip_view_seed(view_seed, clip_hash)


def teacher_babble_pool(utterances: Sequence[Utterance]) -> BabblePool:
    """The babble pool the teacher cache used: 4 clips per speaker of the *whole* corpus, seed 0."""
    return load_babble_pool(utterances, per_speaker=BABBLE_PER_SPEAKER, seed=BABBLE_SEED)


def view_function(pool: BabblePool, speaker: str, cfg: ViewConfig | None = None) -> WaveFn:
    """``fn(wave, seed)`` making a training view of one of ``speaker``'s clips (babble from
    others), with ``cfg`` (default: ``ViewConfig()``, what the teacher cache used)."""
    others = pool.excluding(speaker)
    view_cfg = cfg if cfg is not None else ViewConfig()
    return lambda wave, seed: make_view(wave, seed, view_cfg, others)


def condition_seed(name: str) -> int:
    """The view seed of evaluation condition ``name``: 1000 + its position in EVAL_CONDITIONS."""
    names = list(EVAL_CONDITIONS)
    if name not in names:
        raise ConfigError(f"unknown condition {name!r}; known: {', '.join(names)}")
    return CONDITION_SEED_BASE + names.index(name)


def condition_tag(name: str) -> str:
    """The feature-cache tag of evaluation condition ``name``."""
    return f"eval-{name}"


def condition_function(name: str, pool: BabblePool, speaker: str) -> WaveFn:
    """``fn(wave, seed)`` applying evaluation condition ``name`` to one of ``speaker``'s clips."""
    condition_seed(name)  # checks the name
    cond = EVAL_CONDITIONS[name]
    others = pool.excluding(speaker)
    return lambda wave, seed: cond(wave, seed, others)


def condition_wave(utt: Utterance, wave: np.ndarray, name: str, pool: BabblePool,
                   clip_hash: str | None = None) -> np.ndarray:
    """``wave`` (the clip of ``utt`` at 16 kHz) under condition ``name``, as the teacher cache made it."""
    if name == "clean":
        return np.asarray(wave, dtype=np.float32)
    digest = clip_hash or sha256_file(utt.path)
    return condition_function(name, pool, utt.speaker)(wave, _clip_view_seed(condition_seed(name), digest))


@dataclass(frozen=True)
class ViewSet:
    """Which cached views: seeds ``first_seed .. first_seed + n_views - 1``, their tag and config."""

    n_views: int
    cfg: ViewConfig = field(default_factory=ViewConfig)
    tag: str = TRAIN_VIEW_TAG
    first_seed: int = 1

    def __post_init__(self) -> None:
        if self.n_views < 0:
            raise ConfigError(f"n_views must be >= 0, got {self.n_views}")
        if self.first_seed < 1:
            raise ConfigError(f"view seeds start at 1 or later, got first_seed={self.first_seed}")

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.first_seed, self.first_seed + self.n_views))

    def signature(self) -> dict[str, Any]:
        """What defines the views (recorded in checkpoints; a resume with other views is refused)."""
        return {"n_views": self.n_views, "seeds": list(self.seeds), "tag": self.tag,
                "view_config": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self.cfg).items()}}


def view_set(n_views: int, kind: str = "standard", first_seed: int = 1) -> ViewSet:
    """The ``n_views`` training views of kind ``kind`` (:data:`VIEW_KINDS`), seeds
    ``first_seed .. first_seed + n_views - 1``."""
    if kind not in VIEW_KINDS:
        raise ConfigError(f"unknown view kind {kind!r}; known: {', '.join(VIEW_KINDS)}")
    cfg, tag = VIEW_KINDS[kind]
    return ViewSet(n_views, cfg=cfg, tag=tag, first_seed=first_seed)


class TrainingViews:
    """Per training clip, the clean wave (view 0) and views 1..n exactly as the teacher cache made them.

    ``view_set`` is one :class:`ViewSet` or several (e.g. 4 standard views, then 4 babble views):
    their views follow one another in the given order."""

    def __init__(self, view_set: ViewSet | Sequence[ViewSet], pool: BabblePool) -> None:
        self.view_sets: tuple[ViewSet, ...] = (view_set,) if isinstance(view_set, ViewSet) else tuple(view_set)
        if not self.view_sets:
            raise ConfigError("TrainingViews needs at least one ViewSet")
        self.pool = pool
        self._fns: dict[tuple[str, int], WaveFn] = {}

    @property
    def n_views(self) -> int:
        """Augmented views per clip (the clean clip comes on top: ``n_views + 1`` in all)."""
        return sum(v.n_views for v in self.view_sets)

    def signature(self) -> dict[str, Any]:
        """One set's :meth:`ViewSet.signature`, or ``{"n_views", "parts"}`` for several."""
        if len(self.view_sets) == 1:
            return self.view_sets[0].signature()
        return {"n_views": self.n_views, "parts": [v.signature() for v in self.view_sets]}

    def waves(self, utt: Utterance, wave: np.ndarray, clip_hash: str | None = None) -> list[np.ndarray]:
        """``[clean, view 1, ..., view n]`` of one clip (``wave``: its 16 kHz samples)."""
        digest = clip_hash or sha256_file(utt.path)
        out = [np.asarray(wave, dtype=np.float32)]
        for i, views in enumerate(self.view_sets):
            key = (utt.speaker, i)
            if key not in self._fns:
                self._fns[key] = view_function(self.pool, utt.speaker, views.cfg)
            out += [self._fns[key](wave, _clip_view_seed(s, digest)) for s in views.seeds]
        return out
