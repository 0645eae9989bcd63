"""Robustness of ONNX models under realistic degradations: docs/robustness.md and .png.

    python bench/robustness.py [--model M.onnx ...] [--actors 19,20] [--clips-per-actor N] [--out F.md]

Every model is scored through the SDK (``edgeemo.Recognizer(path).classify(wave, 16000)``, one
thread) on the RAVDESS clips of ``--actors`` under each condition of
``edgeemo.train.degrade.EVAL_CONDITIONS``. The degraded audio is seeded by (clip file name,
condition), so every model, and every run, is scored on the very same audio. The babble pool is 4
clips of each actor outside ``--actors`` (seeded). UA = macro recall over the labels present.

The default actors 19-20 are the test speakers of models trained on actors 01-18 (the default model
is the former tiny, trained on 01-16; the bundled models are trained on all 20 actors, and the page
ends with their five-fold out-of-fold numbers instead, ``bench/five_fold.py``). Scoring teachers
trained fold-wise on their out-of-fold speakers belongs to the five-fold comparison
(``edgeemo recipe compare``), not here.
"""

from __future__ import annotations

import argparse
import sys
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from five_fold import condition_label, five_fold_section  # noqa: E402
# The former tiny model (trained on actors 01-16; `make model-student-legacy` writes it here): actors 19-20 are
# out of its training. The bundled models are trained on all 20 actors; their degraded scores come from the folds.
DEFAULT_MODEL = REPO / "runs" / "default" / "models" / "edgeemo-student-ravdess-int8.onnx"
DEFAULT_OUT = REPO / "docs" / "robustness.md"
POOL_PER_ACTOR = 4


@dataclass(frozen=True)
class Report:
    """UA (fraction) of each model under each condition, and what they were measured on."""

    ua: dict[str, dict[str, float]]  # model name -> condition name -> UA
    conditions: tuple[str, ...]
    actors: tuple[int, ...]
    n_clips: int
    pool_clips: int
    active_dbfs: tuple[float, ...]  # active speech level of each clip

    @property
    def degraded(self) -> tuple[str, ...]:
        return tuple(c for c in self.conditions if c != "clean")

    def mean_degraded(self, model: str) -> float:
        return float(np.mean([self.ua[model][c] for c in self.degraded]))

    def worst(self, model: str) -> tuple[str, float]:
        name = min(self.degraded, key=lambda c: self.ua[model][c])
        return name, self.ua[model][name]


def parse_actors(text: str) -> tuple[int, ...]:
    """``"19,20"`` or ``"17-20"`` -> actor numbers."""
    from edgeemo.errors import ConfigError

    actors: list[int] = []
    try:
        for part in text.split(","):
            lo, _, hi = part.strip().partition("-")
            actors += range(int(lo), int(hi or lo) + 1)
    except ValueError:
        raise ConfigError(f"--actors takes numbers like 19,20 or 17-20, got {text!r}") from None
    if not actors:
        raise ConfigError("--actors is empty")
    return tuple(sorted(set(actors)))


def model_names(paths: Sequence[Path]) -> list[str]:
    """File stems, or the full paths where two stems collide."""
    stems = [p.stem for p in paths]
    return [s if stems.count(s) == 1 else str(p) for s, p in zip(stems, paths)]


def score(models: Sequence[Path], utts: Sequence, waves: Sequence[np.ndarray], pool: Sequence[np.ndarray],
          progress: bool = True) -> dict[str, dict[str, float]]:
    """UA of each model under each evaluation condition (degraded audio made once per condition)."""
    import edgeemo
    from edgeemo.train.data import label_indices
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.metrics import score as scores_of
    from tqdm import tqdm

    recs = [edgeemo.Recognizer(str(p), num_threads=1) for p in models]
    names = model_names(models)
    truth = [label_indices(utts, rec.labels) for rec in recs]
    ua: dict[str, dict[str, float]] = {n: {} for n in names}
    bar = tqdm(total=len(EVAL_CONDITIONS) * len(utts), desc="robustness", unit="clip", disable=not progress)
    for cond in EVAL_CONDITIONS.values():
        bar.set_postfix_str(cond.name)
        preds: list[list[int]] = [[] for _ in recs]
        for u, wave in zip(utts, waves):
            degraded = cond(wave, u.path.stem, pool)
            for k, rec in enumerate(recs):
                res = rec.classify(degraded, 16000)
                preds[k].append(int(np.argmax([res.scores[label] for label in rec.labels])))
            bar.update()
        for name, rec, y_true, y_pred in zip(names, recs, truth, preds):
            ua[name][cond.name] = scores_of(y_true, np.array(y_pred), len(rec.labels)).ua
    bar.close()
    return ua


def render(r: Report) -> str:
    """The Markdown page."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    median, p10 = float(np.median(r.active_dbfs)), float(np.percentile(r.active_dbfs, 10))
    under5 = 100 * float(np.mean(np.array(r.active_dbfs) + 50 < 5))
    short = {c: condition_label(c) for c in r.conditions}
    head = ["model", *[short[c] for c in r.conditions], "mean degraded", "worst"]
    lines = [
        "# Robustness under degraded audio",
        "",
        f"Measured {dt.date.today().isoformat()} by `python bench/robustness.py` (`make robustness`).",
        "UA % (macro recall) of each model through the SDK (`Recognizer.classify`, one thread) on RAVDESS",
        (f"actors {', '.join(f'{a:02d}' for a in r.actors)} ({r.n_clips} clips) under each condition of "
         "`edgeemo.train.degrade.EVAL_CONDITIONS`;"),
        f"mean degraded = the mean over the {len(r.degraded)} degraded conditions, worst = the lowest of them.",
        "The bundled models are trained on all 20 actors, so they have no held-out actors here: their",
        "out-of-fold numbers under the same conditions are at the end of this page.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for model, row in r.ua.items():
        worst, worst_ua = r.worst(model)
        cells = [f"{100 * row[c]:.1f}" for c in r.conditions]
        lines.append(f"| {model} | " + " | ".join(cells)
                     + f" | {100 * r.mean_degraded(model):.1f} | {100 * worst_ua:.1f} ({short[worst]}) |")
    lines += [
        "",
        "![UA per condition](robustness.png)",
        "",
        "## Conditions",
        "",
        "| condition | what |",
        "|---|---|",
        *[f"| `{c}` | {EVAL_CONDITIONS[c].description} |" for c in r.conditions],
        "",
        "Definitions (`train/degrade.py`): the *active speech level* is the RMS of the 30 ms frames within",
        "30 dB of the clip's loudest frame; SNRs are relative to it. Noise floors are absolute (RMS re full",
        "scale 1.0), and RAVDESS speech is quiet: the active level of these clips has a median of",
        f"{median:.1f} dBFS (10 % below {p10:.1f}), so the -50 dBFS floor is a median SNR of {median + 50:.1f} dB,",
        f"{under5:.0f} % of the clips get less than 5 dB, and the -40 dBFS floor is 10 dB worse.",
        "Reverberation is a synthetic room impulse response (direct path, then exponentially decaying",
        "noise; direct-to-reverberant ratio -0.8 dB at 0.6 s). Babble is 4 talkers drawn from a pool of",
        f"{r.pool_clips} clips of the other actors ({POOL_PER_ACTOR} per actor). The degraded audio is seeded",
        "by (clip file name, condition): every model and every run sees the same audio. A few loud clips",
        "(recorded up to full scale) exceed it after added noise, reverberation or the telephone filter",
        "and are scaled down to a peak of 1.0, as a recorder's level setting would.",
        "",
        "Actors 19-20 are the test speakers of models trained on 01-18 (the former tiny model: 01-16). The",
        "bundled models are trained on all 20 actors: their five-fold out-of-fold numbers follow. Scoring",
        "teachers trained fold-wise on their out-of-fold speakers belongs to the five-fold comparison",
        "(`edgeemo recipe compare`), not to this page.",
        "",
        *five_fold_section(),
    ]
    return "\n".join(lines)


def plot(r: Report, path: Path) -> None:
    """Grouped bars: conditions on x, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(r.ua)
    x = np.arange(len(r.conditions))
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(max(8.0, 1.1 * len(r.conditions)), 4.2))
    for k, model in enumerate(models):
        ax.bar(x + (k - (len(models) - 1) / 2) * width, [100 * r.ua[model][c] for c in r.conditions],
               width, label=model)
    ax.axhline(100 / 8, color="grey", lw=0.8, ls=":", label="chance (8 classes)")
    ax.set_xticks(x, list(r.conditions), rotation=30, ha="right")
    ax.set_ylabel("UA %")
    ax.set_ylim(0, 100)
    ax.set_title(f"UA under degradations, RAVDESS actors {','.join(map(str, r.actors))} ({r.n_clips} clips)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=None,
                        help="ONNX model (repeatable; default: the bundled model)")
    parser.add_argument("--actors", default="19,20", help="actors to score (default: the test actors 19,20)")
    parser.add_argument("--clips-per-actor", type=int, default=None, help="at most N clips per actor (quick runs)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="Markdown output; the plot goes beside it (.png)")
    parser.add_argument("--data", default=None, help="data folder (default: ../shared/data or $EDGEEMO_DATA)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from edgeemo.errors import ConfigError
    from edgeemo.fileio import atomic_write_text
    from edgeemo.train.data import load_ravdess, load_waves, subset_per_actor
    from edgeemo.train.degrade import EVAL_CONDITIONS, active_rms, load_babble_pool

    models = [Path(m) for m in (args.model or [DEFAULT_MODEL])]
    missing = [str(m) for m in models if not m.is_file()]
    if missing:
        raise ConfigError(f"model file(s) not found: {', '.join(missing)}")
    actors = parse_actors(args.actors)
    utts_all = load_ravdess(args.data)
    utts = subset_per_actor(sorted((u for u in utts_all if u.actor in actors), key=lambda u: str(u.path)),
                            args.clips_per_actor)
    if not utts:
        raise ConfigError(f"no RAVDESS clips for actors {actors}")
    speakers = {u.speaker for u in utts}
    pool = load_babble_pool(utts_all, exclude_speakers=speakers, per_speaker=POOL_PER_ACTOR)
    waves = load_waves(utts, progress=not args.no_progress)
    ua = score(models, utts, waves, pool.waves, progress=not args.no_progress)
    active = tuple(20.0 * np.log10(max(active_rms(w), 1e-10)) for w in waves)
    report = Report(ua, tuple(EVAL_CONDITIONS), actors, len(utts), len(pool.waves), active)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render(report))
    plot(report, out.with_suffix(".png"))
    print(out.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
