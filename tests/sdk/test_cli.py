"""The ``edgeemo`` command line (click's CliRunner), on the fixture models and real clips.

Error contract: every :class:`EdgeEmoError` is one ``error: ...`` line on stderr and exit code 2,
no traceback (``--verbose`` shows it); ``classify`` reports a bad file in one line, goes on, and
exits 1 at the end.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner, Result

import edgeemo
from edgeemo.cli.main import HEAVY_COMMANDS, cli
from edgeemo.errors import ConfigError

HEAVY = ("torch", "torch_geometric", "tensorrt", "sounddevice", "onnx", "matplotlib", "transformers")


def invoke(*args: str, **kwargs: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_one_line_error(result: Result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def valid(fixture_models: dict[str, Path]) -> Path:
    return fixture_models["valid"]


@pytest.fixture(scope="module")
def clips(test_actor_clips: list[tuple[Path, str]]) -> list[Path]:
    return [path for path, _ in test_actor_clips[:3]]


@pytest.fixture()
def clip_tree(tmp_path: Path, clips: list[Path]) -> Path:
    """A folder with clips at two depths plus files that are not audio."""
    root = tmp_path / "clips"
    (root / "a" / "b").mkdir(parents=True)
    shutil.copy(clips[0], root / clips[0].name)
    shutil.copy(clips[1], root / "a" / clips[1].name)
    shutil.copy(clips[2], root / "a" / "b" / clips[2].name)
    (root / "notes.txt").write_text("not audio")
    (root / "a" / "cover.png").write_bytes(b"\x89PNG")
    return root


# --------------------------------------------------------------------------- help / import cost


def test_help_lists_every_command() -> None:
    res = invoke("--help")
    assert res.exit_code == 0
    for cmd in ("listen", "classify", "profile", "info", *HEAVY_COMMANDS):
        assert cmd in res.output
    assert invoke("--version").output.strip().endswith(edgeemo.__version__)


@pytest.mark.parametrize("cmd", ["listen", "classify", "profile", "info"])
def test_sdk_command_help(cmd: str) -> None:
    res = invoke(cmd, "--help")
    assert res.exit_code == 0 and "Usage: " in res.output and "--model" in res.output


@pytest.mark.parametrize("argv", [["--help"], ["listen", "--help"], ["classify", "--help"]])
def test_help_does_not_import_heavy_modules(argv: list[str]) -> None:
    code = textwrap.dedent(
        f"""
        import json, sys
        from edgeemo.cli.main import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        print("MODULES:" + json.dumps([m for m in {HEAVY!r} if m in sys.modules]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.split("MODULES:")[1]) == []


def test_console_script_help_runs() -> None:
    exe = Path(sys.executable).with_name("edgeemo")
    if not exe.exists():
        pytest.skip(f"no console script next to {sys.executable} (edgeemo not pip-installed here)")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "classify" in proc.stdout


# --------------------------------------------------------------------------- info


def test_info_text_and_json(valid: Path) -> None:
    res = invoke("info", "--model", valid)
    assert res.exit_code == 0, res.output
    for needle in ("edgeemo", edgeemo.__version__, "CPUExecutionProvider", "neutral, calm",
                   "16000 Hz", "edgeemo-test-fixture", "window_samples"):
        assert needle in res.output
    res = invoke("info", "--model", valid, "--json")
    data = json.loads(res.stdout)
    assert data["edgeemo"] == edgeemo.__version__
    assert "CPUExecutionProvider" in data["providers"]
    assert data["model"]["labels"][0] == "neutral" and data["model"]["window_samples"] == 16000
    assert data["model"]["metadata"]["model_name"] == "edgeemo-test-fixture"


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("missing_key", "'sample_rate'"),
        ("no_metadata", "no edgeemo metadata"),
        ("labels_mismatch", "labels"),
        ("window_mismatch", "window_samples"),
        ("format_version", "edgeemo_format"),
        ("missing_head", "valence_arousal"),
        ("truncated", "not an ONNX model or corrupt/truncated: re-export or download it again"),
        ("not_onnx", "not an ONNX model or corrupt/truncated: re-export or download it again"),
    ],
)
def test_info_bad_models_one_line(fixture_models: dict[str, Path], name: str, needle: str) -> None:
    res = invoke("info", "--model", fixture_models[name], "--json")
    line = assert_one_line_error(res, needle)
    for internal in ("ONNXRuntimeError", "Protobuf", "INVALID_PROTOBUF"):  # ORT's own text
        assert internal not in line, line


def test_corrupt_model_verbose_keeps_one_ort_line(fixture_models: dict[str, Path]) -> None:
    res = invoke("--verbose", "info", "--model", fixture_models["not_onnx"])
    assert res.exit_code == 2
    line = error_lines(res)[-1]
    assert "not an ONNX model or corrupt/truncated" in line
    assert line.endswith("failed:Protobuf parsing failed.)"), line  # ORT's first line, in parentheses
    assert "[ONNXRuntimeError]" not in line


def test_missing_model_every_command(tmp_path: Path, clips: list[Path]) -> None:
    missing = tmp_path / "nope.onnx"
    for argv in (
        ["info", "--model", missing],
        ["classify", "--model", missing, clips[0]],
        ["profile", "--model", missing, "--windows", "2"],
        ["listen", "--model", missing, "--input", clips[0]],
    ):
        line = assert_one_line_error(invoke(*argv), "model file not found", "--model PATH",
                                     "omit --model for the bundled model")
        assert "None" not in line, line  # Python wording does not belong on the command line


def test_missing_bundled_model_names_the_option(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import edgeemo.model as model_module

    monkeypatch.setattr(model_module, "default_model_path", lambda: tmp_path / "gone.onnx")
    line = assert_one_line_error(invoke("info"), "bundled default model", "--model PATH")
    assert "Recognizer(" not in line, line


def test_verbose_shows_traceback(tmp_path: Path) -> None:
    res = invoke("--verbose", "info", "--model", tmp_path / "nope.onnx")
    assert res.exit_code == 2
    assert "Traceback" in res.stderr and "ModelNotFoundError" in res.stderr
    assert error_lines(res) and error_lines(res)[-1].startswith("error: model file not found")


def test_bad_provider_and_threads_are_usage_errors(valid: Path, clips: list[Path]) -> None:
    res = invoke("classify", "--model", valid, "--provider", "npu", clips[0])
    assert res.exit_code == 2 and "Traceback" not in res.output
    res = invoke("classify", "--model", valid, "--threads", "-1", clips[0])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_unavailable_provider_is_one_line(valid: Path, clips: list[Path]) -> None:
    if "TensorrtExecutionProvider" in edgeemo.available_providers():
        pytest.skip("TensorRT is available here, so asking for it is not an error")
    res = invoke("classify", "--model", valid, "--provider", "tensorrt", clips[0])
    assert_one_line_error(res, "tensorrt")


# --------------------------------------------------------------------------- classify


def test_classify_text_matches_recognizer(valid: Path, clips: list[Path]) -> None:
    res = invoke("classify", "--model", valid, *clips)
    assert res.exit_code == 0, res.output
    rec = edgeemo.Recognizer(valid)
    lines = res.stdout.strip().splitlines()
    assert len(lines) == len(clips)
    for line, path in zip(lines, clips):
        shown_path, label, conf = line.split("\t")[:3]
        expected = rec.classify_file(path)
        assert shown_path == str(path) and label == expected.label
        assert float(conf) == pytest.approx(expected.confidence, abs=1e-3)


def test_classify_folder_recursive_jsonl(valid: Path, clip_tree: Path) -> None:
    res = invoke("classify", "--model", valid, "--format", "jsonl", clip_tree)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == 3, "three clips at three depths; .txt/.png ignored"
    paths = [Path(r["path"]) for r in rows]
    assert paths == sorted(paths) and {p.parent.name for p in paths} == {"clips", "a", "b"}
    rec = edgeemo.Recognizer(valid)
    for row in rows:
        expected = rec.classify_file(row["path"]).to_dict()
        assert row["label"] == expected["label"]
        assert row["scores"] == pytest.approx(expected["scores"], abs=1e-6)
        assert row["end_s"] == pytest.approx(expected["end_s"])


def test_classify_csv_to_output_file(valid: Path, clip_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    res = invoke("classify", "--model", valid, "--format", "csv", "--output", out, clip_tree)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert "3 file(s) classified" in res.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 3
    labels = edgeemo.Recognizer(valid).labels
    assert list(rows[0]) == ["path", "label", "confidence", "start_s", "end_s", "speech_prob",
                             *(f"score_{lab}" for lab in labels)]
    for row in rows:
        scores = [float(row[f"score_{lab}"]) for lab in labels]
        assert sum(scores) == pytest.approx(1.0, abs=1e-4)
        assert row["label"] == labels[int(np.argmax(scores))]


def test_classify_csv_valence_arousal(fixture_models: dict[str, Path], clips: list[Path]) -> None:
    res = invoke("classify", "--model", fixture_models["valence_arousal"], "--format", "csv", clips[0])
    assert res.exit_code == 0, res.output
    row = next(csv.DictReader(io.StringIO(res.stdout)))
    assert -1.0 <= float(row["valence"]) <= 1.0 and -1.0 <= float(row["arousal"]) <= 1.0
    res = invoke("classify", "--model", fixture_models["valence_arousal"], clips[0])
    assert "valence=" in res.stdout and "arousal=" in res.stdout


def test_classify_bad_inputs_continue_and_exit_1(valid: Path, clips: list[Path], tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really" + bytes(range(256)) * 4)
    truncated = tmp_path / "truncated.flac"
    truncated.write_bytes(clips[1].read_bytes()[:3000])
    short = tmp_path / "short.wav"
    import soundfile as sf

    sf.write(short, np.zeros(1000, np.float32), 16000)  # below min_samples
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    missing = tmp_path / "missing.wav"
    res = invoke("classify", "--model", valid, "--format", "jsonl",
                 clips[0], missing, corrupt, truncated, short, empty_dir, clips[2])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [Path(r["path"]) for r in rows] == [clips[0], clips[2]], "good files still classified"
    errors = error_lines(res)
    assert len(errors) == 5, res.stderr
    for err, path in zip(errors, (missing, corrupt, truncated, short, empty_dir)):
        assert err.startswith(f"error: {path}: ")
    assert "no such file" in errors[0]
    assert "too short" in errors[3] or "needs at least" in errors[3]
    assert "no audio files" in errors[4]
    assert "5 input(s) failed, 2 classified" in res.stderr


def test_classify_nan_model_fails_the_file(fixture_models: dict[str, Path], clips: list[Path]) -> None:
    """A model whose scores are NaN must not print 'neutral nan' and exit 0."""
    res = invoke("classify", "--model", fixture_models["nan_scores"], "--format", "jsonl", clips[0], clips[1])
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    errors = error_lines(res)
    assert len(errors) == 2 and all("produced non-finite scores" in e for e in errors), errors
    assert errors[0].startswith(f"error: {clips[0]}: ")
    assert "2 input(s) failed, 0 classified" in res.stderr


def test_classify_bad_model_exit_2(fixture_models: dict[str, Path], clips: list[Path]) -> None:
    assert_one_line_error(invoke("classify", "--model", fixture_models["labels_mismatch"], clips[0]),
                          "labels")


def test_classify_requires_inputs(valid: Path) -> None:
    res = invoke("classify", "--model", valid)
    assert res.exit_code == 2 and "Missing argument" in res.output


# --------------------------------------------------------------------------- profile


def test_profile_text(valid: Path) -> None:
    res = invoke("profile", "--model", valid, "--windows", "20")
    assert res.exit_code == 0, res.output
    for needle in ("session", "first run", "front end", "model", "postprocess", "p50 ms", "p99 ms",
                   "RTF", "peak RSS", "frontend/"):
        assert needle in res.output


def test_profile_json_and_plot(valid: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib")
    png = tmp_path / "lat.png"
    res = invoke("profile", "--model", valid, "--windows", "15", "--threads", "1", "--json",
                 "--plot", png)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["n_windows"] == 15 and data["num_threads"] == 1
    assert data["provider"] == "CPUExecutionProvider"
    assert data["session_create_ms"] > 0 and data["first_run_ms"] > 0
    for stage in ("frontend", "model", "postprocess", "run", "total"):
        s = data["stages"][stage]
        assert s["p50"] <= s["p95"] <= s["p99"] <= s["max"] + 1e-9
    # the fixture names no node 'frontend/...': everything is model time
    assert data["frontend_nodes"] == [] and data["stages"]["frontend"]["max"] == 0.0
    assert data["stages"]["model"]["p50"] > 0
    assert data["rtf"] > 0 and data["peak_rss_mb"] > 10
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_frontend_prefix_splits_nodes(valid: Path) -> None:
    """Nodes are split by name prefix: the fixture's unnamed nodes get ORT names like 'Log_4'."""
    res = invoke("profile", "--model", valid, "--windows", "5", "--json", "--frontend-prefix", "Log")
    data = json.loads(res.stdout)
    assert data["frontend_nodes"] and all(n.startswith("Log") for n in data["frontend_nodes"])
    assert data["stages"]["frontend"]["p50"] > 0


def test_profile_plot_without_matplotlib(valid: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    res = invoke("profile", "--model", valid, "--windows", "3", "--plot", tmp_path / "x.png")
    assert_one_line_error(res, "matplotlib", 'pip install "edgeemo[plot]"')
    assert not (tmp_path / "x.png").exists()


# --------------------------------------------------------------------------- listen (files)


def test_listen_input_file_json_equals_stream(valid: Path, clips: list[Path]) -> None:
    res = invoke("listen", "--model", valid, "--input", clips[0], "--json", "--no-realtime")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    rec = edgeemo.Recognizer(valid)
    stream = rec.create_stream()
    wave, sr = edgeemo.load_audio(clips[0])
    stream.accept(wave, sr)
    expected = [r.to_dict() for r in [*stream.results(), *stream.flush()]]
    assert len(rows) == len(expected) > 0
    for got, exp in zip(rows, expected):
        assert got["label"] == exp["label"] and got["is_speech"] == exp["is_speech"]
        assert got["start_s"] == pytest.approx(exp["start_s"])
        assert got["scores"] == pytest.approx(exp["scores"], abs=1e-6)
    assert "listening: file" in res.stderr and f"{len(rows)} result(s)" in res.stderr


def test_listen_input_plain_text_and_options(valid: Path, clips: list[Path]) -> None:
    res = invoke("listen", "--model", valid, "--input", clips[0], "--no-realtime", "--hop", "0.5",
                 "--smoothing", "0.5", "--seconds", "2.5")
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    # 2.5 s, 1 s windows every 0.5 s: 4 full windows + the flushed partial one
    assert len(lines) == 5
    assert lines[0].split()[0] == "0.00-"
    assert "speech" in res.stdout or " - " in res.stdout


def test_listen_input_realtime_paces(valid: Path, clips: list[Path]) -> None:
    import time

    t0 = time.monotonic()
    res = invoke("listen", "--model", valid, "--input", clips[0], "--json", "--seconds", "1.5")
    assert res.exit_code == 0, res.output
    assert time.monotonic() - t0 >= 1.4


def assert_input_failed(result: Result, path: Path, *needles: str) -> str:
    """``classify``'s per-file failure: one ``error: PATH: reason`` line and exit code 1."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output and result.stdout == ""
    errors = error_lines(result)
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}: "), result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_listen_bad_arguments(valid: Path, clips: list[Path], tmp_path: Path) -> None:
    assert_input_failed(invoke("listen", "--model", valid, "--input", tmp_path / "x.wav"),
                        tmp_path / "x.wav", "no such file or folder")
    assert_one_line_error(invoke("listen", "--model", valid, "--input", clips[0], "--device", "0"),
                          "not both")
    assert_one_line_error(invoke("listen", "--model", valid, "--input", clips[0], "--hop", "5"),
                          "hop_s")
    assert_one_line_error(invoke("listen", "--model", valid, "--input", clips[0], "--record",
                                 tmp_path / "r.wav"), "--record")
    corrupt = tmp_path / "c.wav"
    corrupt.write_bytes(b"garbage" * 100)
    assert_input_failed(invoke("listen", "--model", valid, "--input", corrupt, "--no-realtime"),
                        corrupt, "cannot read audio file")


@pytest.mark.parametrize("seconds", [0.06, 0.0])
def test_listen_short_file_fails_like_classify(valid: Path, tmp_path: Path, seconds: float) -> None:
    """A file shorter than the model's minimum: the same error line and exit code as classify,
    not '0 result(s)' and exit 0."""
    import soundfile as sf

    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(int(seconds * 16000), np.float32), 16000)
    classified = invoke("classify", "--model", valid, short)
    listened = invoke("listen", "--model", valid, "--input", short, "--no-realtime", "--json")
    line = assert_input_failed(listened, short)
    assert classified.exit_code == listened.exit_code == 1
    assert error_lines(classified) == [line]
    assert ("too short" in line or "needs at least" in line or "empty" in line), line
    assert "result(s)" not in listened.stderr


def _no_device(monkeypatch: pytest.MonkeyPatch, message: str = "no audio input device found") -> None:
    from edgeemo import microphone
    from edgeemo.microphone import NoInputDeviceError

    def fail(*_a: Any, **_k: Any) -> Any:
        raise NoInputDeviceError(f"{message}: PortAudio lists no device with input channels. More")

    monkeypatch.setattr(microphone, "_import_sounddevice", fail)


def test_listen_without_device_streams_demo(valid: Path, monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    _no_device(monkeypatch)
    monkeypatch.setenv("EDGEEMO_DATA", str(tmp_path / "no-data"))
    monkeypatch.chdir(tmp_path)
    res = invoke("listen", "--model", valid, "--json", "--no-realtime")
    assert res.exit_code == 0, res.output
    notice = [line for line in res.stderr.splitlines() if "no audio input device" in line]
    assert len(notice) == 1 and "demo_speech.flac" in notice[0] and "instead" in notice[0]
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows and any(r["is_speech"] for r in rows)


def test_listen_without_device_explicit_or_no_demo_fails(valid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_device(monkeypatch)
    assert_one_line_error(invoke("listen", "--model", valid, "--device", "usb"), "no audio input device")
    assert_one_line_error(invoke("listen", "--model", valid, "--no-demo"), "no audio input device")


def test_listen_portaudio_missing_falls_back(valid: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from edgeemo import microphone

    real = importlib.import_module

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(microphone.NoInputDeviceError, match="apt-get install libportaudio2"):
        microphone.listen(recognizer=edgeemo.Recognizer(valid))
    res = invoke("listen", "--model", valid, "--no-realtime", "--seconds", "2")
    assert res.exit_code == 0, res.output
    assert "PortAudio library not found" in res.stderr and "demo clip" in res.stderr
    res = invoke("listen", "--model", valid, "--device", "1")
    assert_one_line_error(res, "libportaudio2")


def test_listen_list_devices_without_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    from edgeemo import microphone

    monkeypatch.setattr(microphone, "_import_sounddevice", lambda: _FakeSd([]))
    res = invoke("listen", "--list-devices")
    assert res.exit_code == 0 and "no audio input devices" in res.output


class _FakeSd(types.SimpleNamespace):
    def __init__(self, devices: list[dict[str, Any]]) -> None:
        super().__init__()
        self._devices = devices

    def query_devices(self, kind: str | None = None) -> Any:
        return self._devices

    def query_hostapis(self, index: int) -> dict[str, str]:
        return {"name": "ALSA"}


# --------------------------------------------------------------------------- heavy commands


def _fake_heavy_module(module: str, attr: str, seen: list[list[str]]) -> types.ModuleType:
    """A stand-in for a heavy package's CLI module: a click command that records its arguments."""
    import click

    @click.command(attr, context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                           "help_option_names": []})
    @click.pass_context
    def command(ctx: click.Context) -> None:
        seen.append(list(ctx.args))
        if "--fail" in ctx.args:
            ctx.exit(3)
        if "--config-error" in ctx.args:
            raise ConfigError("bad option value; fix it")

    fake = types.ModuleType(module)
    setattr(fake, attr, command)
    return fake


HEAVY_TARGETS = sorted(
    (name, spec.target.partition(":")[0], spec.target.partition(":")[2], spec.extra)
    for name, spec in HEAVY_COMMANDS.items()
)


@pytest.mark.parametrize(("cmd", "module", "attr", "extra"), HEAVY_TARGETS)
def test_heavy_commands_pass_arguments_through(cmd: str, module: str, attr: str, extra: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setitem(sys.modules, module, _fake_heavy_module(module, attr, seen))
    res = invoke(cmd, "--help", "--config", "x.yaml", "-n", "5", "positional")
    assert res.exit_code == 0, res.output
    assert seen == [["--help", "--config", "x.yaml", "-n", "5", "positional"]]
    assert invoke(cmd, "--fail").exit_code == 3


@pytest.mark.parametrize(("cmd", "module", "attr", "extra"), HEAVY_TARGETS)
def test_heavy_commands_missing_extra(cmd: str, module: str, attr: str, extra: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # import -> ImportError
    res = invoke(cmd, "--epochs", "1")
    assert_one_line_error(res, f'pip install "edgeemo[{extra}]"')


def test_heavy_command_error_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = HEAVY_COMMANDS["export"]
    module, _, attr = spec.target.partition(":")
    monkeypatch.setitem(sys.modules, module, _fake_heavy_module(module, attr, []))
    assert_one_line_error(invoke("export", "--config-error"), "bad option value; fix it")


@pytest.mark.parametrize("cmd", sorted(HEAVY_COMMANDS))
def test_heavy_commands_are_real_click_commands(cmd: str) -> None:
    """Each lazy target imports (with the dev extras) and answers its own --help."""
    res = invoke(cmd, "--help", prog_name="edgeemo")
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"Usage: edgeemo {cmd} "), res.output


# --------------------------------------------------------------------------- live view


def test_live_view_render(fixture_models: dict[str, Path], clips: list[Path]) -> None:
    from rich.console import Console

    from edgeemo.cli._live_view import render
    from edgeemo.microphone import ListenStats

    rec = edgeemo.Recognizer(fixture_models["valence_arousal"])
    res = rec.classify_file(clips[0])
    stats = ListenStats(overflows=3, frames=48000, device_name="USB mic", device_rate=48000)
    console = Console(record=True, width=100, color_system=None)
    console.print(render("USB mic @ 48000 Hz", rec.labels, res, stats.snapshot(), 7))
    text = console.export_text()
    assert res.label.upper() in text and f"{res.confidence * 100:5.1f} %" in text
    assert "valence" in text and "arousal" in text
    assert all(lab in text for lab in rec.labels)
    assert "overflows 3" in text and "7 results" in text and "1.0 s captured" in text
    assert "speech" in text
    console = Console(record=True, width=100, color_system=None)
    console.print(render("file x", rec.labels, None, None, 0))
    assert "waiting for the first window" in console.export_text()


# --------------------------------------------------------------------------- one JSON schema


def test_json_output_follows_the_shared_schema(fixture_models: dict[str, Path], clips: list[Path],
                                               repo_root: Path, test_module_loader) -> None:
    """`classify --format jsonl` and `listen --json` follow docs/cli_output_schema.json, which the
    C++ example follows too (ctest json_schema_python_equals_cpp compares the two programs)."""
    check = test_module_loader("edgeemo_test_check_json_schema", repo_root / "tests" / "cpp" / "check_json_schema.py")
    schema = json.loads((repo_root / "docs" / "cli_output_schema.json").read_text())
    order = ["path", *schema["required"]]
    for name in ("valid", "valence_arousal"):
        res = invoke("classify", "--model", fixture_models[name], "--format", "jsonl", *clips[:2])
        rows = [json.loads(line) for line in res.stdout.splitlines()]
        assert len(rows) == 2
        for row in rows:
            assert check.schema_problems(row, schema) == [] and list(row) == order, row
        assert (rows[0]["valence"] is None) == (name == "valid")
    res = invoke("listen", "--model", fixture_models["valid"], "--input", clips[0], "--json", "--no-realtime")
    windows = [json.loads(line) for line in res.stdout.splitlines()]
    assert windows and all(check.schema_problems(w, schema) == [] for w in windows)
    assert check.schema_problems({"path": "x", "label": "calm"}, schema)  # the check does check
