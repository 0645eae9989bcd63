"""Every script in examples/ runs: ``--help``, and a real run on the test model and real clips."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ("embed_in_app", "classify_folder_to_csv", "profile_latency")


def run(name: str, *args: object, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)],
        capture_output=True, text=True, timeout=timeout,
    )


@pytest.mark.parametrize("name", NAMES)
def test_example_help(name: str) -> None:
    proc = run(name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout and "--model" in proc.stdout


def test_embed_in_app_mood_lamp(model_path: Path, test_actor_clips: list[tuple[Path, str]]) -> None:
    import edgeemo

    clips = [path for path, _ in test_actor_clips[:4]]
    proc = run("embed_in_app", "--model", model_path, "--json", "--min-confidence", "0", "--hold", "1",
               *clips)
    assert proc.returncode == 0, proc.stderr
    changes = [json.loads(line) for line in proc.stdout.splitlines()]
    assert changes, "the lamp never changed colour"
    labels = set(edgeemo.Recognizer(model_path).labels) | {"off"}
    for ch in changes:
        assert set(ch) == {"at_s", "mood", "colour", "confidence"}
        assert ch["mood"] in labels and ch["colour"].startswith("#")
    assert any(ch["mood"] != "off" for ch in changes)
    # consecutive changes are real changes
    for a, b in zip(changes, changes[1:]):
        assert (a["mood"], a["colour"]) != (b["mood"], b["colour"])
    # a confidence threshold above 1 never lets the lamp switch on
    proc = run("embed_in_app", "--model", model_path, "--json", "--min-confidence", "1.01", clips[0])
    assert proc.returncode == 0 and proc.stdout.strip() == ""


def test_embed_in_app_bad_model(tmp_path: Path, test_actor_clips: list[tuple[Path, str]]) -> None:
    proc = run("embed_in_app", "--model", tmp_path / "missing.onnx", test_actor_clips[0][0])
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


def test_classify_folder_to_csv(model_path: Path, test_actor_clips: list[tuple[Path, str]], tmp_path: Path) -> None:
    import edgeemo

    folder = tmp_path / "rec"
    (folder / "day2").mkdir(parents=True)
    picked = [path for path, _ in test_actor_clips[:3]]
    shutil.copy(picked[0], folder / picked[0].name)
    shutil.copy(picked[1], folder / "day2" / picked[1].name)
    shutil.copy(picked[2], folder / "day2" / picked[2].name)
    (folder / "broken.wav").write_bytes(b"not a wav file at all" * 10)
    out = tmp_path / "emotions.csv"
    proc = run("classify_folder_to_csv", folder, "--model", model_path, "--output", out)
    assert proc.returncode == 1, "the broken file is reported and the exit code says so"
    assert "broken.wav" in proc.stderr and "Traceback" not in proc.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    rec = edgeemo.Recognizer(model_path)
    assert [r["path"] for r in rows] == sorted(
        [picked[0].name, f"day2/{picked[1].name}", f"day2/{picked[2].name}"]
    )
    for row in rows:
        expected = rec.classify_file(folder / row["path"])
        assert row["label"] == expected.label
        assert float(row["confidence"]) == pytest.approx(expected.confidence, abs=1e-4)
        assert sum(float(row[lab]) for lab in rec.labels) == pytest.approx(1.0, abs=1e-3)


def test_profile_latency(model_path: Path) -> None:
    proc = run("profile_latency", "--model", model_path, "--threads", "1", "2", "--windows", "20")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "RTF" in lines[1] and len(lines) == 4
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]
    proc = run("profile_latency", "--model", model_path, "--windows", "10", "--json")
    data = json.loads(proc.stdout)
    assert data["n_windows"] == 10 and data["stages"]["model"]["p50"] > 0
