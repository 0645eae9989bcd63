"""``edgeemo info``: version, ONNX Runtime providers, and the model's metadata; ``--models`` lists
the bundled models (:mod:`edgeemo.registry`)."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import click

from .. import registry
from .._version import __version__
from ..contract import KEY_METRICS, KEY_QUANTIZATION
from ..errors import EdgeEmoError
from ._common import cli_text, make_recognizer, model_option

#: Metadata key of the trained parameter count (written by ``edgeemo export``; informative).
LEARNED_PARAMETERS_KEY = "learned_parameters"


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
        "stream_graph": _stream_graph_name(mi.path),
        "metadata": dict(mi.metadata),
    }


def _stream_graph_name(path: Path) -> str | None:
    """The file name of the model's stream graph beside it, or None (not loaded or checked here)."""
    from ..incremental import stream_graph_path

    p = stream_graph_path(path)
    return p.name if p.is_file() else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def bundled_models_info() -> list[dict[str, Any]]:
    """One dict per registered bundled model, in table order: name, whether it is the default and
    installed, file, path, size, learned parameters, quantization, the ``metrics`` string and the
    description. A model whose file is missing has ``installed`` False and ``None`` facts; one whose
    file cannot be read has ``error`` (one line) instead of raising."""
    from ..model import load_model
    from ..options import RecognizerOptions

    rows = []
    for entry in registry.BUNDLED_MODELS.values():
        path = entry.path
        row: dict[str, Any] = {
            "name": entry.name,
            "default": entry.name == registry.DEFAULT_MODEL,
            "installed": path.is_file(),
            "file": entry.file_name,
            "path": str(path),
            "n_bytes": None,
            "learned_parameters": None,
            "quantization": None,
            "metrics": None,
            "description": entry.description,
            "card": entry.card,
            "stream_graph": _stream_graph_name(path),
            "error": None,
        }
        if row["installed"]:
            row["n_bytes"] = path.stat().st_size
            try:
                _, mi = load_model(path, RecognizerOptions(log_level="error"))
            except EdgeEmoError as exc:
                row["error"] = cli_text(exc)
            else:
                meta = mi.metadata
                row["learned_parameters"] = _int_or_none(meta.get(LEARNED_PARAMETERS_KEY))
                row["quantization"] = meta.get(KEY_QUANTIZATION)
                row["metrics"] = meta.get(KEY_METRICS)
        rows.append(row)
    return rows


def format_models(rows: list[dict[str, Any]]) -> str:
    """The text of ``edgeemo info --models``: one block per model, ``*`` marks the default."""
    lines = [
        f"bundled models in {registry.models_dir()} (* = the default: Recognizer(), no --model)"
    ]
    width = max((len(r["name"]) for r in rows), default=0)
    pad = " " * (width + 4)
    for r in rows:
        mark = "*" if r["default"] else " "
        head = f"{mark} {r['name']:<{width}}  {r['file']}"
        if not r["installed"]:
            lines.append(f"{head}: not installed (reinstall edgeemo to get it)")
            lines.append(f"{pad}{r['description']}")
            continue
        lines.append(f"{head}, {r['n_bytes'] / 1024:.0f} KiB")
        lines.append(f"{pad}{r['description']}")
        if r["error"]:
            lines.append(f"{pad}unreadable: {r['error']}")
            continue
        params = r["learned_parameters"]
        lines.append(f"{pad}parameters    {f'{params:,} learned' if params is not None else 'unknown'}")
        lines.append(f"{pad}quantization  {r['quantization'] or 'unknown'}")
        lines.append(f"{pad}accuracy      {r['metrics'] or 'not recorded'}")
        if r.get("stream_graph"):
            lines.append(f"{pad}streaming     {r['stream_graph']}: each frame computed once (incremental streams)")
        lines.append(f"{pad}card          {r['card']}")
    return "\n".join(lines)


@click.command()
@model_option
@click.option("--models", "list_models", is_flag=True,
              help="List the bundled models (name, file, size, parameters, quantization, "
                   "measured accuracy, which is the default) instead of one model's metadata.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(model: str | None, list_models: bool, as_json: bool) -> None:
    """Show the version, ONNX Runtime providers and the model's metadata (--models: the bundled
    models)."""
    if list_models:
        if model is not None:
            raise click.UsageError("--models lists every bundled model; it takes no --model")
        rows = bundled_models_info()
        if as_json:
            click.echo(json.dumps({"default_model": registry.DEFAULT_MODEL,
                                   "models_dir": str(registry.models_dir()), "models": rows},
                                  indent=2))
        else:
            click.echo(format_models(rows))
        return
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
    if mod.get("stream_graph"):
        click.echo(f"streaming    {mod['stream_graph']} (incremental: each frame computed once)")
    click.echo("metadata:")
    width = max((len(k) for k in mod["metadata"]), default=0)
    for key in sorted(mod["metadata"]):
        click.echo(f"  {key:<{width}}  {mod['metadata'][key]}")
