"""The former "tiny" recipe, chosen on actors 17-20: one command, same recipe.

    python -m edgeemo.recipes.build_default            # trains, exports, quantizes, evaluates, writes the card

Trains the student on actors 01-16 (selection on 17-18), exports FP32 and INT8 ONNX, measures
both on the test actors 19-20, and copies the INT8 file and its card (``MODEL_CARD_student.md``)
into ``--models`` (default ``RUN/models``). The bundled "tiny" model is no longer this one: it is
chosen on the five actor folds and built by ``edgeemo recipe build-tiny``
(:mod:`edgeemo.recipes.build_tiny`); this recipe stays for comparison and for its distillation
losses.

``--recipe plain`` trains the student on the labels alone. ``--recipe distilled`` first trains the
audio + video teacher (A+V concat fusion, same actors, epoch picked on 17-18) into ``RUN/teacher``
and then the student with :data:`DISTILLED_LOSSES` from it (docs/distillation.md, docs/results.md).
The same command is ``edgeemo recipe build-default`` (:mod:`edgeemo.recipes.cli`).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from edgeemo._version import __version__
from edgeemo.cli._common import run_standalone
from edgeemo.fileio import atomic_write_text

from .experiments import SPEC_BY_NAME

DEFAULT_MODEL_NAME = "edgeemo-student-ravdess-int8.onnx"
"""The file this recipe writes (the "tiny" model's before ``build-tiny`` replaced it)."""
CARD_NAME = "MODEL_CARD_student.md"
REPRODUCE = "python -m edgeemo.recipes.build_default"
RECIPES = ("plain", "distilled")
DEFAULT_RECIPE = "distilled"
#: the losses of the ``student_best`` row of the five-fold comparison (docs/results.md) ...
DISTILLED_LOSSES: dict[str, Any] = dict(SPEC_BY_NAME["student_best"].distill or {})
#: ... and the teacher that row learns from (``teacher_av_concat``: concat fusion)
DISTILL_TEACHER: dict[str, Any] = dict(SPEC_BY_NAME[SPEC_BY_NAME["student_best"].teacher_ref].teacher)
#: the command's help: the module's description, its example line kept as written (click's ``\b``)
_HELP = (__doc__ or "").replace("\n\n    python -m", "\n\n\b\n    python -m", 1)


@click.command("build-default", help=_HELP)
@click.option("--run", default="runs/default", help="training run folder (resumes if present)")
@click.option("--models", default=None, help="where the model and its card go (default: RUN/models)")
@click.option("--data", default=None, help="data root holding ravdess/")
@click.option("--epochs", type=int, default=80)
@click.option("--seed", type=int, default=0)
@click.option("--threads", type=int, default=2)
@click.option("--recipe", type=click.Choice(RECIPES), default=DEFAULT_RECIPE,
              help=f"plain: labels only; distilled: A+V teacher, then distillation (default {DEFAULT_RECIPE})")
def build_default_command(run: str, models: str | None, data: str | None, epochs: int, seed: int, threads: int,
                          recipe: str) -> None:
    """Train, export, quantize, evaluate, bundle; an :class:`EdgeEmoError` propagates."""
    _build(run=run, models=models or str(Path(run) / "models"), data=data, epochs=epochs, seed=seed, threads=threads, recipe=recipe)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edgeemo.recipes.build_default``: run the command standalone (click exits on success
    and on a bad option); an :class:`EdgeEmoError` (bad data folder, bad checkpoint, ...) is one
    ``error:`` line and 2, not a traceback."""
    return run_standalone(build_default_command, REPRODUCE, argv)


def _build(run: str, models: str, data: str | None, epochs: int, seed: int, threads: int, recipe: str) -> None:
    """Train (``recipe``), export FP32 + INT8, evaluate, copy the INT8 file and its card into ``models``."""
    from edgeemo.export.pipeline import ExportOptions, run_export
    from edgeemo.train.trainer import StudentTrainer, TrainConfig

    cfg = TrainConfig(out_dir=run, data_root=data, epochs=epochs, seed=seed, num_threads=threads)
    run_dir = Path(run)
    distill = None
    if recipe == "distilled":
        from edgeemo.train.distill.recipe import DistillConfig
        from edgeemo.train.distill.run import distill_student, train_teacher

        teacher = train_teacher(str(run_dir / "teacher"), data_root=data, model_fields=DISTILL_TEACHER,
                                num_threads=threads)
        dcfg = DistillConfig(teacher=str(Path(teacher.best_dir).resolve()), **DISTILLED_LOSSES)
        result = distill_student(cfg, dcfg)
        distill = {"teacher_dev": teacher.dev.to_dict(), "teacher_epoch": teacher.best_epoch, "losses": DISTILLED_LOSSES}
    else:
        result = StudentTrainer(cfg).fit()
    report = run_export(ExportOptions(
        checkpoint=str(result.best_dir), out_path=str(run_dir / "export" / "edgeemo-student-ravdess.onnx"),
        data_root=data, eval_splits=("dev", "test"),
    ))
    models_dir = Path(models)
    models_dir.mkdir(parents=True, exist_ok=True)
    assert report.int8_path is not None
    shutil.copyfile(report.int8_path, models_dir / DEFAULT_MODEL_NAME)
    card = render_model_card(report.to_dict(), result.parameters, result.best_epoch, cfg.to_dict(), result.seconds,
                             distill=distill, recipe=recipe)
    atomic_write_text(models_dir / CARD_NAME, card)
    click.echo("\n".join(report.summary_lines()))
    click.echo(f"bundled {models_dir / DEFAULT_MODEL_NAME}")


def render_model_card(report: dict, parameters: int, best_epoch: int, train_cfg: dict, seconds: float,
                      distill: dict | None = None, recipe: str = "plain") -> str:
    """The model card of the bundled model, from measured numbers only."""
    s = report["scores"]
    reproduce = REPRODUCE if recipe == DEFAULT_RECIPE else f"{REPRODUCE} --recipe {recipe}"
    distill_row = ""
    if distill is not None:
        losses = ", ".join(f"{k} {v}" for k, v in distill["losses"].items())
        td = distill["teacher_dev"]
        distill_row = (
            "\n| distillation | from an audio + video teacher (log-mel CNN + eGeMAPS + 35 OpenFace AU intensities, "
            f"concat fusion) trained on the same actors 01-16, epoch {distill['teacher_epoch']} picked on 17-18 "
            f"(dev UA {100 * td['ua']:.1f} with video); losses {losses}. The teacher sees faces; the student only "
            "hears: it learns the teacher's embedding geometry and softened outputs |"
        )

    def row(kind: str, split: str) -> str:
        v = s.get(f"{kind} {split}")
        return "n/a" if v is None else f"{100 * v['ua']:.1f} / {100 * v['wa']:.1f} / {100 * v['f1']:.1f}"

    return f"""# Model card: edgeemo-student-ravdess (INT8)

**Licence: CC BY-NC-SA 4.0, non-commercial use only.** The model was trained on RAVDESS
(Livingstone & Russo 2018, CC BY-NC-SA 4.0); as a derived work it carries the same terms. The
edgeemo *code* is Apache-2.0; this *model file* is not free for commercial use.

| | |
|---|---|
| file | `{DEFAULT_MODEL_NAME}` ({report['int8_bytes'] / 1024:.0f} KiB; FP32 export {report['fp32_bytes'] / 1024:.0f} KiB) |
| version | {__version__} |
| task | 8-class categorical speech emotion: neutral, calm, happy, sad, angry, fear, disgust, surprise |
| input | raw 16 kHz mono float32 PCM, 3 s windows (48000 samples), hop 0.5 s; log-mel front end inside the graph |
| architecture | conv-STFT log-mel (n_fft 400, hop 160, 64 mels) -> {'per-clip mean' if train_cfg['normalization'] == 'global' else 'per-band mean'} normalisation -> 4 conv blocks {tuple(train_cfg['channels'])} -> {train_cfg['freq_bins']} frequency bins x mean+std over time -> {train_cfg['embedding_dim']}-d embedding -> linear |
| learned parameters | {parameters} (fixed front-end constants stored separately as float16: {report['frontend_constants']}) |
| quantization | static INT8 QDQ, symmetric, per-channel weights, 64 calibration windows from training actors; front end and the one-channel input conv kept in float |
| training data | RAVDESS speech, actors 01-16 (train), selection on actors 17-18 (dev, best epoch {best_epoch}); actors 19-20 never used for choices |
| training | {train_cfg['epochs']} epochs, AdamW lr {train_cfg['lr']}, cosine schedule, label smoothing {train_cfg['label_smoothing']}, class-balanced loss, speed perturbation, noise, SpecAugment, EMA, mixup probability {train_cfg['augment']['mixup_prob']}, dropout {train_cfg['dropout']}; seed {train_cfg['seed']}; {seconds / 60:.0f} min of training on a 2-core CPU machine |{distill_row}

## Measured accuracy (UA = macro recall / WA = accuracy / macro-F1, %)
| model | dev (actors 17-18) | test (actors 19-20) |
|---|---|---|
| FP32 ONNX | {row('fp32', 'dev')} | {row('fp32', 'test')} |
| INT8 ONNX (this file) | {row('int8', 'dev')} | {row('int8', 'test')} |

Parity: PyTorch vs ONNX Runtime FP32 max |Δprob| {report['parity_fp32']['max_abs_diff']:.1e};
INT8 vs FP32 top-1 agreement {100 * report['parity_int8_vs_fp32']['top1_agreement']:.1f} % on {report['parity_int8_vs_fp32']['n_windows']} dev windows.
Test sets are 120 clips of two actors: a few points of difference are within noise.

## Limits
Acted, read English sentences from 18 North-American actors in a quiet studio. Expect lower
accuracy on spontaneous speech, other languages, far-field or noisy microphones, children and
elderly voices. Emotion recognition is probabilistic: do not use it for decisions about people.

## Reproduce
From a checkout with `../shared/data` beside it (or `EDGEEMO_DATA` set):

    {reproduce}
"""


if __name__ == "__main__":
    raise SystemExit(main())
