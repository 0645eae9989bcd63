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


def _pass_through(name: str, module: str, func: str, extra: str, help_text: str) -> click.Command:
    """A command that forwards every argument to ``module.func(args)``, imported only when run."""

    @click.pass_context
    def command(ctx: click.Context) -> None:
        _run(ctx, module, func, extra)

    return click.Command(name, callback=command, help=help_text, context_settings=_PASS_THROUGH,
                         add_help_option=False)


train = _pass_through("train", "edgeemo.train.cli", "train_main", "train",
                      "Train teachers and students (needs edgeemo[train]; `edgeemo train --help` for options).")
eval_ = _pass_through("eval", "edgeemo.train.cli", "eval_main", "train",
                      "Evaluate a model on a labelled set (needs edgeemo[train]; `edgeemo eval --help`).")
export = _pass_through("export", "edgeemo.export.cli", "export_main", "export",
                       "Export, quantize and check ONNX / TensorRT models (needs edgeemo[export]).")
distill = _pass_through("distill", "edgeemo.train.distill.cli", "distill_main", "train",
                        "Train a student with distillation from a teacher (needs edgeemo[train]; `edgeemo distill --help`).")
teacher = _pass_through("teacher", "edgeemo.train.distill.cli", "teacher_main", "train",
                        "Train an audio(+video) teacher (needs edgeemo[train]; `edgeemo teacher --help`).")
