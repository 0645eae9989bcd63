"""The Jetson deploy bundle (export/tensorrt/jetson.py): files, paths, scripts that parse and run."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the bundle checks the ONNX model (edgeemo[export])")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from edgeemo.errors import ConfigError, ProviderError  # noqa: E402
from edgeemo.export.tensorrt.jetson import write_jetson_bundle  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "sdk" / "models" / "edgeemo-tiny-ravdess.onnx"
WINDOW = 1600
BASH = shutil.which("bash")


def tiny_model(path: Path, *, qdq: bool, batch: int | str = "batch") -> Path:
    """audio[batch,1600] -> conv front end -> Log -> mean -> (Q/DQ) Gemm -> Softmax probs[batch,3]."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array((rng.standard_normal((4, 1, 16)) * 0.1).astype(np.float32), "stft_w"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
        numpy_helper.from_array(np.array([2], np.int64), "time_axis"),
        numpy_helper.from_array(np.zeros(3, np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Unsqueeze", ["audio", "axis1"], ["x1"]),
        helper.make_node("Conv", ["x1", "stft_w"], ["spec"], strides=[8], kernel_shape=[16]),
        helper.make_node("Mul", ["spec", "spec"], ["power"]),
        helper.make_node("Clip", ["power", "eps"], ["clipped"]),
        helper.make_node("Log", ["clipped"], ["logspec"]),
        helper.make_node("ReduceMean", ["logspec", "time_axis"], ["pooled"], keepdims=0),
    ]
    if qdq:
        inits += [
            numpy_helper.from_array(np.array(0.05, np.float32), "s"),
            numpy_helper.from_array(np.array(0, np.int8), "z"),
            numpy_helper.from_array(np.ones((3, 4), np.int8), "w_q"),
            numpy_helper.from_array(np.full(3, 0.01, np.float32), "w_s"),
            numpy_helper.from_array(np.zeros(3, np.int8), "w_z"),
        ]
        nodes += [
            helper.make_node("QuantizeLinear", ["pooled", "s", "z"], ["pq"]),
            helper.make_node("DequantizeLinear", ["pq", "s", "z"], ["pdq"]),
            helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"], axis=0),
            helper.make_node("Gemm", ["pdq", "w", "fc_b"], ["logits"], transB=1),
        ]
    else:
        inits.append(numpy_helper.from_array(np.ones((3, 4), np.float32), "w"))
        nodes.append(helper.make_node("Gemm", ["pooled", "w", "fc_b"], ["logits"], transB=1))
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=-1))
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [batch, WINDOW])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [batch, 3])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)
    helper.set_model_props(model, {"labels": "calm,happy,angry", "sample_rate": "16000", "window_samples": str(WINDOW)})
    onnx.save(model, str(path))
    return path


@pytest.fixture()
def fake_trtexec(tmp_path: Path) -> Path:
    """A trtexec stand-in that records its arguments and writes the engine file."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    exe = bindir / "trtexec"
    exe.write_text(
        "#!/usr/bin/env bash\n"
        'printf "%s\\n" "$@" > "$(dirname "$0")/args.txt"\n'
        'for a in "$@"; do case "$a" in --saveEngine=*) echo plan > "${a#--saveEngine=}";; esac; done\n'
    )
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_int8_bundle_contents(tmp_path: Path) -> None:
    model = tiny_model(tmp_path / "tiny-int8.onnx", qdq=True)
    b = write_jetson_bundle(model, tmp_path / "bundle", min_batch=1, opt_batch=2, max_batch=8, workspace_mb=512)
    assert b.precision == "int8" and b.engine_name == "tiny-int8.int8.engine"
    for p in (b.onnx_path, b.metadata_path, b.build_script, b.build_python, b.report_json, b.report_text, b.readme):
        assert p.is_file() and p.parent == b.root, p
    assert (b.root / "engines").is_dir()
    assert b.onnx_path.read_bytes() == model.read_bytes()
    assert os.access(b.build_script, os.X_OK) and os.access(b.build_python, os.X_OK)

    meta = json.loads(b.metadata_path.read_text())
    assert meta["model_file"] == "tiny-int8.onnx"
    assert meta["onnx_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert meta["input"] == {"name": "audio", "shape": ["batch", WINDOW], "dtype": "FP32"}
    assert meta["precision"] == "int8" and meta["engine_file"] == "engines/tiny-int8.int8.engine"
    assert meta["profile"]["shapes"]["max"] == f"audio:8x{WINDOW}"
    assert meta["onnx_metadata"]["labels"] == "calm,happy,angry"
    assert meta["tensorrt_check"]["ok"] is True

    report = json.loads(b.report_json.read_text())
    assert report["ok"] is True and report["model_path"] == "tiny-int8.onnx"
    assert str(tmp_path) not in b.report_text.read_text()

    readme = b.readme.read_text()
    for needle in ("JetPack 6", "TensorRT", "10.3", "onnxruntime-gpu", "Jetson Zoo", "44.1", "48 kHz",
                   "edgeemo listen", "--provider tensorrt", "trt10.3.0-sm87-", "--system-site-packages"):
        assert needle in readme, needle


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_build_script_parses_and_calls_trtexec_with_bundle_paths(tmp_path: Path, fake_trtexec: Path) -> None:
    b = write_jetson_bundle(tiny_model(tmp_path / "tiny.onnx", qdq=True), tmp_path / "my bundle", max_batch=4)
    syntax = subprocess.run([BASH, "-n", str(b.build_script)], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr

    env = {**os.environ, "TRTEXEC": str(fake_trtexec), "PYTHON": "/nonexistent/python"}
    run = subprocess.run([BASH, str(b.build_script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    args = (fake_trtexec.parent / "args.txt").read_text().splitlines()
    root = b.root.resolve()
    assert args == [
        f"--onnx={root / 'tiny.onnx'}",
        f"--saveEngine={root / 'engines' / 'tiny.int8.engine'}",
        "--int8",
        f"--minShapes=audio:1x{WINDOW}",
        f"--optShapes=audio:1x{WINDOW}",
        f"--maxShapes=audio:4x{WINDOW}",
        f"--timingCacheFile={root / 'engines' / 'timing.cache'}",
        "--memPoolSize=workspace:1024",
        "--skipInference",
    ]
    assert (root / "engines" / "tiny.int8.engine").is_file()
    assert "sidecar" in run.stderr  # no python with tensorrt here: tells how to write the sidecar

    env["ALSO_FP16"] = "1"
    subprocess.run([BASH, str(b.build_script)], capture_output=True, text=True, env=env, check=True, timeout=60)
    assert (fake_trtexec.parent / "args.txt").read_text().splitlines()[-1] == "--fp16"

    missing = subprocess.run(
        [BASH, str(b.build_script)], capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    if not Path("/usr/src/tensorrt/bin/trtexec").exists():
        assert missing.returncode == 2 and "trtexec not found" in missing.stderr


def test_build_python_prints_the_builder_command(tmp_path: Path) -> None:
    b = write_jetson_bundle(tiny_model(tmp_path / "tiny.onnx", qdq=True), tmp_path / "bundle", opt_batch=2, max_batch=8)
    res = subprocess.run([sys.executable, str(b.build_python), "--print-command"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    cmd = res.stdout.split()
    root = b.root.resolve()
    assert cmd[1:5] == ["-m", "edgeemo.export.tensorrt", "build", str(root / "tiny.onnx")]
    assert cmd[5] == str(root / "engines" / "tiny.int8.engine")
    assert cmd[cmd.index("--precision") + 1] == "int8"
    assert cmd[cmd.index("--opt-batch") + 1] == "2" and cmd[cmd.index("--max-batch") + 1] == "8"
    assert cmd[cmd.index("--timing-cache") + 1] == str(root / "engines" / "timing.cache")


def test_float_model_defaults_to_fp16(tmp_path: Path) -> None:
    b = write_jetson_bundle(tiny_model(tmp_path / "tiny.onnx", qdq=False), tmp_path / "bundle")
    assert b.precision == "fp16"
    text = b.build_script.read_text()
    assert "--fp16" in text and "--int8" not in text and "ALSO_FP16" not in text.split("set -euo")[1]
    b32 = write_jetson_bundle(tiny_model(tmp_path / "tiny.onnx", qdq=False), tmp_path / "bundle32", precision="fp32")
    assert "--noTF32" in b32.build_script.read_text()


def test_refusals(tmp_path: Path) -> None:
    fp32 = tiny_model(tmp_path / "f.onnx", qdq=False)
    int8 = tiny_model(tmp_path / "q.onnx", qdq=True)
    with pytest.raises(ProviderError, match="Q/DQ"):
        write_jetson_bundle(fp32, tmp_path / "a", precision="int8")
    with pytest.raises(ProviderError, match="INT8-quantized"):
        write_jetson_bundle(int8, tmp_path / "b", precision="fp16")
    with pytest.raises(ConfigError, match="precision"):
        write_jetson_bundle(int8, tmp_path / "c", precision="int4")

    write_jetson_bundle(int8, tmp_path / "d")
    with pytest.raises(ConfigError, match="not empty"):
        write_jetson_bundle(int8, tmp_path / "d")
    write_jetson_bundle(int8, tmp_path / "d", overwrite=True, max_batch=2)
    assert json.loads((tmp_path / "d" / "metadata.json").read_text())["profile"]["max_batch"] == 2

    fixed = tiny_model(tmp_path / "fixed.onnx", qdq=True, batch=1)
    with pytest.raises(ProviderError, match="batch-profile"):
        write_jetson_bundle(fixed, tmp_path / "e", max_batch=8)
    b = write_jetson_bundle(fixed, tmp_path / "e", max_batch=8, allow_incompatible=True)
    assert json.loads(b.report_json.read_text())["ok"] is False
    assert "FAILS" in b.readme.read_text()


def test_bundle_of_the_bundled_model(tmp_path: Path) -> None:
    assert BUNDLED.is_file(), f"the bundled model is missing: {BUNDLED}"
    b = write_jetson_bundle(BUNDLED, tmp_path / "bundle")
    assert b.precision == "fp16" and b.report.ok  # the bundled tiny model is float32: TensorRT builds it in FP16
    if BASH:
        assert subprocess.run([BASH, "-n", str(b.build_script)]).returncode == 0


def test_cli_bundle(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from edgeemo.export.tensorrt.cli import tensorrt_group

    runner = CliRunner()
    model = tiny_model(tmp_path / "tiny.onnx", qdq=True)
    res = runner.invoke(tensorrt_group, ["bundle", str(model), str(tmp_path / "b"), "--max-batch", "4"])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "b" / "metadata.json").read_text())
    assert meta["precision"] == "int8" and meta["profile"]["max_batch"] == 4
    assert (tmp_path / "b" / "build_engine.sh").is_file() and "build_engine.sh" in res.output
    again = runner.invoke(tensorrt_group, ["bundle", str(model), str(tmp_path / "b")])
    assert again.exit_code == 1 and "not empty" in again.output
    fp32 = tiny_model(tmp_path / "f.onnx", qdq=False)
    bad = runner.invoke(tensorrt_group, ["bundle", str(fp32), str(tmp_path / "c"), "--precision", "int8"])
    assert bad.exit_code == 1 and "Q/DQ" in bad.output
