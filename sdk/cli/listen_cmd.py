"""``edgeemo listen``: live emotion from a microphone (or a file played in real time).

Without ``--device`` and ``--input``, on a machine with no usable input device, the command says so
in one line on stderr and streams the demo clip in real time instead, so it always shows the
product working (``--no-demo`` turns that into an error).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import AudioError, MissingDependencyError
from ._common import (
    EXIT_SOME_FAILED,
    cli_text,
    fail,
    file_problem,
    is_verbose,
    make_recognizer,
    model_option,
    runtime_options,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..microphone import ListenSnapshot
    from ..results import EmotionResult


def _plain_line(res: EmotionResult) -> str:
    speech = "speech" if res.is_speech else "-"
    conf = f"{res.confidence:5.2f}" if res.is_speech else "    -"
    line = (
        f"{res.start_s:7.2f}-{res.end_s:7.2f} s  {res.label:<9} {conf}  "
        f"{speech:<6} ({res.speech_prob:.2f})"
    )
    if res.is_speech and res.valence is not None and res.arousal is not None:
        line += f"  valence {res.valence:+.2f} arousal {res.arousal:+.2f}"
    return line


def _list_devices() -> None:
    from ..microphone import list_input_devices

    devices = list_input_devices()
    if not devices:
        click.echo("no audio input devices")
        return
    for dev in devices:
        click.echo(str(dev))


def _stream_options(
    hop: float | None, smoothing: float, vad: bool, min_confidence: float = 0.0
) -> dict[str, Any]:
    opts: dict[str, Any] = {"vad": vad, "smoothing": smoothing, "min_confidence": min_confidence}
    if hop is not None:
        opts["hop_s"] = hop
    return opts


class _Recorder:
    """Writes every captured block to a sound file (``--record``)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fh: Any = None

    def __call__(self, block: Any, rate: int) -> None:
        if self._fh is None:
            import soundfile as sf

            channels = 1 if block.ndim == 1 else int(block.shape[1])
            subtype = "FLOAT" if self.path.lower().endswith(".wav") else None
            self._fh = sf.SoundFile(
                self.path, "w", samplerate=int(rate), channels=channels, subtype=subtype
            )
        self._fh.write(block)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


@click.command()
@click.option("--device", "-d", default=None, help="Input device index or (part of its) name.")
@click.option(
    "--input", "-i", "input_file", type=click.Path(dir_okay=False), default=None,
    help="Stream this audio file in real time instead of a microphone.",
)
@model_option
@runtime_options
@click.option("--seconds", "-s", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds of audio.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per result (JSON lines).")
@click.option("--rate", "sample_rate", type=click.IntRange(min=1), default=None,
              help="Capture sample rate in Hz (default: the device's native rate; resampled).")
@click.option("--channels", type=click.IntRange(min=1), default=1, show_default=True,
              help="Capture channels (averaged to mono).")
@click.option("--hop", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds between results (default: the model's hop).")
@click.option("--smoothing", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.0,
              show_default=True, help="Exponential smoothing of the scores (0 = off).")
@click.option("--vad/--no-vad", default=True, show_default=True,
              help="Gate results with the speech detector (non-speech windows say no_speech).")
@click.option("--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
              help="Label speech windows whose top probability is below this 'uncertain' (0 = off).")
@click.option("--hold", type=click.FloatRange(min=0.0), default=2.0, show_default=True,
              help="Live view: seconds the last emotion stays shown (faded) after speech ends.")
@click.option("--realtime/--no-realtime", default=True, show_default=True,
              help="With --input (or the demo clip): pace the file in real time.")
@click.option("--demo/--no-demo", default=True, show_default=True,
              help="Without an input device, stream the demo clip instead of failing.")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Also save the captured microphone audio to this file (WAV/FLAC).")
@click.option("--list-devices", is_flag=True, help="List the input devices and exit.")
def listen(
    device: str | None, input_file: str | None, model: str | None, threads: int, provider: str,
    seconds: float | None, as_json: bool, sample_rate: int | None, channels: int,
    hop: float | None, smoothing: float, vad: bool, min_confidence: float, hold: float,
    realtime: bool, demo: bool, record: str | None, list_devices: bool,
) -> None:
    """Show the emotion in live speech from a microphone, window by window.

    Stop with Ctrl-C (or --seconds). With --json, each result is one JSON line on stdout.
    """
    from .. import microphone as mic

    if list_devices:
        _list_devices()
        return
    if input_file is not None and device is not None:
        raise fail("give --device or --input, not both")
    if input_file is not None and record is not None:
        raise fail("--record saves microphone audio; it cannot be used with --input")
    # The model is loaded before any input stream opens.
    rec = make_recognizer(model, threads, provider)
    options = _stream_options(hop, smoothing, vad, min_confidence)
    stats = mic.ListenStats()
    results: Iterator[EmotionResult]
    recorder = _Recorder(record) if record else None
    if input_file is not None:
        source = f"file {input_file}"
        results = _file_results(input_file, rec, realtime, options, seconds)
        get_stats: Any = lambda: None  # noqa: E731
    else:
        try:
            results = mic.listen(
                device, recognizer=rec, stream_options=options, sample_rate=sample_rate,
                channels=channels, stats=stats, max_seconds=seconds, tap=recorder,
            )
            source = f"{stats.device_name} @ {stats.device_rate} Hz"
            get_stats = stats.snapshot
        except (mic.NoInputDeviceError, MissingDependencyError) as exc:
            # No way to capture here (no device, no PortAudio, no sounddevice): show the demo.
            if device is not None or not demo:
                raise
            clip = mic.demo_clip_path()
            pace = " in real time" if realtime else ""
            click.echo(
                f"{_first_sentence(exc)}; streaming the demo clip {clip}{pace} instead", err=True
            )
            source = f"demo clip {clip.name}"
            results = mic.stream_file(
                clip, rec, realtime=realtime, stream_options=options, max_seconds=seconds
            )
            get_stats = lambda: None  # noqa: E731
    n, started = _show(results, rec.labels, source, as_json, get_stats, recorder, hold)
    _summary(n, time.monotonic() - started, get_stats())


def _file_results(
    input_file: str, rec: Any, realtime: bool, options: dict[str, Any], seconds: float | None
) -> Iterator[EmotionResult]:
    """The stream of ``--input FILE``; a file that cannot be used (missing, unreadable, shorter
    than the model's minimum) is reported as ``classify`` reports it: ``error: PATH: reason``
    on stderr and exit code 1."""
    from .. import microphone as mic

    problem = file_problem(Path(input_file))
    if problem is None:
        try:
            return mic.stream_file(
                input_file, rec, realtime=realtime, stream_options=options, max_seconds=seconds
            )
        except AudioError as exc:
            problem = cli_text(exc, verbose=is_verbose())
    click.echo(f"error: {input_file}: {problem}", err=True)
    raise click.exceptions.Exit(EXIT_SOME_FAILED)


def _first_sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text.split(". ")[0].split(": PortAudio lists")[0].rstrip(".")


def _show(
    results: Iterator[EmotionResult], labels: Any, source: str, as_json: bool,
    get_stats: Any, recorder: _Recorder | None, hold: float = 2.0,
) -> tuple[int, float]:
    started = time.monotonic()
    n = 0
    stdout = sys.stdout
    with ExitStack() as stack:
        if recorder is not None:
            stack.callback(recorder.close)
        stack.callback(getattr(results, "close", lambda: None))
        view = None
        if not as_json and stdout.isatty():
            from ._live_view import LiveView

            view = stack.enter_context(LiveView(source, labels, get_stats, hold_s=hold))
        else:
            click.echo(f"listening: {source}", err=True)
        try:
            for res in results:
                n += 1
                if as_json:
                    stdout.write(json.dumps(res.to_dict()) + "\n")
                    stdout.flush()
                elif view is not None:
                    view.update(res)
                else:
                    stdout.write(_plain_line(res) + "\n")
                    stdout.flush()
        except KeyboardInterrupt:
            pass
    return n, started


def _summary(n: int, elapsed: float, snap: ListenSnapshot | None) -> None:
    line = f"{n} result(s) in {elapsed:.1f} s"
    if snap is not None:
        line += (
            f"; captured {snap.seconds_captured:.1f} s from {snap.device_name!r} at "
            f"{snap.device_rate} Hz, {snap.channels} ch, {snap.overflows} overflow(s)"
        )
    click.echo(line, err=True)
    sys.stderr.flush()
