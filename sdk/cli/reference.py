"""The command-line reference (``docs/cli_reference.md``), rendered from the click tree itself.

``python -m edgeemo.cli.reference > docs/cli_reference.md`` rewrites it; a test checks that the
committed file equals a fresh rendering, so the page cannot drift from ``--help``. Rendering
imports every lazy subcommand, so it needs the ``[dev]`` extras (train and export).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator

import click

__all__ = ["iter_commands", "render_reference"]


def iter_commands(
    command: click.Command, path: tuple[str, ...] = ("edgeemo",)
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every visible command of the tree, depth first, with its full name path."""
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from iter_commands(sub, (*path, name))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _help_text(text: str) -> list[str]:
    """A command's help as Markdown: prose paragraphs joined, click's ``\\b`` blocks verbatim."""
    out: list[str] = []
    for para in inspect.cleandoc(text.split("\f")[0]).split("\n\n"):
        if out:
            out.append("")
        if para.startswith("\b"):
            out += ["```", *para[1:].strip("\n").splitlines(), "```"]
        else:
            out.append(_cell(para))
    return out


def _option_row(param: click.Option) -> str:
    names = ", ".join(f"`{o}`" for o in (*param.opts, *param.secondary_opts))
    if param.is_flag:
        kind = "flag"
    else:
        kind = param.type.name.upper() if not isinstance(param.type, click.Choice) else "|".join(
            param.type.choices
        )
        if param.multiple:
            kind += ", repeatable"
    default = ""
    if param.show_default and param.default is not None and not callable(param.default):
        value = param.default
        if isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        default = f"`{value}`"
    return f"| {names} | {_cell(kind)} | {default} | {_cell(param.help or '')} |"


def _section(path: tuple[str, ...], command: click.Command) -> list[str]:
    ctx = click.Context(command, info_name=" ".join(path))
    usage = " ".join([*path, *command.collect_usage_pieces(ctx)])
    lines = [f"## `{' '.join(path)}`", "", "```", usage, "```"]
    if command.help:
        lines += ["", *_help_text(command.help)]
    options = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    if arguments:
        lines += ["", "Arguments: " + ", ".join(f"`{a.human_readable_name}`" for a in arguments)]
    if options:
        lines += ["", "| option | value | default | meaning |", "|---|---|---|---|"]
        lines += [_option_row(p) for p in options]
    if isinstance(command, click.Group):
        subs = command.list_commands(ctx)
        lines += ["", "Subcommands: " + ", ".join(f"`{s}`" for s in subs)]
    return lines + [""]


def render_reference(root: click.Command | None = None) -> str:
    """The whole reference page as Markdown."""
    if root is None:
        from .main import cli as root
    out = [
        "# `edgeemo` command reference",
        "",
        "Generated from the command tree by `python -m edgeemo.cli.reference > docs/cli_reference.md`;",
        "a test fails when this page and `--help` disagree. The guide is [cli.md](cli.md).",
        "",
    ]
    for path, command in iter_commands(root):
        out += _section(path, command)
    return "\n".join(out).rstrip() + "\n"


def main() -> None:
    """Print the reference page."""
    sys.stdout.write(render_reference())


if __name__ == "__main__":  # pragma: no cover
    main()
