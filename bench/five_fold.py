"""The bundled models' five-fold numbers, for the pages that measure on actors 19-20.

Both bundled models are trained on all 20 actors, so actors 19-20 are not unseen for them: the
benchmark and robustness pages show their recipes' out-of-fold numbers instead (each fold's model
scored on the 4 actors it never saw), read from the small model's shipped row
(``edgeemo.recipes.build_small.SHIPPED_RESULTS``) and from the tiny model's build report
(``edgeemo.recipes.build_tiny``: ``docs/results/tiny_build.json``).

    python bench/five_fold.py   # after a model ships: rewrite the sections that end both pages

The pages' other numbers (the former tiny on actors 19-20) need their own, longer benches.
"""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = ("docs/robustness.md", "docs/benchmarks.md")
FIRST_HEADING = "## The small model: five actor folds"


def condition_label(name: str) -> str:
    """A condition's column heading: ``floor_-50dBFS`` -> ``floor -50dBFS``, ``babble_10dB`` -> ``babble 10dB``."""
    return name.replace("_", " ")


def five_fold_section() -> list[str]:
    """Markdown lines: :func:`small_section`, then :func:`tiny_section`."""
    return [*small_section(), *tiny_section()]


def small_section() -> list[str]:
    """Markdown lines: the small model's shipped row, INT8 and FP32 UA, clean and per degraded
    condition, paired INT8 − FP32 and the speaker interval; nothing when the results are absent."""
    from edgeemo.recipes.build_small import SHIPPED_RESULTS, SHIPPED_ROW

    results = REPO / SHIPPED_RESULTS
    summary = json.loads(results.read_text()).get("summary", {}).get(SHIPPED_ROW) if results.is_file() else None
    if not summary or "int8" not in summary:
        return []
    conds = list(summary["ua"])
    short = {c: condition_label(c) for c in conds}
    head = ["model (five actor folds, out-of-fold)", *[short[c] for c in conds], "mean degraded"]
    i8 = summary["int8"]
    rows = [(f"small ({SHIPPED_ROW}), INT8 (shipped)", i8["ua"], i8["mean_degraded"]),
            (f"small ({SHIPPED_ROW}), FP32", summary["ua"], summary["mean_degraded"])]
    ci, d = summary["interval_clean"], i8["delta_vs_fp32"]
    lines = [
        FIRST_HEADING,
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


def tiny_section() -> list[str]:
    """Markdown lines: the tiny model's five fold models (as its build scored them, ONNX files),
    FP32 (shipped) and INT8 UA, clean and per degraded condition, with the worst condition and
    INT8 − FP32; nothing when the build report is absent."""
    from edgeemo.recipes.build_tiny import BUILD_REPORT, CARD_FILE, RESULTS

    path = (REPO / RESULTS).with_name(BUILD_REPORT)
    report = json.loads(path.read_text()) if path.is_file() else None
    if not report or "summary" not in report:
        return []
    s = report["summary"]
    conds = list(s["fp32"]["ua"])
    short = {c: condition_label(c) for c in conds}
    degraded = [c for c in conds if c != "clean"]
    head = ["model (five actor folds, out-of-fold)", *[short[c] for c in conds], "mean degraded", "worst"]
    version = f"model {report['model_version']}, " if "model_version" in report else ""
    lines = [
        "## The tiny model: five actor folds",
        "",
        f"The bundled tiny model ({version}recipe `{report['row']}`) is trained on all 20 actors too. Its",
        "recipe's five fold models, each trained on three folds (each "
        + ("the moving average of its last epoch, as the shipped model is" if report.get("fold_weights") == "last-epoch"
           else "at the epoch its dev actors chose") + "),",
        "scored as ONNX files on the 4 actors they never saw, same conditions, UA % as the mean over the",
        f"five folds ([results/{BUILD_REPORT}](results/{BUILD_REPORT}); card: "
        f"[{CARD_FILE}](../sdk/models/{CARD_FILE})).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for kind, name in (("fp32", "FP32 (shipped)"), ("int8", "INT8")):
        ua = s[kind]["ua"]
        worst = min(degraded, key=lambda c: ua[c])
        lines.append(f"| tiny ({report['row']}), {name} | " + " | ".join(f"{ua[c]:.1f}" for c in conds)
                     + f" | {s[kind]['mean_degraded']:.1f} | {ua[worst]:.1f} ({short[worst]}) |")
    d = s["int8_minus_fp32"]
    lines += [
        "",
        f"Clean FP32 {s['fp32']['ua']['clean']:.1f} ± {s['fp32']['clean_sd']:.1f} over folds; INT8 − FP32 "
        f"{d['mean']:+.1f} ± {d['sd']:.1f} per fold.",
        "",
    ]
    return lines


def main() -> None:
    """Replace everything from the first five-fold heading to the end of each page with what the
    committed results render now."""
    from edgeemo.fileio import atomic_write_text

    if not small_section() or not tiny_section():
        raise SystemExit("the small model's results or the tiny model's build report is missing: build the models "
                         "first (make model-small, make model-tiny); the pages are left as they are")
    section = "\n".join(five_fold_section())
    for page in PAGES:
        path = REPO / page
        text = path.read_text() if path.is_file() else ""
        if FIRST_HEADING not in text:
            raise SystemExit(f"{page} is missing or has no {FIRST_HEADING!r}: run its bench first")
        atomic_write_text(path, text[: text.index(FIRST_HEADING)] + section)
        print(f"wrote the five-fold sections of {page}")


if __name__ == "__main__":
    main()
