"""What a stream costs per second of audio, and what the stream graph saves: docs/streaming.md.

    python bench/streaming.py                       # every bundled model
    python bench/streaming.py --model PATH.onnx     # one model file (its stream graph beside it, if any)

For each model, on one CPU thread, the same 60 s of real speech (RAVDESS clips back to back,
16 kHz) goes through, in one process and one run:

* ``classify_batch`` of every stream window (3 s, hop 0.5 s): the window model alone;
* a :class:`~edgeemo.Stream` fed 0.1 s chunks with ``incremental=False`` (a whole window per hop);
* the same stream with ``incremental=True`` when the model has a stream graph.

Each is timed as process CPU time (``time.process_time``: everything the stream does, the
speech detector and the front end included) divided by the seconds of audio, repeated ``--repeats``
times (the median is reported), and the stream's scores are compared with ``classify_batch``'s.
The real-time factor is that CPU time over the audio's duration. Targets live here and in the
issues, not in unit tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_benchmarks import cpu_name  # noqa: E402

AUDIO_SECONDS = 60.0
CHUNK_S = 0.1


def speech(seconds: float = AUDIO_SECONDS) -> np.ndarray:
    """``seconds`` of RAVDESS speech (actors 19-20), clips back to back, 16 kHz float32."""
    from edgeemo.train.data import find_data_root, load_ravdess, read_audio

    utts = [u for u in load_ravdess(find_data_root(None)) if u.speaker in ("ravdess_19", "ravdess_20")]
    out, n = [], 0
    for u in utts:
        w = read_audio(u.path).astype(np.float32)
        out.append(w)
        n += len(w)
        if n >= seconds * 16000:
            break
    return np.concatenate(out)[: int(seconds * 16000)]


def _cpu(fn: Any, repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.process_time()
        result = fn()
        times.append(time.process_time() - t0)
    return float(np.median(times)), result


def measure(model: str, audio: np.ndarray, repeats: int = 3) -> dict[str, Any]:
    """The three timings and the parities for one model (see the module docstring)."""
    import edgeemo

    rec = edgeemo.Recognizer(model, num_threads=1)
    w, hop = rec.window_samples, rec.hop_samples
    seconds = len(audio) / rec.sample_rate
    starts = range(0, len(audio) - w + 1, hop)
    windows = np.stack([audio[s : s + w] for s in starts])
    rec.classify_batch(windows[:4])  # warm-up

    def batch() -> np.ndarray:
        return np.concatenate([rec.classify_batch(windows[i : i + 2]).probs for i in range(0, len(windows), 2)])

    def stream(incremental: bool) -> np.ndarray:
        s = rec.create_stream(incremental=incremental, vad=True)
        step = int(CHUNK_S * rec.sample_rate)
        out = []
        for i in range(0, len(audio), step):
            s.accept(audio[i : i + step])
            out += [list(r.scores.values()) for r in s.results()]
        return np.array(out, np.float32)

    row: dict[str, Any] = {"model": Path(rec.info.path).name, "windows": len(windows), "audio_s": seconds,
                           "stream_graph": rec.stream_graph() is not None}
    cpu, ref = _cpu(batch, repeats)
    row["classify_batch_ms_per_s"] = 1000 * cpu / seconds
    cpu, whole = _cpu(lambda: stream(False), repeats)
    row["stream_windows_ms_per_s"] = 1000 * cpu / seconds
    row["stream_windows_max_abs"] = float(np.abs(whole[: len(ref)] - ref).max())
    if row["stream_graph"]:
        from edgeemo.incremental import StreamState

        graph = rec.stream_graph()

        def steps() -> None:
            state = StreamState()
            for i, s in enumerate(starts):
                graph.step(state, windows[i], s)

        cpu, _ = _cpu(steps, repeats)
        row["stream_graph_ms_per_s"] = 1000 * cpu / seconds
        cpu, inc = _cpu(lambda: stream(True), repeats)
        row["stream_incremental_ms_per_s"] = 1000 * cpu / seconds
        row["stream_incremental_max_abs"] = float(np.abs(inc[: len(ref)] - ref).max())
    return row


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "# What a stream costs",
        "",
        f"Written by `python bench/streaming.py` on {meta['date']} ({meta['cpu']}, one thread). "
        f"{AUDIO_SECONDS:.0f} s of real speech, hop 0.5 s, 0.1 s chunks; process CPU milliseconds per second of "
        f"audio (median of {meta['repeats']}); the real-time factor is that over 1000. `max |Δ|`: the stream's "
        "scores against `classify_batch` of the same windows.",
        "",
        "| model | stream graph | classify_batch | the stream graph alone | stream, whole windows | stream, incremental | "
        "RTF (stream) | max \\|Δ\\| whole / incremental |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        inc = r.get("stream_incremental_ms_per_s")
        best = inc if inc is not None else r["stream_windows_ms_per_s"]
        lines.append(
            f"| {r['model']} | {'yes' if r['stream_graph'] else 'no'} | {r['classify_batch_ms_per_s']:.2f} | "
            f"{'–' if 'stream_graph_ms_per_s' not in r else format(r['stream_graph_ms_per_s'], '.2f')} | "
            f"{r['stream_windows_ms_per_s']:.2f} | {'–' if inc is None else f'{inc:.2f}'} | {best / 1000:.4f} | "
            f"{r['stream_windows_max_abs']:.1e} / "
            f"{'–' if inc is None else format(r['stream_incremental_max_abs'], '.1e')} |"
        )
    lines += ["", "The stream numbers include the speech detector, the resampler's bookkeeping and the results; "
              "`classify_batch` is the window model alone on the same windows; \"the stream graph alone\" is its "
              "step per hop over the same windows (`StreamGraph.step`), the model's share of an incremental stream."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name or path (repeatable); default: every bundled model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(REPO / "docs" / "streaming.md"))
    args = parser.parse_args(argv)
    from edgeemo.fileio import atomic_write_text
    from edgeemo.registry import BUNDLED_MODELS

    models = args.model or [name for name, m in BUNDLED_MODELS.items() if m.path.is_file()]
    audio = speech()
    rows = []
    for m in models:
        rows.append(measure(m, audio, args.repeats))
        print(json.dumps(rows[-1]))
    meta = {"date": dt.date.today().isoformat(), "cpu": cpu_name(), "repeats": args.repeats}
    out = Path(args.out)
    atomic_write_text(out, render(rows, meta))
    atomic_write_text(out.with_suffix(".json"), json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
