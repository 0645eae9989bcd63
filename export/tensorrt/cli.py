"""``edgeemo export tensorrt …`` (also ``python -m edgeemo.export.tensorrt …``): the TensorRT commands.

* ``check``   — static compatibility check of an ONNX model (needs only ``onnx``);
* ``build``   — build an engine (bare plan + sidecar) on this GPU (needs ``tensorrt``);
* ``sidecar`` — write the sidecar of a plan built elsewhere (e.g. by ``trtexec``);
* ``info``    — show an engine's sidecar (no TensorRT needed);
* ``run``     — classify audio files with an engine (needs ``tensorrt`` and CUDA buffers);
* ``bundle``  — write a Jetson deploy bundle for an ONNX model.

Heavy modules (onnx, tensorrt, CUDA) are imported inside the command bodies, through the modules
that need them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from edgeemo.errors import EdgeEmoError

__all__ = ["check_command", "main", "print_report", "tensorrt_group"]

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
_PRECISION = click.Choice(["int8", "fp16", "fp32"])


@contextmanager
def _click_errors() -> Iterator[None]:
    """edgeemo's errors become one-line click errors (exit 1)."""
    try:
        yield
    except EdgeEmoError as exc:
        raise click.ClickException(str(exc)) from exc


def _batch_options(fn: Any) -> Any:
    fn = click.option("--max-batch", type=click.IntRange(min=1), default=8, show_default=True, help="Largest batch of the profile.")(fn)
    fn = click.option("--opt-batch", type=click.IntRange(min=1), default=1, show_default=True, help="Batch TensorRT tunes for.")(fn)
    fn = click.option("--min-batch", type=click.IntRange(min=1), default=1, show_default=True, help="Smallest batch of the profile.")(fn)
    return fn


def print_report(report: Any, *, console: Any | None = None) -> None:
    """Print a :class:`~edgeemo.export.tensorrt.report.CompatReport` as rich tables."""
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
            table.add_row(f"[{_SEVERITY_STYLE[issue.severity]}]{issue.severity}[/]", issue.code, node, issue.message)
        console.print(table)


@click.group("tensorrt")
def tensorrt_group() -> None:
    """TensorRT tools: check an ONNX model, build/inspect/run an engine, write a Jetson bundle.

    The SDK's GPU path is ONNX Runtime's providers (`--provider tensorrt` on the .onnx model);
    these commands are for bare TensorRT engines (the [tensorrt] extra, or JetPack on a Jetson).
    """


@tensorrt_group.command("check")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_batch_options
def check_command(model: Path, as_json: bool, min_batch: int, opt_batch: int, max_batch: int) -> None:
    """Check that MODEL (ONNX) will go through TensorRT 10.3's ONNX parser; exit 1 on any error."""
    from .check import check_tensorrt_compat

    with _click_errors():
        report = check_tensorrt_compat(model, min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch)
    if as_json:
        click.echo(report.to_json())
    else:
        print_report(report)
    if not report.ok:
        click.get_current_context().exit(1)


@tensorrt_group.command("build")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("engine", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--precision", type=_PRECISION, default="int8", show_default=True)
@_batch_options
@click.option("--workspace-mb", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--timing-cache", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Load/save this timing cache.")
@click.option("--int8-fp16-fallback", is_flag=True, help="INT8 build also allows FP16 for layers without Q/DQ.")
@click.option("--allow-tf32", is_flag=True, help="Let FP32 layers use TF32 tensor cores.")
@click.option("--opt-level", type=click.IntRange(0, 5), default=None, help="TensorRT builder optimization level.")
@click.option("--device", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the EngineInfo as JSON.")
def build_command(
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
    from .build import build_engine

    with _click_errors():
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
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
        return
    click.echo(
        f"wrote {info.engine_path} ({info.engine_bytes / 1e6:.1f} MB, {info.precision}, TensorRT {info.tensorrt_version}, "
        f"sm {info.compute_capability}, {info.build_seconds:.1f} s) and {info.sidecar_path}"
    )
    for w in info.warnings:
        click.echo(f"warning: {w}", err=True)


@tensorrt_group.command("sidecar")
@click.option("--onnx", "onnx_path", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--engine", "engine_path", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--precision", type=_PRECISION, required=True)
@_batch_options
@click.option("--tensorrt-version", default=None, help="Default: the installed tensorrt module's version.")
@click.option("--builder", default="trtexec", show_default=True, help="What built the plan.")
@click.option("--device", type=click.IntRange(min=0), default=0, show_default=True)
def sidecar_command(
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
    from .sidecar import sidecar_path_for, write_engine_sidecar

    with _click_errors():
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
    click.echo(f"wrote {sidecar_path_for(engine_path)} (TensorRT {sidecar.tensorrt_version}, sm {sidecar.compute_capability})")


@tensorrt_group.command("info")
@click.argument("engine", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole sidecar as JSON.")
def info_command(engine: Path, as_json: bool) -> None:
    """Show what ENGINE's sidecar records: TensorRT version, GPU, precision, profile, labels."""
    from .sidecar import load_engine_sidecar

    with _click_errors():
        s = load_engine_sidecar(engine)
    if as_json:
        click.echo(json.dumps(s.to_dict(), indent=2))
        return
    rows = [
        ("engine", f"{engine} ({s.engine_file}, format {s.format})"),
        ("model", f"{s.onnx_file or '?'} sha256 {s.onnx_sha256[:12]}"),
        ("built by", f"{s.builder} on {s.created_utc or '?'} (edgeemo {s.edgeemo_version or '?'})"),
        ("tensorrt", s.tensorrt_version),
        ("gpu", f"{s.gpu_name or '?'} (compute capability {s.compute_capability or '?'})"),
        ("precision", s.precision),
        ("profile", "; ".join(f"{name} min={p['min']} opt={p['opt']} max={p['max']}" for name, p in s.profile.items())),
        ("labels", ", ".join(s.labels) or "?"),
        ("cache key", s.cache_key or "-"),
    ]
    for key, value in rows:
        click.echo(f"{key:10s} {value}")


@tensorrt_group.command("run")
@click.argument("engine", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("audio", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--device", type=click.IntRange(min=0), default=0, show_default=True, help="CUDA device index.")
@click.option("--precision", type=_PRECISION, default=None, help="Refuse an engine built at another precision.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
def run_command(engine: Path, audio: tuple[Path, ...], device: int, precision: str | None, as_json: bool) -> None:
    """Classify AUDIO files with ENGINE: the mean probabilities of each file's windows.

    The engine must match this machine's TensorRT version and GPU (see `info`); its metadata is
    validated like an ONNX model's.
    """
    from edgeemo.audio import load_audio

    from .session import classify_clip, open_engine

    with _click_errors():
        session, meta = open_engine(engine, device=device, precision=precision)
        try:
            for path in audio:
                wave, sr = load_audio(path)
                scores = classify_clip(session, meta, wave, sr)
                if as_json:
                    click.echo(json.dumps({"path": str(path), **scores.to_dict()}))
                else:
                    click.echo(f"{path}\t{scores.label}\t{scores.confidence:.3f}")
        finally:
            session.close()


@tensorrt_group.command("bundle")
@click.argument("model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--precision", type=_PRECISION, default=None, help="Default: int8 for a Q/DQ model, else fp16.")
@_batch_options
@click.option("--workspace-mb", type=click.IntRange(min=1), default=1024, show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace the bundle's files in a non-empty OUT_DIR.")
@click.option("--allow-incompatible", is_flag=True, help="Write the bundle even when the TensorRT check finds errors.")
def bundle_command(
    model: Path,
    out_dir: Path,
    precision: str | None,
    min_batch: int,
    opt_batch: int,
    max_batch: int,
    workspace_mb: int,
    overwrite: bool,
    allow_incompatible: bool,
) -> None:
    """Write a Jetson (JetPack 6) deploy bundle for MODEL into OUT_DIR; the engine is built on the device."""
    from .jetson import write_jetson_bundle

    with _click_errors():
        bundle = write_jetson_bundle(
            model,
            out_dir,
            precision=precision,
            min_batch=min_batch,
            opt_batch=opt_batch,
            max_batch=max_batch,
            workspace_mb=workspace_mb,
            overwrite=overwrite,
            allow_incompatible=allow_incompatible,
        )
    status = "passes" if bundle.report.ok else f"FAILS ({len(bundle.report.errors)} errors)"
    click.echo(f"wrote {bundle.root} ({bundle.precision}; the TensorRT check {status}); on the Jetson run {bundle.build_script.name}")


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m edgeemo.export.tensorrt …``."""
    tensorrt_group.main(args=None if argv is None else list(argv), prog_name="python -m edgeemo.export.tensorrt")
