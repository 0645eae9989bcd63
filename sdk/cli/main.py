"""``edgeemo``: the command-line entry point (``edgeemo.cli.main:main``).

Commands: ``listen``, ``classify``, ``profile``, ``info`` (the SDK), and ``train``, ``eval``,
``export`` (pass-throughs to the heavy packages, imported only when they run).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import click

from .._version import __version__
from . import classify_cmd, heavy, info_cmd, listen_cmd, profile_cmd
from ._common import EdgeEmoGroup

__all__ = ["cli", "main"]


@click.group(cls=EdgeEmoGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    """
    ctx.ensure_object(dict)
    ctx.obj["verbose"] = verbose
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


cli.add_command(listen_cmd.listen)
cli.add_command(classify_cmd.classify)
cli.add_command(profile_cmd.profile)
cli.add_command(info_cmd.info)
cli.add_command(heavy.train)
cli.add_command(heavy.eval_)
cli.add_command(heavy.export)
cli.add_command(heavy.distill)
cli.add_command(heavy.teacher)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI (console-script entry point)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="edgeemo")


if __name__ == "__main__":  # pragma: no cover
    main()
