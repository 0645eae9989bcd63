"""Train a teacher, and distil it into the student: the functions behind ``edgeemo teacher`` /
``edgeemo distill`` and the distilled recipe of :mod:`edgeemo.recipes.build_default`.
Torch is imported when called."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text

from ..config import check_known, set_torch_threads


def train_teacher(out_dir: str, *, data_root: str | None = None, model_fields: dict[str, Any] | None = None,
                  train_fields: dict[str, Any] | None = None, num_threads: int = 1,
                  train_folds: Sequence[int] | None = None, dev_folds: Sequence[int] = (),
                  progress: bool = True) -> Any:
    """Train (or resume) an audio(+video) teacher; default data: split train, epoch picked on split dev.

    Returns the :class:`~edgeemo.train.teachers.trainer.TeacherTrainer` result (``best_dir``, ``dev``)."""
    from ..data import RAVDESS_LABELS, load_ravdess, select
    from ..teachers.features import build_teacher_inputs
    from ..teachers.model import TeacherConfig
    from ..teachers.trainer import TeacherTrainConfig, TeacherTrainer

    check_known(TeacherConfig, model_fields or {}, "teacher model option", exclude=("labels",))
    tcfg = TeacherTrainConfig.from_dict({**(train_fields or {}), "out_dir": out_dir, "num_threads": num_threads})
    set_torch_threads(tcfg.num_threads)  # before the log-mel of the inputs, which runs torch too
    utts = load_ravdess(data_root)
    if train_folds:
        train, dev = select(utts, folds=list(train_folds)), select(utts, folds=list(dev_folds))
    else:
        train, dev = select(utts, splits=("train",)), select(utts, splits=("dev",))
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, **(model_fields or {}))
    inputs = build_teacher_inputs(train + dev, RAVDESS_LABELS, use_logmel=mcfg.use_logmel, use_egemaps=mcfg.use_egemaps,
                                  use_visual=mcfg.use_visual, functionals=mcfg.functionals, visual_root=data_root,
                                  progress=progress)
    return TeacherTrainer(mcfg, tcfg, inputs.select_utterances(train), inputs.select_utterances(dev),
                          progress=progress).fit()


def distill_student(cfg: Any, dcfg: Any, *, progress: bool = True) -> Any:
    """Train (or resume) the student ``cfg`` (a TrainConfig) with the losses of ``dcfg`` (a DistillConfig,
    whose ``teacher`` names the teacher checkpoint). The settings are recorded in ``OUT/distill.json``;
    resuming with other settings is refused. Teachers (cross-fitting) and the student run on
    ``cfg.num_threads`` threads. Returns the trainer's :class:`TrainResult`."""
    from ..data import RAVDESS_LABELS
    from ..teachers.features import build_teacher_inputs
    from ..teachers.model import TeacherConfig
    from ..teachers.trainer import TeacherTrainConfig, TeacherTrainer, load_teacher
    from ..trainer import StudentTrainer
    from .recipe import build_distill_terms
    from .teacher_cache import crossfit_teacher_outputs, teacher_outputs

    set_torch_threads(cfg.num_threads)  # before the teacher's outputs, which run torch too
    out_dir, teacher_dir = cfg.out_dir, dcfg.teacher
    record = Path(out_dir) / "distill.json"
    if record.is_file() and json.loads(record.read_text()) != dcfg.to_dict():
        raise ConfigError(f"{out_dir} was distilled with other settings ({record}); use another --out or delete it")
    probe = StudentTrainer(cfg, progress=False)
    _, _, tconfig = load_teacher(teacher_dir)
    mcfg = TeacherConfig.from_dict(tconfig["model"])
    inputs = build_teacher_inputs(probe.train_utts + probe.dev_utts, mcfg.labels, use_logmel=mcfg.use_logmel,
                                  use_egemaps=mcfg.use_egemaps, use_visual=mcfg.use_visual,
                                  functionals=mcfg.functionals, frontend_cfg=mcfg.frontend, window_samples=mcfg.window_samples,
                                  visual_root=cfg.data_root, progress=progress)
    if dcfg.crossfit:
        if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
            raise ConfigError("crossfit=true is not supported under torchrun (every process would train the "
                              "same teachers into one folder): distil with crossfit in a single process")
        tcfg = TeacherTrainConfig.from_dict(tconfig["train"])

        def fit_teacher(train: list, dev: list, tag: str) -> Path:  # type: ignore[type-arg]
            folder = Path(out_dir) / "crossfit_teachers" / tag.strip("-")
            run = TeacherTrainConfig.from_dict({**tcfg.to_dict(), "out_dir": str(folder), "num_threads": cfg.num_threads})
            return TeacherTrainer(mcfg, run, inputs.select_utterances(train), inputs.select_utterances(dev)).fit().best_dir

        outputs = crossfit_teacher_outputs(probe.train_utts, fit_teacher, probe.dev_utts, inputs,
                                           crop=dcfg.teacher_crop, with_video=dcfg.teacher_with_video)
    else:
        outputs = teacher_outputs(teacher_dir, inputs.select_utterances(probe.train_utts), crop=dcfg.teacher_crop,
                                  with_video=dcfg.teacher_with_video)
    terms, heads = build_distill_terms(dcfg, probe.train_utts, outputs, cfg.embedding_dim, labels=RAVDESS_LABELS)
    atomic_write_text(record, json.dumps(dcfg.to_dict(), indent=2))
    trainer = StudentTrainer(cfg, utterances=probe.train_utts + probe.dev_utts, extra_losses=terms,
                             extra_modules=heads, progress=progress)
    if trainer.train_utts != probe.train_utts:  # the loss terms index trainer.train_utts
        raise ConfigError("internal: the trainer's training clips are not in the order the loss terms expect")
    return trainer.fit()
