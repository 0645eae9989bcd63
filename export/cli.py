"""``edgeemo export``: checkpoint -> ONNX (-> INT8), parity and accuracy checks, TensorRT tools.

``edgeemo export CHECKPOINT --out model.onnx [--int8] [--target jetson]`` is the default command;
``edgeemo export tensorrt …`` (check, build, sidecar, info, run, bundle) sits beside it
(:mod:`edgeemo.export.tensorrt.cli`). The group is mounted lazily under the ``edgeemo`` root group (:mod:`edgeemo.cli.main`), which shows an
:class:`~edgeemo.errors.EdgeEmoError` as one ``error:`` line.
"""

from __future__ import annotations

import json

import click


from .tensorrt.cli import tensorrt_group


class _DefaultGroup(click.Group):
    """A group whose unknown first argument runs the ``model`` command (the default export)."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["model", *args]
        elif args and args[0].startswith("-") and args[0] not in ("--help", "-h"):
            args = ["model", *args]
        return super().resolve_command(ctx, args)


@click.group("export", cls=_DefaultGroup, invoke_without_command=False)
def export_group() -> None:
    """Export a student checkpoint to ONNX / INT8; `edgeemo export tensorrt --help` for the TensorRT tools."""


@export_group.command("stream")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.argument("window_model", type=click.Path(exists=True, dir_okay=False))
@click.option("--check", "check_audio", type=click.Path(exists=True, dir_okay=False), default=None,
              help="An audio file (>= 3 s) to compare the stream graph with the window model on.")
def export_stream_command(checkpoint: str, window_model: str, check_audio: str | None) -> None:
    """Write WINDOW_MODEL's stream graph (NAME.stream.onnx beside it) from CHECKPOINT, a streamable student."""
    from edgeemo.train.models.student import load_student

    from .stream_graph import check_stream_parity, export_stream_graph

    model, _ = load_student(checkpoint)
    out = export_stream_graph(model, window_model)
    click.echo(f"wrote {out}")
    if check_audio is not None:
        from edgeemo.audio import load_mono, resample

        wave, rate = load_mono(check_audio)
        audio = resample(wave, rate, model.cfg.frontend.sample_rate)
        click.echo(f"stream vs window model: max |Δprob| {check_stream_parity(window_model, out, audio):.2e}")


@export_group.command("model")
@click.argument("checkpoint", type=click.Path(exists=True, file_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Output .onnx (FP32; the INT8 file gets -int8).")
@click.option("--int8/--no-int8", default=True, show_default=True, help="Also write a static INT8 (QDQ) model.")
@click.option("--calib-windows", type=int, default=64, show_default=True, help="Calibration windows from training clips.")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/ (calibration and evaluation).")
@click.option("--name", "model_name", default="edgeemo-student-ravdess", show_default=True)
@click.option("--version", "model_version", default=None, help="Model version (default: the package version).")
@click.option("--eval-split", "eval_splits", multiple=True, default=("test",), show_default=True, help="Report accuracy on these splits.")
@click.option("--target", type=click.Choice(["onnx", "jetson"]), default="onnx", show_default=True, help="jetson: also write a Jetson deploy bundle beside the model.")
@click.option("--json", "as_json", is_flag=True, help="Print the export report as JSON.")
def export_model_command(checkpoint: str, out_path: str, int8: bool, calib_windows: int, data_root: str | None,
                         model_name: str, model_version: str | None, eval_splits: tuple[str, ...], target: str,
                         as_json: bool) -> None:
    """Export CHECKPOINT (a student checkpoint folder) to ONNX, check parity, quantize, evaluate."""
    from .pipeline import ExportOptions, run_export

    report = run_export(ExportOptions(
        checkpoint=checkpoint, out_path=out_path, int8=int8, calib_windows=calib_windows, data_root=data_root,
        model_name=model_name, model_version=model_version, eval_splits=eval_splits, target=target,
    ))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.summary_lines():
            click.echo(line)


def _parse_actors(text: str) -> tuple[int, ...]:
    from edgeemo.errors import ConfigError

    out: list[int] = []
    for part in text.replace(" ", "").split(","):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ConfigError(f"--actors must look like 17-20 or 17,18, not {text!r}") from None
        out.extend(range(a, b + 1))
    return tuple(out)


@export_group.command("calibrate")
@click.argument("model", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False), help="Calibrated .onnx (may be MODEL itself).")
@click.option("--temperature", type=float, default=None, help="Use this T instead of fitting one.")
@click.option("--predictions", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Fit on held-out predictions in an .npz: probs [N, C] (uncalibrated), labels [N] (class indices), optional groups [N] (clip id per window row).")
@click.option("--actors", default="17-20", show_default=True, help="Without --predictions: fit on the model's own windows of these RAVDESS actors (held out from its training).")
@click.option("--data", "data_root", default=None, help="Data root holding ravdess/ (for --actors).")
@click.option("--fitted-on", default=None, help="Text for the metadata's fitted_on field (default: what was used).")
@click.option("--replace", is_flag=True, help="Replace the temperature of an already calibrated model.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def calibrate_command(model: str, out_path: str, temperature: float | None, predictions: str | None, actors: str,
                      data_root: str | None, fitted_on: str | None, replace: bool, as_json: bool) -> None:
    """Fit a temperature on held-out predictions and write it into MODEL's graph (probs = softmax(log p / T)).

    Python and C++ then read the same calibrated `probs`. The fit minimises the NLL of the clip
    probabilities (mean of calibrated windows when groups are given); ECE uses 10 bins.
    """
    import numpy as np

    from . import calibrate as cal

    report: dict[str, object] = {"model": model, "out": out_path}
    probs = labels = groups = None
    if predictions is not None:
        with np.load(predictions) as z:
            probs, labels = z["probs"], z["labels"]
            groups = z["groups"] if "groups" in z else None
        source = f"predictions {predictions}"
    elif temperature is None:
        import soundfile as sf

        from edgeemo import contract
        from edgeemo.train.data import load_ravdess

        wanted = _parse_actors(actors)
        utts = [u for u in load_ravdess(data_root) if u.actor in wanted]
        import onnxruntime as ort

        names = contract.parse_labels(
            ort.InferenceSession(model, providers=["CPUExecutionProvider"]).get_modelmeta().custom_metadata_map
        )
        probs, groups = cal.window_probs(model, [sf.read(u.path, dtype="float32")[0] for u in utts])
        labels = np.array([names.index(u.label) for u in utts])[groups]
        source = f"RAVDESS actors {actors} ({len(utts)} clips)"
    else:
        source = "given"
    if probs is not None:
        t = cal.fit_temperature(probs, labels, groups=groups) if temperature is None else temperature

        def clip_level(tt: float):  # noqa: ANN202
            p = cal.calibrate_probs(probs, tt)
            if groups is None:
                return p, labels
            c, first = cal.clip_probs(p, groups)
            return c, np.asarray(labels)[first]

        (p0, y0), (p1, y1) = clip_level(1.0), clip_level(t)
        report.update({
            "ece_before": cal.expected_calibration_error(p0, y0), "ece_after": cal.expected_calibration_error(p1, y1),
            "nll_before": cal.nll(p0, y0), "nll_after": cal.nll(p1, y1), "n": int(p0.shape[0]),
        })
    else:
        t = float(temperature)  # type: ignore[arg-type]
    report["temperature"] = t
    report["fitted_on"] = fitted_on or source
    cal.apply_temperature(
        model, out_path, t, fitted_on=str(report["fitted_on"]),
        ece_before=report.get("ece_before"), ece_after=report.get("ece_after"),  # type: ignore[arg-type]
        nll_before=report.get("nll_before"), nll_after=report.get("nll_after"),  # type: ignore[arg-type]
        replace=replace,
    )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        line = f"T = {t:.4f} ({report['fitted_on']})"
        if "ece_before" in report:
            line += (f"; in-sample ECE {report['ece_before']:.3f} -> {report['ece_after']:.3f}, "
                     f"NLL {report['nll_before']:.3f} -> {report['nll_after']:.3f} on {report['n']}")
        click.echo(line)
        click.echo(f"wrote {out_path}")


export_group.add_command(tensorrt_group)
