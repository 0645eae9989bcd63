"""``edgeemo train``, ``eval`` and ``export``: thin pass-throughs to the heavy packages.

``edgeemo.train`` and ``edgeemo.export`` need torch and friends; they are imported only inside the
command body, so ``edgeemo --help`` and the SDK commands never pay for them. Every argument
(``--help`` included) is handed to the package's own parser unchanged.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import click

from ..errors import MissingDependencyError

_PASS_THROUGH: dict[str, Any] = {
    "ignore_unknown_options": True,
    "allow_extra_args": True,
    "help_option_names": [],
}


def _entry(module: str, func: str, extra: str) -> Callable[[list[str]], Any]:
    """Import ``module.func``; a missing module becomes a message naming the pip extra."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        raise MissingDependencyError(
            f"this command needs the {extra!r} extra ({exc}). "
            f'Install it with: pip install "edgeemo[{extra}]"'
        ) from exc
    try:
        return getattr(mod, func)  # type: ignore[no-any-return]
    except AttributeError as exc:
        raise MissingDependencyError(
            f"{module} has no {func}(): this installation of edgeemo[{extra}] is incomplete. "
            f'Reinstall it with: pip install --force-reinstall "edgeemo[{extra}]"'
        ) from exc


def _run(ctx: click.Context, module: str, func: str, extra: str) -> None:
    entry = _entry(module, func, extra)
    try:
        rc = entry(list(ctx.args))
    except SystemExit as exc:  # argparse-style parsers exit
        code = exc.code
        rc = code if isinstance(code, int) or code is None else 1
        if not isinstance(code, (int, type(None))):
            click.echo(str(code), err=True)
    ctx.exit(int(rc or 0))


@click.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def train(ctx: click.Context) -> None:
    """Train teachers and students (needs edgeemo[train]; `edgeemo train --help` for options)."""
    _run(ctx, "edgeemo.train.cli", "train_main", "train")


@click.command("eval", context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def eval_(ctx: click.Context) -> None:
    """Evaluate a model on a labelled set (needs edgeemo[train]; `edgeemo eval --help`)."""
    _run(ctx, "edgeemo.train.cli", "eval_main", "train")


@click.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def export(ctx: click.Context) -> None:
    """Export, quantize and check ONNX / TensorRT models (needs edgeemo[export])."""
    _run(ctx, "edgeemo.export.cli", "export_main", "export")


@click.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def distill(ctx: click.Context) -> None:
    """Train a student with distillation from a teacher (needs edgeemo[train]; `edgeemo distill --help`)."""
    _run(ctx, "edgeemo.train.distill.cli", "distill_main", "train")


@click.command(context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def teacher(ctx: click.Context) -> None:
    """Train an audio(+video) teacher (needs edgeemo[train]; `edgeemo teacher --help`)."""
    _run(ctx, "edgeemo.train.distill.cli", "teacher_main", "train")
