"""The bundled small model's five-fold numbers, for the pages that measure on actors 19-20.

The small model is trained on all 20 actors, so actors 19-20 are not unseen for it: the benchmark
and robustness pages show its recipe's out-of-fold numbers instead (each fold's model scored on the
4 actors it never saw), read from the shipped row's results (``edgeemo.recipes.build_small.SHIPPED_RESULTS``).
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def five_fold_section() -> list[str]:
    """Markdown lines: the shipped row's INT8 and FP32 UA, clean and per degraded condition, paired
    INT8 − FP32 and the speaker interval; nothing when the results are absent."""
    from edgeemo.recipes.build_small import SHIPPED_RESULTS, SHIPPED_ROW

    results = REPO / SHIPPED_RESULTS
    summary = json.loads(results.read_text()).get("summary", {}).get(SHIPPED_ROW) if results.is_file() else None
    if not summary or "int8" not in summary:
        return []
    conds = list(summary["ua"])
    short = {c: c.replace("floor_", "floor ").replace("_", " ") for c in conds}
    head = ["model (five actor folds, out-of-fold)", *[short[c] for c in conds], "mean degraded"]
    i8 = summary["int8"]
    rows = [(f"small ({SHIPPED_ROW}), INT8 (shipped)", i8["ua"], i8["mean_degraded"]),
            (f"small ({SHIPPED_ROW}), FP32", summary["ua"], summary["mean_degraded"])]
    ci, d = summary["interval_clean"], i8["delta_vs_fp32"]
    lines = [
        "## The small model: five actor folds",
        "",
        "The bundled small model is trained on all 20 actors, so actors 19-20 are not unseen for it and it",
        "is not in the tables above. These are its recipe's out-of-fold numbers: each fold's model scored on",
        "the 4 actors it never saw, same conditions, UA % as the mean over the five folds",
        f"([results/{results.stem}.md](results/{results.stem}.md)).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, ua, mean in rows:
        lines.append(f"| {name} | " + " | ".join(f"{ua[c]:.1f}" for c in conds) + f" | {mean:.1f} |")
    lines += [
        "",
        f"Clean FP32 {summary['ua']['clean']:.1f} ± {summary['ua_sd']['clean']:.1f} over folds, 95 % speaker "
        f"bootstrap interval [{ci['low']:.1f}, {ci['high']:.1f}]; INT8 − FP32 {d['mean']:+.1f} ± {d['sd']:.1f} "
        f"per fold ({d['won']} of 5 folds above FP32).",
        "",
    ]
    return lines
