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

from ..cli import _parse_overrides


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
    from ..trainer import TrainConfig
    from .recipe import DistillConfig
    from ..distributed import is_main_process
    from .run import distill_student

    fields = _load_fields(config_file, overrides)
    fields.update(out_dir=out_dir, num_threads=threads)
    for key, value in (("data_root", data_root), ("epochs", epochs), ("seed", seed)):
        if value is not None:
            fields[key] = value
    cfg = TrainConfig.from_dict(fields)
    dfields = _load_fields(distill_file, loss_overrides)
    dfields["teacher"] = str(Path(teacher_dir).resolve())
    dcfg = DistillConfig.from_dict(dfields)
    result = distill_student(cfg, dcfg)
    if is_main_process():  # under torchrun, one summary line
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
    from .run import train_teacher

    result = train_teacher(
        out_dir, data_root=data_root, model_fields=_parse_overrides(model_overrides),
        train_fields=_parse_overrides(overrides), num_threads=threads,
        train_folds=[int(f) for f in train_folds.split(",")] if train_folds else None,
        dev_folds=[int(f) for f in (dev_folds or "").split(",") if f],
    )
    click.echo(f"best epoch {result.best_epoch}: dev {result.dev}; checkpoint {result.best_dir}")
