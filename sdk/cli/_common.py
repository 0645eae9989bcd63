"""Pieces shared by the CLI commands: the error-handling group, common options, recognizer setup.

Nothing here imports ONNX Runtime, sounddevice, torch or onnx at import time, so ``edgeemo --help``
stays fast; commands import what they need inside their bodies.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import EdgeEmoError
from ..registry import BUNDLED_MODELS

if TYPE_CHECKING:  # pragma: no cover
    from ..recognizer import Recognizer

F = TypeVar("F", bound=Callable[..., Any])

#: Exit code of a command that stopped on an :class:`EdgeEmoError` (click's usage errors use 2 too).
EXIT_ERROR = 2
#: Exit code of ``classify`` when some (not all-fatal) inputs failed.
EXIT_SOME_FAILED = 1

PROVIDER_CHOICES = ("cpu", "auto", "cuda", "tensorrt")


def one_line(exc: BaseException) -> str:
    """An exception message folded onto one line."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def cli_text(exc: BaseException, *, verbose: bool = False) -> str:
    """An error's message for the command line, on one line: its ``cli_message`` (``--model
    PATH`` wording) when it has one, else its message; with ``verbose``, the third-party
    ``detail`` (ONNX Runtime's text) follows in parentheses."""
    cli_message = getattr(exc, "cli_message", None)
    if not cli_message:
        return one_line(exc)
    detail = getattr(exc, "detail", None)
    text = f"{cli_message} ({detail})" if verbose and detail else cli_message
    return " ".join(text.split())


def is_verbose() -> bool:
    """Whether the running ``edgeemo`` command got ``--verbose`` (``False`` outside click)."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and _verbose(ctx)


class EdgeEmoCliError(click.ClickException):
    """A failure shown as one ``error: ...`` line on stderr, exit code 2, no traceback."""

    exit_code = EXIT_ERROR

    def show(self, file: Any = None) -> None:  # noqa: D102 - click API
        click.echo(f"error: {self.format_message()}", err=True)


class EdgeEmoGroup(click.Group):
    """A click group that turns every :class:`EdgeEmoError` into one ``error:`` line and exit 2.

    With ``--verbose`` the traceback is printed too.
    """

    def invoke(self, ctx: click.Context) -> Any:  # noqa: D102 - click API
        try:
            return super().invoke(ctx)
        except EdgeEmoError as exc:
            verbose = _verbose(ctx)
            if verbose:
                traceback.print_exception(exc, file=sys.stderr)
            raise EdgeEmoCliError(cli_text(exc, verbose=verbose)) from exc
        except KeyboardInterrupt:
            click.echo("", err=True)
            ctx.exit(130)


def run_standalone(command: click.Command, prog_name: str, argv: Sequence[str] | None = None) -> int:
    """Run one command outside the ``edgeemo`` tree (a ``python -m`` entry point) with the tree's
    error contract: an :class:`EdgeEmoError` is one ``error: ...`` line on stderr and exit code 2.

    Click exits by itself on success and on usage errors; the return value is the exit code of a
    command that stopped on an :class:`EdgeEmoError`.
    """
    try:
        command.main(args=list(argv) if argv is not None else None, prog_name=prog_name)
    except EdgeEmoError as exc:
        click.echo(f"error: {cli_text(exc)}", err=True)
        return EXIT_ERROR
    return 0


def _verbose(ctx: click.Context) -> bool:
    obj = ctx.find_root().obj
    return bool(isinstance(obj, dict) and obj.get("verbose"))


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as an audio file (one line), or ``None`` for a regular file."""
    if path.is_file():
        return None
    return "not a regular file" if path.exists() else "no such file or folder"


def fail(message: str) -> EdgeEmoCliError:
    """Build the CLI's one-line error (raise it)."""
    return EdgeEmoCliError(message)


def model_option(f: F) -> F:
    """``--model NAME|PATH`` (default: the default bundled model).

    The value is passed to :class:`~edgeemo.Recognizer` as it is: a bundled model's name
    (``tiny``, ``small``; see :mod:`edgeemo.registry`) or a path (any value with a ``/`` or a
    ``.``). It is a plain string, so a folder called ``tiny`` does not shadow the name.
    """
    names = "|".join(BUNDLED_MODELS)
    return click.option(
        "--model", "-m", "model", type=str, default=None, metavar=f"{names}|PATH",
        help=f"A bundled model by name ({', '.join(BUNDLED_MODELS)}; `edgeemo info --models` "
        "lists them and the default) or the path of an .onnx model file (any value with a '/' "
        "or a '.', e.g. ./model.onnx). Default: the default bundled model.",
    )(f)


def runtime_options(f: F) -> F:
    """``--threads N`` and ``--provider``."""
    f = click.option(
        "--provider", type=click.Choice(PROVIDER_CHOICES, case_sensitive=False), default="cpu",
        show_default=True, help="ONNX Runtime execution provider (auto = TensorRT, CUDA, CPU).",
    )(f)
    f = click.option(
        "--threads", "-t", "threads", type=click.IntRange(min=0), default=1, show_default=True,
        help="ONNX Runtime intra-op threads (0 = ONNX Runtime's choice).",
    )(f)
    return f


def make_recognizer(model: str | None, threads: int = 1, provider: str = "cpu") -> Recognizer:
    """A :class:`~edgeemo.Recognizer` for ``--model/--threads/--provider``."""
    from ..recognizer import Recognizer

    return Recognizer(model, num_threads=threads, provider=provider.lower())
