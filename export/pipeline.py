"""The export pipeline behind ``edgeemo export``: ONNX export, parity check, INT8 quantization,
accuracy on labelled clips, optional Jetson bundle.

Calibration clips, parity windows and the accuracy come from :mod:`edgeemo.train` (data flows
train -> export); the bundled model's full build (train, then this) is
:mod:`edgeemo.recipes.build_default`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeemo._version import __version__
from edgeemo.contract import KEY_METRICS, format_metrics
from edgeemo.errors import ModelError
from edgeemo.fileio import atomic_write_bytes, atomic_write_text
from edgeemo.train.models.student import load_student

from .onnx_export import export_student
from .parity import ParityReport, check_parity, compare, onnx_probs
from .quantize import calibration_windows, quantize_int8

log = logging.getLogger("edgeemo.export")

#: Largest |torch - onnxruntime| probability difference accepted for the FP32 model
#: (the float16-stored STFT basis moves probabilities by ~1e-4).
FP32_PARITY_TOLERANCE = 2e-3


@dataclass(frozen=True)
class ExportOptions:
    checkpoint: str
    out_path: str
    int8: bool = True
    calib_windows: int = 64
    data_root: str | None = None
    model_name: str = "edgeemo-student-ravdess"
    model_version: str | None = None
    eval_splits: Sequence[str] = ("test",)
    target: str = "onnx"
    parity_windows: int = 48


@dataclass
class ExportReport:
    fp32_path: str
    fp32_bytes: int
    learned_parameters: int
    frontend_constants: int
    parity_fp32: ParityReport
    int8_path: str | None = None
    int8_bytes: int | None = None
    parity_int8_vs_fp32: ParityReport | None = None
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    bundle: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))

    def summary_lines(self) -> list[str]:
        lines = [
            f"FP32 {self.fp32_path}: {self.fp32_bytes / 1024:.0f} KiB, {self.learned_parameters} learned parameters, "
            f"{self.frontend_constants} fixed front-end constants",
            f"parity torch vs onnxruntime: max |diff| {self.parity_fp32.max_abs_diff:.2e}, top-1 agreement "
            f"{100 * self.parity_fp32.top1_agreement:.1f}% on {self.parity_fp32.n_windows} windows",
        ]
        if self.int8_path and self.parity_int8_vs_fp32:
            lines.append(
                f"INT8 {self.int8_path}: {self.int8_bytes / 1024:.0f} KiB; vs FP32: max |diff| "
                f"{self.parity_int8_vs_fp32.max_abs_diff:.3f}, top-1 agreement {100 * self.parity_int8_vs_fp32.top1_agreement:.1f}%"
            )
        for name, s in self.scores.items():
            lines.append(f"{name}: UA {100 * s['ua']:.1f} / WA {100 * s['wa']:.1f} / F1 {100 * s['f1']:.1f} (n={int(s['n'])})")
        if self.bundle:
            lines.append(f"Jetson bundle: {self.bundle}")
        return lines


def int8_path_for(fp32_path: str | os.PathLike[str]) -> Path:
    path = Path(fp32_path)
    return path.with_name(path.stem + "-int8" + path.suffix)


def run_export(opts: ExportOptions) -> ExportReport:
    """Export, verify and (optionally) quantize a student; evaluate both files on ``eval_splits``."""
    from edgeemo.train.data import load_ravdess, load_waves, select
    from edgeemo.train.evaluate import evaluate_model
    from edgeemo.train.windows import clip_windows

    import numpy as np

    model, config = load_student(opts.checkpoint)
    version = opts.model_version or __version__
    exported = export_student(opts.checkpoint, opts.out_path, model_name=opts.model_name, model_version=version)
    utts = load_ravdess(opts.data_root)
    train_speakers = set(config.get("train_speakers", []))
    calib_utts = [u for u in utts if u.speaker in train_speakers] or select(utts, splits=["train"])
    check_utts = select(utts, splits=["dev"])[: opts.parity_windows]
    window = model.cfg.window_samples
    check = np.concatenate([clip_windows(w, window, model.cfg.hop_samples)[:1] for w in load_waves(check_utts)])
    parity = check_parity(model, exported.path, check)
    if not parity.ok(FP32_PARITY_TOLERANCE):
        raise ModelError(
            f"ONNX export does not match PyTorch: max |diff| {parity.max_abs_diff:.2e} > {FP32_PARITY_TOLERANCE:g}"
        )
    report = ExportReport(
        fp32_path=str(exported.path), fp32_bytes=exported.n_bytes, learned_parameters=exported.learned_parameters,
        frontend_constants=exported.frontend_constants, parity_fp32=parity,
    )
    paths = {"fp32": exported.path}
    if opts.int8:
        rng = np.random.default_rng(0)
        pick = rng.permutation(len(calib_utts))[: opts.calib_windows]
        calib = calibration_windows(load_waves([calib_utts[i] for i in pick]), window, opts.calib_windows)
        q = quantize_int8(exported.path, int8_path_for(exported.path), calib)
        report.int8_path, report.int8_bytes = str(q.path), q.n_bytes
        report.parity_int8_vs_fp32 = compare(onnx_probs(exported.path, check), onnx_probs(q.path, check))
        paths["int8"] = q.path
    for split in opts.eval_splits:
        for kind, path in paths.items():
            ev = evaluate_model(path, splits=[split], utterances=utts)
            report.scores[f"{kind} {split}"] = ev.scores.to_dict()
    _record_metrics(paths, report, opts.eval_splits)
    if opts.target == "jetson":
        from .tensorrt.jetson import write_jetson_bundle

        source = paths.get("int8", paths["fp32"])
        bundle_dir = Path(opts.out_path).with_name(Path(opts.out_path).stem + "-jetson")
        report.bundle = str(write_jetson_bundle(source, bundle_dir, overwrite=True).root)
    report_path = Path(opts.out_path).with_suffix(".report.json")
    atomic_write_text(report_path, json.dumps(report.to_dict(), indent=2))
    return report


def _record_metrics(paths: dict[str, Path], report: ExportReport, splits: Sequence[str]) -> None:
    """Write each file's own measured scores into its ``metrics`` metadata."""
    import onnx

    from .metadata import set_metadata

    for kind, path in paths.items():
        metrics = {
            f"{split}_{m}": report.scores[f"{kind} {split}"][m]
            for split in splits for m in ("ua", "wa", "f1") if f"{kind} {split}" in report.scores
        }
        if not metrics:
            continue
        proto = onnx.load(str(path))
        set_metadata(proto, {KEY_METRICS: format_metrics(metrics)})
        atomic_write_bytes(path, proto.SerializeToString())
