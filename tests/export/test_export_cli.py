"""``edgeemo export``: the default command on a checkpoint, the Jetson target, and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.slow


def test_export_command_writes_fp32_int8_report_and_jetson_bundle(tiny_checkpoint: Path, tmp_path: Path, data_root: Path):
    from edgeemo.export.cli import export_group

    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(export_group, [
        str(tiny_checkpoint), "--out", str(out), "--data", str(data_root), "--calib-windows", "8",
        "--eval-split", "dev", "--target", "jetson", "--json",
    ])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert Path(report["fp32_path"]).is_file() and Path(report["int8_path"]).is_file()
    assert report["parity_fp32"]["max_abs_diff"] < 2e-3
    assert set(report["scores"]) == {"fp32 dev", "int8 dev"}
    bundle = Path(report["bundle"])
    assert (bundle / "build_engine.sh").is_file()
    assert json.loads(out.with_suffix(".report.json").read_text())["int8_bytes"] == report["int8_bytes"]
    import edgeemo

    rec = edgeemo.Recognizer(report["int8_path"])
    assert rec.info.metadata["metrics"].startswith("dev_ua=")
    assert rec.info.quantization == "int8-qdq"


def test_export_tensorrt_check_subcommand(tiny_checkpoint: Path, tmp_path: Path):
    from edgeemo.export.cli import export_group
    from edgeemo.export.onnx_export import export_student

    onnx_path = export_student(tiny_checkpoint, tmp_path / "t.onnx").path
    result = CliRunner().invoke(export_group, ["tensorrt", "check", str(onnx_path)])
    assert result.exit_code == 0, result.output
    summary = result.output.splitlines()[0]  # one line, however long the temporary path is
    assert str(onnx_path) in summary and "0 errors, 0 warnings" in summary, result.output


def test_export_missing_checkpoint_is_a_usage_error(tmp_path: Path):
    from edgeemo.export.cli import export_group

    result = CliRunner().invoke(export_group, [str(tmp_path / "none"), "--out", str(tmp_path / "x.onnx")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
