"""Embed edgeemo in an application: a "mood lamp" whose colour follows the speaker's emotion.

The application owns its audio (here: a file cut into 20 ms chunks, as an audio callback would
deliver them; ``--mic`` uses the microphone) and feeds a :class:`edgeemo.Stream`. The stream's
results drive the app through callbacks; the lamp changes colour only on a *confident* change
(``--min-confidence``) that persists for ``--hold`` consecutive speech results, and dims when
nobody speaks.

    python examples/embed_in_app.py speech.wav
    python examples/embed_in_app.py --model my_model.onnx --min-confidence 0.5 a.wav b.flac
    python examples/embed_in_app.py --mic --seconds 20
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

import edgeemo

#: The lamp's colour per emotion (RGB hex).
COLOURS = {
    "neutral": "#f5f5f5",
    "calm": "#4fc3f7",
    "happy": "#ffd54f",
    "sad": "#3f51b5",
    "angry": "#e53935",
    "fear": "#8e24aa",
    "disgust": "#43a047",
    "surprise": "#ff9800",
}
OFF = "#202020"


@dataclass
class LampChange:
    """One colour change of the lamp (what the app would send to the hardware)."""

    at_s: float
    mood: str
    colour: str
    confidence: float


@dataclass
class MoodLamp:
    """The application: its own state and logic, driven by emotion results.

    ``on_change`` is called with each :class:`LampChange`; the app never polls the model.
    """

    min_confidence: float = 0.4
    hold: int = 2
    on_change: Callable[[LampChange], None] | None = None
    mood: str | None = None
    colour: str = OFF
    changes: list[LampChange] = field(default_factory=list)
    _candidate: str | None = None
    _streak: int = 0

    def on_result(self, res: edgeemo.EmotionResult) -> None:
        """Callback for every stream result."""
        if not res.is_speech:
            self._candidate, self._streak = None, 0
            if self.colour != OFF:
                self._set(res.end_s, None, OFF, 0.0)
            return
        if res.confidence < self.min_confidence:
            return
        if res.label == self._candidate:
            self._streak += 1
        else:
            self._candidate, self._streak = res.label, 1
        if self._streak >= self.hold and (res.label != self.mood or self.colour == OFF):
            self._set(res.end_s, res.label, COLOURS.get(res.label, "#ffffff"), res.confidence)

    def _set(self, at_s: float, mood: str | None, colour: str, confidence: float) -> None:
        self.mood, self.colour = mood, colour
        change = LampChange(round(at_s, 3), mood or "off", colour, round(confidence, 3))
        self.changes.append(change)
        if self.on_change is not None:
            self.on_change(change)


class EmotionEngine:
    """Glue between the app's audio and edgeemo: feed chunks, results go to a callback."""

    def __init__(
        self,
        recognizer: edgeemo.Recognizer,
        on_result: Callable[[edgeemo.EmotionResult], None],
        smoothing: float = 0.5,
    ) -> None:
        self.stream = recognizer.create_stream(smoothing=smoothing)
        self.on_result = on_result

    def feed(self, chunk: np.ndarray, sample_rate: int) -> None:
        """Call from the app's audio loop with each chunk (any length)."""
        self.stream.accept(chunk, sample_rate)
        for res in self.stream.results():
            self.on_result(res)

    def end(self) -> None:
        """End of input: emit the last (partial) window."""
        for res in self.stream.flush():
            self.on_result(res)


def chunks_of(wave: np.ndarray, sample_rate: int, chunk_s: float) -> Iterable[np.ndarray]:
    """The file cut as an audio callback would deliver it."""
    step = max(1, int(sample_rate * chunk_s))
    for i in range(0, len(wave), step):
        yield wave[i : i + step]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="speech files to play to the lamp")
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled model)")
    parser.add_argument("--min-confidence", type=float, default=0.4, help="confidence needed to change colour")
    parser.add_argument("--hold", type=int, default=2, help="consecutive confident results needed")
    parser.add_argument("--smoothing", type=float, default=0.5, help="score smoothing in [0, 1)")
    parser.add_argument("--chunk-ms", type=float, default=20.0, help="audio chunk length")
    parser.add_argument("--mic", action="store_true", help="listen to the microphone instead")
    parser.add_argument("--seconds", type=float, default=10.0, help="with --mic: how long")
    parser.add_argument("--json", action="store_true", help="print lamp changes as JSON lines")
    args = parser.parse_args(argv)
    if not args.files and not args.mic:
        parser.error("give speech files or --mic")

    def show(change: LampChange) -> None:
        if args.json:
            print(json.dumps(change.__dict__), flush=True)
        else:
            line = f"{change.at_s:7.2f} s  lamp -> {change.colour}  ({change.mood}, {change.confidence:.2f})"
            print(line, flush=True)

    try:
        rec = edgeemo.Recognizer(args.model)
        lamp = MoodLamp(args.min_confidence, args.hold, on_change=show)
        if args.mic:
            options = {"smoothing": args.smoothing}
            for res in edgeemo.listen(recognizer=rec, stream_options=options, max_seconds=args.seconds):
                lamp.on_result(res)
        for path in args.files:
            engine = EmotionEngine(rec, lamp.on_result, smoothing=args.smoothing)
            wave, sr = edgeemo.load_audio(path)
            for chunk in chunks_of(wave, sr, args.chunk_ms / 1000.0):
                engine.feed(chunk, sr)
            engine.end()
    except edgeemo.EdgeEmoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        print(f"{len(lamp.changes)} colour change(s); final mood: {lamp.mood or 'off'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
