"""``edgeemo profile``: session creation, first run, per-window latency by stage, RTF, memory
(the model's own: session + arena, apart from the process baseline)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._common import model_option, runtime_options

if TYPE_CHECKING:  # pragma: no cover
    from ..profiling import ProfileReport, StageStats


def _row(name: str, s: StageStats) -> str:
    return (
        f"  {name:<12} {s.p50:9.3f} {s.p95:9.3f} {s.p99:9.3f} {s.mean:9.3f} {s.max:9.3f}"
    )


def format_report(r: ProfileReport) -> str:
    """The human-readable profile table."""
    lines = [
        f"model        {r.model_name} ({r.quantization or 'unknown precision'}) {r.model}",
        f"provider     {r.provider}, {r.num_threads} thread(s)",
        f"window       {r.window_s:g} s, hop {r.hop_s:g} s, {r.n_windows} windows timed (batch 1)",
        f"session      {r.session_create_ms:9.1f} ms  (Recognizer(): load, hash, session, metadata)",
        f"first run    {r.first_run_ms:9.2f} ms  (first window on the new session)",
        "",
        f"  {'per window':<12} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'max ms':>9}",
        _row("front end", r.frontend),
        _row("model", r.model_stage),
        _row("postprocess", r.postprocess),
        _row("run (wall)", r.run),
        _row("total", r.total),
        "",
        f"real-time    RTF {r.rtf:.4f} per hop ({1 / r.rtf if r.rtf > 0 else float('inf'):.0f}x "
        f"faster than real time), {r.rtf_window:.4f} per window",
        *([] if r.stream_hop is None or r.rtf_incremental is None else [
            f"incremental  stream graph {r.stream_hop.p50:.3f} ms per hop (p50; p95 {r.stream_hop.p95:.3f}), "
            f"RTF {r.rtf_incremental:.4f}: what a stream pays per hop (a whole window above)"]),
        (
            f"memory       model {r.model_mb:.1f} MiB (session {r.session_mb:.1f} + arena "
            f"{r.arena_mb:.1f} at {r.batch_size} window(s) per run); process baseline "
            f"{r.baseline_rss_mb:.1f} MiB; peak RSS {r.peak_rss_mb:.1f} MiB (whole process, "
            "profiler session included)"
        ),
    ]
    if not r.frontend_nodes:
        lines.append(
            f"note         no graph node is named '{r.frontend_prefix}*': the front end (if any) "
            "is counted in 'model'"
        )
    return "\n".join(lines)


@click.command()
@model_option
@runtime_options
@click.option("--windows", "-n", type=click.IntRange(min=1), default=200, show_default=True,
              help="Windows to time (after 3 warm-up runs).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Save a latency histogram to this PNG (needs matplotlib).")
@click.option("--frontend-prefix", default=None,
              help="Node-name prefix of the front end (default: the model's "
                   "frontend_node_prefix metadata, else 'frontend/').")
def profile(
    model: str | None, threads: int, provider: str, windows: int, as_json: bool,
    plot: str | None, frontend_prefix: str | None,
) -> None:
    """Measure start-up, per-window latency (front end, model, post-processing) and memory."""
    from ..profiling import plot_latency, profile_model

    if plot is not None:  # fail before the measurement when matplotlib is missing
        from .._deps import require

        require("matplotlib", purpose="edgeemo profile --plot")
    report = profile_model(
        model, windows=windows, num_threads=threads, provider=provider.lower(),
        frontend_prefix=frontend_prefix,
    )
    if as_json:
        click.echo(report.to_json())
    else:
        click.echo(format_report(report))
    if plot is not None:
        out = plot_latency(report, plot)
        click.echo(f"latency histogram -> {out}", err=True)
