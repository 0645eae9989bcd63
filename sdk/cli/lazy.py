"""Subcommands imported only when they run: the pattern click documents for lazy groups.

The heavy commands (training, export, recipes) live in ``edgeemo.train``, ``edgeemo.export`` and
``edgeemo.recipes`` and need torch and friends. The ``edgeemo`` group names them here by
``"module:attribute"`` and imports one only when it is invoked (or its own ``--help`` is asked
for), so ``edgeemo --help`` and the SDK commands never pay for them, and the runtime package has
no import statement pointing at training or export code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

from ..errors import MissingDependencyError

__all__ = ["LazyCommand", "LazyGroupMixin", "load_command"]


@dataclass(frozen=True)
class LazyCommand:
    """A subcommand known by name until it runs.

    ``target`` is ``"package.module:attribute"`` (a :class:`click.Command`), ``extra`` the pip
    extra that brings its dependencies, ``help`` the one-line summary shown by the parent's
    ``--help`` without importing anything.
    """

    target: str
    extra: str
    help: str


def load_command(name: str, spec: LazyCommand) -> click.Command:
    """Import ``spec.target``; a missing dependency becomes a message naming the pip extra."""
    module_name, _, attr = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        if isinstance(exc, MissingDependencyError):
            raise
        raise MissingDependencyError(
            f"`edgeemo {name}` needs the {spec.extra!r} extra ({exc}). "
            f'Install it with: pip install "edgeemo[{spec.extra}]"'
        ) from exc
    command = getattr(module, attr, None)
    if not isinstance(command, click.Command):
        raise MissingDependencyError(
            f"{module_name} has no command {attr!r}: this installation of edgeemo[{spec.extra}] is "
            f'incomplete. Reinstall it with: pip install --force-reinstall "edgeemo[{spec.extra}]"'
        )
    return command


class LazyGroupMixin:
    """Mixed into a :class:`click.Group`: ``lazy_commands`` are listed eagerly, loaded lazily."""

    lazy_commands: Mapping[str, LazyCommand] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})  # type: ignore[misc]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = self.lazy_commands.get(cmd_name)
        if spec is None:
            return super().get_command(ctx, cmd_name)  # type: ignore[misc, no-any-return]
        # A MissingDependencyError is an EdgeEmoError: the root group shows it as one line.
        return load_command(cmd_name, spec)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command table, with lazy commands' summaries taken from their specs (no import)."""
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            spec = self.lazy_commands.get(name)
            if spec is not None:
                rows.append((name, spec.help))
                continue
            cmd: Any = super().get_command(ctx, name)  # type: ignore[misc]
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, cmd.get_short_help_str(limit=formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
