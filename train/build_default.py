"""Rebuild the bundled default model from the labelled data: one command, same recipe.

    python -m edgeemo.train.build_default            # trains, exports, quantizes, evaluates, writes the card

Trains the student on actors 01-16 (selection on 17-18), exports FP32 and INT8 ONNX, measures
both on the test actors 19-20, copies the INT8 file into ``sdk/models/`` and rewrites
``sdk/models/MODEL_CARD.md`` with the measured numbers.

``--recipe plain`` trains the student on the labels alone. ``--recipe distilled`` first trains the
audio + video teacher (A+V concat fusion, same actors, epoch picked on 17-18) into ``RUN/teacher``
and then the student with :data:`DISTILLED_LOSSES` from it (docs/distillation.md, docs/results.md).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from edgeemo._version import __version__
from edgeemo.errors import EdgeEmoError

from .checkpoint import atomic_write_text

DEFAULT_MODEL_NAME = "edgeemo-student-ravdess-int8.onnx"
REPRODUCE = "python -m edgeemo.train.build_default"
RECIPES = ("plain", "distilled")
DEFAULT_RECIPE = "distilled"
#: the ``student_best`` row of the five-fold comparison (docs/results.md)
DISTILLED_LOSSES = {"triplet_weight": 1.0, "feature_weight": 1.0, "response_weight": 0.5, "weighting": "confidence"}
DISTILL_TEACHER = {"fusion": "concat"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="runs/default", help="training run folder (resumes if present)")
    parser.add_argument("--models", default=str(Path(__file__).resolve().parents[1] / "sdk" / "models"),
                        help="where the bundled model and its card go")
    parser.add_argument("--data", default=None, help="data root holding ravdess/")
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--recipe", choices=RECIPES, default=DEFAULT_RECIPE,
                        help=f"plain: labels only; distilled: A+V teacher, then distillation (default {DEFAULT_RECIPE})")
    args = parser.parse_args(argv)
    try:
        return _build(args)
    except EdgeEmoError as exc:  # bad data folder, bad checkpoint, ...: a message, not a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _build(args: argparse.Namespace) -> int:
    from edgeemo.export.pipeline import ExportOptions, run_export

    from .trainer import StudentTrainer, TrainConfig

    cfg = TrainConfig(out_dir=args.run, data_root=args.data, epochs=args.epochs, seed=args.seed, num_threads=args.threads)
    run = Path(args.run)
    distill = None
    if args.recipe == "distilled":
        from .distill.recipe import DistillConfig
        from .distill.run import distill_student, train_teacher

        teacher = train_teacher(str(run / "teacher"), data_root=args.data, model_fields=DISTILL_TEACHER,
                                threads=args.threads)
        dcfg = DistillConfig(teacher=str(Path(teacher.best_dir).resolve()), **DISTILLED_LOSSES)
        result = distill_student(cfg, dcfg, threads=args.threads)
        distill = {"teacher_dev": teacher.dev.to_dict(), "teacher_epoch": teacher.best_epoch, "losses": DISTILLED_LOSSES}
    else:
        result = StudentTrainer(cfg).fit()
    report = run_export(ExportOptions(
        checkpoint=str(result.best_dir), out_path=str(run / "export" / "edgeemo-student-ravdess.onnx"),
        data_root=args.data, eval_splits=("dev", "test"),
    ))
    models = Path(args.models)
    models.mkdir(parents=True, exist_ok=True)
    assert report.int8_path is not None
    shutil.copyfile(report.int8_path, models / DEFAULT_MODEL_NAME)
    card = render_model_card(report.to_dict(), result.parameters, result.best_epoch, cfg.to_dict(), result.seconds,
                             distill=distill, recipe=args.recipe)
    atomic_write_text(models / "MODEL_CARD.md", card)
    print("\n".join(report.summary_lines()))
    print(f"bundled {models / DEFAULT_MODEL_NAME}")
    return 0


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
