"""``edgeemo recipe``: one click group over the comparison and the bundled model's build."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from edgeemo.errors import ConfigError, EdgeEmoError
from edgeemo.recipes.cli import RECIPE_COMMANDS, recipe_group


def test_the_group_lists_both_recipes_without_importing_them():
    code = ("import sys; from edgeemo.recipes.cli import recipe_group; from click.testing import CliRunner; "
            "r = CliRunner().invoke(recipe_group, ['--help']); assert r.exit_code == 0, r.output; "
            "assert 'compare' in r.output and 'build-default' in r.output; "
            "assert 'edgeemo.recipes.experiments' not in sys.modules and 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert recipe_group.list_commands(None) == sorted(RECIPE_COMMANDS)
    assert {"build-default", "compare", "whisper-teachers"} <= set(RECIPE_COMMANDS)


def test_compare_keeps_its_options():
    result = CliRunner().invoke(recipe_group, ["compare", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--runs", "--configs", "--folds", "--teacher-epochs", "--student-epochs",
                   "--clips-per-actor", "--max-steps", "--crossfit", "--report-only", "student_best"):
        assert option in result.output


def test_an_unknown_config_propagates_as_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown config"):
        CliRunner().invoke(recipe_group, ["compare", "--configs", "nope", "--out", str(tmp_path / "r")],
                           catch_exceptions=False)


def test_build_default_refuses_an_unknown_recipe_as_a_usage_error():
    result = CliRunner().invoke(recipe_group, ["build-default", "--recipe", "magic"])
    assert result.exit_code == 2 and "'magic' is not one of 'plain', 'distilled'" in result.output


def test_build_default_lets_edgeemo_errors_propagate(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEEMO_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(EdgeEmoError, match="EDGEEMO_DATA="):
        CliRunner().invoke(recipe_group, ["build-default", "--run", str(tmp_path / "run"),
                                          "--models", str(tmp_path / "models")], catch_exceptions=False)
    assert not (tmp_path / "models").exists()


def test_python_m_prints_one_error_line_and_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "edgeemo.recipes.experiments", "--configs", "nope",
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: unknown config(s) ['nope']")
    assert "Traceback" not in proc.stderr
