"""``edgeemo info``: version, ONNX Runtime providers, and the model's metadata."""

from __future__ import annotations

import json
import platform
from typing import Any

import click

from .._version import __version__
from ._common import make_recognizer, model_option


def environment_info() -> dict[str, Any]:
    """edgeemo / Python / ONNX Runtime versions and the available execution providers."""
    info: dict[str, Any] = {
        "edgeemo": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }
    try:
        import onnxruntime as ort
    except ImportError:
        info["onnxruntime"] = None
        info["providers"] = []
    else:
        info["onnxruntime"] = ort.__version__
        info["providers"] = list(ort.get_available_providers())
    return info


def model_info(model: str | None) -> dict[str, Any]:
    """What the SDK reads from a model file (raises the SDK's model errors)."""
    rec = make_recognizer(model)
    mi = rec.info
    return {
        "path": str(mi.path),
        "n_bytes": int(mi.n_bytes),
        "labels": list(rec.labels),
        "sample_rate": int(rec.sample_rate),
        "window_s": float(rec.window_s),
        "hop_s": float(rec.hop_s),
        "window_samples": int(rec.window_samples),
        "hop_samples": int(rec.hop_samples),
        "min_samples": int(rec.min_samples),
        "heads": list(rec.heads),
        "provider": str(rec.provider),
        "metadata": dict(mi.metadata),
    }


@click.command()
@model_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(model: str | None, as_json: bool) -> None:
    """Show the version, ONNX Runtime providers and the model's metadata."""
    env = environment_info()
    if not as_json:
        click.echo(f"edgeemo      {env['edgeemo']}")
        click.echo(f"python       {env['python']} ({env['platform']})")
        click.echo(f"onnxruntime  {env['onnxruntime'] or 'not installed'}")
        click.echo(f"providers    {', '.join(env['providers']) or '-'}")
    mod = model_info(model)  # model errors -> one "error:" line, exit 2
    if as_json:
        click.echo(json.dumps({**env, "model": mod}, indent=2))
        return
    size_kb = mod["n_bytes"] / 1024
    click.echo(f"model        {mod['path']} ({size_kb:.0f} KB)")
    click.echo(f"labels       {', '.join(mod['labels'])}")
    click.echo(
        f"audio        {mod['sample_rate']} Hz, window {mod['window_s']:g} s "
        f"({mod['window_samples']} samples), hop {mod['hop_s']:g} s, "
        f"min {mod['min_samples']} samples"
    )
    click.echo(f"heads        {', '.join(mod['heads'])}")
    click.echo("metadata:")
    width = max((len(k) for k in mod["metadata"]), default=0)
    for key in sorted(mod["metadata"]):
        click.echo(f"  {key:<{width}}  {mod['metadata'][key]}")
