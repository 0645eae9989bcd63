"""Classify every audio file under a folder and write one CSV row per file.

    python examples/classify_folder_to_csv.py recordings/ --output emotions.csv
    python examples/classify_folder_to_csv.py recordings/ --model my_model.onnx --threads 2

Columns: path, label, confidence, duration_s, one score column per label, and valence/arousal when
the model has that head. Files that cannot be read are reported on stderr and skipped; the exit
code is 1 when any file failed. (``edgeemo classify DIR --format csv`` does the same from the
command line; this shows the few lines of Python behind it.)
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import edgeemo

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif"}


def audio_files(folder: Path) -> list[Path]:
    """Every audio file under ``folder``, sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path, help="folder searched recursively for audio files")
    parser.add_argument("--output", "-o", type=Path, default=None, help="CSV file (default: standard output)")
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled model)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads")
    args = parser.parse_args(argv)

    if not args.folder.is_dir():
        print(f"error: {args.folder} is not a folder", file=sys.stderr)
        return 2
    try:
        rec = edgeemo.Recognizer(args.model, num_threads=args.threads)
    except edgeemo.EdgeEmoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    has_va = "valence_arousal" in rec.heads
    header = ["path", "label", "confidence", "duration_s", *rec.labels]
    if has_va:
        header += ["valence", "arousal"]
    out = open(args.output, "w", newline="") if args.output else sys.stdout
    failed = 0
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for path in audio_files(args.folder):
            try:
                res = rec.classify_file(path)
            except edgeemo.EdgeEmoError as exc:  # bad file: report and go on
                print(f"error: {path}: {exc}", file=sys.stderr)
                failed += 1
                continue
            row = [str(path.relative_to(args.folder)), res.label, f"{res.confidence:.4f}", f"{res.end_s:.2f}"]
            row += [f"{res.scores[label]:.4f}" for label in rec.labels]
            if has_va:
                row += [f"{res.valence:.4f}", f"{res.arousal:.4f}"]
            writer.writerow(row)
    finally:
        if args.output:
            out.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
