"""Measure a model's latency on this machine for several thread counts, with ONNX Runtime's profiler.

    python examples/profile_latency.py
    python examples/profile_latency.py --model my_model.onnx --threads 1 2 4 --windows 300

For each thread count: session creation, first run, per-window p50/p95/p99 of the in-graph front
end, the model and the Python post-processing, and the streaming real-time factor
(``edgeemo profile`` prints the same for one configuration; see edgeemo.profiling).
"""

from __future__ import annotations

import argparse
import json
import sys

import edgeemo
from edgeemo.profiling import profile_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="ONNX model (default: the bundled model)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="thread counts to compare")
    parser.add_argument("--windows", type=int, default=200, help="windows timed per configuration")
    parser.add_argument("--provider", default="cpu", choices=["cpu", "auto", "cuda", "tensorrt"])
    parser.add_argument("--json", action="store_true", help="print one JSON object per configuration")
    args = parser.parse_args(argv)

    rows = []
    for threads in args.threads:
        try:
            report = profile_model(args.model, windows=args.windows, num_threads=threads, provider=args.provider)
        except edgeemo.EdgeEmoError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(report.to_dict()), flush=True)
        rows.append(report)

    if not args.json:
        r0 = rows[0]
        print(f"{r0.model_name} ({r0.quantization}), window {r0.window_s:g} s, hop {r0.hop_s:g} s, {r0.provider}")
        print(f"{'threads':>7} {'create ms':>9} {'first ms':>8} {'front p50':>9} {'model p50':>9} "
              f"{'post p50':>8} {'total p95':>9} {'total p99':>9} {'RTF':>7} {'RSS MiB':>8}")
        for r in rows:
            print(f"{r.num_threads:>7} {r.session_create_ms:9.1f} {r.first_run_ms:8.2f} {r.frontend.p50:9.3f} "
                  f"{r.model_stage.p50:9.3f} {r.postprocess.p50:8.3f} {r.total.p95:9.3f} {r.total.p99:9.3f} "
                  f"{r.rtf:7.4f} {r.peak_rss_mb:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
