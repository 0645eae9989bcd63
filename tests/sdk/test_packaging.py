"""Packaging: the extras the SDK's messages name exist, and the wheel carries the licence."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from edgeemo import _deps

tomllib = pytest.importorskip("tomllib")


def _extras(repo_root: Path) -> dict[str, list[str]]:
    data = tomllib.loads((repo_root / "pyproject.toml").read_text())
    return data["project"]["optional-dependencies"]


def test_every_extra_named_in_messages_exists(repo_root: Path) -> None:
    extras = _extras(repo_root)
    for module, extra in _deps._EXTRA_FOR.items():
        assert extra in extras, f"{module} points at edgeemo[{extra}], which pyproject.toml lacks"


def test_plot_extra_is_just_matplotlib(repo_root: Path) -> None:
    """`profile --plot` asks for edgeemo[plot] (matplotlib), not the whole training stack."""
    extras = _extras(repo_root)
    assert _deps._EXTRA_FOR["matplotlib"] == "plot"
    assert [r.split(">")[0] for r in extras["plot"]] == ["matplotlib"]
    assert any(r.startswith("matplotlib") for r in extras["train"])  # dev = cpu,train,export
    assert any("train" in r for r in extras["dev"])


def test_missing_matplotlib_names_the_plot_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(_deps.MissingDependencyError, match=r'pip install "edgeemo\[plot\]"'):
        _deps.require("matplotlib", purpose="edgeemo profile --plot")


@pytest.mark.slow
def test_wheel_contains_license_and_model(repo_root: Path, tmp_path: Path) -> None:
    """`pip wheel --no-deps --no-build-isolation .` works and the wheel has LICENSE (setuptools
    picks it up by name) next to the bundled model."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(repo_root / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "runs")
    for folder in ("sdk", "train", "export", "recipes"):
        shutil.copytree(repo_root / folder, src / folder, ignore=ignore)
    out = tmp_path / "wheels"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."],
        cwd=src, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("edgeemo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    licence = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
    assert licence, names
    text = zipfile.ZipFile(wheel).read(licence[0]).decode()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "edgeemo/models/edgeemo-tiny-ravdess.onnx" in names
    assert "edgeemo/models/edgeemo-tiny-ravdess.stream.onnx" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("/METADATA"))).decode()
    assert "License-File: LICENSE" in metadata and "Provides-Extra: plot" in metadata
