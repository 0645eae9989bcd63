"""Function matching vs labels for the tiny student, on the five RAVDESS actor folds.

    edgeemo recipe function-matching --views 4 --out docs/results/function_matching

Per fold k (test = fold k, dev = fold (k + 1) % 5, train = the other three):

* the teacher: a :class:`~edgeemo.train.teachers.whisper_head.WhisperTeacherHead` (audio only) on
  the frozen Whisper encoder's cached pooled features of the training clips and their ``--views``
  views (the cache ``recipes/whisper_teachers.py`` fills: same seeds, tag, ViewConfig and babble
  pool, :mod:`edgeemo.train.views`); the dev fold (clean) picks its epoch, no refit. Rows with
  ``Row.teacher == "finetuned"`` use instead tiny.en's first three layers fine-tuned with a head
  on the train + dev clips and their views for a fixed 6 epochs
  (:mod:`edgeemo.recipes.finetuned_teacher`, cached per fold; ``--teachers-only`` fits them
  without students and writes their report, with the action units fused in as a with-video
  score: :mod:`edgeemo.recipes.teacher_report`, :mod:`edgeemo.recipes.teacher_fusion`);
* each row's student trains on the training folds; the dev fold picks its epoch;
* the test fold is scored clean and under :data:`~edgeemo.train.degrade.EVAL_CONDITIONS`: the
  student runs on the degraded *waveforms*, regenerated with the condition seeds of the teacher
  cache (:func:`edgeemo.train.views.condition_wave`).

Rows (:data:`ROWS`): ``student_labels`` (labels, clean clips, the trainer's defaults),
``student_labels_views`` (labels, clean clip + views), ``student_fm`` (KL to the teacher's T = 2
outputs + embedding regression on the same view, mixup, no labels), ``student_fm_label`` (the
same + label cross-entropy 0.5), ``student_fm_stream`` (``student_fm`` with the streamable
architecture :data:`STREAMABLE_MODEL`), ``student_fm_stream_x2`` and ``_x4`` (the same, trained two and
four times as long), ``student_labels_stream_x2`` (their control: the same student and schedule on labels alone),
``student_labels_views_stream_x2`` (that control on the same views) and ``student_fm_kl_stream_x2``
(``student_fm_stream_x2`` without the embedding regression), and the 160-epoch controls
``student_labels_stream_x4`` and ``student_labels_views_stream_x4``; ``student_fm_talker_stream_x4``
(``_x4`` on talker views: pitch and formant shifts too, :data:`edgeemo.train.views.VIEW_KINDS`);
``student_fm_v8_stream_x4`` (``_x4`` on 8 views per clip, whatever ``--views`` says: ``Row.n_views``);
``student_fm_label_stream_x4`` (``_x4`` + label cross-entropy 0.5); ``student_fm_clean_stream_x4`` and
``student_fm_cleanemb_stream_x4`` (the clean clip's teacher outputs, or its embedding alone, as the
targets of every view); ``student_fm_babble_stream_x4`` (``_x4`` with 4 babble views more per clip,
``Row.extra_views``, for teacher and student), ``student_fm_babble_ckd_stream_x4`` (the same with
the teacher head refitted to its clean-clip outputs, ``Row.teacher_clean_kd``),
``student_fm_tbabble_ckd_stream_x4`` (that teacher, the student on the standard views alone:
``Row.teacher_extra_views``), ``student_fm_b1_tbabble_ckd_stream_x4`` (that teacher, the student
on its standard views and the first of its babble views) and the labels control on the babble
views. ``Row.teacher_heads`` averages several teacher heads (``student_fm_t3_stream_x4``: ``_x4`` with
the mean of three). ``student_fm_stream_x8``, ``student_fm_b1_tbabble_ckd_stream_x8`` and
``student_fm_cleanemb_stream_x8``: those three recipes trained twice as long again (320 epochs), and
``student_labels_stream_x8`` their control on labels.
``student_fm_ftcleanemb_stream_x4``: ``student_fm_cleanemb_stream_x4``
with the fine-tuned teacher. ``student_fm_xfit_cleanemb_stream_x4``: ``student_fm_cleanemb_stream_x4``
with cross-fitted teacher outputs (``Row.teacher == "head_xfit"``, :class:`CrossFittedTeacher`):
a training clip's logits come from a head that never heard its speaker;
``student_fm_xfit_label_cleanemb_stream_x4`` the same + label cross-entropy 0.5.
``student_fm_frames_cleanemb_stream_x4``: ``student_fm_cleanemb_stream_x4`` + frame-level regression
of Whisper's layer 2 from the student's trunk columns (:mod:`edgeemo.train.distill.frame_matching`;
the frames are cached per (clip, view) on first use), ``student_fm_frames_cleanemb_stream_x8`` the same
for 320 epochs (the tiny model's recipe since 0.6.0), ``student_fm_frames4_cleanemb_stream_x4`` the x4 row
with the last layer's frames, ``student_fm_frames24_cleanemb_stream_x4`` with both layers' (one head
each) and ``student_fm_frames_w2_cleanemb_stream_x4`` with layer 2's at weight 2. A row's
``controls`` give more paired Δs.

Resumable: every finished (row, fold) is merged into ``OUT.json`` under a file lock (several
processes may share one ``--out``, e.g. one per row), keyed by a hash of the settings; student
runs resume inside a fold from their last checkpoint under ``--runs``. ``OUT.md``: mean ± sd over
the folds measured, paired Δ vs ``student_labels`` (folds won), 95 % speaker-bootstrap intervals;
``OUT.png``: UA per condition.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
from edgeemo.cli._common import run_standalone
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text, sha256_file
from edgeemo.train.config import set_torch_threads
from edgeemo.train.data import (
    N_FOLDS,
    RAVDESS_LABELS,
    Utterance,
    find_data_root,
    fold_split,
    label_indices,
    load_ravdess,
    read_audio,
    select,
    subset_per_actor,
)
from edgeemo.train.selection import paired_delta, speaker_bootstrap, unweighted_accuracy

from .report import plot_conditions, read_state

__all__ = ["ROWS", "Row", "Settings", "at_last_epoch", "function_matching_command", "last_epoch_ema", "last_vs_dev_choice",
           "merge_view_parts", "rescore_last_epochs", "run_function_matching", "score_last_epoch", "view_sets_of",
           "views_in_words"]

REFERENCE = "student_labels"
TEACHER_KINDS = ("head", "head_xfit", "finetuned")
VIEW_AUGMENT: dict[str, Any] = {"noise_prob": 0.0}  # the views carry noise (the teacher saw them without more)
FM_AUGMENT: dict[str, Any] = {"noise_prob": 0.0, "mixup_prob": 0.5}


@dataclass(frozen=True)
class Row:
    """One student configuration of the table."""

    name: str
    description: str
    views: bool = False
    fm: dict[str, Any] | None = None  # FunctionMatchingConfig fields; None = labels only
    augment: dict[str, Any] = field(default_factory=dict)  # AugmentConfig overrides
    model: dict[str, Any] = field(default_factory=dict)  # TrainConfig architecture overrides
    epoch_factor: int = 1  # the student trains for Settings.epochs times this
    #: which views (edgeemo.train.views.VIEW_KINDS) the teacher and the student see, when ``views``
    view_kind: str = "standard"
    #: views per training clip for this row (seeds 1..n); None = the recipe's ``--views``
    n_views: int | None = None
    #: more views after those, as (kind, count): e.g. (("babble", 4),) adds babble views 1..4
    extra_views: tuple[tuple[str, int], ...] = ()
    #: views the teacher head also trains on, after the row's own, as (kind, count); the student never sees
    #: them (its targets are the teacher's outputs on its own views)
    teacher_extra_views: tuple[tuple[str, int], ...] = ()
    #: > 0: the teacher head is refitted to say on every view what it said on the clean clip, with
    #: this weight beside the labels (edgeemo.train.teachers.whisper_head.fit_whisper_head_on_views)
    teacher_clean_kd: float = 0.0
    #: > 1: the teacher is the mean of this many heads fitted alike with different seeds
    #: (edgeemo.train.teachers.whisper_head.WhisperHeadEnsemble)
    teacher_heads: int = 1
    #: rows with the same student and schedule (labels alone, the same views, another loss): more paired Δs
    controls: tuple[str, ...] = ()
    #: the teacher: ``"head"`` (a head on the frozen encoder's cached features, :class:`Teacher`) or
    #: ``"finetuned"`` (tiny.en's first 3 layers fine-tuned with a head on the fold's train + dev clips,
    #: :class:`~edgeemo.recipes.finetuned_teacher.FinetunedTeacher`; standard views only) or
    #: ``"head_xfit"`` (the head's outputs cross-fitted: :class:`CrossFittedTeacher`)
    teacher: str = "head"

    def __post_init__(self) -> None:
        if self.teacher not in TEACHER_KINDS:
            raise ConfigError(f"row {self.name}: teacher must be one of {TEACHER_KINDS}, got {self.teacher!r}")
        if self.teacher == "finetuned" and (self.view_kind != "standard" or self.extra_views or self.teacher_extra_views
                                            or self.teacher_clean_kd or self.teacher_heads != 1):
            raise ConfigError(f"row {self.name}: the fine-tuned teacher trains on the standard views alone, "
                              "with one head and no clean-output refit")

    def view_count(self, default: int) -> int:
        """How many views per clip this row's student sees and gets targets on (``default``: ``--views``)."""
        return sum(v.n_views for v in self.view_sets(default))

    def view_parts(self, default: int, *, teacher: bool = False) -> list[tuple[str, int]]:
        """(kind, count) of the student's views in order: ``view_kind`` (``n_views``, else
        ``default``: ``--views``), then ``extra_views``; with ``teacher``, then ``teacher_extra_views``.
        Neighbours of one kind merge (1 babble, then 3 teacher-only babble: ``("babble", 4)``)."""
        parts = [(self.view_kind, default if self.n_views is None else self.n_views), *self.extra_views]
        return merge_view_parts(parts + list(self.teacher_extra_views) if teacher else parts)

    def view_sets(self, default: int, *, teacher: bool = False) -> tuple[Any, ...]:
        """:func:`view_sets_of` :meth:`view_parts`: the teacher's extra views are never the student's
        again, and the student's views are the first of the teacher's."""
        return view_sets_of(self.view_parts(default, teacher=teacher))

    def teacher_view_sets(self, default: int) -> tuple[Any, ...]:
        """The teacher head's views: :meth:`view_sets`, then ``teacher_extra_views``."""
        return self.view_sets(default, teacher=True)

    def views_label(self, default: int, *, teacher: bool = False) -> str:
        """``"4 standard"``, ``"4 standard + 4 babble"``: :meth:`view_parts` in words."""
        return views_in_words(self.view_parts(default, teacher=teacher))


def merge_view_parts(parts: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """``parts`` ((kind, count), in order) with neighbours of one kind merged: ``[("babble", 1),
    ("babble", 3)]`` → ``[("babble", 4)]``."""
    merged: list[tuple[str, int]] = []
    for kind, n in parts:
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + n)
        else:
            merged.append((kind, n))
    return merged


def view_sets_of(parts: Sequence[tuple[str, int]]) -> tuple[Any, ...]:
    """The :class:`~edgeemo.train.views.ViewSet` s of ``parts`` ((kind, count), in order); a kind's
    seeds go on where its earlier views stopped (1..n, then n+1..), so no view appears twice."""
    from edgeemo.train.views import view_set

    used: dict[str, int] = {}
    sets = []
    for kind, n in parts:
        sets.append(view_set(n, kind, first_seed=used.get(kind, 0) + 1))
        used[kind] = used.get(kind, 0) + n
    return tuple(sets)


def views_in_words(parts: Sequence[tuple[str, int]], clean_kd: float = 0.0, heads: int = 1) -> str:
    """``"4 standard + 4 babble"`` (+ ``", refitted to its clean-clip outputs (weight w)"`` when
    ``clean_kd`` > 0, + ``", mean of n heads"`` when ``heads`` > 1): a teacher's or student's views,
    as tables and cards name them."""
    text = " + ".join(f"{n} {kind}" for kind, n in parts)
    text += f", refitted to its clean-clip outputs (weight {clean_kd})" if clean_kd else ""
    return text + (f", mean of {heads} heads" if heads > 1 else "")


#: A student whose conv trunk a stream computes once per column (StudentConfig, "Streamable students")
STREAMABLE_MODEL: dict[str, Any] = {"normalization": "local_max", "time_padding": "valid", "time_pools": [5, 2, 1]}

#: the frame rows' function matching: no labels, the clean clip's embedding, Whisper layer 2's frames
FRAMES_FM = {"label_weight": 0.0, "embedding_view": "clean", "frame_weight": 1.0, "frame_layer": 2}

ROWS: tuple[Row, ...] = (
    Row(REFERENCE, "labels only, clean clips (the trainer's defaults: speed 0.9/1/1.1, log-mel noise p 0.2)"),
    Row("student_labels_views", "labels only, each epoch one of clean + the views per clip (no extra log-mel noise)",
        views=True, augment=VIEW_AUGMENT),
    Row("student_fm", ("function matching on the views: KL to the teacher's T 2 outputs + cosine regression of its "
                       "embedding through a linear head, mixup p 0.5, no labels"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT),
    Row("student_fm_label", "student_fm + label cross-entropy, weight 0.5", views=True, fm={"label_weight": 0.5},
        augment=FM_AUGMENT),
    Row("student_fm_stream", ("student_fm with a streamable trunk: each frame minus the loudest log-mel value within "
                              "0.25 s (not the window's mean), no time padding, time pooling 5, 2, 1"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL),
    Row("student_fm_stream_x2", "student_fm_stream trained twice as long (80 epochs at the defaults; Beyer's patience)",
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=2,
        controls=("student_labels_stream_x2", "student_labels_views_stream_x2")),
    Row("student_labels_stream_x2", ("the control of student_fm_stream_x2: its streamable student and 80 epochs, on "
                                     "labels and clean clips (the trainer's defaults)"),
        model=STREAMABLE_MODEL, epoch_factor=2),
    Row("student_labels_views_stream_x2", ("student_labels_stream_x2 on the views of student_fm_stream_x2 (labels, no "
                                           "teacher, no mixup): splits its degraded gain between views and teacher"),
        views=True, augment=VIEW_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=2),
    Row("student_fm_kl_stream_x2", ("student_fm_stream_x2 without the embedding regression: the KL to the "
                                    "teacher's T 2 outputs alone (splits the teacher's part between its two targets)"),
        views=True, fm={"label_weight": 0.0, "embedding_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=2, controls=("student_fm_stream_x2", "student_labels_views_stream_x2")),
    Row("student_fm_stream_x4", "student_fm_stream trained four times as long (160 epochs at the defaults)",
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        controls=("student_labels_stream_x4", "student_labels_views_stream_x4")),
    Row("student_labels_stream_x4", "the control of student_fm_stream_x4: student_labels_stream_x2 for 160 epochs",
        model=STREAMABLE_MODEL, epoch_factor=4),
    Row("student_labels_views_stream_x4", "student_labels_views_stream_x2 for 160 epochs (labels on the same views)",
        views=True, augment=VIEW_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4),
    Row("student_fm_talker_stream_x4", ("student_fm_stream_x4 on talker views: the same views plus pitch (±2 "
                                        "semitones) and formant (×0.9-1.1, vocal-tract length) shifts, each p 0.3, "
                                        "for teacher and student alike"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        view_kind="talker", controls=("student_fm_stream_x4",)),
    Row("student_fm_v8_stream_x4", ("student_fm_stream_x4 on 8 views per clip (seeds 1-8: its 4 and 4 more) for "
                                    "teacher and student alike: twice the views at the same cost per epoch"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        n_views=8, controls=("student_fm_stream_x4",)),
    Row("student_fm_label_stream_x4", ("student_fm_stream_x4 + label cross-entropy, weight 0.5 (on the same views and "
                                       "mixup): the labels where the teacher is unsure, e.g. under babble"),
        views=True, fm={"label_weight": 0.5}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        controls=("student_fm_stream_x4", "student_labels_views_stream_x4")),
    Row("student_fm_clean_stream_x4", ("student_fm_stream_x4 with the teacher's outputs on the clean clip as the "
                                       "targets of every view (the student still sees the views): it learns to map "
                                       "a degraded view to what the teacher knows of the clean speech"),
        views=True, fm={"label_weight": 0.0, "teacher_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=4, controls=("student_fm_stream_x4", "student_labels_views_stream_x4")),
    Row("student_fm_cleanemb_stream_x4", ("student_fm_stream_x4 with the clean clip's teacher embedding as the "
                                          "regression target of every view, the KL still on the view's own softened "
                                          "outputs: clean speech's representation without forcing a confident class "
                                          "on a view the teacher itself finds hard"),
        views=True, fm={"label_weight": 0.0, "embedding_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=4, controls=("student_fm_stream_x4", "student_fm_clean_stream_x4",
                                  "student_labels_views_stream_x4")),
    Row("student_fm_babble_stream_x4", ("student_fm_stream_x4 with 4 babble views more per clip (2-6 other training "
                                        "talkers at 0-20 dB SNR in every one, edgeemo.train.views.BABBLE_VIEWS) for "
                                        "teacher and student alike: the teacher head learns babble from its frozen "
                                        "features, and the student gets its targets there"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        extra_views=(("babble", 4),),
        controls=("student_fm_stream_x4", "student_labels_stream_x4", "student_labels_views_babble_stream_x4")),
    Row("student_fm_babble_ckd_stream_x4", ("student_fm_babble_stream_x4 with a teacher head refitted to say on every "
                                            "view what it said on the clean clip (weight 0.5 beside the labels)"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        extra_views=(("babble", 4),), teacher_clean_kd=0.5,
        controls=("student_fm_babble_stream_x4", "student_fm_stream_x4", "student_labels_stream_x4",
                  "student_labels_views_babble_stream_x4")),
    Row("student_fm_tbabble_ckd_stream_x4", ("student_fm_stream_x4 (the student on the standard views alone) with "
                                             "the teacher of student_fm_babble_ckd_stream_x4: its head trained on 4 "
                                             "babble views more and refitted to its clean-clip outputs"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        teacher_extra_views=(("babble", 4),), teacher_clean_kd=0.5,
        controls=("student_fm_stream_x4", "student_fm_babble_ckd_stream_x4", "student_labels_stream_x4")),
    Row("student_fm_b1_tbabble_ckd_stream_x4", ("student_fm_tbabble_ckd_stream_x4 with the first of its teacher's "
                                                "4 babble views for the student too: babble in 1 of its 6 training "
                                                "views per clip (4 of 9 in student_fm_babble_ckd_stream_x4)"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        extra_views=(("babble", 1),), teacher_extra_views=(("babble", 3),), teacher_clean_kd=0.5,
        controls=("student_fm_tbabble_ckd_stream_x4", "student_fm_babble_ckd_stream_x4", "student_fm_stream_x4",
                  "student_labels_stream_x4")),
    Row("student_fm_t3_stream_x4", ("student_fm_stream_x4 with its teacher the mean of 3 heads fitted seeds 100 "
                                    "apart (WhisperHeadEnsemble, each head its own dev epoch): a steadier teacher, "
                                    "the student and its views unchanged"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        teacher_heads=3, controls=("student_fm_stream_x4", "student_labels_stream_x4")),
    Row("student_fm_stream_x8", ("student_fm_stream_x4 trained twice as long again (320 epochs at the defaults): "
                                 "x2 -> x4 gave +6.7 clean with the dev epoch 70-80 % into the schedule"),
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=8,
        controls=("student_labels_stream_x8", "student_fm_stream_x4")),
    Row("student_labels_stream_x8", ("the control of student_fm_stream_x8: student_labels_stream_x4 for 320 epochs "
                                     "(does a patient schedule help the teacher's student more than the labels')"),
        model=STREAMABLE_MODEL, epoch_factor=8, controls=("student_labels_stream_x4",)),
    Row("student_fm_b1_tbabble_ckd_stream_x8", "student_fm_b1_tbabble_ckd_stream_x4 for 320 epochs",
        views=True, fm={"label_weight": 0.0}, augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=8,
        extra_views=(("babble", 1),), teacher_extra_views=(("babble", 3),), teacher_clean_kd=0.5,
        controls=("student_fm_b1_tbabble_ckd_stream_x4", "student_fm_stream_x8")),
    Row("student_fm_cleanemb_stream_x8", ("student_fm_cleanemb_stream_x4 (the shipped tiny's recipe) for 320 epochs, "
                                          "with its labels control student_labels_stream_x8"),
        views=True, fm={"label_weight": 0.0, "embedding_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=8, controls=("student_labels_stream_x8", "student_fm_cleanemb_stream_x4", "student_fm_stream_x8")),
    Row("student_fm_ftcleanemb_stream_x4", ("student_fm_cleanemb_stream_x4 with a fine-tuned teacher: Whisper "
                                            "tiny.en's first 3 layers trained end to end with the head on the fold's "
                                            "train + dev clips and their views for 6 epochs (recipe small-finetune's "
                                            "ft_all_k3, 76.3 clean on the folds on a GPU), not a head on the frozen "
                                            "encoder"),
        views=True, fm={"label_weight": 0.0, "embedding_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=4, teacher="finetuned",
        controls=("student_fm_cleanemb_stream_x4", "student_labels_stream_x4", "student_labels_views_stream_x4")),
    Row("student_fm_xfit_cleanemb_stream_x4", ("student_fm_cleanemb_stream_x4 with cross-fitted teacher outputs: "
                                               "each training clip's logits (every view) from a head fitted without "
                                               "its speaker's fold, so they carry the teacher's honest doubts instead "
                                               "of the label it memorised (the fold's head scores its own training "
                                               "clips near 100 %); the embedding target stays the fold's head's"),
        views=True, fm={"label_weight": 0.0, "embedding_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=4, teacher="head_xfit",
        controls=("student_fm_cleanemb_stream_x4", "student_labels_stream_x4", "student_labels_views_stream_x4")),
    Row("student_fm_xfit_label_cleanemb_stream_x4", ("student_fm_xfit_cleanemb_stream_x4 + label cross-entropy 0.5 "
                                                     "(alone, the cross-fitted targets cost 6.9 clean: does the label "
                                                     "term keep their doubts and drop their errors)"),
        views=True, fm={"label_weight": 0.5, "embedding_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=4, teacher="head_xfit",
        controls=("student_fm_xfit_cleanemb_stream_x4", "student_fm_cleanemb_stream_x4", "student_labels_stream_x4")),
    Row("student_fm_talker_cleanemb_stream_x4", ("student_fm_cleanemb_stream_x4 on talker views (pitch ±2 "
                                                 "semitones, formants ×0.9-1.1, each p 0.3) for teacher and student: "
                                                 "the clean clip's embedding as the target of a voice-shifted view "
                                                 "asks the student for the same representation from another voice, "
                                                 "where its weak folds are unseen speakers the teacher reads well"),
        views=True, fm={"label_weight": 0.0, "embedding_view": "clean"}, augment=FM_AUGMENT, model=STREAMABLE_MODEL,
        epoch_factor=4, view_kind="talker",
        controls=("student_fm_cleanemb_stream_x4", "student_labels_stream_x4", "student_fm_talker_stream_x4")),
    Row("student_fm_frames_cleanemb_stream_x4", ("student_fm_cleanemb_stream_x4 + frame-level regression of "
                                                 "Whisper tiny.en's layer 2 (of 4) on the view the student sees: "
                                                 "each 100 ms trunk column projected onto the mean of that span's "
                                                 "five 20 ms encoder frames (1 - cos, weight 1), as DistilHuBERT "
                                                 "predicts its teacher's layers: ~19 targets of 384 numbers per crop "
                                                 "instead of one embedding"),
        views=True, fm=dict(FRAMES_FM),
        augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        controls=("student_fm_cleanemb_stream_x4", "student_labels_stream_x4", "student_labels_views_stream_x4")),
    Row("student_fm_frames_cleanemb_stream_x8", ("student_fm_frames_cleanemb_stream_x4 for 320 epochs (the shipped "
                                                 "tiny's schedule), with its labels control student_labels_stream_x8"),
        views=True, fm=dict(FRAMES_FM),
        augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=8,
        controls=("student_labels_stream_x8", "student_fm_cleanemb_stream_x8", "student_fm_frames_cleanemb_stream_x4")),
    Row("student_fm_frames4_cleanemb_stream_x4", ("student_fm_frames_cleanemb_stream_x4 with the frames of Whisper "
                                                  "tiny.en's last layer (4 of 4) instead of its middle one "
                                                  "(layer 2); its own frame cache"),
        views=True, fm={**FRAMES_FM, "frame_layer": 4},
        augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        controls=("student_fm_frames_cleanemb_stream_x4", "student_fm_cleanemb_stream_x4", "student_labels_stream_x4")),
    Row("student_fm_frames24_cleanemb_stream_x4", ("student_fm_frames_cleanemb_stream_x4 regressing the frames of "
                                                   "two Whisper layers, the middle (2) and the last (4), one head "
                                                   "each, weight 1 each (DistilHuBERT predicts several of its "
                                                   "teacher's layers from one trunk); the frame caches of both rows"),
        views=True, fm={**FRAMES_FM, "frame_extra_layers": (4,)},
        augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        controls=("student_fm_frames_cleanemb_stream_x4", "student_fm_frames4_cleanemb_stream_x4",
                  "student_fm_frames_w2_cleanemb_stream_x4", "student_labels_stream_x4")),
    Row("student_fm_frames_w2_cleanemb_stream_x4", ("student_fm_frames_cleanemb_stream_x4 with the frame term "
                                                    "weighted 2 instead of 1: the frame loss of "
                                                    "student_fm_frames24_cleanemb_stream_x4's two layers from one"),
        views=True, fm={**FRAMES_FM, "frame_weight": 2.0},
        augment=FM_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4,
        controls=("student_fm_frames_cleanemb_stream_x4", "student_labels_stream_x4")),
    Row("student_labels_views_babble_stream_x4", ("student_labels_views_stream_x4 on the views of "
                                                  "student_fm_babble_stream_x4 (labels, no teacher, no mixup)"),
        views=True, augment=VIEW_AUGMENT, model=STREAMABLE_MODEL, epoch_factor=4, extra_views=(("babble", 4),)),
)
ROW_BY_NAME = {r.name: r for r in ROWS}


@dataclass(frozen=True)
class Settings:
    """Everything that defines a result (its hash keys OUT.json and the run folders)."""

    epochs: int = 40
    views: int = 4
    seed: int = 0
    clips_per_actor: int | None = None
    max_steps: int | None = None
    size: str = "tiny.en"
    teacher_epochs: int = 60

    def key(self) -> str:
        text = json.dumps(self.__dict__, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


class FoldData:
    """The corpus, its babble pool, clip hashes and cached Whisper features (loaded on demand)."""

    def __init__(self, root: Path, settings: Settings, progress: bool) -> None:
        from edgeemo.train.views import teacher_babble_pool

        all_utts = load_ravdess(root)
        self.settings = settings
        self.progress = progress
        self.root = root
        self.corpus = all_utts
        self.utts = subset_per_actor(all_utts, settings.clips_per_actor)
        self.index = {str(u.path): i for i, u in enumerate(self.utts)}
        self.pool = teacher_babble_pool(all_utts)  # from the whole corpus, as the teacher cache's
        self._hash: dict[str, str] = {}
        self._encoder: Any = None
        self._fingerprint: str | None = None

    def split(self, fold: int) -> tuple[list[Utterance], list[Utterance], list[Utterance]]:
        train_folds, dev_fold, test_fold = fold_split(fold)
        return (select(self.utts, folds=train_folds), select(self.utts, folds=[dev_fold]),
                select(self.utts, folds=[test_fold]))

    def clip_hash(self, utt: Utterance) -> str:
        key = str(utt.path)
        if key not in self._hash:
            self._hash[key] = sha256_file(utt.path)
        return self._hash[key]

    # ------------------------------------------------------------ Whisper features
    def _features(self, utts: Sequence[Utterance], view_seed: int | None, tag: str,
                  make: Any) -> np.ndarray:
        """``[N, L, D]`` cached features of one view (seed) of ``utts``; the encoder is loaded
        once, and only when a clip is missing from the cache."""
        from edgeemo.train.teachers.whisper import (
            load_whisper_encoder,
            weights_fingerprint,
        )
        from edgeemo.train.teachers.whisper_features import (
            feature_folder,
            whisper_features,
        )

        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(size=self.settings.size)
        folder = feature_folder(self._fingerprint, view_seed=view_seed, view_tag=tag)
        if self._encoder is None and any(not (folder / f"{self.clip_hash(u)}.npy").is_file() for u in utts):
            self._encoder = load_whisper_encoder(size=self.settings.size)
        out: np.ndarray | None = None
        for spk in sorted({u.speaker for u in utts}):
            rows = [i for i, u in enumerate(utts) if u.speaker == spk]
            group = [utts[i] for i in rows]
            kwargs = {} if view_seed is None else {"views": make(spk), "view_seed": view_seed, "view_tag": tag}
            feats = whisper_features(group, encoder=self._encoder, size=self.settings.size, progress=False, **kwargs)
            if out is None:
                out = np.zeros((len(utts), *feats.shape[1:]), np.float32)
            out[rows] = feats
        assert out is not None
        return out

    def view_features(self, utts: Sequence[Utterance], view_sets: Sequence[Any]) -> np.ndarray:
        """``[N, V + 1, L, D]``: the clean clip, then the views of each
        :class:`~edgeemo.train.views.ViewSet` in order (the teacher cache's)."""
        from edgeemo.train.views import view_function

        per_view = [self._features(utts, None, "clean", None)]
        for views in view_sets:
            per_view += [self._features(utts, s, views.tag, lambda spk, cfg=views.cfg: view_function(self.pool, spk, cfg))
                         for s in views.seeds]
        return np.stack(per_view, axis=1)

    def frame_targets(self, utts: Sequence[Utterance], views: Any, layer: int) -> Any:
        """:class:`~edgeemo.train.distill.frame_matching.FrameTargets` of ``utts`` (the clean clip, then
        the ``views``, a :class:`~edgeemo.train.views.TrainingViews`): Whisper layer ``layer``'s hidden
        states, cached per (clip, view) beside the pooled features."""
        from edgeemo.train.distill.frame_matching import whisper_frame_targets
        from edgeemo.train.teachers.whisper import load_whisper_encoder, weights_fingerprint

        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(size=self.settings.size)

        def encoder() -> Any:
            if self._encoder is None:
                self._encoder = load_whisper_encoder(size=self.settings.size)
            return self._encoder

        return whisper_frame_targets(utts, views, layer=layer, fingerprint=self._fingerprint, load_encoder=encoder,
                                     progress=self.progress)

    def row_frame_targets(self, utts: Sequence[Utterance], views: Any, fm_cfg: Any) -> tuple[Any, ...] | None:
        """The frame targets a function-matching config asks for: one
        :meth:`frame_targets` per layer of ``fm_cfg.frame_layers``; None when ``frame_weight`` is 0."""
        if fm_cfg.frame_weight == 0:
            return None
        return tuple(self.frame_targets(utts, views, layer) for layer in fm_cfg.frame_layers)

    def condition_features(self, utts: Sequence[Utterance], name: str) -> np.ndarray:
        from edgeemo.train.views import (
            condition_function,
            condition_seed,
            condition_tag,
        )

        if name == "clean":
            return self._features(utts, None, "clean", None)
        return self._features(utts, condition_seed(name), condition_tag(name),
                              lambda spk: condition_function(name, self.pool, spk))

    def condition_waves(self, utts: Sequence[Utterance], name: str) -> list[np.ndarray]:
        """The test clips under condition ``name`` (16 kHz waves), as the teacher cache degraded them."""
        from edgeemo.train.views import condition_wave

        return [condition_wave(u, read_audio(u.path), name, self.pool, self.clip_hash(u)) for u in utts]


class Teacher:
    """The fold's Whisper teacher head (audio only), fitted once per process and fold."""

    head: Any
    features: np.ndarray

    def __init__(self, data: FoldData, fold: int, view_sets: Sequence[Any], clean_kd: float = 0.0,
                 heads: int = 1) -> None:
        """``view_sets``: the head's views; :attr:`features` ``[N, V + 1, L, D]`` holds them all (a
        student's targets take the first columns: its own views). ``heads`` > 1: the mean of that many
        heads (seeds apart), each choosing its epoch on the dev fold."""
        from edgeemo.train.teachers.whisper_head import (
            HeadData,
            HeadTrainConfig,
            WhisperHeadConfig,
            fit_whisper_head_on_views,
            predict_proba,
        )

        s = data.settings
        t0 = time.perf_counter()
        train, dev, _ = data.split(fold)
        self.train = train
        self.features = data.view_features(train, view_sets)  # [N, V + 1, L, D]
        dev_data = HeadData(features=data.condition_features(dev, "clean"), labels=label_indices(dev, RAVDESS_LABELS))
        cfg = WhisperHeadConfig(n_layers=self.features.shape[2], feature_dim=self.features.shape[3],
                                n_classes=len(RAVDESS_LABELS))
        self.head, history = fit_whisper_head_on_views(self.features, label_indices(train, RAVDESS_LABELS), dev_data, cfg,
                                                       HeadTrainConfig(seed=s.seed, epochs=s.teacher_epochs),
                                                       clean_kd=clean_kd, heads=heads)
        per_head: dict[int, list[dict[str, Any]]] = {}
        for h in history:
            per_head.setdefault(h.get("head", 0), []).append(h)
        best = [max(h, key=lambda r: r["dev_ua"]) for h in per_head.values()]
        if heads == 1:
            self.record: dict[str, Any] = {"best_epoch": best[0]["epoch"], "dev_ua": 100 * best[0]["dev_ua"]}
        else:
            dev_ua = unweighted_accuracy(dev_data.labels, predict_proba(self.head, dev_data).argmax(1),
                                         len(RAVDESS_LABELS))
            self.record = {"best_epoch": int(np.median([b["epoch"] for b in best])), "dev_ua": 100 * dev_ua,
                           "heads": heads, "head_epochs": [b["epoch"] for b in best]}
        self.seconds = time.perf_counter() - t0

    def view_targets(self, n_views: int) -> Any:
        """:class:`~edgeemo.train.distill.function_matching.ViewTargets` on the clean clip and the
        first ``n_views`` views (a student's own) of every training clip."""
        from edgeemo.train.distill.function_matching import whisper_view_targets

        return whisper_view_targets(self.head, self.features[:, : 1 + n_views], self.train)

    def score(self, data: FoldData, fold: int, conditions: Sequence[str]) -> dict[str, float]:
        """Test UA % of the teacher per condition (its features come from the cache)."""
        from edgeemo.train.teachers.whisper_head import HeadData, predict_proba

        _, _, test = data.split(fold)
        y = label_indices(test, RAVDESS_LABELS)
        out = {}
        for name in conditions:
            probs = predict_proba(self.head, HeadData(features=data.condition_features(test, name), labels=y))
            out[name] = 100 * unweighted_accuracy(y, probs.argmax(1), len(RAVDESS_LABELS))
        return out


class CrossFittedTeacher(Teacher):
    """The fold's head (its embedding targets and test scores) with cross-fitted logits.

    A head fitted on the training clips scores them near 100 % (fold 4: 100.0 clean, p(true) 0.92),
    so its outputs there are little more than smoothed labels. Here the logits of a training clip
    in fold ``j`` (clean and every view) come from a head fitted, for the fold's head's chosen
    epoch count and no dev choice, on the fold's other clips outside fold ``j``: the other
    training folds and the dev fold (12 actors, as many as the fold's head), never ``j``'s
    speakers nor the test fold. The embedding targets stay the fold's head's, one space for all
    clips. :attr:`record` adds ``target_ua``: the cross-fitted targets' UA % on the training
    clips (clean and over the views) against the fold head's own."""

    def __init__(self, data: FoldData, fold: int, view_sets: Sequence[Any], clean_kd: float = 0.0,
                 heads: int = 1) -> None:
        from edgeemo.train.teachers.whisper_head import (
            HeadData,
            HeadTrainConfig,
            WhisperHeadConfig,
            fit_whisper_head_on_views,
            predict_logits,
        )

        super().__init__(data, fold, view_sets, clean_kd, heads)
        t0 = time.perf_counter()
        s = data.settings
        train_folds, dev_fold, _ = fold_split(fold)
        y_train = label_indices(self.train, RAVDESS_LABELS)
        n, v = self.features.shape[:2]
        self.logits = np.zeros((n, v, len(RAVDESS_LABELS)), np.float32)
        cfg = WhisperHeadConfig(n_layers=self.features.shape[2], feature_dim=self.features.shape[3],
                                n_classes=len(RAVDESS_LABELS))
        tcfg = HeadTrainConfig(seed=s.seed, epochs=int(self.record["best_epoch"]))
        for j in train_folds:
            held = np.array([u.fold == j for u in self.train])
            fit = [u for u in data.utts if u.fold != fold and u.fold != j]  # other training folds + the dev fold
            fit_features = data.view_features(fit, view_sets)
            head, _ = fit_whisper_head_on_views(fit_features, label_indices(fit, RAVDESS_LABELS), None, cfg, tcfg,
                                                clean_kd=clean_kd, heads=heads)
            rows = self.features[held]
            flat = HeadData(features=rows.reshape(-1, *rows.shape[2:]), labels=np.repeat(y_train[held], v))
            self.logits[held] = predict_logits(head, flat).reshape(int(held.sum()), v, -1)
        own = super().view_targets(v - 1).logits
        self.record["target_ua"] = {
            which: {"cross_fitted": self._ua(self.logits[:, cols], y_train), "fold_head": self._ua(own[:, cols], y_train)}
            for which, cols in (("clean", slice(0, 1)), ("views", slice(1, None)))}
        self.record["cross_fit"] = {"held_out_folds": list(train_folds), "also_fitted_on_dev_fold": dev_fold,
                                    "epochs": tcfg.epochs}
        self.seconds += time.perf_counter() - t0

    @staticmethod
    def _ua(logits: np.ndarray, y: np.ndarray) -> float:
        """UA % of ``logits [N, V, C]``'s argmax over every (clip, view) against the clips' labels."""
        n, v = logits.shape[:2]
        return 100 * unweighted_accuracy(np.repeat(y, v), logits.reshape(n * v, -1).argmax(1), len(RAVDESS_LABELS))

    def view_targets(self, n_views: int) -> Any:
        """The fold head's targets with the cross-fitted logits in place of its own."""
        from edgeemo.train.distill.function_matching import ViewTargets

        own = super().view_targets(n_views)
        return ViewTargets(logits=self.logits[:, : 1 + n_views], embedding=own.embedding, paths=own.paths)


def _train_config(row: Row, fold: int, s: Settings, run_dir: Path, threads: int, dev_every: int = 1) -> Any:
    from edgeemo.train.trainer import TrainConfig

    train_folds, dev_fold, _ = fold_split(fold)
    return TrainConfig.from_dict({
        "out_dir": str(run_dir), "train_folds": list(train_folds), "dev_folds": [dev_fold], "epochs": s.epochs * row.epoch_factor,
        "seed": s.seed, "num_threads": threads, "max_steps_per_epoch": s.max_steps, "augment": dict(row.augment),
        "dev_every": dev_every, **row.model,
    })


def fold_teacher(row: Row, fold: int, data: FoldData, teachers: dict[tuple[Any, ...], Any], runs: Path) -> Any:
    """``row``'s teacher for ``fold`` (fitted once per process, or read from its cache)."""
    from .finetuned_teacher import FinetunedTeacher

    s = data.settings
    if row.teacher == "finetuned":
        key: tuple[Any, ...] = (fold, "finetuned", s.views)
        if key not in teachers:
            teachers[key] = FinetunedTeacher(data, fold, s.views, runs, log=lambda text: click.echo(text, err=True))
        return teachers[key]
    teacher_sets = row.teacher_view_sets(s.views)
    key = (fold, row.teacher, row.teacher_clean_kd, row.teacher_heads, *teacher_sets)
    if key not in teachers:
        kind = CrossFittedTeacher if row.teacher == "head_xfit" else Teacher
        teachers[key] = kind(data, fold, teacher_sets, row.teacher_clean_kd, row.teacher_heads)
    return teachers[key]


def run_fold(row: Row, fold: int, data: FoldData, *, runs: Path, threads: int,
             teachers: dict[tuple[Any, ...], Any], conditions: Sequence[str], dev_every: int = 1) -> dict[str, Any]:
    """Train ``row``'s student on ``fold`` and score its test fold under every condition. ``dev_every``
    > 1 scores the dev fold (and checkpoints) only every that many epochs: the same weights at every
    epoch, so the same last-epoch scores, in less time; the dev choice is made among fewer epochs
    (the result says so under ``"dev_every"``)."""
    from edgeemo.train.distill.function_matching import (
        FunctionMatchingConfig,
        function_matching_trainer,
    )
    from edgeemo.train.models.student import load_student
    from edgeemo.train.trainer import StudentTrainer
    from edgeemo.train.views import TrainingViews

    s = data.settings
    t0 = time.perf_counter()
    train, dev, test = data.split(fold)
    cfg = _train_config(row, fold, s, runs / s.key() / row.name / f"fold{fold}", threads, dev_every)
    view_sets = row.view_sets(s.views)
    views = TrainingViews(view_sets, data.pool) if row.views else None
    out: dict[str, Any] = {"fold": fold, **({"dev_every": dev_every} if dev_every != 1 else {})}
    if row.fm is not None:
        teacher = fold_teacher(row, fold, data, teachers, runs)
        targets = teacher.view_targets(row.view_count(s.views))  # the clean clip and the student's views
        fm_cfg = FunctionMatchingConfig.from_dict(row.fm)
        frames = data.row_frame_targets(train, views, fm_cfg)
        trainer = function_matching_trainer(cfg, fm_cfg, targets, train + dev, views, frames=frames,
                                            progress=data.progress)
        out["teacher"] = {**teacher.record, "test_ua": teacher.score(data, fold, conditions),
                          "seconds": round(teacher.seconds, 1)}
        if frames is not None:
            out["frame_targets_seconds"] = round(sum(f.seconds for f in frames), 1)
    else:
        trainer = StudentTrainer(cfg, utterances=train + dev, views=views, progress=data.progress)
    result = trainer.fit()
    model, _ = load_student(result.best_dir)
    y = label_indices(test, RAVDESS_LABELS)
    waves = {name: data.condition_waves(test, name) for name in conditions}
    out["test_index"] = [data.index[str(u.path)] for u in test]
    out.update(_test_scores(model, waves, y))
    out["last"] = score_last_epoch(Path(cfg.out_dir), cfg.epochs, waves, y)
    out["dev_ua"] = 100 * result.dev.ua
    out["best_epoch"] = result.best_epoch
    out["train_seconds"] = round(result.seconds, 1)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _test_scores(model: Any, waves: dict[str, list[np.ndarray]], y: np.ndarray) -> dict[str, Any]:
    """``{"pred": {condition: labels}, "ua": {condition: UA %}}`` of ``model`` on the test waves."""
    from edgeemo.train.trainer import predict_clips

    pred = {name: predict_clips(model, w).argmax(1).tolist() for name, w in waves.items()}
    return {"pred": pred, "ua": {name: 100 * unweighted_accuracy(y, np.array(p), len(RAVDESS_LABELS))
                                 for name, p in pred.items()}}


def last_epoch_ema(run_dir: Path, epochs: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config, EMA weights)`` of a finished student run's last epoch (``run_dir/last``): the model a
    build with a fixed epoch count ships. A missing checkpoint, one without its trainer state or a run
    that has not reached ``epochs`` is a ConfigError."""
    from edgeemo.train.checkpoint import load_checkpoint

    last = Path(run_dir) / "last"
    if not (last / "config.json").is_file():
        raise ConfigError(f"no finished run at {last}: train it first (or pass the --runs it was trained under)")
    ckpt = load_checkpoint(last, with_state=True)
    if int(ckpt.config["epoch"]) != epochs - 1:
        raise ConfigError(f"{last} stopped at epoch {int(ckpt.config['epoch']) + 1} of {epochs}: finish the run first")
    ema = (ckpt.trainer_state or {}).get("ema")
    if ema is None:
        raise ConfigError(f"{last} holds no moving-average weights (its trainer state is missing): rerun it")
    return ckpt.config, ema


def score_last_epoch(run_dir: Path, epochs: int, waves: dict[str, list[np.ndarray]], y: np.ndarray) -> dict[str, Any]:
    """The test scores of a finished run's *last* epoch, its moving average (EMA) weights
    (:func:`last_epoch_ema`), with no choice made on the dev actors.
    ``{"epoch", "weights": "ema", "pred", "ua"}``."""
    from edgeemo.train.models.student import StudentConfig, StudentNet

    config, ema = last_epoch_ema(run_dir, epochs)
    model = StudentNet(StudentConfig.from_dict(config["model"]))
    model.load_state_dict(ema)
    return {"epoch": epochs - 1, "weights": "ema", **_test_scores(model.eval(), waves, y)}


def _same_run(run_dir: Path, result: dict[str, Any]) -> bool:
    """Whether ``run_dir``'s dev-chosen checkpoint is the one ``result`` was scored with (epoch and dev UA)."""
    from edgeemo.train.checkpoint import load_checkpoint

    if not (run_dir / "best" / "config.json").is_file():
        return False
    best = load_checkpoint(run_dir / "best").config
    return int(best["epoch"]) == int(result["best_epoch"]) and abs(100 * best["dev"]["ua"] - result["dev_ua"]) < 1e-6


def rescore_last_epochs(out: Path, settings: Settings, *, rows: Sequence[str] | None = None,
                        folds: Sequence[int] = tuple(range(N_FOLDS)), runs: Path = Path("runs/function_matching"),
                        data: str | None = None, command: str = "") -> list[tuple[str, int]]:
    """Add :func:`score_last_epoch` to the finished (row, fold) results in OUT.json that lack it and
    whose run folder is still under ``runs`` (no training); then rewrite the report. Returns what
    was scored; a fold's degraded test audio is made once for all its rows."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    state_path = out.with_suffix(".json")
    results = _load(state_path, settings)
    names = [n for n in (rows or [r.name for r in ROWS]) if n in results]
    todo = [(n, k) for k in folds for n in names
            if k in results[n] and "last" not in results[n][k]
            and (Path(runs) / settings.key() / n / f"fold{k}" / "last").exists()]
    fold_data = FoldData(find_data_root(data), settings, progress=False) if todo else None
    done = []
    for k in sorted({k for _, k in todo}):
        assert fold_data is not None
        _, _, test = fold_data.split(k)
        y = label_indices(test, RAVDESS_LABELS)
        waves = {name: fold_data.condition_waves(test, name) for name in EVAL_CONDITIONS}
        for name in [n for n, kk in todo if kk == k]:
            row = ROW_BY_NAME[name]
            run_dir = Path(runs) / settings.key() / name / f"fold{k}"
            if not _same_run(run_dir, results[name][k]):
                click.echo(f"{name} fold {k}: {run_dir} holds another run than OUT.json's (a rerun?); skipped",
                           err=True)
                continue
            last = score_last_epoch(run_dir, settings.epochs * row.epoch_factor, waves, y)
            with _locked(state_path) as state:
                state["runs"][settings.key()]["results"][name][str(k)]["last"] = last
            done.append((name, k))
            click.echo(f"{name} fold {k}: last epoch clean UA {last['ua']['clean']:.1f}", err=True)
    write_report(out, settings, command, data)
    return done


# ---------------------------------------------------------------- state (several writers)


@contextlib.contextmanager
def _locked(state_path: Path) -> Iterator[dict[str, Any]]:
    """The state on disk, under an exclusive lock; written back when the block ends."""
    import fcntl

    state_path.parent.mkdir(parents=True, exist_ok=True)
    with open(state_path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        state = read_state(state_path)
        yield state
        atomic_write_text(state_path, json.dumps(state))


def _store(state_path: Path, settings: Settings, row: str, fold: int, result: dict[str, Any]) -> None:
    with _locked(state_path) as state:
        entry = state.setdefault("runs", {}).setdefault(settings.key(), {"settings": settings.__dict__, "results": {}})
        entry["results"].setdefault(row, {})[str(fold)] = result


def _load(state_path: Path, settings: Settings) -> dict[str, dict[int, dict[str, Any]]]:
    if not state_path.is_file():
        return {}
    entry = read_state(state_path).get("runs", {}).get(settings.key(), {})
    return {r: {int(k): v for k, v in per.items()} for r, per in entry.get("results", {}).items()}


# ---------------------------------------------------------------- report


def summarize(results: dict[str, dict[int, dict[str, Any]]], y: np.ndarray, speakers: np.ndarray,
              conditions: Sequence[str]) -> dict[str, Any]:
    """Per row over the folds it has: mean ± sd UA per condition, paired Δ vs the reference
    (clean and mean degraded) and speaker-bootstrap intervals on the pooled test predictions."""
    n_classes = len(RAVDESS_LABELS)
    degraded = [c for c in conditions if c != "clean"]

    def pooled(per_fold: dict[int, dict[str, Any]], folds: Sequence[int], cond: str) -> tuple[np.ndarray, np.ndarray]:
        index = np.concatenate([per_fold[k]["test_index"] for k in folds])
        return index, np.concatenate([per_fold[k]["pred"][cond] for k in folds])

    summary: dict[str, Any] = {}
    ref = results.get(REFERENCE, {})
    for row in ROWS:
        per_fold = results.get(row.name, {})
        if not per_fold:
            continue
        folds = sorted(per_fold)
        s: dict[str, Any] = {"folds": folds, "ua": {}, "ua_sd": {}}
        for cond in conditions:
            vals = np.array([per_fold[k]["ua"][cond] for k in folds])
            s["ua"][cond] = float(vals.mean())
            s["ua_sd"][cond] = float(vals.std(ddof=1)) if len(vals) > 1 else None
        mean_deg = {k: float(np.mean([per_fold[k]["ua"][c] for c in degraded])) for k in folds} if degraded else {}
        s["mean_degraded"] = float(np.mean(list(mean_deg.values()))) if mean_deg else None
        s["seconds"] = float(np.mean([per_fold[k]["seconds"] for k in folds]))
        s["dev_ua"] = float(np.mean([per_fold[k]["dev_ua"] for k in folds]))
        teacher = [per_fold[k]["teacher"] for k in folds if "teacher" in per_fold[k]]
        if teacher:
            s["teacher_ua"] = {c: float(np.mean([t["test_ua"][c] for t in teacher])) for c in conditions}
        index, pred = pooled(per_fold, folds, "clean")
        s["interval_clean"] = speaker_bootstrap(y[index], [pred], speakers[index], n_classes).to_dict()
        if row.name != REFERENCE:
            s.update(_paired(row.name, per_fold, REFERENCE, ref, y, speakers, degraded))
        controls = [{"row": c, **paired} for c in row.controls
                    if (paired := _paired(row.name, per_fold, c, results.get(c, {}), y, speakers, degraded))]
        if controls:
            s["controls"] = controls
        summary[row.name] = s
    return summary


def at_last_epoch(results: dict[str, dict[int, dict[str, Any]]]) -> dict[str, dict[int, dict[str, Any]]]:
    """``results`` with each fold's predictions those of its last epoch's EMA (:func:`score_last_epoch`);
    folds without them are left out, and rows left with none."""
    last = {row: {k: {**r, "pred": r["last"]["pred"], "ua": r["last"]["ua"]} for k, r in per.items() if "last" in r}
            for row, per in results.items()}
    return {row: per for row, per in last.items() if per}


def last_vs_dev_choice(results: dict[str, dict[int, dict[str, Any]]], conditions: Sequence[str]) -> dict[str, Any]:
    """Per row, the paired Δ (clean, mean degraded) of the last epoch's EMA against the dev-chosen
    checkpoint of the same runs."""
    degraded = [c for c in conditions if c != "clean"]
    out = {}
    for row, per in at_last_epoch(results).items():
        chosen = {k: results[row][k] for k in per}

        def mean_deg(r: dict[int, dict[str, Any]]) -> dict[int, float]:
            return {k: float(np.mean([r[k]["ua"][c] for c in degraded])) for k in r}

        out[row] = {"delta": paired_delta({k: r["ua"]["clean"] for k, r in per.items()},
                                          {k: r["ua"]["clean"] for k, r in chosen.items()}).to_dict(),
                    "delta_degraded": paired_delta(mean_deg(per), mean_deg(chosen)).to_dict() if degraded else None}
    return out


def _paired(name: str, per_fold: dict[int, dict[str, Any]], ref_name: str, ref: dict[int, dict[str, Any]],
            y: np.ndarray, speakers: np.ndarray, degraded: Sequence[str]) -> dict[str, Any]:
    """Paired Δ of a row against another on the folds both have: clean, mean degraded, and the
    speaker-bootstrap interval of the clean Δ (empty when they share no fold)."""
    shared = sorted(set(per_fold) & set(ref))
    if not shared:
        return {}
    out: dict[str, Any] = {"delta": paired_delta({k: per_fold[k]["ua"]["clean"] for k in shared},
                                                 {k: ref[k]["ua"]["clean"] for k in shared}).to_dict()}
    if degraded:
        def mean_deg(r: dict[int, dict[str, Any]]) -> dict[int, float]:
            return {k: float(np.mean([r[k]["ua"][c] for c in degraded])) for k in shared}

        out["delta_degraded"] = paired_delta(mean_deg(per_fold), mean_deg(ref)).to_dict()
    index = np.concatenate([per_fold[k]["test_index"] for k in shared])
    if not np.array_equal(index, np.concatenate([ref[k]["test_index"] for k in shared])):
        raise ConfigError(f"{name} and {ref_name} were scored on different test clips")
    preds = [np.concatenate([r[k]["pred"]["clean"] for k in shared]) for r in (per_fold, ref)]
    out["delta_interval"] = speaker_bootstrap(y[index], preds, speakers[index], len(RAVDESS_LABELS)).to_dict()
    return out


def _pm(mean: float, sd: float | None) -> str:
    return f"{mean:.1f}" if sd is None else f"{mean:.1f} ± {sd:.1f}"


def _delta(d: dict[str, Any] | None) -> str:
    if d is None:
        return "–"
    sd = "" if d["sd"] is None else f" ± {d['sd']:.1f}"
    return f"{d['mean']:+.1f}{sd} ({d['won']}/{len(d['folds'])})"


def _interval(ci: dict[str, Any] | None) -> str:
    return "–" if ci is None else f"[{ci['low']:+.1f}, {ci['high']:+.1f}]"


def _condition_and_control_tables(summary: dict[str, Any], degraded: Sequence[str]) -> list[str]:
    """Markdown lines: UA per degraded condition, then the paired Δs against each row's controls."""
    lines: list[str] = []
    if degraded:
        lines += ["", "Per condition (mean over the folds measured):", "",
                  "| row | " + " | ".join(degraded) + " |", "|---|" + "---|" * len(degraded)]
        for name, s in summary.items():
            lines.append(f"| {name} | " + " | ".join(f"{s['ua'][c]:.1f}" for c in degraded) + " |")
    controlled = [(n, c) for n, s in summary.items() for c in s.get("controls", ())]
    if controlled:
        lines += ["", "Against controls with the same student (labels alone, the same views, one loss less, or the "
                  "same recipe on a shorter schedule; paired, the folds both have):", "",
                  "| row | control | folds | Δ clean (folds won) | 95 % CI of Δ | Δ degraded |",
                  "|---|---|---|---|---|---|"]
        for name, c in controlled:
            lines.append(f"| {name} | {c['row']} | {','.join(map(str, c['delta']['folds']))} | {_delta(c['delta'])} | "
                         f"{_interval(c.get('delta_interval'))} | {_delta(c.get('delta_degraded'))} |")
    return lines


def _last_epoch_section(last: dict[str, Any], vs_chosen: dict[str, Any], degraded: Sequence[str]) -> list[str]:
    """Markdown lines: the same tables for each fold's last epoch (EMA), and its Δ vs the dev choice."""
    lines = ["", "## At the end of the schedule: the last epoch's moving average, no dev choice", "",
             "What a build with a fixed epoch count ships (`recipe build-tiny` trains all 20 actors and keeps the "
             "last epoch's EMA): the same runs scored at their last epoch instead of the epoch their dev actors "
             "chose. `Δ vs dev choice`: paired per fold against the dev-chosen checkpoint of the same run.", "",
             "| row | folds | clean | 95 % CI | Δ clean vs student_labels | mean of degraded | worst condition | "
             "Δ clean vs dev choice | Δ degraded vs dev choice |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, s in last.items():
        ci, v = s["interval_clean"], vs_chosen.get(name, {})
        worst = min(degraded, key=lambda c: s["ua"][c]) if degraded else None
        worst_text = "–" if worst is None else f"{s['ua'][worst]:.1f} ({worst})"
        deg = "–" if s["mean_degraded"] is None else f"{s['mean_degraded']:.1f}"
        lines.append(
            f"| {name} | {','.join(map(str, s['folds']))} | {_pm(s['ua']['clean'], s['ua_sd']['clean'])} | "
            f"[{ci['low']:.1f}, {ci['high']:.1f}] | {_delta(s.get('delta'))} | {deg} | {worst_text} | "
            f"{_delta(v.get('delta'))} | {_delta(v.get('delta_degraded'))} |")
    return lines + _condition_and_control_tables(last, degraded)


def render_markdown(summary: dict[str, Any], conditions: Sequence[str], meta: dict[str, Any],
                    last: dict[str, Any] | None = None, vs_chosen: dict[str, Any] | None = None) -> str:
    """OUT.md: the dev-chosen checkpoints' tables, the teachers, and (``last``: :func:`summarize` of
    :func:`at_last_epoch`) the same at the end of the schedule."""
    degraded = [c for c in conditions if c != "clean"]
    lines = [
        "# Function matching vs labels: the tiny student on the actor folds, clean and degraded",
        "",
        f"Written by `edgeemo recipe function-matching {meta['command']}`. Student: the trainer's defaults "
        f"({meta['epochs']} epochs, dev fold picks the epoch); teacher: a Whisper {meta['size']} head (audio only) on "
        f"the training clips + {meta['views']} views each, dev picks its epoch. Out-of-fold test UA % (macro recall); "
        "mean ± sd over the folds measured (`folds`). `Δ`: paired per-fold difference vs `student_labels` "
        "(folds won); `95 % CI`: bootstrap over the speakers of the pooled test predictions of those folds.",
        "",
        "| row | folds | clean | 95 % CI | Δ clean vs student_labels | 95 % CI of Δ | mean of degraded | "
        "Δ degraded | dev UA | minutes / fold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        ci, dci = s["interval_clean"], s.get("delta_interval")
        deg = "–" if s["mean_degraded"] is None else f"{s['mean_degraded']:.1f}"
        lines.append(
            f"| {name} | {','.join(map(str, s['folds']))} | {_pm(s['ua']['clean'], s['ua_sd']['clean'])} | "
            f"[{ci['low']:.1f}, {ci['high']:.1f}] | {_delta(s.get('delta'))} | "
            f"{_interval(dci)} | {deg} | "
            f"{_delta(s.get('delta_degraded'))} | {s['dev_ua']:.1f} | {s['seconds'] / 60:.1f} |"
        )
    lines += _condition_and_control_tables(summary, degraded)
    # the views in words -> the first row with a teacher on them
    teachers: dict[str, tuple[str, dict[str, float]]] = {}
    for n, s in summary.items():
        if "teacher_ua" in s:
            row = ROW_BY_NAME[n]
            label = views_in_words(row.view_parts(meta["views"], teacher=True), row.teacher_clean_kd, row.teacher_heads)
            kind = "head" if row.teacher == "head_xfit" else row.teacher  # its test scores are the fold head's
            teachers.setdefault(f"{kind}: {label}", (n, s["teacher_ua"]))
    for label, (name, t) in teachers.items():
        kind, views = label.split(": ", 1)
        what = ("The Whisper teacher head itself" if kind == "head" else
                "The fine-tuned Whisper teacher itself (tiny.en, 3 layers, trained on train + dev)")
        lines += ["", f"{what} on the same test clips (views per clip: {views}; folds "
                  f"of `{name}`): clean {t['clean']:.1f}" + "".join(f", {c} {t[c]:.1f}" for c in degraded) + "."]
    if last:
        lines += _last_epoch_section(last, vs_chosen or {}, degraded)
    lines += ["", "Rows:", ""] + [f"- `{r.name}`: {r.description}" for r in ROWS if r.name in summary]
    return "\n".join(lines) + "\n"


def render_plot(summary: dict[str, Any], conditions: Sequence[str], path: Path) -> None:
    plot_conditions(summary, conditions, path, title="Tiny student: labels vs function matching (actor folds; clean and degraded test audio)",
                    ylabel="test UA %", n_classes=len(RAVDESS_LABELS), legend_columns=2)


def write_report(out: Path, settings: Settings, command: str, data: str | None = None) -> dict[str, Any]:
    """Summarise what OUT.json holds for ``settings`` into OUT.md and OUT.png (under the lock)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    state_path = out.with_suffix(".json")
    data_utts = subset_per_actor(load_ravdess(find_data_root(data)), settings.clips_per_actor)
    y = label_indices(data_utts, RAVDESS_LABELS)
    speakers = np.array([u.speaker for u in data_utts])
    conditions = list(EVAL_CONDITIONS)
    with _locked(state_path) as state:
        entry = state.get("runs", {}).get(settings.key(), {})
        results = {r: {int(k): v for k, v in per.items()} for r, per in entry.get("results", {}).items()}
        summary = summarize(results, y, speakers, conditions)
        last = summarize(at_last_epoch(results), y, speakers, conditions)
        vs_chosen = last_vs_dev_choice(results, conditions)
        if entry:
            entry["summary"] = summary
            entry["summary_last_epoch"] = {name: {**s, "vs_dev_choice": vs_chosen[name]} for name, s in last.items()}
        if summary:
            meta = {**settings.__dict__, "command": command}
            atomic_write_text(out.with_suffix(".md"), render_markdown(summary, conditions, meta, last, vs_chosen))
            render_plot(summary, conditions, out.with_suffix(".png"))
    return summary


def run_function_matching(out: Path, settings: Settings, *, rows: Sequence[str] | None = None,
                          folds: Sequence[int] = tuple(range(N_FOLDS)), runs: Path = Path("runs/function_matching"),
                          threads: int = 1, data: str | None = None, progress: bool = True,
                          command: str = "", dev_every: int = 1) -> dict[str, Any]:
    """Run every requested (row, fold) not yet in OUT.json, then write the report (``dev_every``:
    :func:`run_fold`)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    names = list(rows) if rows else [r.name for r in ROWS]
    unknown = [n for n in names if n not in ROW_BY_NAME]
    if unknown:
        raise ConfigError(f"unknown row(s) {unknown}; known: {[r.name for r in ROWS]}")
    bad = [k for k in folds if not 0 <= k < N_FOLDS]
    if bad:
        raise ConfigError(f"folds must be in 0..{N_FOLDS - 1}, got {bad}")
    set_torch_threads(threads)
    state_path = out.with_suffix(".json")
    fold_data = FoldData(find_data_root(data), settings, progress)
    teachers: dict[tuple[Any, ...], Any] = {}
    conditions = list(EVAL_CONDITIONS)
    for name in names:
        for k in folds:
            if k in _load(state_path, settings).get(name, {}):
                continue
            result = run_fold(ROW_BY_NAME[name], k, fold_data, runs=Path(runs), threads=threads,
                              teachers=teachers, conditions=conditions, dev_every=dev_every)
            _store(state_path, settings, name, k, result)
            click.echo(f"{name} fold {k}: clean UA {result['ua']['clean']:.1f}, dev {result['dev_ua']:.1f} "
                       f"(epoch {result['best_epoch']}, {result['seconds'] / 60:.1f} min)", err=True)
    return write_report(out, settings, command, data)


def fit_teachers(settings: Settings, *, rows: Sequence[str], folds: Sequence[int], runs: Path, threads: int,
                 data: str | None = None, progress: bool = True, report: Path | None = None,
                 command: str = "") -> dict[int, dict[str, float]]:
    """Fit (or read) the cached fine-tuned teachers ``rows`` use on ``folds``, without students:
    ``{fold: test UA % per condition}``; with ``report``, write the report of every fold cached
    so far (:func:`~edgeemo.recipes.teacher_report.write_teacher_report`). Head teachers are
    refitted by each student run in seconds and need nothing ahead."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    from .finetuned_teacher import cached_records, teacher_folder, teacher_in_words
    from .teacher_fusion import FUSION_FILE, with_video_fold
    from .teacher_report import write_teacher_report

    chosen = [ROW_BY_NAME[n] for n in rows if n in ROW_BY_NAME]
    if len(chosen) != len(rows) or not any(r.teacher == "finetuned" for r in chosen):
        raise ConfigError("--teachers-only fits the fine-tuned teachers: pass --rows with a row whose teacher is "
                          f"fine-tuned ({', '.join(r.name for r in ROWS if r.teacher == 'finetuned')})")
    set_torch_threads(threads)
    fold_data = FoldData(find_data_root(data), settings, progress)
    teachers: dict[tuple[Any, ...], Any] = {}
    row = next(r for r in chosen if r.teacher == "finetuned")
    scores = {}
    for k in folds:
        teacher = fold_teacher(row, k, fold_data, teachers, Path(runs))
        scores[k] = teacher.score(fold_data, k, list(EVAL_CONDITIONS))
        scores[k]["au_only"] = with_video_fold(fold_data, k, teacher.folder)["ua"]["au_only"]
    if report is not None:
        records = cached_records(teacher_folder(Path(runs), settings.key(), settings.views),
                                 attach={"with_video": FUSION_FILE})
        summary = write_teacher_report(records, report, fold_data.corpus, command=command,
                                       teacher=teacher_in_words(n_views=settings.views),
                                       teacher_short="tiny.en k = 3 fine-tuned on train + dev, fixed epochs (CPU)")
        ua = next(iter(summary.values()))["ua"]
        if "clean_with_video" in ua:
            click.echo(f"with video (fusion weight chosen on the other folds), over the {len(records)} fold(s) "
                       f"cached: {ua['clean_with_video']:.1f}", err=True)
    return scores


@click.command("function-matching")
@click.option("--out", default="docs/results/function_matching", show_default=True,
              help="Report stem: writes OUT.json, OUT.md and OUT.png (shared safely by parallel runs).")
@click.option("--epochs", type=click.IntRange(min=1), default=40, show_default=True, help="Student epochs.")
@click.option("--views", "n_views", type=click.IntRange(min=0), default=4, show_default=True,
              help="Augmented views per training clip (the Whisper teacher cache's view seeds 1..N).")
@click.option("--folds", default="0,1,2,3,4", show_default=True, help="Comma-separated outer folds.")
@click.option("--rows", default=None, help="Comma-separated subset of: " + ", ".join(r.name for r in ROWS))
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--clips-per-actor", type=click.IntRange(min=1), default=None,
              help="Smoke runs: at most this many clips per actor.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Smoke runs: student steps per epoch.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--runs", default="runs/function_matching", show_default=True, help="Student checkpoints (resumable).")
@click.option("--data", default=None, help="Data root holding ravdess/.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--dev-every", type=click.IntRange(min=1), default=1, show_default=True,
              help="Score the dev fold (and checkpoint) every N epochs: the same weights and last-epoch scores, "
                   "in less time (dev scoring was half of an epoch's time in a profile); the dev choice is made among "
                   "fewer epochs.")
@click.option("--rescore-last", is_flag=True,
              help="Train nothing: score the last epoch's EMA of finished runs still under --runs whose results lack it.")
@click.option("--teachers-only", is_flag=True,
              help="Train no student: fit the fine-tuned teachers of --rows on --folds into their cache under --runs, "
                   "and report every fold cached (--teachers-out).")
@click.option("--teachers-out", default="docs/results/finetuned_teacher", show_default=True,
              help="Report stem of --teachers-only: OUT.json, OUT.md, OUT.png.")
def function_matching_command(out: str, epochs: int, n_views: int, folds: str, rows: str | None, threads: int,
                              clips_per_actor: int | None, max_steps: int | None, seed: int, runs: str,
                              data: str | None, no_progress: bool, dev_every: int, rescore_last: bool,
                              teachers_only: bool, teachers_out: str) -> None:
    """Students on the actor folds: labels vs function matching with a Whisper teacher (resumable)."""
    settings = Settings(epochs=epochs, views=n_views, seed=seed, clips_per_actor=clips_per_actor, max_steps=max_steps)
    command = f"--epochs {epochs} --views {n_views}" + (f" --clips-per-actor {clips_per_actor}" if clips_per_actor else "")
    if teachers_only:
        scores = fit_teachers(settings, rows=rows.split(",") if rows else [], folds=[int(f) for f in folds.split(",")],
                              runs=Path(runs), threads=threads, data=data, progress=not no_progress,
                              report=Path(teachers_out), command=command)
        for k, ua in scores.items():
            degraded = [v for c, v in ua.items() if c not in ("clean", "au_only")]
            click.echo(f"teacher fold {k}: clean UA {ua['clean']:.1f}, mean of {len(degraded)} degraded "
                       f"{np.mean(degraded):.1f}; action units alone {ua['au_only']:.1f}")
        click.echo(f"wrote {Path(teachers_out).with_suffix('.md')}, .json and .png")
        return
    if rescore_last:
        set_torch_threads(threads)
        done = rescore_last_epochs(Path(out), settings, rows=rows.split(",") if rows else None,
                                   folds=[int(f) for f in folds.split(",")], runs=Path(runs), data=data,
                                   command=command)
        if not done:
            click.echo(f"nothing to score: no finished run under {runs} whose result in "
                       f"{Path(out).with_suffix('.json')} lacks its last epoch")
            return
        click.echo(f"scored the last epoch of {len(done)} finished fold run(s); wrote {Path(out).with_suffix('.md')}")
        return
    summary = run_function_matching(
        Path(out), settings, rows=rows.split(",") if rows else None, folds=[int(f) for f in folds.split(",")],
        runs=Path(runs), threads=threads, data=data, progress=not no_progress, command=command, dev_every=dev_every,
    )
    for name, s in summary.items():
        d = s.get("delta")
        click.echo(f"{name}: clean {s['ua']['clean']:.1f} on folds {s['folds']}"
                   + ("" if d is None else f"; Δ vs {REFERENCE} {d['mean']:+.1f} ({d['won']}/{len(d['folds'])})"))
    click.echo(f"wrote {Path(out).with_suffix('.md')}, .json and .png")


if __name__ == "__main__":
    raise SystemExit(run_standalone(function_matching_command, "python -m edgeemo.recipes.function_matching"))
