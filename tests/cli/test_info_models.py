"""``edgeemo info --models`` and ``--model NAME`` on the commands, with the real bundled files.

The "small" model may or may not be in this checkout yet: tests that need it installed use a
models folder (monkeypatched :func:`edgeemo.registry.models_dir`) holding a copy of tiny under the
small file's name; the others follow what this installation has.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import edgeemo
from edgeemo import registry
from edgeemo.cli.main import cli

TINY_FILE = "edgeemo-tiny-ravdess.onnx"
SMALL_FILE = "edgeemo-small-ravdess-int8.onnx"


def invoke(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_error_line(res: Result) -> str:
    assert res.exit_code == 2, (res.exit_code, res.output)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    return lines[0]


@pytest.fixture(scope="module")
def tiny() -> edgeemo.Recognizer:
    return edgeemo.Recognizer("tiny")


@pytest.fixture(scope="module")
def demo_clip() -> Path:
    path = registry.models_dir() / "demo_speech.flac"
    assert path.is_file(), "the demo clip ships with the package"
    return path


@pytest.fixture
def both_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    tiny_path = registry.bundled_model_path("tiny")
    shutil.copyfile(tiny_path, folder / TINY_FILE)
    shutil.copyfile(tiny_path, folder / SMALL_FILE)
    monkeypatch.setattr(registry, "models_dir", lambda: folder)
    return folder


def models_json(*extra: str) -> dict[str, Any]:
    res = invoke("info", "--models", "--json", *extra)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_json_lists_tiny_with_its_real_facts(tiny: edgeemo.Recognizer) -> None:
    out = models_json()
    assert out["default_model"] == registry.DEFAULT_MODEL
    rows = {r["name"]: r for r in out["models"]}
    assert list(rows) == list(registry.BUNDLED_MODELS)
    row = rows["tiny"]
    assert row["installed"] is True and row["file"] == TINY_FILE
    assert row["n_bytes"] == registry.bundled_model_path("tiny").stat().st_size == tiny.info.n_bytes
    assert row["learned_parameters"] == int(tiny.info.metadata["learned_parameters"]) == 96138
    assert row["quantization"] == tiny.info.quantization == "fp32"
    assert row["metrics"] == tiny.info.metrics and "ua_5fold_clean_fp32=" in row["metrics"]
    assert row["error"] is None
    assert [r["name"] for r in out["models"] if r["default"]] == [registry.DEFAULT_MODEL]


def test_json_small_as_this_installation_has_it() -> None:
    row = {r["name"]: r for r in models_json()["models"]}["small"]
    assert row["file"] == SMALL_FILE
    if registry.bundled_model_path("small").is_file():
        assert row["installed"] is True and row["n_bytes"] > 0 and row["error"] is None
    else:
        assert row["installed"] is False
        assert row["n_bytes"] is None and row["learned_parameters"] is None and row["metrics"] is None


def test_text_lists_tiny_and_marks_the_default(tiny: edgeemo.Recognizer) -> None:
    res = invoke("info", "--models")
    assert res.exit_code == 0, res.output
    text = res.stdout
    tiny_line = next(line for line in text.splitlines() if TINY_FILE in line)
    kib = f"{tiny.info.n_bytes / 1024:.0f} KiB"
    if registry.DEFAULT_MODEL == "tiny":
        assert tiny_line.split()[:3] == ["*", "tiny", TINY_FILE + ","]
    else:
        assert tiny_line.split()[:2] == ["tiny", TINY_FILE + ","]
    assert tiny_line.endswith(kib)
    assert "96,138 learned" in text and "fp32" in text and tiny.info.metrics in text
    small_line = next(line for line in text.splitlines() if SMALL_FILE in line)
    assert ("not installed" in small_line) == (not registry.bundled_model_path("small").is_file())


def test_missing_small_is_listed_not_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(registry.bundled_model_path("tiny"), folder / TINY_FILE)
    monkeypatch.setattr(registry, "models_dir", lambda: folder)
    res = invoke("info", "--models")
    assert res.exit_code == 0, res.output
    assert f"small  {SMALL_FILE}: not installed" in res.stdout
    rows = {r["name"]: r for r in models_json()["models"]}
    assert rows["small"]["installed"] is False and rows["tiny"]["installed"] is True
    assert rows["small"]["path"] == str(folder / SMALL_FILE)
    # and choosing it says why it cannot be used, on one line
    line = one_error_line(invoke("classify", "--model", "small", folder / TINY_FILE))
    assert "'small' is not in this installation" in line and SMALL_FILE in line
    assert "reinstall" in line and "--model NAME" in line and "installed: tiny" in line


def test_installed_small_is_listed_with_its_facts(both_installed: Path, tiny: edgeemo.Recognizer) -> None:
    out = models_json()
    assert out["models_dir"] == str(both_installed)
    rows = {r["name"]: r for r in out["models"]}
    assert rows["small"]["installed"] is True
    assert rows["small"]["path"] == str(both_installed / SMALL_FILE)
    assert rows["small"]["n_bytes"] == tiny.info.n_bytes  # the copy
    assert rows["small"]["learned_parameters"] == 96138
    text = invoke("info", "--models").stdout
    assert "not installed" not in text and text.count("96,138 learned") == 2


def test_default_mark_follows_the_registry(both_installed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "DEFAULT_MODEL", "small")
    out = models_json()
    assert out["default_model"] == "small"
    assert {r["name"]: r["default"] for r in out["models"]} == {"tiny": False, "small": True}
    text = invoke("info", "--models").stdout
    assert f"* small  {SMALL_FILE}" in text and f"  tiny   {TINY_FILE}" in text
    # and a command without --model loads it
    res = invoke("info", "--json")
    assert json.loads(res.stdout)["model"]["path"] == str(both_installed / SMALL_FILE)


def test_an_unreadable_bundled_file_is_reported_in_its_row(both_installed: Path) -> None:
    (both_installed / SMALL_FILE).write_bytes(b"not an onnx model")
    rows = {r["name"]: r for r in models_json()["models"]}
    assert rows["small"]["installed"] is True and "cannot load model" in rows["small"]["error"]
    assert rows["tiny"]["error"] is None
    res = invoke("info", "--models")
    assert res.exit_code == 0 and "unreadable: cannot load model" in res.stdout


def test_models_takes_no_model() -> None:
    res = invoke("info", "--models", "--model", "tiny")
    assert res.exit_code == 2 and "takes no --model" in res.output


def test_classify_by_name(demo_clip: Path, tiny: edgeemo.Recognizer) -> None:
    res = invoke("classify", "--model", "tiny", "--format", "jsonl", demo_clip)
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout.strip().splitlines()[0])
    assert row["label"] in tiny.labels
    expected = tiny.classify_file(demo_clip)
    assert row["label"] == expected.label
    short = invoke("classify", "-m", "tiny", "--format", "jsonl", demo_clip)
    assert short.stdout == res.stdout
    if registry.DEFAULT_MODEL == "tiny":
        assert invoke("classify", "--format", "jsonl", demo_clip).stdout == res.stdout


def test_info_and_profile_by_name(tiny: edgeemo.Recognizer) -> None:
    res = invoke("info", "--json", "--model", "tiny")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["model"]["path"] == str(tiny.info.path)
    res = invoke("profile", "--model", "tiny", "--windows", "2", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["model"] == str(tiny.info.path)


@pytest.mark.parametrize("command", [
    ["info"], ["classify", "{clip}"], ["profile", "--windows", "2"], ["listen", "--input", "{clip}"],
])
def test_unknown_name_is_one_line_listing_the_names(command: list[str], demo_clip: Path) -> None:
    args = [str(demo_clip) if a == "{clip}" else a for a in command]
    line = one_error_line(invoke(*args[:1], "--model", "huge", *args[1:]))
    assert "unknown model name 'huge'" in line and "tiny, small" in line
    assert "--model NAME" in line and "--model PATH" in line and ".onnx" in line


def test_a_folder_named_like_a_model_does_not_shadow_the_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, demo_clip: Path
) -> None:
    (tmp_path / "tiny").mkdir()
    monkeypatch.chdir(tmp_path)
    res = invoke("classify", "--model", "tiny", demo_clip)
    assert res.exit_code == 0, res.output
    line = one_error_line(invoke("classify", "--model", "./tiny", demo_clip))
    assert "is a folder" in line


def test_the_tiny_models_stream_graph_is_listed(tiny: edgeemo.Recognizer) -> None:
    rows = {r["name"]: r for r in models_json()["models"]}
    assert rows["tiny"]["stream_graph"] == "edgeemo-tiny-ravdess.stream.onnx"
    assert rows["small"]["stream_graph"] is None
    text = invoke("info", "--model", "tiny").stdout
    assert "streaming    edgeemo-tiny-ravdess.stream.onnx" in text
