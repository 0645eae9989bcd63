"""Non-speech never gets an emotion (API, streams, classify text/CSV/JSON, listen, live view);
RAVDESS speech is detected; "uncertain" below min_confidence; the speech detector's cues."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import edgeemo
from edgeemo.cli.main import cli
from edgeemo.results import NO_SPEECH, UNCERTAIN
from edgeemo.vad import SpeechDetector, speech_ratio

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))
from non_speech import signals as non_speech_signals  # tests/fixtures/non_speech.py

SR = 16000
NON_SPEECH = non_speech_signals(SR, seconds=4.0, seed=11)


@pytest.fixture(scope="module")
def bundled() -> edgeemo.Recognizer:
    return edgeemo.Recognizer()


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("non_speech")
    for name, x in NON_SPEECH.items():
        sf.write(d / f"{name.replace(' ', '_').replace('/', '_')}.wav", x, SR, subtype="FLOAT")
    return d


def stream_results(rec: edgeemo.Recognizer, x: np.ndarray, chunk: int = 1600, **opts) -> list[edgeemo.EmotionResult]:
    s = rec.create_stream(**opts)
    out: list[edgeemo.EmotionResult] = []
    for i in range(0, x.size, chunk):
        s.accept(x[i : i + chunk], sample_rate=SR)
        out += list(s.results())
    return out + list(s.flush())


# -- the API ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(NON_SPEECH))
def test_non_speech_has_no_emotion(bundled: edgeemo.Recognizer, name: str) -> None:
    x = NON_SPEECH[name]
    res = bundled.classify(x, SR)
    assert res.label == NO_SPEECH and res.confidence == 0.0 and not res.is_speech and not res.has_emotion
    assert res.to_dict()["label"] == "no_speech"
    assert abs(sum(res.scores.values()) - 1.0) < 1e-4  # the model's scores stay, for diagnostics
    wins = stream_results(bundled, x)
    assert wins and all(r.label == NO_SPEECH and r.confidence == 0.0 for r in wins), name
    # smoothing and a confidence threshold do not bring an emotion back
    wins = stream_results(bundled, x, smoothing=0.8, min_confidence=0.3)
    assert all(r.label == NO_SPEECH for r in wins)


def test_speech_is_detected_on_every_test_actor_clip(
    bundled: edgeemo.Recognizer, data_root: Path, ravdess_rows: list[dict[str, str]]
) -> None:
    rows = [r for r in ravdess_rows if r["split"] == "test"]
    assert len(rows) == 120
    lowest = 1.0
    for row in rows:
        wave, sr = edgeemo.load_audio(data_root / "ravdess" / row["path"])
        ratio = speech_ratio(wave, sr)
        lowest = min(lowest, ratio)
        assert ratio >= 0.1, row["path"]
    assert lowest >= 0.15  # margin above min_speech_ratio (measured: 0.23)
    res = bundled.classify_file(data_root / "ravdess" / rows[0]["path"])
    assert res.is_speech and res.label in bundled.labels and res.has_emotion


def test_speech_then_silence_stream(bundled: edgeemo.Recognizer, clip) -> None:
    wave, sr = clip
    x = np.concatenate([np.zeros(2 * sr, np.float32), wave, np.zeros(4 * sr, np.float32)])
    out = stream_results(bundled, x)
    assert out[0].label == NO_SPEECH  # nothing before anyone speaks
    assert any(r.has_emotion for r in out)
    assert out[-1].label == NO_SPEECH  # and nothing held after speech ended
    end_of_speech = (2 * sr + wave.size) / sr
    held = [r for r in out if r.start_s >= end_of_speech and r.has_emotion]
    assert held == []


def test_min_confidence_gives_uncertain(bundled: edgeemo.Recognizer, clip) -> None:
    wave, sr = clip
    plain = bundled.classify(wave, sr)
    assert plain.has_emotion
    res = bundled.classify(wave, sr, min_confidence=1.0)
    assert res.label == UNCERTAIN and res.confidence == pytest.approx(plain.confidence) and res.is_speech
    assert bundled.classify(wave, sr, min_confidence=plain.confidence).label == plain.label
    wins = stream_results(bundled, wave, min_confidence=1.0)
    assert {r.label for r in wins} <= {UNCERTAIN, NO_SPEECH} and any(r.label == UNCERTAIN for r in wins)
    with pytest.raises(edgeemo.ConfigError, match="min_confidence"):
        bundled.classify(wave, sr, min_confidence=1.5)
    with pytest.raises(edgeemo.ConfigError, match="min_confidence"):
        bundled.create_stream(min_confidence=-0.1)


def test_from_scores_rule() -> None:
    labels = ("a", "b")
    p = np.array([0.3, 0.7])
    kw = dict(start_s=0, end_s=1, speech_prob=0.5)
    assert edgeemo.EmotionResult.from_scores(labels, p, None, is_speech=True, **kw).label == "b"
    assert edgeemo.EmotionResult.from_scores(labels, p, None, is_speech=True, min_confidence=0.8, **kw).label == "uncertain"
    r = edgeemo.EmotionResult.from_scores(labels, p, None, is_speech=False, min_confidence=0.1, **kw)
    assert (r.label, r.confidence, dict(r.scores)) == ("no_speech", 0.0, {"a": 0.3, "b": 0.7})


def test_detector_cues_each_reject_their_kind() -> None:
    """Each cue is needed: the energy gate alone passes clicks, bursts and tone onsets."""
    for name in ("clicks 10/s", "white-noise bursts", "tone bursts", "silence then tone"):
        x = NON_SPEECH[name]
        energy = SpeechDetector(SR, energy_only=True)
        energy.accept(x)
        full = SpeechDetector(SR)
        full.accept(x)
        assert energy.speech_ratio(0, x.size) >= 0.2, name  # the former gate called it speech
        assert full.speech_ratio(0, x.size) < 0.1, name


# -- the command line ---------------------------------------------------------------------------
def invoke(*args: object) -> object:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_classify_outputs_say_no_speech(wav_dir: Path, data_root: Path, test_actor_clips) -> None:
    speech = test_actor_clips[0][0]
    res = invoke("classify", "--format", "jsonl", wav_dir, speech)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(rows) == len(NON_SPEECH) + 1
    for row in rows:
        if row["path"] == str(speech):
            assert row["is_speech"] and row["label"] in edgeemo.Recognizer().labels
        else:
            assert row["label"] == "no_speech" and row["confidence"] == 0 and row["is_speech"] is False
    res = invoke("classify", "--format", "csv", wav_dir)
    for row in csv.DictReader(io.StringIO(res.stdout)):
        assert row["label"] == "no_speech" and float(row["confidence"]) == 0.0
    res = invoke("classify", wav_dir)
    lines = res.stdout.splitlines()
    labels = edgeemo.Recognizer().labels
    assert len(lines) == len(NON_SPEECH)
    for line in lines:
        fields = line.split("\t")
        assert fields[1] == "no_speech" and "no speech" in line
        assert not any(lab in fields[1:] for lab in labels)
    res = invoke("classify", "--format", "jsonl", "--min-confidence", "1", speech)
    assert json.loads(res.stdout)["label"] == "uncertain"


def test_listen_json_and_plain_on_non_speech(wav_dir: Path) -> None:
    f = wav_dir / "tone_440_Hz.wav"
    res = invoke("listen", "--input", f, "--no-realtime", "--json")
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert rows and all(r["label"] == "no_speech" and r["confidence"] == 0 for r in rows)
    res = invoke("listen", "--input", wav_dir / "silence.wav", "--no-realtime")
    lines = res.stdout.splitlines()
    labels = edgeemo.Recognizer().labels
    assert lines and all("no_speech" in line and not any(f" {lab} " in line for lab in labels) for line in lines)


def test_live_view_no_speech_and_hold(bundled: edgeemo.Recognizer, clip) -> None:
    from rich.console import Console

    from edgeemo.cli._live_view import render

    def text(result, last=None, hold=2.0) -> str:
        console = Console(record=True, width=100, color_system=None)
        console.print(render("x", bundled.labels, result, None, 1, last_speech=last, hold_s=hold))
        return console.export_text()

    silent = bundled.create_stream()
    silent.accept(np.zeros(3 * SR, np.float32))
    first = next(iter(silent.results()))
    shown = text(first)  # before anyone speaks: no emotion in the headline
    assert "NO SPEECH" in shown
    headline = shown.splitlines()[1]
    assert not any(lab.upper() in headline for lab in bundled.labels)
    wave, sr = clip
    speech = bundled.classify(wave, sr)
    later = dataclass_replace(first, start_s=speech.end_s - 2.0, end_s=speech.end_s + 1.0)
    faded = text(later, speech, hold=2.0)
    assert "NO SPEECH" in faded and f"last: {speech.label}" in faded
    gone = text(dataclass_replace(first, start_s=speech.end_s + 0.0, end_s=speech.end_s + 3.0), speech, hold=2.0)
    assert "NO SPEECH" in gone and "last:" not in gone


def dataclass_replace(res: edgeemo.EmotionResult, **changes: float) -> edgeemo.EmotionResult:
    import dataclasses

    return dataclasses.replace(res, **changes)
