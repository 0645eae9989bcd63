"""``edgeemo``: the command-line entry point (``edgeemo.cli.main:main``), one click tree.

The SDK commands (``listen``, ``classify``, ``profile``, ``info``) are defined in this package. The
heavy commands live with the code they drive and are imported only when they run
(:mod:`edgeemo.cli.lazy`): ``train``, ``eval``, ``teacher``, ``distill``, ``cogmen`` (``edgeemo.train``),
``export`` (``edgeemo.export``, with ``export tensorrt …``) and ``recipe`` (``edgeemo.recipes``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import click

from .._version import __version__
from . import classify_cmd, info_cmd, listen_cmd, profile_cmd
from ._common import EdgeEmoGroup
from .lazy import LazyCommand, LazyGroupMixin

__all__ = ["HEAVY_COMMANDS", "cli", "main"]

#: The subcommands imported only when they run, by name.
HEAVY_COMMANDS: dict[str, LazyCommand] = {
    "train": LazyCommand("edgeemo.train.cli:train_command", "train",
                         "Train the speech-only student (needs edgeemo[train])."),
    "eval": LazyCommand("edgeemo.train.cli:eval_command", "train",
                        "Evaluate a model or student checkpoint on RAVDESS splits (needs edgeemo[train])."),
    "teacher": LazyCommand("edgeemo.train.distill.cli:teacher_command", "train",
                           "Train an audio(+video) teacher (needs edgeemo[train])."),
    "distill": LazyCommand("edgeemo.train.distill.cli:distill_command", "train",
                           "Train a student with distillation from a teacher (needs edgeemo[train])."),
    "cogmen": LazyCommand("edgeemo.train.dialogue.cli:cogmen_command", "train",
                          "Train the COGMEN text/dialogue teacher on MELD (needs edgeemo[train])."),
    "teacher-features": LazyCommand("edgeemo.train.teachers.cli:whisper_features_command", "train",
                                    "Fill the cache of pooled Whisper features (needs edgeemo[train,whisper])."),
    "export": LazyCommand("edgeemo.export.cli:export_group", "export",
                          "Export to ONNX / INT8, TensorRT checks and engines (needs edgeemo[export])."),
    "recipe": LazyCommand("edgeemo.recipes.cli:recipe_group", "train,export",
                          "The five-fold comparison and the bundled model's build (needs edgeemo[train,export])."),
}


class RootGroup(LazyGroupMixin, EdgeEmoGroup):
    """The ``edgeemo`` group: SDK commands eagerly, heavy ones lazily, errors as one line."""

    lazy_commands = HEAVY_COMMANDS


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="edgeemo")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks and debug logging.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """edgeemo: speech emotion recognition on the edge.

    \b
    edgeemo listen                  live emotion from the microphone
    edgeemo classify clips/         classify files or folders
    edgeemo profile                 latency and memory of a model on this machine
    edgeemo info                    model metadata, providers, version
    edgeemo train|teacher|distill   training (edgeemo[train]); cogmen: dialogue teacher
    edgeemo export                  ONNX, INT8, TensorRT (edgeemo[export])
    edgeemo recipe                  five-fold comparison, rebuild of the bundled model
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(listen_cmd.listen)
cli.add_command(classify_cmd.classify)
cli.add_command(profile_cmd.profile)
cli.add_command(info_cmd.info)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (console-script entry point)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="edgeemo")


if __name__ == "__main__":  # pragma: no cover
    main()
