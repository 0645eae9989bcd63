"""Click commands for the TensorRT path.

* :data:`check_tensorrt_command` — ``edgeemo export check-tensorrt MODEL [--json] [--max-batch N]``
  (the lead mounts it on the ``edgeemo export`` group).
* :data:`tensorrt_cli` — the group behind ``python -m edgeemo.export.tensorrt``: ``check``,
  ``build`` (the Python engine builder) and ``sidecar`` (metadata for a trtexec-built engine).

Heavy modules (onnx, tensorrt) are imported inside the command bodies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from edgeemo.errors import EdgeEmoError

__all__ = ["build_tensorrt_command", "check_tensorrt_command", "engine_sidecar_command", "tensorrt_cli"]

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}


def _batch_options(fn: Any) -> Any:
    fn = click.option("--max-batch", type=click.IntRange(min=1), default=8, show_default=True, help="Largest batch of the profile.")(fn)
    fn = click.option("--opt-batch", type=click.IntRange(min=1), default=1, show_default=True, help="Batch TensorRT tunes for.")(fn)
    fn = click.option("--min-batch", type=click.IntRange(min=1), default=1, show_default=True, help="Smallest batch of the profile.")(fn)
    return fn


def print_report(report: Any, *, console: Any | None = None) -> None:
    """Print a :class:`~edgeemo.export.trt_check.CompatReport` as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    status = "[bold green]compatible[/]" if report.ok else "[bold red]NOT compatible[/]"
    console.print(
        f"TensorRT {report.tensorrt_version}: {status} — {report.model_path} "
        f"(opset {report.opset}, {len(report.errors)} errors, {len(report.warnings)} warnings)",
        soft_wrap=True,  # one line however long the path: logs stay greppable
    )
    io = Table(title="inputs / outputs", show_lines=False)
    for col in ("kind", "name", "dtype", "shape"):
        io.add_column(col)
    for kind, tensors in (("input", report.inputs), ("output", report.outputs)):
        for t in tensors:
            shape = "?" if t.shape is None else " x ".join("?" if d is None else str(d) for d in t.shape)
            io.add_row(kind, t.name, t.dtype, shape)
    console.print(io)
    p, q = report.profile, report.qdq
    console.print(f"batch profile: min={p['min']} opt={p['opt']} max={p['max']}")
    if q.present:
        console.print(
            f"INT8 QDQ: {q.quantize_nodes} Q, {q.dequantize_nodes} DQ, {q.per_tensor} per-tensor, {q.per_axis} per-axis; "
            f"{len(q.quantized_layers)} quantized layers, {len(q.float_layers)} float layers"
        )
    else:
        console.print("no Q/DQ nodes: a float model (build it with --precision fp16 or fp32)")
    console.print("ops: " + ", ".join(f"{k} {v}" for k, v in report.op_histogram.items()), soft_wrap=True)
    if report.issues:
        table = Table(title="issues")
        for col in ("severity", "code", "node", "message"):
            table.add_column(col, overflow="fold")
        for issue in report.issues:
            node = f"{issue.op_type} {issue.node}" if issue.node else ""
            table.add_row(
                f"[{_SEVERITY_STYLE[issue.severity]}]{issue.severity}[/]", issue.code, node, issue.message
            )
        console.print(table)


@click.command("check-tensorrt")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_batch_options
def check_tensorrt_command(model: Path, as_json: bool, min_batch: int, opt_batch: int, max_batch: int) -> None:
    """Check that MODEL (ONNX) will go through TensorRT 10.3's ONNX parser; exit 1 on any error."""
    from .trt_check import check_tensorrt_compat

    try:
        report = check_tensorrt_compat(model, min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch)
    except EdgeEmoError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(report.to_json())
    else:
        print_report(report)
    if not report.ok:
        click.get_current_context().exit(1)


@click.command("build")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("engine", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--precision", type=click.Choice(["int8", "fp16", "fp32"]), default="int8", show_default=True)
@_batch_options
@click.option("--workspace-mb", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--timing-cache", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Load/save this timing cache.")
@click.option("--int8-fp16-fallback", is_flag=True, help="INT8 build also allows FP16 for layers without Q/DQ.")
@click.option("--allow-tf32", is_flag=True, help="Let FP32 layers use TF32 tensor cores.")
@click.option("--opt-level", type=click.IntRange(0, 5), default=None, help="TensorRT builder optimization level.")
@click.option("--device", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the EngineInfo as JSON.")
def build_tensorrt_command(
    model: Path,
    engine: Path,
    precision: str,
    min_batch: int,
    opt_batch: int,
    max_batch: int,
    workspace_mb: int,
    timing_cache: Path | None,
    int8_fp16_fallback: bool,
    allow_tf32: bool,
    opt_level: int | None,
    device: int,
    as_json: bool,
) -> None:
    """Build ENGINE (bare TensorRT plan + ENGINE.json sidecar) from MODEL on this GPU."""
    from .tensorrt import build_engine, engine_info_dict

    try:
        info = build_engine(
            model,
            engine,
            precision=precision,  # type: ignore[arg-type]
            min_batch=min_batch,
            opt_batch=opt_batch,
            max_batch=max_batch,
            workspace_mb=workspace_mb,
            timing_cache_path=timing_cache,
            int8_fp16_fallback=int8_fp16_fallback,
            allow_tf32=allow_tf32,
            builder_optimization_level=opt_level,
            device=device,
        )
    except EdgeEmoError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(engine_info_dict(info), indent=2))
        return
    click.echo(
        f"wrote {info.engine_path} ({info.engine_bytes / 1e6:.1f} MB, {info.precision}, TensorRT {info.tensorrt_version}, "
        f"sm {info.compute_capability}, {info.build_seconds:.1f} s) and {info.sidecar_path}"
    )
    for w in info.warnings:
        click.echo(f"warning: {w}", err=True)


@click.command("sidecar")
@click.option("--onnx", "onnx_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--engine", "engine_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--precision", type=click.Choice(["int8", "fp16", "fp32"]), required=True)
@_batch_options
@click.option("--tensorrt-version", default=None, help="Default: the installed tensorrt module's version.")
@click.option("--builder", default="trtexec", show_default=True, help="What built the plan.")
@click.option("--device", type=click.IntRange(min=0), default=0, show_default=True)
def engine_sidecar_command(
    onnx_path: Path,
    engine_path: Path,
    precision: str,
    min_batch: int,
    opt_batch: int,
    max_batch: int,
    tensorrt_version: str | None,
    builder: str,
    device: int,
) -> None:
    """Write ENGINE.json for an engine built outside edgeemo (e.g. by trtexec)."""
    from .tensorrt import write_engine_sidecar

    try:
        sidecar = write_engine_sidecar(
            engine_path,
            onnx_path,
            precision=precision,
            min_batch=min_batch,
            opt_batch=opt_batch,
            max_batch=max_batch,
            tensorrt_version=tensorrt_version,
            device=device,
            builder=builder,
            build_options={"builder": builder, "precision": precision, "min_batch": min_batch, "opt_batch": opt_batch, "max_batch": max_batch},
        )
    except EdgeEmoError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {engine_path}.json (TensorRT {sidecar.tensorrt_version}, sm {sidecar.compute_capability})")


@click.group("tensorrt")
def tensorrt_cli() -> None:
    """edgeemo's TensorRT tools: check an ONNX model, build an engine, write an engine sidecar."""


tensorrt_cli.add_command(check_tensorrt_command, name="check")
tensorrt_cli.add_command(build_tensorrt_command, name="build")
tensorrt_cli.add_command(engine_sidecar_command, name="sidecar")
