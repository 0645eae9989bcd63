"""``edgeemo classify FILE|DIR...``: one emotion per audio file, as text, JSON lines or CSV.

Folders are searched recursively for the audio formats the installed libsndfile reads
(wav, flac, ogg/opus, mp3, aiff...). A file that fails prints one ``error:`` line on stderr and
the command goes on; the exit code is 1 at the end when any file failed, 2 when the model itself
cannot be used.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from ..errors import EdgeEmoError
from ._common import (
    EXIT_SOME_FAILED,
    cli_text,
    file_problem,
    is_verbose,
    make_recognizer,
    model_option,
    one_line,
    runtime_options,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..results import EmotionResult

#: libsndfile major format -> file extensions it reads.
_FORMAT_EXTENSIONS = {
    "WAV": ("wav",),
    "WAVEX": ("wav",),
    "W64": ("w64",),
    "FLAC": ("flac",),
    "OGG": ("ogg", "oga", "opus"),
    "MP3": ("mp3",),
    "AIFF": ("aiff", "aif"),
    "AU": ("au", "snd"),
    "CAF": ("caf",),
}


def audio_extensions() -> frozenset[str]:
    """Lower-case extensions (no dot) of the audio formats soundfile can read here."""
    try:
        import soundfile as sf

        formats = set(sf.available_formats())
    except Exception:  # noqa: BLE001 - libsndfile missing: fall back to the common ones
        formats = {"WAV", "FLAC", "OGG"}
    return frozenset(ext for fmt in formats for ext in _FORMAT_EXTENSIONS.get(fmt, ()))


def collect_inputs(paths: Iterable[str], extensions: frozenset[str]) -> Iterator[tuple[Path, str | None]]:
    """Yield ``(path, problem)``: files as given, folders expanded recursively (sorted).

    ``problem`` is ``None`` for a file to classify, else a one-line reason it cannot be.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and p.suffix.lower().lstrip(".") in extensions
            )
            if not found:
                yield path, f"no audio files ({', '.join(sorted(extensions))}) in this folder"
            for p in found:
                yield p, None
        else:
            yield path, file_problem(path)


class _Writer:
    """Writes results in one of the output formats."""

    def __init__(self, fmt: str, out: IO[str], labels: list[str], heads: list[str]) -> None:
        self.fmt, self.out, self.labels = fmt, out, labels
        self.has_va = "valence_arousal" in heads
        self._csv: Any = None
        if fmt == "csv":
            cols = ["path", "label", "confidence", "start_s", "end_s", "speech_prob"]
            cols += [f"score_{lab}" for lab in labels]
            if self.has_va:
                cols += ["valence", "arousal"]
            self._csv = csv.writer(out, lineterminator="\n")
            self._csv.writerow(cols)

    def write(self, path: Path, res: EmotionResult) -> None:
        if self.fmt == "jsonl":
            self.out.write(json.dumps({"path": str(path), **res.to_dict()}) + "\n")
        elif self.fmt == "csv":
            row: list[Any] = [
                str(path), res.label, f"{res.confidence:.6f}", f"{res.start_s:.3f}",
                f"{res.end_s:.3f}", f"{res.speech_prob:.3f}",
            ]
            row += [f"{res.scores.get(lab, 0.0):.6f}" for lab in self.labels]
            if self.has_va:
                row += [_fmt_opt(res.valence), _fmt_opt(res.arousal)]
            self._csv.writerow(row)
        elif not res.is_speech:
            self.out.write(f"{path}\t{res.label}\t-\tno speech ({res.speech_prob * 100:.0f} % speech frames)\n")
        else:
            line = f"{path}\t{res.label}\t{res.confidence:.3f}"
            if res.valence is not None and res.arousal is not None:
                line += f"\tvalence={res.valence:+.2f}\tarousal={res.arousal:+.2f}"
            self.out.write(line + "\n")
        self.out.flush()


def _fmt_opt(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


@click.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|DIR...")
@model_option
@runtime_options
@click.option(
    "--format", "-f", "fmt", type=click.Choice(["text", "jsonl", "csv"]), default="text",
    show_default=True, help="Output format.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
    help="Write the results to this file instead of standard output.",
)
@click.option(
    "--min-confidence", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True,
    help="Label speech whose top (calibrated) probability is below this 'uncertain' (0 = off).",
)
def classify(
    inputs: tuple[str, ...], model: str | None, threads: int, provider: str, fmt: str,
    output: str | None, min_confidence: float,
) -> None:
    """Classify audio files, or every audio file under folders (recursively).

    A file that is not speech gets the label `no_speech` (confidence 0); speech below
    --min-confidence gets `uncertain`.
    """
    rec = make_recognizer(model, threads, provider)  # model errors: exit 2
    extensions = audio_extensions()
    failed = done = 0
    out: IO[str]
    if output:
        out = open(output, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed below
    else:
        out = sys.stdout
    try:
        writer = _Writer(fmt, out, list(rec.labels), list(rec.heads))
        for path, problem in collect_inputs(inputs, extensions):
            if problem is None:
                try:
                    res = rec.classify_file(path, min_confidence=min_confidence)
                except EdgeEmoError as exc:
                    problem = cli_text(exc, verbose=is_verbose())
                except (OSError, RuntimeError, ValueError) as exc:  # defensive: never stop the batch
                    problem = f"{type(exc).__name__}: {one_line(exc)}"
                else:
                    writer.write(path, res)
                    done += 1
                    continue
            failed += 1
            click.echo(f"error: {path}: {problem}", err=True)
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"{done} file(s) classified -> {os.fspath(output)}", err=True)
    if failed:
        click.echo(f"{failed} input(s) failed, {done} classified", err=True)
        click.get_current_context().exit(EXIT_SOME_FAILED)
