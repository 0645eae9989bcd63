"""Which views make the Whisper teacher head robust: five actor folds, every condition.

    python bench/teacher_heads.py [--variants standard,babble4,babble4_ckd] [--seeds 0,1] [--folds 0,1,2,3,4]
                                  [--out docs/results/teacher_heads]

The teacher of ``edgeemo recipe function-matching`` (:class:`edgeemo.recipes.function_matching.Teacher`:
a :class:`~edgeemo.train.teachers.whisper_head.WhisperTeacherHead` on the frozen Whisper tiny.en
encoder's cached pooled features, the dev fold picks its epoch) is fitted per fold on the training
clips and the views of each variant, and scored on its test fold, clean and under
:data:`~edgeemo.train.degrade.EVAL_CONDITIONS`. A head fits in seconds from the feature cache (the
views' features are computed on first use, about a minute per 1,200 clips and view on one core),
so this is where a teacher recipe is chosen before a student (40 minutes per fold) is trained on it.

Head fits vary by a few points from seed to seed: ``--seeds`` averages over seeds per fold before
the paired deltas against ``standard`` (the recipe's default teacher). Writes OUT.md, OUT.json and
OUT.png (UA per condition).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Variant:
    """A teacher: its views after the clean clip, as (kind, count), the clean-output refit weight and
    how many heads (seeds apart) it averages."""

    views: tuple[tuple[str, int], ...]
    clean_kd: float = 0.0
    heads: int = 1

    def label(self) -> str:
        from edgeemo.recipes.function_matching import views_in_words

        return views_in_words(self.views, self.clean_kd, self.heads)


VARIANTS: dict[str, Variant] = {
    "standard": Variant((("standard", 4),)),
    "standard_ckd": Variant((("standard", 4),), clean_kd=0.5),
    "babble2": Variant((("standard", 4), ("babble", 2))),
    "babble4": Variant((("standard", 4), ("babble", 4))),
    "babble4_ckd": Variant((("standard", 4), ("babble", 4)), clean_kd=0.5),
    "standard_x3": Variant((("standard", 4),), heads=3),
    "babble4_ckd_x3": Variant((("standard", 4), ("babble", 4)), clean_kd=0.5, heads=3),
}
REFERENCE = "standard"


def measure(names: list[str], seeds: list[int], folds: list[int]) -> dict[str, dict[int, dict[str, float]]]:
    """``{variant: {fold: {condition: UA %}}}``, each fold's UA the mean over ``seeds``."""
    from edgeemo.recipes.function_matching import FoldData, Settings, Teacher, view_sets_of
    from edgeemo.train.config import set_torch_threads
    from edgeemo.train.data import find_data_root
    from edgeemo.train.degrade import EVAL_CONDITIONS

    set_torch_threads(1)
    root = find_data_root(None)
    conditions = list(EVAL_CONDITIONS)
    out: dict[str, dict[int, dict[str, float]]] = {}
    for seed in seeds:
        data = FoldData(root, Settings(seed=seed), progress=False)
        for name in names:
            v = VARIANTS[name]
            sets = view_sets_of(v.views)
            for k in folds:
                t0 = time.perf_counter()
                ua = Teacher(data, k, sets, v.clean_kd, v.heads).score(data, k, conditions)
                acc = out.setdefault(name, {}).setdefault(k, {c: 0.0 for c in conditions})
                for c in conditions:
                    acc[c] += ua[c] / len(seeds)
                print(f"{name} seed {seed} fold {k}: clean {ua['clean']:.1f}, babble {ua['babble_10dB']:.1f} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return out


def render(results: dict[str, dict[int, dict[str, float]]], seeds: list[int], command: str) -> str:
    from edgeemo.train.selection import paired_delta

    conditions = list(next(iter(next(iter(results.values())).values())))
    degraded = [c for c in conditions if c != "clean"]

    def deg(per_fold: dict[int, dict[str, float]]) -> dict[int, float]:
        return {k: float(np.mean([u[c] for c in degraded])) for k, u in per_fold.items()}

    lines = [f"# Whisper teacher heads on views: five actor folds ({len(seeds)} seed(s) per fold)", "",
             f"`python bench/teacher_heads.py {command}`. Out-of-fold UA % (test fold, the dev fold picks the "
             "epoch), mean over the folds; Δ are paired by fold against `standard` (folds won).", "",
             "| teacher | views | clean | mean of degraded | " + " | ".join(degraded) + " | Δ clean | Δ degraded |",
             "|---|---|---|---|" + "---|" * len(degraded) + "---|---|"]
    for name, per_fold in results.items():
        mean = {c: float(np.mean([u[c] for u in per_fold.values()])) for c in conditions}
        d_clean = d_deg = "–"
        if name != REFERENCE and REFERENCE in results:
            ref = results[REFERENCE]
            a = paired_delta({k: u["clean"] for k, u in per_fold.items()}, {k: u["clean"] for k, u in ref.items()})
            b = paired_delta(deg(per_fold), deg(ref))
            d_clean = f"{a.mean:+.1f} ({a.won}/{len(a.folds)})"
            d_deg = f"{b.mean:+.1f} ({b.won}/{len(b.folds)})"
        lines.append(f"| `{name}` | {VARIANTS[name].label()} | {mean['clean']:.1f} | "
                     f"{np.mean([mean[c] for c in degraded]):.1f} | " + " | ".join(f"{mean[c]:.1f}" for c in degraded)
                     + f" | {d_clean} | {d_deg} |")
    lines += ["", "Babble views: 2-6 other training talkers at 0-20 dB SNR in every view "
              "(`edgeemo.train.views.BABBLE_VIEWS`); the standard views draw babble in about 16 % of views."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", default="standard,babble4,babble4_ckd",
                        help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", default="0", help="head seeds averaged per fold, e.g. 0,1")
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--out", default=str(REPO / "docs" / "results" / "teacher_heads"),
                        help="writes OUT.md, OUT.json, OUT.png")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown or not names:
        parser.error(f"unknown variant(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(VARIANTS)}")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
        folds = [int(f) for f in args.folds.split(",")]
    except ValueError:
        parser.error(f"--seeds and --folds take comma-separated integers, got {args.seeds!r} and {args.folds!r}")
    if any(not 0 <= k < 5 for k in folds):
        parser.error(f"--folds must be in 0..4, got {args.folds}")
    from edgeemo.errors import EdgeEmoError

    try:
        results = measure(names, seeds, folds)
    except EdgeEmoError as exc:  # no data, no Whisper weights: the message names the fix
        parser.exit(2, f"teacher_heads: {exc}\n")
    command = f"--variants {','.join(names)} --seeds {args.seeds} --folds {args.folds}"

    from edgeemo.fileio import atomic_write_text
    from edgeemo.recipes.report import plot_conditions

    out = Path(args.out)
    atomic_write_text(out.with_suffix(".md"), render(results, seeds, command))
    atomic_write_text(out.with_suffix(".json"), json.dumps({"command": command, "results": results}, indent=1) + "\n")
    conditions = list(next(iter(next(iter(results.values())).values())))
    summary = {n: {"ua": {c: float(np.mean([u[c] for u in pf.values()])) for c in conditions}}
               for n, pf in results.items()}
    plot_conditions(summary, conditions, out.with_suffix(".png"), title="Whisper teacher heads, out-of-fold",
                    ylabel="UA %", n_classes=8)
    print(f"wrote {out.with_suffix('.md')}, .json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
