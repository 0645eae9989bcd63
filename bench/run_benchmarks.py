"""Benchmarks of the bundled model, written to docs/benchmarks.md (numbers measured in one run).

    python bench/run_benchmarks.py [--fp32 runs/default/export/edgeemo-student-ravdess.onnx]

Accuracy (UA / WA / macro-F1) on the test actors 19-20 for FP32 and INT8, parameters and file
sizes, per-window latency on one thread by stage (ONNX Runtime's profiler) with the ratio to
openSMILE eGeMAPS extraction of the same windows in the same run, and the peak memory of
``edgeemo listen`` streaming a clip. Targets live here, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from five_fold import five_fold_section  # noqa: E402
DEFAULT_FP32 = REPO / "runs" / "default" / "export" / "edgeemo-student-ravdess.onnx"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def egemaps_window_ms(windows: np.ndarray, sample_rate: int) -> list[float]:
    """Wall time of openSMILE eGeMAPS functionals per window, in ms."""
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=opensmile.FeatureLevel.Functionals)
    smile.process_signal(windows[0], sample_rate)  # warm-up
    out = []
    for w in windows:
        t0 = time.perf_counter()
        smile.process_signal(w, sample_rate)
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def plain_window_ms(model: Path, windows: np.ndarray) -> list[float]:
    """Wall time of ``Recognizer.classify_batch`` on one window at a time, one thread, no profiler."""
    import edgeemo

    rec = edgeemo.Recognizer(model, num_threads=1)
    for w in windows[:5]:
        rec.classify_batch(w[None])
    out = []
    for w in windows:
        t0 = time.perf_counter()
        rec.classify_batch(w[None])
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def listen_peak_rss_mb(model: Path, clip: Path) -> float:
    """Peak RSS of ``edgeemo listen --input CLIP`` (real-time streaming of a file), in MB."""
    import psutil

    # Polled, because a forked child's ru_maxrss starts from this (large) parent's RSS.
    edgeemo = Path(sys.executable).with_name("edgeemo")
    proc = subprocess.Popen([str(edgeemo), "listen", "--model", str(model), "--input", str(clip), "--json"],
                            stdout=subprocess.DEVNULL)
    child, peak = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            peak = max(peak, child.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.01)
    if proc.returncode != 0:
        raise RuntimeError(f"edgeemo listen exited with {proc.returncode}")
    return peak / 1e6


CPP_BUILD = REPO / "cpp_bindings" / "build"


def cpp_numbers(model: Path, clip: Path) -> dict[str, float] | None:
    """C++ per-window latency (``test_perf``: stream fed hop by hop, 1 thread) and the peak RSS of
    ``edgeemo-classify`` on ``clip``; None when the C++ build (``make cpp``) is absent."""
    perf, classify = CPP_BUILD / "tests" / "test_perf", CPP_BUILD / "edgeemo-classify"
    if not (perf.is_file() and classify.is_file() and Path("/usr/bin/time").is_file()):
        return None
    out = subprocess.run([str(perf), str(model), "1000"], capture_output=True, text=True, check=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("PERF "))
    values = dict(kv.split("=") for kv in line.split()[1:])
    timed = subprocess.run(["/usr/bin/time", "-f", "%M", str(classify), "--model", str(model), str(clip)],
                           capture_output=True, text=True, check=True)
    return {"p50_ms": float(values["p50_ms"]), "p95_ms": float(values["p95_ms"]),
            "peak_rss_mb": int(timed.stderr.strip().splitlines()[-1]) / 1024.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--int8", default=None, help='INT8 model (default: the bundled "tiny" model)')
    parser.add_argument("--fp32", default=str(DEFAULT_FP32), help="FP32 model to compare (skipped if missing)")
    parser.add_argument("--windows", type=int, default=200)
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"))
    parser.add_argument("--data", default=None)
    args = parser.parse_args(argv)

    import edgeemo
    from edgeemo.profiling import plot_latency, profile_model
    from edgeemo.train.data import load_ravdess, load_waves, select
    from edgeemo.train.evaluate import evaluate_model
    from edgeemo.train.windows import clip_windows

    int8 = Path(args.int8) if args.int8 else edgeemo.registry.bundled_model_path("tiny")
    models = {"INT8": int8}
    if Path(args.fp32).is_file():
        models = {"FP32": Path(args.fp32), "INT8": int8}
    utts = load_ravdess(args.data)
    test = select(utts, splits=["test"])
    rows, prof = {}, {}
    waves = load_waves(test)
    windows = np.concatenate([clip_windows(w, 48000, 8000) for w in waves])
    rng = np.random.default_rng(0)
    timed = windows[rng.permutation(len(windows))[: args.windows]]
    for name, path in models.items():
        ev = evaluate_model(path, splits=["test"], utterances=utts,
                            plot=REPO / "docs" / "img" / f"confusion_test_{name.lower()}.png")
        rep = profile_model(path, windows=args.windows, num_threads=1, audio=timed.reshape(-1))
        meta = edgeemo.Recognizer(path).info.metadata
        rows[name] = {"scores": ev.scores.to_dict(), "bytes": path.stat().st_size,
                      "learned_parameters": int(meta.get("learned_parameters", 0)),
                      "frontend_constants": int(meta.get("frontend_constants", 0))}
        prof[name] = rep
        plain = plain_window_ms(path, timed)
        rows[name]["plain_ms"] = {"p50": float(np.median(plain)), "p95": float(np.percentile(plain, 95))}
        plot_latency(rep, REPO / "docs" / "img" / f"latency_{name.lower()}.png")
    smile_ms = egemaps_window_ms(timed[: min(60, len(timed))], 16000)
    rss = listen_peak_rss_mb(int8, test[0].path)
    cpp = cpp_numbers(int8, test[0].path)
    report = {"date": dt.date.today().isoformat(), "cpu": cpu_name(), "cores": os.cpu_count(),
              "models": rows, "latency": {k: v.to_dict() for k, v in prof.items()},
              "egemaps_ms": {"p50": float(np.median(smile_ms)), "p95": float(np.percentile(smile_ms, 95))},
              "listen_peak_rss_mb": rss, "cpp": cpp}
    (REPO / "docs" / "benchmarks.json").write_text(json.dumps(report, indent=2))
    Path(args.out).write_text(render(report))
    print(Path(args.out).read_text())
    return 0


def render(r: dict) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {r['date']} on {r['cpu']} ({r['cores']} cores visible), one ONNX Runtime thread, by",
        "`python bench/run_benchmarks.py` (`make bench`). Test set: RAVDESS actors 19-20 (120 clips),",
        "never used for any choice. UA = macro recall, WA = accuracy, F1 = macro F1. Raw numbers:",
        "`docs/benchmarks.json`.",
        "",
        "This page measures the **former** tiny model (`edgeemo-student-ravdess-int8.onnx`, trained on actors "
        "01-16; `make model-student-legacy` builds it) and its FP32 export on its test actors. The bundled models "
        "are trained on all 20 actors, so they have no held-out actors here: their five actor folds' out-of-fold "
        "numbers are at the end of this page. Streaming cost: [streaming.md](streaming.md). Both bundled models "
        "side by side (five-fold accuracy, latency in Python and C++, memory): [models.md](models.md) "
        "(`make bench-models`).",
        "",
        "## Accuracy and size",
        "| model | test UA | test WA | test F1 | learned parameters | fixed front-end constants | ONNX file |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in r["models"].items():
        s = m["scores"]
        lines.append(f"| {name} | {100 * s['ua']:.1f} | {100 * s['wa']:.1f} | {100 * s['f1']:.1f} | "
                     f"{m['learned_parameters']:,} | {m['frontend_constants']:,} (float16) | {m['bytes'] / 1024:.0f} KiB |")
    smile = r["egemaps_ms"]
    lines += [
        "",
        "## Latency per 3 s window (batch 1, one thread)",
        "Front end and model are the summed kernel times of the graph's `frontend/` nodes and of the",
        "rest (ONNX Runtime profiler); run = wall time of `session.run` in that profiled session (the",
        "profiler adds overhead); total = run + post-processing. Unprofiled times are below.",
        "",
        "| model | front end p50 | model p50 | run p50 / p95 | total p50 / p95 / p99 | RTF (per hop) | session create | first run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, p in r["latency"].items():
        st = p["stages"]
        lines.append(
            f"| {name} | {st['frontend']['p50']:.2f} ms | {st['model']['p50']:.2f} ms | {st['run']['p50']:.2f} / {st['run']['p95']:.2f} ms | "
            f"{st['total']['p50']:.2f} / {st['total']['p95']:.2f} / {st['total']['p99']:.2f} ms | {p['rtf']:.4f} | "
            f"{p['session_create_ms']:.0f} ms | {p['first_run_ms']:.1f} ms |"
        )
    int8_plain = r["models"]["INT8"]["plain_ms"]["p50"]
    lines += [
        "",
        f"openSMILE eGeMAPSv02 functionals of the same 3 s windows, same run: p50 {smile['p50']:.1f} ms, "
        f"p95 {smile['p95']:.1f} ms, so the INT8 model (front end included; "
        f"`Recognizer.classify_batch`, no profiler: p50 {int8_plain:.2f} ms) is "
        f"**{smile['p50'] / int8_plain:.1f}x faster** (p50 / p50) than eGeMAPS extraction alone.",
        "",
        "| model | `classify_batch` per window, no profiler: p50 / p95 |",
        "|---|---|",
        *[f"| {n} | {m['plain_ms']['p50']:.2f} / {m['plain_ms']['p95']:.2f} ms |" for n, m in r["models"].items()],
        "",
        f"Peak resident memory of `edgeemo listen --input CLIP --json` (whole Python process): "
        f"{r['listen_peak_rss_mb']:.0f} MB.",
        "",
        "Plots: `docs/img/latency_int8.png`, `docs/img/confusion_test_int8.png`.",
        "",
    ]
    cpp, plain = r.get("cpp"), r["models"]["INT8"]["plain_ms"]
    if cpp:
        lines += [
            "## C++ (C API) vs Python SDK, INT8, one thread, same run",
            "| runtime | per-window p50 | p95 | peak RSS |",
            "|---|---|---|---|",
            f"| Python SDK (`Recognizer.classify_batch`, one window) | {plain['p50']:.2f} ms | {plain['p95']:.2f} ms | "
            f"{r['listen_peak_rss_mb']:.0f} MB (`edgeemo listen --input`) |",
            f"| C++ (`test_perf`: stream fed hop by hop) | {cpp['p50_ms']:.2f} ms | {cpp['p95_ms']:.2f} ms | "
            f"{cpp['peak_rss_mb']:.0f} MB (`edgeemo-classify`, one clip) |",
            "",
            "Both run the same INT8 file on one thread; the C++ library also disables ONNX Runtime's CPU",
            "memory arena. Python's RSS includes the interpreter and numpy. See docs/cpp.md for where the",
            "C++ memory goes (ONNX Runtime itself is above 20 MB before a model is loaded).",
            "",
        ]
    lines += ["", *five_fold_section()]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
