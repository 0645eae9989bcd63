"""docs/cli_reference.md is the command tree as it is: regenerate it when a command changes."""

from __future__ import annotations

from pathlib import Path

import click

from edgeemo.cli.main import HEAVY_COMMANDS, cli
from edgeemo.cli.reference import iter_commands, render_reference

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "cli_reference.md"
FIX = "regenerate it: python -m edgeemo.cli.reference > docs/cli_reference.md"


def test_reference_page_matches_the_command_tree() -> None:
    assert PAGE.read_text() == render_reference(), f"docs/cli_reference.md is out of date; {FIX}"


def test_every_heavy_command_and_its_subcommands_are_in_the_tree() -> None:
    paths = {" ".join(path) for path, _ in iter_commands(cli)}
    for name in HEAVY_COMMANDS:
        assert f"edgeemo {name}" in paths
    for expected in ("edgeemo export tensorrt check", "edgeemo export tensorrt build",
                     "edgeemo recipe compare", "edgeemo recipe build-default"):
        assert expected in paths


def test_the_page_names_a_new_option() -> None:
    """The comparison can fail: an option added to a command changes the page."""

    @click.command("demo")
    @click.option("--alpha", default=1, show_default=True, help="First.")
    def demo(alpha: int) -> None:
        """A demo command."""

    before = render_reference(demo)
    demo.params.append(click.Option(["--beta"], help="Second."))
    after = render_reference(demo)
    assert "`--alpha`" in before and "`--beta`" not in before
    assert "`--beta`" in after and before != after
