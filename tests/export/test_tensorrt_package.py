"""The ``edgeemo.export.tensorrt`` package: every module imports light, and its command line is mounted."""

from __future__ import annotations

import json
import subprocess
import sys

from click.testing import CliRunner

MODULES = ("build", "check", "cli", "cuda", "gpuinfo", "graph", "jetson", "options", "report", "runner",
           "session", "sidecar", "support", "trtlib")
COMMANDS = {"check", "build", "sidecar", "info", "run", "bundle"}


def test_every_module_imports_without_tensorrt_or_heavy_libraries() -> None:
    """With ``tensorrt`` made unimportable, every module imports and pulls in no heavy library."""
    code = (
        "import importlib, json, pkgutil, sys\n"
        "sys.modules['tensorrt'] = None  # as if it were not installed, even where it is\n"
        "import edgeemo.export.tensorrt as pkg\n"
        "names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name != '__main__')\n"
        "for name in names:\n"
        "    importlib.import_module(f'edgeemo.export.tensorrt.{name}')\n"
        "heavy = ('tensorrt', 'torch', 'onnx', 'onnxruntime', 'cuda', 'sounddevice')\n"
        "print(json.dumps({'names': names, 'heavy': [m for m in heavy if sys.modules.get(m) is not None]}))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    out = json.loads(res.stdout)
    assert set(MODULES) <= set(out["names"]), out["names"]
    assert out["heavy"] == []


def test_python_m_runs_the_group() -> None:
    res = subprocess.run([sys.executable, "-m", "edgeemo.export.tensorrt", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "python -m edgeemo.export.tensorrt" in res.stdout
    for command in COMMANDS:
        assert f"  {command} " in res.stdout, command


def test_mounted_as_edgeemo_export_tensorrt() -> None:
    from edgeemo.export.cli import export_group

    runner = CliRunner()
    res = runner.invoke(export_group, ["tensorrt", "--help"])
    assert res.exit_code == 0, res.output
    for command in COMMANDS:
        assert f"  {command} " in res.output, command
    top = runner.invoke(export_group, ["--help"])
    assert top.exit_code == 0 and "tensorrt" in top.output
    assert "check-tensorrt" not in top.output  # the old name is a hidden alias only
