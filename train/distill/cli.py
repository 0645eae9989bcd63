"""``edgeemo distill`` (student from a teacher) and ``edgeemo teacher`` (train an A(+V) teacher).

Both import torch only when called. ``distill`` resumes from ``OUT/last`` like ``edgeemo train``
(the trainer's own checkpoints); the distillation settings are stored in ``OUT/distill.json`` and a
resumed run with different settings is refused. Teacher outputs come from the on-disk cache
(:mod:`edgeemo.train.distill.teacher_cache`), so a resumed run does not recompute them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from edgeemo.errors import ConfigError

from ..cli import _parse_overrides, _run


def _load_fields(config_file: str | None, overrides: Sequence[str]) -> dict[str, Any]:
    fields: dict[str, Any] = json.loads(Path(config_file).read_text()) if config_file else {}
    fields.update(_parse_overrides(overrides))
    return fields


@click.command("distill")
@click.option("--teacher", "teacher_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Teacher checkpoint folder (from `edgeemo teacher`).")
@click.option("--out", "out_dir", default="runs/distilled", show_default=True, help="Run folder (resumes from OUT/last).")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/ and ravdess_visual/.")
@click.option("--epochs", type=int, default=None, help="Student epochs.")
@click.option("--seed", type=int, default=None)
@click.option("--threads", type=int, default=1, show_default=True, help="torch CPU threads.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON file of TrainConfig fields.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a TrainConfig field (JSON value).")
@click.option("--distill-config", "distill_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON file of DistillConfig fields.")
@click.option("--loss", "loss_overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a DistillConfig field, e.g. --loss triplet_weight=1 --loss weighting=confidence.")
def distill_command(teacher_dir: str, out_dir: str, data_root: str | None, epochs: int | None, seed: int | None,
                    threads: int, config_file: str | None, overrides: tuple[str, ...], distill_file: str | None,
                    loss_overrides: tuple[str, ...]) -> None:
    """Train the speech-only student with distillation losses from a teacher checkpoint."""
    import torch

    from ..checkpoint import atomic_write_text
    from ..data import RAVDESS_LABELS
    from ..models.teacher_av import TeacherConfig
    from ..teacher_features import build_teacher_inputs
    from ..teacher_trainer import TeacherTrainConfig, TeacherTrainer, load_teacher
    from ..trainer import StudentTrainer, TrainConfig
    from .recipe import DistillConfig, build_distill_terms
    from .teacher_cache import crossfit_teacher_outputs, teacher_outputs

    torch.set_num_threads(threads)
    fields = _load_fields(config_file, overrides)
    fields.update(out_dir=out_dir, num_threads=threads)
    for key, value in (("data_root", data_root), ("epochs", epochs), ("seed", seed)):
        if value is not None:
            fields[key] = value
    cfg = TrainConfig.from_dict(fields)
    dfields = _load_fields(distill_file, loss_overrides)
    dfields["teacher"] = str(Path(teacher_dir).resolve())
    dcfg = DistillConfig.from_dict(dfields)

    record = Path(out_dir) / "distill.json"
    if record.is_file() and json.loads(record.read_text()) != dcfg.to_dict():
        raise ConfigError(f"{out_dir} was distilled with other settings ({record}); use another --out or delete it")
    probe = StudentTrainer(cfg, progress=False)
    _, _, tconfig = load_teacher(teacher_dir)
    mcfg = TeacherConfig.from_dict(tconfig["model"])
    inputs = build_teacher_inputs(probe.train_utts + probe.dev_utts, mcfg.labels, use_logmel=mcfg.use_logmel,
                                  use_egemaps=mcfg.use_egemaps, use_visual=mcfg.use_visual,
                                  frontend_cfg=mcfg.frontend, window_samples=mcfg.window_samples,
                                  visual_root=cfg.data_root, progress=True)
    if dcfg.crossfit:
        tcfg = TeacherTrainConfig.from_dict(tconfig["train"])

        def train_teacher(train: list, dev: list, tag: str) -> Path:  # type: ignore[type-arg]
            folder = Path(out_dir) / "crossfit_teachers" / tag.strip("-")
            run = TeacherTrainConfig.from_dict({**tcfg.to_dict(), "out_dir": str(folder), "num_threads": threads})
            return TeacherTrainer(mcfg, run, inputs.select_utterances(train), inputs.select_utterances(dev)).fit().best_dir

        outputs = crossfit_teacher_outputs(probe.train_utts, train_teacher, probe.dev_utts, inputs,
                                           crop=dcfg.teacher_crop, with_video=dcfg.teacher_with_video)
    else:
        outputs = teacher_outputs(teacher_dir, inputs.select_utterances(probe.train_utts), crop=dcfg.teacher_crop,
                                  with_video=dcfg.teacher_with_video)
    terms, heads = build_distill_terms(dcfg, probe.train_utts, outputs, cfg.embedding_dim, labels=RAVDESS_LABELS)
    atomic_write_text(record, json.dumps(dcfg.to_dict(), indent=2))
    trainer = StudentTrainer(cfg, utterances=probe.train_utts + probe.dev_utts, extra_losses=terms, extra_modules=heads)
    if trainer.train_utts != probe.train_utts:  # the loss terms index trainer.train_utts
        raise ConfigError("internal: the trainer's training clips are not in the order the loss terms expect")
    result = trainer.fit()
    click.echo(f"best epoch {result.best_epoch}: dev {result.dev}; losses {', '.join(dcfg.active)}; "
               f"{result.parameters} parameters; {result.seconds:.0f} s; checkpoint {result.best_dir}")


@click.command("teacher")
@click.option("--out", "out_dir", default="runs/teacher", show_default=True, help="Run folder.")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/ and ravdess_visual/.")
@click.option("--train-folds", default=None, help="Comma-separated folds to train on (default: split=train).")
@click.option("--dev-folds", default=None, help="Comma-separated folds for epoch selection (default: split=dev).")
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--model", "model_overrides", multiple=True, metavar="KEY=VALUE",
              help="TeacherConfig field, e.g. --model fusion=shift --model use_visual=false.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="TeacherTrainConfig field (JSON value).")
def teacher_command(out_dir: str, data_root: str | None, train_folds: str | None, dev_folds: str | None,
                    threads: int, model_overrides: tuple[str, ...], overrides: tuple[str, ...]) -> None:
    """Train an audio(+video) teacher on precomputed log-mel, eGeMAPS and AU features."""
    import torch

    from ..data import RAVDESS_LABELS, load_ravdess, select
    from ..models.teacher_av import TeacherConfig
    from ..teacher_features import build_teacher_inputs
    from ..teacher_trainer import TeacherTrainConfig, TeacherTrainer

    torch.set_num_threads(threads)
    utts = load_ravdess(data_root)
    if train_folds:
        train = select(utts, folds=[int(f) for f in train_folds.split(",")])
        dev = select(utts, folds=[int(f) for f in (dev_folds or "").split(",") if f])
    else:
        train, dev = select(utts, splits=("train",)), select(utts, splits=("dev",))
    mfields = _parse_overrides(model_overrides)
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, **mfields)  # type: ignore[arg-type]
    tcfg = TeacherTrainConfig.from_dict({**_parse_overrides(overrides), "out_dir": out_dir, "num_threads": threads})
    inputs = build_teacher_inputs(train + dev, RAVDESS_LABELS, use_logmel=mcfg.use_logmel, use_egemaps=mcfg.use_egemaps,
                                  use_visual=mcfg.use_visual, visual_root=data_root, progress=True)
    result = TeacherTrainer(mcfg, tcfg, inputs.select_utterances(train), inputs.select_utterances(dev), progress=True).fit()
    click.echo(f"best epoch {result.best_epoch}: dev {result.dev}; checkpoint {result.best_dir}")


def distill_main(args: Sequence[str]) -> None:
    """Entry used by ``edgeemo distill``."""
    _run(distill_command, args, "edgeemo distill")


def teacher_main(args: Sequence[str]) -> None:
    """Entry used by ``edgeemo teacher``."""
    _run(teacher_command, args, "edgeemo teacher")
