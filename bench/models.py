"""One row per bundled model, measured in one run: docs/models.md.

    python bench/models.py

For every installed bundled model (``edgeemo info --models``): file size, learned parameters,
accuracy on the five actor folds (clean and the mean of the eight degraded conditions, read from the
recipe results the model card cites), per-window latency on one CPU thread in Python
(``Recognizer.classify_batch`` on one 3 s window, front end included; median and p95 of 200 after
a warm-up) and in C++ (``test_perf`` of the C API build, when ``make cpp`` has built it), and the
peak RSS of ``edgeemo classify --model NAME`` on one clip (``/usr/bin/time``) and of the C++
``edgeemo-classify``. Targets live here and in the issues, not in timed unit tests.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_benchmarks import cpp_numbers, cpu_name  # noqa: E402

from edgeemo.recipes.build_small import SHIPPED_RESULTS, SHIPPED_ROW  # noqa: E402

CLIP = REPO.parent / "shared" / "data" / "ravdess" / "audio" / "Actor_19" / "03-01-08-01-02-02-19.flac"
FIVE_FOLD = {
    # name -> (results file, row, how to read it)
    "small": (REPO / SHIPPED_RESULTS, SHIPPED_ROW),
}
TINY_BUILD = REPO / "docs" / "results" / "tiny_build.json"


def python_window_ms(model: str, n: int = 200) -> tuple[float, float]:
    """Median and p95 ms of ``classify_batch`` on one window, one thread."""
    import edgeemo

    rec = edgeemo.Recognizer(model, num_threads=1)
    rng = np.random.default_rng(0)
    window = (0.05 * rng.standard_normal((1, rec.window_samples))).astype(np.float32)
    for _ in range(10):
        rec.classify_batch(window)
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        rec.classify_batch(window)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times)), float(np.percentile(times, 95))


def classify_peak_rss_mb(model: str, clip: Path) -> float:
    """Peak RSS of the whole ``edgeemo classify --model NAME CLIP`` process (``/usr/bin/time -f %M``)."""
    edgeemo = Path(sys.executable).with_name("edgeemo")
    out = subprocess.run(["/usr/bin/time", "-f", "%M", str(edgeemo), "classify", "--model", model, str(clip)],
                         capture_output=True, text=True, check=True)
    return int(out.stderr.strip().splitlines()[-1]) / 1024.0


def tiny_five_fold() -> dict[str, Any] | None:
    """The tiny model's fold scores, from its build report (float32 ships; INT8 measured beside it)."""
    if not TINY_BUILD.is_file():
        return None
    r = json.loads(TINY_BUILD.read_text())
    f32, i8 = r["summary"]["fp32"], r["summary"]["int8"]
    return {"row": r["row"], "clean": f32["ua"]["clean"], "clean_sd": f32["clean_sd"], "degraded": f32["mean_degraded"],
            "int8_clean": i8["ua"]["clean"], "int8_degraded": i8["mean_degraded"], "conditions": f32["ua"],
            "shipped": "FP32"}


def five_fold(name: str) -> dict[str, Any] | None:
    if name == "tiny":
        return tiny_five_fold()
    if name not in FIVE_FOLD:
        return None
    path, row = FIVE_FOLD[name]
    if not path.is_file():
        return None
    s = json.loads(path.read_text()).get("summary", {}).get(row)
    if not s:
        return None
    i8 = s.get("int8", {})
    return {"row": row, "clean": s["ua"]["clean"], "clean_sd": s["ua_sd"]["clean"], "degraded": s["mean_degraded"],
            "int8_clean": i8.get("ua", {}).get("clean"), "int8_degraded": i8.get("mean_degraded"),
            "conditions": i8.get("ua") or s["ua"]}


def measure() -> dict[str, Any]:
    from edgeemo.cli.info_cmd import bundled_models_info

    rows = []
    for info in bundled_models_info():
        if not info.get("installed"):
            continue
        name, path = info["name"], Path(info["path"])
        p50, p95 = python_window_ms(name)
        rows.append({
            "name": name, "file": path.name, "bytes": path.stat().st_size,
            "learned_parameters": info.get("learned_parameters"), "quantization": info.get("quantization"),
            "default": info.get("default"), "python_p50_ms": p50, "python_p95_ms": p95,
            "classify_peak_rss_mb": classify_peak_rss_mb(name, CLIP), "cpp": cpp_numbers(path, CLIP),
            "five_fold": five_fold(name),
        })
    return {"date": dt.date.today().isoformat(), "cpu": cpu_name(), "models": rows}


def render(r: dict[str, Any]) -> str:
    lines = [
        "# Bundled models, side by side",
        "",
        f"Measured by `python bench/models.py` on {r['date']}, {r['cpu']}, in one run. Latency: one CPU thread, one "
        "3 s window per call, front end included (Python: `Recognizer.classify_batch`; C++: the C API's `test_perf`, "
        "a stream fed one hop at a time). Peak RSS: whole process on one 3 s clip. UA: unweighted accuracy, %, "
        "five actor folds, out-of-fold.",
        "",
        "| model | file | learned parameters | five-fold UA clean | mean of 8 degraded | Python ms/window p50 (p95) | "
        "C++ ms/window p50 | peak RSS `edgeemo classify` | peak RSS C++ `edgeemo-classify` |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in r["models"]:
        ff = m["five_fold"]
        if ff is None:
            clean, degraded = "not measured", "–"
        elif ff.get("shipped") == "FP32":
            clean = f"{ff['clean']:.1f} ± {ff['clean_sd']:.1f} FP32 (INT8 {ff['int8_clean']:.1f})"
            degraded = f"{ff['degraded']:.1f} FP32 (INT8 {ff['int8_degraded']:.1f})"
        else:
            clean = f"{ff['int8_clean']:.1f} INT8 ({ff['clean']:.1f} ± {ff['clean_sd']:.1f} FP32)"
            degraded = f"{ff['int8_degraded']:.1f} INT8 ({ff['degraded']:.1f} FP32)"
        cpp = m["cpp"]
        lines.append(
            f"| {m['name']}{' (default)' if m['default'] else ''} | `{m['file']}` {m['bytes'] / 2**20:.2f} MiB | "
            f"{m['learned_parameters']:,} | {clean} | {degraded} | {m['python_p50_ms']:.2f} ({m['python_p95_ms']:.2f}) | "
            f"{'–' if cpp is None else format(cpp['p50_ms'], '.2f')} | {m['classify_peak_rss_mb']:.0f} MB | "
            f"{'–' if cpp is None else format(cpp['peak_rss_mb'], '.0f') + ' MB'} |"
        )
    lines += ["", "Per degraded condition (five folds; the shipped precision):", ""]
    for m in r["models"]:
        ff = m["five_fold"]
        if ff is not None:
            lines.append(f"- {m['name']}: " + ", ".join(f"{c} {v:.1f}" for c, v in ff["conditions"].items()))
    return "\n".join(lines) + "\n"


def main() -> int:
    r = measure()
    (REPO / "docs" / "models.json").write_text(json.dumps(r, indent=2) + "\n")
    (REPO / "docs" / "models.md").write_text(render(r))
    print(render(r))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
