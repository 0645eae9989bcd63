"""Run N one-window calls of a bundled model, for whole-process latency.

The README's per-window figure is the difference between the wall time of
``python bench/window_latency.py 200`` and ``python bench/window_latency.py 0``,
divided by 200 (medians of 5 runs each, e.g. with ``/usr/bin/time``): start-up, model loading
and one warm-up call cancel out.

    python bench/window_latency.py N [--model tiny|small] [--threads 1]
"""

from __future__ import annotations

import argparse

import numpy as np


def _count(text: str) -> int:
    """A whole number >= 0 for argparse."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def main() -> None:
    import edgeemo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("windows", type=_count, help="timed calls after one warm-up call (0: load and warm up only)")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--threads", type=_count, default=1)
    args = parser.parse_args()
    try:
        rec = edgeemo.Recognizer(args.model, num_threads=args.threads)
    except edgeemo.EdgeEmoError as exc:  # a bad model name or file: say so, no traceback
        parser.exit(2, f"window_latency.py: {exc}\n")
    samples, _rate = edgeemo.load_audio(edgeemo.demo_clip_path())  # 16 kHz mono
    window = np.ascontiguousarray(np.resize(np.asarray(samples, np.float32), 48000)[None])  # one 3 s window at 16 kHz
    rec.classify_batch(window)
    for _ in range(args.windows):
        rec.classify_batch(window)


if __name__ == "__main__":
    main()
