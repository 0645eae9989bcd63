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


export_group.add_command(tensorrt_group)
