"""``edgeemo listen`` on a real capture device: a private PulseAudio server's virtual microphone.

A labelled RAVDESS test-actor clip is played into the null sink with ``paplay`` about a second
after ``edgeemo listen --json`` (a subprocess, ``PULSE_SERVER`` set) starts capturing. What the
"microphone" hears is saved with ``--record``, so every streamed result can be checked against
``Recognizer.classify`` on exactly the same audio.

Tolerances (measured on this setup, max |score difference| over the speech
windows of one run):

* 16 kHz mono capture: 0.0 against the recording and against the original clip (PulseAudio passes
  the samples through unchanged; the stream does no resampling) -> asserted <= 1e-5;
* 48 kHz stereo capture: 0.0 against ``classify`` on the recording down-mixed and resampled in one
  pass with the SDK's streaming resampler (whose output does not depend on chunking) -> asserted
  <= 1e-5. Resampling each 3 s window on its own instead differs at the window edges: 1.4e-4 with
  the fixture model, 0.017 with the INT8 bundled model, whose activation quantization amplifies
  such tiny input differences. Against the original clip the difference reaches 0.04, so there
  only the audio path is checked (correlation of the recording with the clip >= 0.99; measured
  0.9997).

With the bundled (trained) model the labels are asserted as well: most speech windows must carry
the clip's label. With the fixture model the labels are meaningless and only structure, speech
detection and score equality are asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.audio_device

EDGEEMO = [sys.executable, "-m", "edgeemo.cli.main"]
TOL_EXACT = 1e-5


def _is_bundled(path: Path) -> bool:
    import edgeemo

    return Path(path).resolve() == edgeemo.default_model_path().resolve()


def _ravdess_label(path: Path) -> str:
    codes = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
             "06": "fear", "07": "disgust", "08": "surprise"}
    return codes[path.name.split("-")[2]]


@pytest.fixture(scope="module")
def recognizer(model_path: Path) -> Any:
    import edgeemo

    return edgeemo.Recognizer(model_path)


@pytest.fixture(scope="module")
def labelled_clip(
    data_root: Path, test_actor_clips: list[tuple[Path, str]], recognizer: Any, model_path: Path
) -> tuple[Path, str]:
    """A test-actor clip and its label.

    With the fixture model: the angry actor-19 clip. With the bundled model: the first strong
    test-actor clip the model classifies correctly offline, so the live test checks that the live
    pipeline reproduces the model's decision (the model's accuracy is measured elsewhere).
    """
    default = data_root / "ravdess/audio/Actor_19/03-01-05-02-01-01-19.flac"
    if not _is_bundled(model_path):
        return default, _ravdess_label(default)
    for path, label in [(default, "angry"), *test_actor_clips]:
        if recognizer.classify_file(path).label == label:
            return path, label
    pytest.fail("the bundled model classifies none of the test-actor clips correctly offline")


def _listen(mic: Any, args: list[str], *, play: Path | None, delay_s: float = 1.0,
            timeout: float = 90.0) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``edgeemo listen --json ARGS``; play ``play`` into the sink once capture starts."""
    proc = subprocess.Popen(
        [*EDGEEMO, "listen", "--json", *args], env=mic.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    head = ""
    for _ in range(20):  # "listening: ..." is printed once the model is loaded
        line = proc.stderr.readline()
        head += line
        if not line or line.startswith("listening"):
            break
    if play is not None and "listening" in head:
        mic.play(play, delay_s=delay_s)
    out, err = proc.communicate(timeout=timeout)
    results = [json.loads(line) for line in out.splitlines() if line.strip()]
    return proc.returncode, results, head + err


def _full_speech(results: list[dict[str, Any]], window_s: float) -> list[dict[str, Any]]:
    return [r for r in results if r["is_speech"] and r["end_s"] - r["start_s"] >= window_s - 1e-6]


def _lag(recorded: np.ndarray, rec_sr: int, clip: np.ndarray) -> tuple[int, float]:
    """Where the clip starts in the recording (samples at 16 kHz) and their correlation there."""
    import soxr

    x = recorded.mean(axis=1) if recorded.ndim == 2 else recorded
    if rec_sr != 16000:
        x = soxr.resample(x, rec_sr, 16000)
    probe = clip[4000:20000]
    lag = int(np.argmax(np.correlate(x, probe, "valid"))) - 4000
    seg = x[lag : lag + clip.size]
    n = min(seg.size, clip.size)
    return lag, float(np.corrcoef(seg[:n], clip[:n])[0, 1])


def _check_structure(results: list[dict[str, Any]], labels: tuple[str, ...], hop_s: float) -> None:
    assert results, "no results"
    for r in results:
        assert set(r) >= {"label", "confidence", "scores", "start_s", "end_s", "speech_prob", "is_speech"}
        assert r["label"] in (*labels, "no_speech", "uncertain") and list(r["scores"]) == list(labels)
        assert (r["label"] == "no_speech") == (not r["is_speech"])
        assert abs(sum(r["scores"].values()) - 1.0) < 1e-4
        top = max(r["scores"].values())
        assert r["confidence"] == pytest.approx(0.0 if r["label"] == "no_speech" else top, abs=1e-6)
        assert 0.0 <= r["speech_prob"] <= 1.0
    starts = [r["start_s"] for r in results]
    assert np.allclose(np.diff(starts), hop_s, atol=1e-6), "one result per hop, in order"


def _check_scores_vs_recording(
    results: list[dict[str, Any]], recording: Path, recognizer: Any, tol: float
) -> float:
    import soundfile as sf

    from edgeemo.audio import Resampler

    x, sr = sf.read(recording, dtype="float32")
    if x.ndim == 2:
        x = x.mean(axis=1, dtype=np.float32)
    # The stream resamples continuously; a one-shot resample of each window alone would differ at
    # the window's edges (and an INT8 model amplifies such differences). The streaming resampler's
    # output does not depend on chunking, so one pass over the whole recording is the reference.
    rate = recognizer.sample_rate
    x = Resampler(sr, rate).process(x, last=True)
    worst = 0.0
    speech = _full_speech(results, recognizer.window_s)
    for r in speech:
        a = int(round(r["start_s"] * rate))
        b = a + recognizer.window_samples
        ref = recognizer.classify(x[a:b], rate)
        diff = max(abs(ref.scores[k] - r["scores"][k]) for k in recognizer.labels)
        worst = max(worst, diff)
    assert worst <= tol, f"streamed scores differ from classify() on the recorded audio by {worst}"
    return worst


def _check_speech_where_clip_plays(
    results: list[dict[str, Any]], lag_s: float, clip_s: float, window_s: float
) -> None:
    speech = _full_speech(results, window_s)
    assert len(speech) >= 3, f"too few speech windows: {[(r['start_s'], r['is_speech']) for r in results]}"
    for r in speech:
        assert r["end_s"] > lag_s and r["start_s"] < lag_s + clip_s, (
            f"speech window {r['start_s']}-{r['end_s']} s outside the clip ({lag_s:.2f} s + {clip_s:.2f} s)"
        )
    before = [r for r in results if r["end_s"] <= lag_s]
    assert all(not r["is_speech"] for r in before), "windows before the playback are silence"


def _check_labels(results: list[dict[str, Any]], label: str, model_path: Path, window_s: float) -> None:
    if not _is_bundled(model_path):
        return  # fixture model: labels carry no meaning
    speech = _full_speech(results, window_s)
    hits = sum(r["label"] == label for r in speech)
    assert hits > len(speech) / 2, f"{hits}/{len(speech)} speech windows say {label!r}"


def test_listen_16k_scores_equal_classify(
    virtual_mic: Any, recognizer: Any, model_path: Path, labelled_clip: tuple[Path, str], tmp_path: Path
) -> None:
    import soundfile as sf

    clip_path, label = labelled_clip
    clip, clip_sr = sf.read(clip_path, dtype="float32")
    assert clip_sr == 16000
    recording = tmp_path / "heard.wav"
    seconds = round(1.0 + clip.size / clip_sr + recognizer.window_s + 0.5, 2)
    rc, results, err = _listen(
        virtual_mic, ["--model", str(model_path), "--rate", "16000", "--seconds", f"{seconds:.2f}",
                      "--record", str(recording)], play=clip_path,
    )
    assert rc == 0, err
    assert "Traceback" not in err
    assert "at 16000 Hz" in err and "0 overflow(s)" in err, err
    _check_structure(results, recognizer.labels, recognizer.hop_s)
    heard, sr = sf.read(recording, dtype="float32")
    assert sr == 16000 and heard.size == pytest.approx(seconds * sr, abs=1)
    lag, corr = _lag(heard, sr, clip)
    assert corr > 0.999, f"the virtual microphone did not deliver the clip (r={corr})"
    _check_speech_where_clip_plays(results, lag / sr, clip.size / sr, recognizer.window_s)
    _check_scores_vs_recording(results, recording, recognizer, TOL_EXACT)
    # ... and the same scores as classify() on the original clip at the same place.
    w = recognizer.window_samples
    for r in _full_speech(results, recognizer.window_s):
        a = int(round(r["start_s"] * sr)) - lag
        window = np.zeros(w, np.float32)
        lo, hi = max(a, 0), min(a + w, clip.size)
        window[lo - a : hi - a] = clip[lo:hi]
        ref = recognizer.classify(window, sr)
        assert max(abs(ref.scores[k] - r["scores"][k]) for k in recognizer.labels) <= TOL_EXACT
    _check_labels(results, label, model_path, recognizer.window_s)


def test_listen_48k_stereo_by_device_name(
    virtual_mic: Any, recognizer: Any, model_path: Path, labelled_clip: tuple[Path, str], tmp_path: Path
) -> None:
    """PulseAudio resamples the 16 kHz mono sink to 48 kHz stereo; the SDK down-mixes and resamples."""
    import soundfile as sf

    clip_path, label = labelled_clip
    clip, clip_sr = sf.read(clip_path, dtype="float32")
    recording = tmp_path / "heard48.wav"
    seconds = round(1.0 + clip.size / clip_sr + recognizer.window_s + 0.5, 2)
    rc, results, err = _listen(
        virtual_mic, ["--model", str(model_path), "--device", "pulse", "--rate", "48000",
                      "--channels", "2", "--seconds", f"{seconds:.2f}", "--record", str(recording)],
        play=clip_path,
    )
    assert rc == 0, err
    assert "'pulse' at 48000 Hz, 2 ch" in err, err
    _check_structure(results, recognizer.labels, recognizer.hop_s)
    heard, sr = sf.read(recording, dtype="float32")
    assert sr == 48000 and heard.ndim == 2 and heard.shape[1] == 2
    lag, corr = _lag(heard, sr, clip)
    assert corr > 0.99, f"the 48 kHz capture does not match the clip (r={corr})"
    _check_speech_where_clip_plays(results, lag / 16000, clip.size / clip_sr, recognizer.window_s)
    _check_scores_vs_recording(results, recording, recognizer, TOL_EXACT)
    _check_labels(results, label, model_path, recognizer.window_s)


def test_listen_api_native_rate_stats(
    virtual_mic: Any, pulse: Any, recognizer: Any, labelled_clip: tuple[Path, str]
) -> None:
    """``edgeemo.listen`` in this process: native device rate (44.1 kHz here), stats, max_seconds."""
    import edgeemo
    from edgeemo.microphone import ListenStats, resolve_input_device

    pulse.refresh_portaudio()
    stats = ListenStats()
    seconds = 5.0
    gen = edgeemo.listen(recognizer=recognizer, stats=stats, max_seconds=seconds)
    virtual_mic.play(labelled_clip[0], delay_s=0.5)
    t0 = time.monotonic()
    results = list(gen)
    elapsed = time.monotonic() - t0
    snap = stats.snapshot()
    native = int(round(resolve_input_device(None).default_samplerate))
    assert snap.device_rate == native != recognizer.sample_rate, snap  # 44.1 kHz here: resampled
    assert snap.channels == 1 and snap.blocks > 0
    assert snap.overflows == 0
    assert snap.seconds_captured == pytest.approx(seconds, abs=0.06)
    assert elapsed >= seconds * 0.9, "capture runs in real time"
    assert all(isinstance(r, edgeemo.EmotionResult) for r in results)
    # one result per hop for every full window, plus the flushed partial window
    n_full = int((seconds - recognizer.window_s) / recognizer.hop_s + 1e-9) + 1
    assert n_full <= len(results) <= n_full + 1
    assert any(r.is_speech for r in results)
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        snap.overflows = 1  # type: ignore[misc]  # frozen snapshot


def test_unknown_device_name_lists_devices(virtual_mic: Any, model_path: Path) -> None:
    proc = subprocess.run(
        [*EDGEEMO, "listen", "--model", str(model_path), "--device", "no-such-mic", "--seconds", "1"],
        env=virtual_mic.env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no-such-mic" in errors[0]
    assert "pulse" in errors[0] and "default" in errors[0], "the message lists the input devices"
    assert "Traceback" not in proc.stderr


def _no_server_env(tmp_path: Path, data: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PULSE_SERVER", "EDGEEMO_DATA")}
    env["PULSE_SERVER"] = f"unix:{tmp_path}/no-server/native"
    env["XDG_RUNTIME_DIR"] = str(tmp_path)
    env["EDGEEMO_DATA"] = str(data if data is not None else tmp_path / "no-data")
    return env


def test_no_server_explicit_device_is_a_clear_error(tmp_path: Path, model_path: Path) -> None:
    proc = subprocess.run(
        [*EDGEEMO, "listen", "--model", str(model_path), "--device", "vmic", "--seconds", "1"],
        env=_no_server_env(tmp_path, None), capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert "no audio input device" in errors[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_no_server_streams_bundled_demo_in_real_time(tmp_path: Path, model_path: Path) -> None:
    """No input device, no data folder: one line says so, the synthetic clip plays in real time."""
    import soundfile as sf

    from edgeemo.microphone import bundled_demo_clip

    t0 = time.monotonic()
    proc = subprocess.run(
        [*EDGEEMO, "listen", "--model", str(model_path), "--json"],
        env=_no_server_env(tmp_path, None), capture_output=True, text=True, timeout=90, cwd=tmp_path,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    notice = [line for line in lines if "no audio input device" in line]
    assert len(notice) == 1 and "demo_speech.flac" in notice[0] and "real time" in notice[0]
    duration = sf.info(str(bundled_demo_clip())).duration
    assert elapsed >= duration * 0.95, f"not real time: {elapsed:.2f} s for {duration:.2f} s"
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert results and any(r["is_speech"] for r in results)


def test_no_server_prefers_ravdess_demo_clip(tmp_path: Path, model_path: Path, data_root: Path) -> None:
    proc = subprocess.run(
        [*EDGEEMO, "listen", "--model", str(model_path), "--json", "--no-realtime"],
        env=_no_server_env(tmp_path, data_root), capture_output=True, text=True, timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "03-01-05-02-01-01-19.flac" in proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(r["is_speech"] for r in results)
