"""``edgeemo recipe build-tiny``: rebuild the "tiny" model from the function-matching folds.

    edgeemo recipe function-matching --rows student_fm_frames_cleanemb_stream_x8   # the five folds (resumable)
    edgeemo recipe build-tiny                                                      # final model, export, card

The recipe is fixed by the five actor folds of ``recipe function-matching`` (one row, ``--row``):
its settings, the student's epoch count and the teacher's (the median of the epochs its folds chose
on their dev actors). ``--fold-weights`` says which weights of each fold run stand for the recipe:
``dev-choice`` the epoch the dev actors chose, and the final student trains for the median of
those epochs; ``last-epoch`` (the command's default since model 0.4.0, :data:`SHIPPED_FOLD_WEIGHTS`)
the moving average (EMA) of the run's last epoch, and the final student trains the folds' whole
schedule: the model the fold scores measure is then the one that ships, with no choice made on dev
actors (runs finished before 2026-12-02 need ``recipe function-matching --rescore-last`` for their
last-epoch scores). This command then

1. scores the row's five fold models as ONNX files, float32 and INT8 (each quantized on windows of
   its own training actors), on their test actors, clean and under the eight degraded conditions;
2. collects their out-of-fold window probabilities and fits a temperature on them (cross-fitted
   over the folds for an honest ECE, as ``build-small`` does);
3. trains the final model on all 20 actors: the Whisper teacher head on every clip and its views,
   then the student by function matching, with Whisper's frame-level targets when the row has them
   (resumable: ``RUN/student``); the final weights are the exponential moving average of the last epoch;
4. exports it (float32 and INT8, both calibrated), its stream graph when the row is streamable
   (:mod:`edgeemo.export.stream_graph`), checks the parities, and writes the report
   (``docs/results/tiny_build.json``) and the model card;
5. with ``--bundle``, copies the shipped files into ``sdk/models/``: the float32 window model (a
   stream graph pairs with float32 only) and its stream graph.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import click
import numpy as np
from edgeemo.cli._common import run_standalone
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text

from .function_matching import ROW_BY_NAME, FoldData, Row, Settings
from .report import read_state

__all__ = ["FOLD_WEIGHTS", "SHIPPED_FILE", "SHIPPED_FOLD_WEIGHTS", "SHIPPED_ROW", "build_tiny", "build_tiny_command",
           "claim_run_folder"]

SHIPPED_ROW = "student_fm_frames_cleanemb_stream_x8"
SHIPPED_FILE = "edgeemo-tiny-ravdess.onnx"
INT8_FILE = "edgeemo-tiny-ravdess-int8.onnx"
CARD_FILE = "MODEL_CARD_tiny.md"
MODEL_VERSION = "0.6.0"
RESULTS = "docs/results/function_matching.json"
BUILD_REPORT = "tiny_build.json"
MODEL_NAME = "edgeemo-tiny-ravdess"
#: which weights of a fold run stand for the recipe (see the module docstring); the first is the
#: functions' default (and what a work folder claimed before the option existed holds)
FOLD_WEIGHTS = ("dev-choice", "last-epoch")
#: how the shipped tiny model was built (the command's default)
SHIPPED_FOLD_WEIGHTS = "last-epoch"


def _row_results(results: Path, row: str, settings: Settings) -> dict[int, dict[str, Any]]:
    from .function_matching import _load

    if row not in ROW_BY_NAME:
        raise ConfigError(f"unknown row {row!r}; known: {sorted(ROW_BY_NAME)}")
    per = _load(results, settings).get(row, {})
    if sorted(per) != [0, 1, 2, 3, 4]:
        raise ConfigError(f"{results} has folds {sorted(per)} of row {row!r}, not all five: run "
                          f"`edgeemo recipe function-matching --rows {row}` first")
    return per


def final_epochs(per_fold: dict[int, dict[str, Any]]) -> tuple[int, int]:
    """(student, teacher) epoch counts: the medians of what the folds' dev actors chose (epochs are
    counted from 1; the folds record the student's best epoch 0-based, the teacher head's 1-based,
    as its history counts them)."""
    student = int(np.median([per_fold[k]["best_epoch"] + 1 for k in sorted(per_fold)]))
    teachers = [per_fold[k]["teacher"]["best_epoch"] for k in sorted(per_fold) if "teacher" in per_fold[k]]
    return student, int(np.median(teachers)) if teachers else 0


def final_epochs_at_last_epoch(per_fold: dict[int, dict[str, Any]], row: Row, settings: Settings) -> tuple[int, int]:
    """(student, teacher) epoch counts for ``--fold-weights last-epoch``: the folds' whole student
    schedule, and the teacher's as :func:`final_epochs`. Every fold must have its last-epoch scores."""
    missing = [k for k in sorted(per_fold) if "last" not in per_fold[k]]
    if missing:
        raise ConfigError(f"folds {missing} of {row.name} have no last-epoch scores: run `edgeemo recipe "
                          f"function-matching --rows {row.name} --rescore-last` first")
    return settings.epochs * row.epoch_factor, final_epochs(per_fold)[1]


def claim_run_folder(run: Path, row_name: str, settings: Settings, fold_weights: str = FOLD_WEIGHTS[0]) -> None:
    """Mark ``run`` as the work folder of this row, settings and fold weights (``run/row.json``), or
    refuse one that another build filled: its cached fold scores and final model would be silently
    reused."""
    mark = run / "row.json"
    want = {"row": row_name, "settings_key": settings.key()}
    if fold_weights != FOLD_WEIGHTS[0]:  # folders claimed before the option existed hold the default
        want["fold_weights"] = fold_weights
    have = read_state(mark, option="--run")
    if have:
        if have != want:
            raise ConfigError(f"{run} holds the build of {have.get('row')} (settings {have.get('settings_key')}, "
                              f"fold weights {have.get('fold_weights', FOLD_WEIGHTS[0])}), not {row_name} "
                              f"({want['settings_key']}, {fold_weights}): pass another --run")
        return
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_text(mark, json.dumps(want))


def fold_checkpoint(row: Row, settings: Settings, runs: Path, work: Path, fold: int,
                    fold_weights: str = FOLD_WEIGHTS[0]) -> Path:
    """The checkpoint folder of fold ``fold``'s model: the run's dev-chosen ``best``, or (``last-epoch``)
    its last epoch's EMA written once into ``work`` as a checkpoint of its own."""
    from edgeemo.train.checkpoint import save_checkpoint

    from .function_matching import last_epoch_ema

    run_dir = runs / settings.key() / row.name / f"fold{fold}"
    source = run_dir / ("best" if fold_weights == FOLD_WEIGHTS[0] else "last")
    if not (source / "config.json").is_file():
        raise ConfigError(f"the fold {fold} model of {row.name} is not at {source}: the results file has it but the "
                          f"checkpoints are gone; pass --runs, or rerun `edgeemo recipe function-matching --rows "
                          f"{row.name}` after removing its results")
    if fold_weights == FOLD_WEIGHTS[0]:
        return source
    out = work / f"fold{fold}-last-ema"
    if not (out / "config.json").is_file():
        config, ema = last_epoch_ema(run_dir, settings.epochs * row.epoch_factor)
        save_checkpoint(out, config=config, weights=ema)
    return out


def score_fold_models(row: Row, settings: Settings, data: FoldData, runs: Path, work: Path,
                      progress: bool = True, folds: tuple[int, ...] = (0, 1, 2, 3, 4),
                      fold_weights: str = FOLD_WEIGHTS[0]) -> dict[int, dict[str, Any]]:
    """Per fold: the fold model (:func:`fold_checkpoint`) as float32 and INT8 ONNX, UA % on its test
    actors per condition, and its clean out-of-fold window probabilities (float32, uncalibrated).
    Cached per fold in ``work`` (a fold can be scored as soon as its model exists)."""
    from edgeemo.export.calibrate import window_probs
    from edgeemo.export.onnx_export import export_student
    from edgeemo.export.quantize import calibration_windows, quantize_int8
    from edgeemo.train.data import RAVDESS_LABELS, label_indices, read_audio
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.selection import unweighted_accuracy

    from .small_student import WINDOW_CLIPS, WINDOW_PROBS

    out: dict[int, dict[str, Any]] = {}
    for k in folds:
        cache = work / f"fold{k}.json"
        if cache.is_file():
            out[k] = json.loads(cache.read_text())
            continue
        train, _, test = data.split(k)
        ckpt = fold_checkpoint(row, settings, runs, work, k, fold_weights)
        fp32, int8 = work / f"fold{k}-fp32.onnx", work / f"fold{k}-int8.onnx"
        export_student(ckpt, fp32)
        calib = calibration_windows([read_audio(u.path) for u in train], 48000, 64, seed=settings.seed)
        quantize_int8(fp32, int8, calib)
        y = label_indices(test, RAVDESS_LABELS)
        index = np.array([data.index[str(u.path)] for u in test])
        result: dict[str, Any] = {"fp32": {}, "int8": {}}
        for name in EVAL_CONDITIONS:
            waves = data.condition_waves(test, name)
            for kind, path in (("fp32", fp32), ("int8", int8)):
                probs, owner = window_probs(path, waves)
                clip = np.stack([probs[owner == i].mean(axis=0) for i in range(len(waves))])
                result[kind][name] = 100 * unweighted_accuracy(y, clip.argmax(1), len(RAVDESS_LABELS))
                if name == "clean" and kind == "fp32":
                    result[WINDOW_PROBS], result[WINDOW_CLIPS] = probs.tolist(), index[owner].tolist()
        if progress:
            click.echo(f"fold {k}: clean UA fp32 {result['fp32']['clean']:.1f}, int8 {result['int8']['clean']:.1f}",
                       err=True)
        atomic_write_text(cache, json.dumps(result))
        out[k] = result
    return out


def train_final(row: Row, settings: Settings, data: FoldData, run: Path, *, epochs: int, teacher_epochs: int,
                threads: int, progress: bool = True) -> Path:
    """Train the row on every clip (actors 01-20) for ``epochs`` (resumable); returns the
    checkpoint folder of the final weights (the last epoch's moving average)."""
    from edgeemo.train.checkpoint import load_checkpoint, save_checkpoint
    from edgeemo.train.data import RAVDESS_LABELS, label_indices
    from edgeemo.train.distill.function_matching import (
        FunctionMatchingConfig,
        function_matching_trainer,
        whisper_view_targets,
    )
    from edgeemo.train.teachers.whisper_head import HeadTrainConfig, WhisperHeadConfig, fit_whisper_head_on_views
    from edgeemo.train.trainer import TrainConfig
    from edgeemo.train.views import TrainingViews

    final = run / "final"
    if (final / "config.json").is_file():
        return final
    if row.fm is None:
        raise ConfigError(f"{row.name} is not a function-matching row; build-tiny builds those")
    utts = data.utts
    # [N, V + 1, L, D] from the Whisper cache: the student's views, then any the teacher alone trains on
    features = data.view_features(utts, row.teacher_view_sets(settings.views))
    y = label_indices(utts, RAVDESS_LABELS)
    cfg = WhisperHeadConfig(n_layers=features.shape[2], feature_dim=features.shape[3], n_classes=len(RAVDESS_LABELS))
    head, _ = fit_whisper_head_on_views(features, y, None, cfg, HeadTrainConfig(seed=settings.seed, epochs=teacher_epochs),
                                        clean_kd=row.teacher_clean_kd, heads=row.teacher_heads)
    targets = whisper_view_targets(head, features[:, : 1 + row.view_count(settings.views)], utts)
    train_cfg = TrainConfig.from_dict({
        "out_dir": str(run / "student"), "train_folds": [0, 1, 2, 3, 4], "dev_folds": [0], "epochs": epochs,
        "seed": settings.seed, "num_threads": threads, "augment": dict(row.augment), **row.model,
    })
    views = TrainingViews(row.view_sets(settings.views), data.pool)
    fm_cfg = FunctionMatchingConfig.from_dict(row.fm)
    # frame-level targets (as run_fold makes them): standardised over every clip's clean frames here
    frames = data.row_frame_targets(utts, views, fm_cfg)
    trainer = function_matching_trainer(train_cfg, fm_cfg, targets, utts, views, frames=frames, progress=progress)
    result = trainer.fit()
    last = load_checkpoint(result.last_dir, with_state=True)
    assert last.trainer_state is not None
    config = {**last.config, "final": {"row": row.name, "epochs": epochs, "teacher_epochs": teacher_epochs,
                                       "weights": "ema of the last epoch", "train_actors": "01-20",
                                       "settings_key": settings.key()}}
    save_checkpoint(final, config=config, weights=last.trainer_state["ema"])
    return final


def _summary(scores: dict[int, dict[str, Any]], fold_results: dict[int, dict[str, Any]],
             fold_weights: str = FOLD_WEIGHTS[0]) -> dict[str, Any]:
    from edgeemo.train.degrade import EVAL_CONDITIONS

    degraded = [c for c in EVAL_CONDITIONS if c != "clean"]
    out: dict[str, Any] = {}
    for kind in ("fp32", "int8"):
        ua = {c: float(np.mean([scores[k][kind][c] for k in range(5)])) for c in EVAL_CONDITIONS}
        sd = float(np.std([scores[k][kind]["clean"] for k in range(5)], ddof=1))
        per_fold_deg = [float(np.mean([scores[k][kind][c] for c in degraded])) for k in range(5)]
        out[kind] = {"ua": ua, "clean_sd": sd, "mean_degraded": float(np.mean(per_fold_deg)),
                     "worst": min(ua[c] for c in degraded)}
    diff = [scores[k]["int8"]["clean"] - scores[k]["fp32"]["clean"] for k in range(5)]
    out["int8_minus_fp32"] = {"mean": float(np.mean(diff)), "sd": float(np.std(diff, ddof=1))}
    torch_ua = [(fold_results[k] if fold_weights == FOLD_WEIGHTS[0] else fold_results[k]["last"])["ua"]["clean"]
                for k in range(5)]
    out["torch_clean"] = float(np.mean(torch_ua))
    return out


def build_tiny(*, row_name: str, results: Path, run: Path, models: Path | None, data_root: str | None,
               threads: int, progress: bool = True, runs: Path = Path("runs/function_matching"),
               fold_weights: str = FOLD_WEIGHTS[0]) -> dict[str, Any]:
    """Steps 1-5 of the module docstring; returns the build report."""
    from edgeemo.export.calibrate import apply_temperature
    from edgeemo.export.onnx_export import export_student
    from edgeemo.export.parity import check_parity, compare, onnx_probs
    from edgeemo.export.quantize import calibration_windows, quantize_int8
    from edgeemo.export.stream_graph import check_stream_parity, export_stream_graph, stream_graph_path
    from edgeemo.train.config import set_torch_threads
    from edgeemo.train.data import RAVDESS_LABELS, find_data_root, label_indices, read_audio
    from edgeemo.train.models.student import count_parameters, load_student

    from .build_small import cross_fitted_calibration

    t0 = time.perf_counter()
    set_torch_threads(threads)
    settings = Settings()
    row = ROW_BY_NAME.get(row_name)
    per_fold = _row_results(results, row_name, settings)
    assert row is not None
    if fold_weights not in FOLD_WEIGHTS:
        raise ConfigError(f"fold_weights={fold_weights!r} is not one of {FOLD_WEIGHTS}")
    epochs, teacher_epochs = (final_epochs(per_fold) if fold_weights == FOLD_WEIGHTS[0]
                              else final_epochs_at_last_epoch(per_fold, row, settings))
    claim_run_folder(run, row_name, settings, fold_weights)
    data = FoldData(find_data_root(data_root), settings, progress)
    work = run / "folds"
    work.mkdir(parents=True, exist_ok=True)
    scores = score_fold_models(row, settings, data, runs, work, progress, fold_weights=fold_weights)
    y = label_indices(data.utts, RAVDESS_LABELS)
    calibration = cross_fitted_calibration(scores, y)
    final = train_final(row, settings, data, run, epochs=epochs, teacher_epochs=teacher_epochs, threads=threads,
                        progress=progress)
    model, _ = load_student(final)
    summary = _summary(scores, per_fold, fold_weights)
    metrics = {"ua_5fold_clean_fp32": summary["fp32"]["ua"]["clean"] / 100,
               "ua_5fold_degraded_mean_fp32": summary["fp32"]["mean_degraded"] / 100}
    training = "RAVDESS speech, actors 01-20 (all; recipe and epoch counts fixed on five actor folds)"
    raw = run / "tiny-fp32-uncalibrated.onnx"
    export_student(final, raw, model_name=MODEL_NAME, model_version=MODEL_VERSION, training_data=training,
                   metrics=metrics)
    fitted_on = f"out-of-fold window probabilities of {row_name}, five actor folds (clean)"
    shipped, int8_raw, int8 = run / SHIPPED_FILE, run / "tiny-int8-uncalibrated.onnx", run / INT8_FILE
    for src, dst in ((raw, shipped), (int8_raw, int8)):
        if src is int8_raw:
            calib = calibration_windows([read_audio(u.path) for u in data.utts], 48000, 64, seed=settings.seed)
            quantize_int8(raw, int8_raw, calib)
        apply_temperature(src, dst, calibration["temperature"], fitted_on=fitted_on,
                          ece_before=calibration["ece_before"], ece_after=calibration["ece_after"])
    windows = calibration_windows([read_audio(u.path) for u in data.utts[::40]], 48000, 32, seed=1)
    report: dict[str, Any] = {
        "row": row_name, "model_version": MODEL_VERSION, "settings": settings.__dict__,
        "settings_key": settings.key(), "epochs": epochs,
        "teacher_epochs": teacher_epochs, "fold_epochs": [per_fold[k]["best_epoch"] + 1 for k in range(5)],
        "fold_weights": fold_weights,
        "learned_parameters": count_parameters(model), "streamable": model.cfg.streamable,
        "parity_fp32": check_parity(model, raw, windows).to_dict(),
        "parity_int8": compare(onnx_probs(raw, windows), onnx_probs(int8_raw, windows)).to_dict(),
        "fp32_bytes": shipped.stat().st_size, "int8_bytes": int8.stat().st_size,
        "calibration": calibration, "summary": summary,
        "folds": {k: {kind: scores[k][kind] for kind in ("fp32", "int8")} for k in range(5)},
    }
    files = [shipped]
    if model.cfg.streamable:
        stream = export_stream_graph(model, shipped)
        speech = np.concatenate([read_audio(u.path) for u in data.utts[:6]]).astype(np.float32)
        report["stream_parity_max_abs"] = check_stream_parity(shipped, stream, speech)
        report["stream_bytes"] = stream.stat().st_size
        files.append(stream)
    report["seconds"] = time.perf_counter() - t0
    atomic_write_text(run / "report.json", json.dumps(report, indent=2))
    atomic_write_text(results.with_name(BUILD_REPORT), json.dumps(report, indent=2))
    if models is not None:
        models.mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, models / f.name)
        if not model.cfg.streamable:
            stale = stream_graph_path(models / SHIPPED_FILE)
            stale.unlink(missing_ok=True)
        atomic_write_text(models / CARD_FILE, render_card(report))
    return report


def _fold_epochs(r: dict[str, Any]) -> int:
    """The student's schedule on the folds: the recipe's epochs times the row's factor."""
    return int(r["settings"]["epochs"]) * ROW_BY_NAME[r["row"]].epoch_factor


def _view_count(r: dict[str, Any]) -> int:
    """Augmented views per clip the row's teacher and student used."""
    return ROW_BY_NAME[r["row"]].view_count(int(r["settings"]["views"]))


def _views_note(r: dict[str, Any]) -> str:
    """What is special about the row's views and teacher, in words ("" for the standard ones alone)."""
    row = ROW_BY_NAME[r["row"]]
    notes = ["with pitch and formant shifts: talker views"] if row.view_kind == "talker" else []
    if row.extra_views:
        notes.append(f"{row.views_label(int(r['settings']['views']))}; babble views have other talkers in every view")
    if row.teacher_extra_views:
        notes.append(f"the teacher head also trained on {row.views_label(int(r['settings']['views']), teacher=True)} "
                     "views per clip")
    if row.teacher_clean_kd:
        notes.append(f"the teacher head refitted to say on every view what it says on the clean clip, weight "
                     f"{row.teacher_clean_kd}")
    if row.teacher_heads > 1:
        notes.append(f"the teacher the mean of {row.teacher_heads} such heads, seeds apart")
    return f" ({'; '.join(notes)})" if notes else ""


def _epochs_in_words(r: dict[str, Any]) -> str:
    """The card's account of the final epoch counts."""
    if r.get("fold_weights", FOLD_WEIGHTS[0]) == FOLD_WEIGHTS[0]:
        return (f"{r['epochs']} student, {r['teacher_epochs']} teacher: the medians of the folds' dev-chosen "
                f"{r['fold_epochs']}")
    return (f"{r['epochs']} student: the folds' whole schedule, the last epoch's moving average kept as on the folds; "
            f"{r['teacher_epochs']} teacher: the median of the folds' dev choices")


def _targets_note(r: dict[str, Any]) -> str:
    """Which of the teacher's outputs are the targets, when not both the view's own."""
    fm = ROW_BY_NAME[r["row"]].fm or {}
    if fm.get("teacher_view") == "clean":
        return "; the targets of every view are the teacher's outputs on the clean clip"
    notes = ""
    if fm.get("embedding_view") == "clean":
        notes = ("; the KL to the teacher's softened outputs on the view the student hears, the embedding regression "
                 "to the teacher's embedding of the clean clip")
    if fm.get("frame_weight", 0.0) > 0:
        layers = [fm.get("frame_layer", 2), *fm.get("frame_extra_layers", ())]
        which = f"layer {layers[0]}" if len(layers) == 1 else "layers " + " and ".join(map(str, layers))
        heads = "" if len(layers) == 1 else ", one head per layer"
        notes += (f"; each column of the student's trunk also regresses Whisper tiny.en's {which} "
                  f"frames of its 100 ms (1 - cos, weight {fm['frame_weight']:g}{heads})")
    return notes


def _weights_option(r: dict[str, Any]) -> str:
    weights = r.get("fold_weights", FOLD_WEIGHTS[0])
    return "" if weights == FOLD_WEIGHTS[0] else f" --fold-weights {weights}"


def _fold_models_in_words(r: dict[str, Any]) -> str:
    if r.get("fold_weights", FOLD_WEIGHTS[0]) == FOLD_WEIGHTS[0]:
        return "each at the epoch its dev actors chose"
    return "each the moving average of its last epoch, as the shipped model is"


def _temperature_in_words(cal: dict[str, Any]) -> str:
    """One sentence on what the fitted temperature says about the raw student."""
    t = cal["temperature"]
    if abs(t - 1) < 0.15 and cal["ece_before_pooled"] <= 0.05:
        return ("A T this close to 1 changes the scores by little either way; a function-matching student learns "
                "the teacher's softened outputs, not one-hot labels, and comes out calibrated.")
    if t < 1:
        return (f"T < 1 sharpens the scores: without it the student is under-confident (it learns the teacher's "
                f"softened outputs, not one-hot labels), and the temperature takes the pooled ECE from "
                f"{cal['ece_before_pooled']:.3f} to {cal['ece_after_pooled']:.3f}.")
    return (f"T > 1 softens the scores: without it the student is over-confident, and the temperature takes the "
            f"pooled ECE from {cal['ece_before_pooled']:.3f} to {cal['ece_after_pooled']:.3f}.")


def render_card(r: dict[str, Any]) -> str:
    """The tiny model's card, from :func:`build_tiny`'s report (measured numbers only)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    s, cal = r["summary"], r["calibration"]
    f32, i8 = s["fp32"], s["int8"]
    stream = ""
    if r.get("streamable"):
        stream = (f"\n| stream graph | `{SHIPPED_FILE[:-5]}.stream.onnx` ({r['stream_bytes'] / 1024:.0f} KiB): each log-mel "
                  "frame and conv column computed once per stream, not once per window; max \\|Δprob\\| against this "
                  f"file {r['stream_parity_max_abs']:.1e} |")
    rows = "\n".join(f"| {c} | {f32['ua'][c]:.1f} | {i8['ua'][c]:.1f} |" for c in EVAL_CONDITIONS)
    return f"""# Model card: edgeemo-tiny-ravdess (float32, streamable)

**Licence: CC BY-NC-SA 4.0, non-commercial use only.** Trained on RAVDESS (Livingstone & Russo 2018,
CC BY-NC-SA 4.0); as a derived work the model file carries the same terms. Its teacher was a head
on OpenAI Whisper tiny.en (MIT licence); no Whisper weights are in this file. The edgeemo *code* is
Apache-2.0.

| | |
|---|---|
| file | `{SHIPPED_FILE}` ({r['fp32_bytes'] / 1024:.0f} KiB, float32; an INT8 build measured beside it: {r['int8_bytes'] / 1024:.0f} KiB) |{stream}
| version | {MODEL_VERSION} |
| task | 8-class categorical speech emotion: neutral, calm, happy, sad, angry, fear, disgust, surprise |
| input | raw 16 kHz mono float32 PCM, 3 s windows, hop 0.5 s; log-mel front end inside the graph |
| architecture | {r['learned_parameters']} learned parameters: conv-STFT log-mel -> each frame minus the loudest value within 0.25 s (level-invariant, frame-local) -> 4 conv blocks without time padding, time pooling 5, 2, 1 -> mean + std over time -> 48-d embedding -> linear |
| recipe | `{r['row']}` of `edgeemo recipe function-matching` ([docs/results/function_matching.md](../../docs/results/function_matching.md)): function matching to a Whisper tiny.en teacher head on {_view_count(r)} augmented views per clip{_views_note(r)}{_targets_note(r)}, mixup, no labels, {_fold_epochs(r)} epochs on the folds |
| training data | RAVDESS speech, actors 01-20 (all). The recipe and the epoch counts ({_epochs_in_words(r)}) were fixed on five actor folds; no choice was made on the final model |

## Five actor folds (out-of-fold UA %, the fold models as ONNX files)
Clean: float32 **{f32['ua']['clean']:.1f} ± {f32['clean_sd']:.1f}**, INT8 {i8['ua']['clean']:.1f} ± {i8['clean_sd']:.1f}
(INT8 − float32 {s['int8_minus_fp32']['mean']:+.1f} ± {s['int8_minus_fp32']['sd']:.1f}). Mean of the eight degraded
conditions: float32 {f32['mean_degraded']:.1f} (worst {f32['worst']:.1f}), INT8 {i8['mean_degraded']:.1f}.

| condition | float32 | INT8 |
|---|---|---|
{rows}

These are the scores of the five fold models ({_fold_models_in_words(r)}), each trained on three folds; the shipped model is
trained on all 20 actors with the same recipe and has no held-out score of its own. An independent
set of unseen speakers, kept outside this repository, scores every shipped model.

Why float32 ships: a stream graph reuses the float32 window model's frames and columns exactly
(the SDK checks the pair by SHA-256), and on the CPUs measured here the tiny network's INT8 graph
was not faster than its float32 graph (docs/models.md).

## Calibration
The graph applies a temperature, **T = {cal['temperature']:.3f}**, fitted on the folds' out-of-fold
window probabilities. Expected calibration error (10 bins) over all {cal['n_clips']} out-of-fold
clips: **{cal['ece_before_pooled']:.3f}** without a temperature, {cal['ece_after_pooled']:.3f} with one
cross-fitted on the other folds; a perfectly calibrated model would show {cal['ece_floor_pooled']:.3f}
on that many clips. Mean of the per-fold ECE (240 clips each): {cal['ece_before']:.3f} without,
{cal['ece_after']:.3f} with (floor {cal['ece_floor']:.3f}). {_temperature_in_words(cal)}

## Limits
Acted, read English sentences from North-American actors in a quiet studio. Expect lower accuracy
on spontaneous speech, other languages, far-field or noisy microphones, children and elderly
voices. This is the smallest and least accurate edgeemo model; the default `small` model is far
more accurate. Emotion recognition is probabilistic: do not use it for decisions about people.

## Reproduce
    edgeemo recipe function-matching --rows {r['row']}
    edgeemo recipe build-tiny --row {r['row']}{_weights_option(r)} --bundle
"""


@click.command("build-tiny")
@click.option("--row", default=SHIPPED_ROW, show_default=True, help="The function-matching row to build.")
@click.option("--results", default=RESULTS, show_default=True, help="The function-matching results (OUT.json).")
@click.option("--run", default=None, help="Work folder (resumable); one per row and fold weights.  [default: runs/tiny-build/ROW, with -last-epoch for those fold weights]")
@click.option("--runs", default="runs/function_matching", show_default=True,
              help="The function-matching recipe's student checkpoints (its --runs): the fold models.")
@click.option("--bundle", is_flag=True, help="Copy the shipped files and the card into sdk/models/.")
@click.option("--threads", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--data", default=None, help="Data root holding ravdess/.")
@click.option("--no-progress", is_flag=True)
@click.option("--fold-weights", type=click.Choice(FOLD_WEIGHTS), default=SHIPPED_FOLD_WEIGHTS, show_default=True,
              help="Which weights of each fold run stand for the recipe: the dev actors' choice (the final model "
                   "trains the median of those epochs) or the last epoch's moving average (it trains the whole schedule).")
def build_tiny_command(row: str, results: str, run: str | None, runs: str, bundle: bool, threads: int, data: str | None,
                       no_progress: bool, fold_weights: str) -> None:
    """Build the tiny model from its five-fold recipe: fold scores, final training, export, card."""
    models = Path(__file__).resolve().parents[1] / "sdk" / "models" if bundle else None
    default_run = f"runs/tiny-build/{row}" + ("" if fold_weights == FOLD_WEIGHTS[0] else f"-{fold_weights}")
    report = build_tiny(row_name=row, results=Path(results), run=Path(run or default_run), models=models,
                        data_root=data, threads=threads, progress=not no_progress, runs=Path(runs),
                        fold_weights=fold_weights)
    s = report["summary"]
    click.echo(f"{row}: five folds clean fp32 {s['fp32']['ua']['clean']:.1f} / int8 {s['int8']['ua']['clean']:.1f}, "
               f"degraded {s['fp32']['mean_degraded']:.1f}; final {report['epochs']} epochs; "
               f"T {report['calibration']['temperature']:.3f}")
    if models is not None:
        click.echo(f"bundled into {models}")


if __name__ == "__main__":
    raise SystemExit(run_standalone(build_tiny_command, "python -m edgeemo.recipes.build_tiny"))
