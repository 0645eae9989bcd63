"""The fine-tuned teachers' report: five-fold scores beside the frozen teachers, paired by fold.

``edgeemo recipe function-matching --teachers-only`` fits (or reads from its cache) the fine-tuned
teacher of each fold it is asked for and writes ``OUT.json``, ``OUT.md`` and ``OUT.png``
(``--teachers-out``, default ``docs/results/finetuned_teacher``) from every fold's cached record.
The references are earlier results in the same folder, scored on the same test clips and
conditions: the frozen tiny.en teachers of ``recipe whisper-teachers`` and the same network
fine-tuned on a GPU by ``recipe small-finetune`` (dev-chosen epochs); each found is paired with
the fine-tuned teacher on the folds both have (mean Δ ± sd, folds won) and, with all five folds,
a 95 % speaker-bootstrap interval of the clean Δ.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text
from edgeemo.train.data import N_FOLDS, RAVDESS_LABELS, Utterance, label_indices
from edgeemo.train.selection import paired_delta, speaker_bootstrap, unweighted_accuracy

from .report import condition_stats, plot_conditions, pooled_predictions

__all__ = ["REFERENCES", "fold_result", "teacher_summary", "write_teacher_report"]

NAME = "whisper_ft_k3"
#: scores besides the conditions, when a fold has them: with video (the teacher fused with the action
#: units, :mod:`edgeemo.recipes.teacher_fusion`) and the action units alone
WITH_VIDEO = ("clean_with_video", "au_only")
#: (name in the report, results file, row, what it is): earlier five-fold results of the same test clips
REFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("whisper_lr_all", "whisper_teachers.json", "whisper_lr_all",
     "frozen tiny.en, every hidden state pooled, logistic regression, clean clips (the best frozen audio teacher)"),
    ("whisper_head_views", "whisper_teachers.json", "whisper_head_views",
     "frozen tiny.en, the layer-weighted head on the clean clips and the same 4 views, dev-chosen epoch"),
    ("ft_all_k3", "small_finetune.json", "ft_all_k3",
     "this network fine-tuned on a GPU: dev-chosen epochs (5, 4, 9, 6, 8), refitted on train + dev"),
    ("whisper_av_head_views", "whisper_teachers.json", "whisper_av_head_views",
     "frozen tiny.en, audio + AU head on the clean clips and 4 views (video dropped from 30 % of rows)"),
    ("whisper_av_head_views (base)", "whisper_teachers_base.json", "whisper_av_head_views",
     "the same on the frozen Whisper base encoder"),
)


def fold_result(record: Mapping[str, Any], index: Mapping[str, int],
                fused: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A cached teacher record as a fold result of the other recipes (``test_index`` into the corpus);
    with its ``with_video`` probabilities, the action units' predictions (``au_only``) and, with the
    fold's ``fused`` result (:func:`~edgeemo.recipes.teacher_fusion.cross_fitted_fusion`), the fused
    ones (``clean_with_video``)."""
    try:
        test_index = [index[p] for p in record["test_paths"]]
    except KeyError as exc:
        raise ConfigError(f"fold {record.get('fold')}'s teacher was tested on a clip not in the corpus: {exc}") from None
    out = {"fold": int(record["fold"]), "test_index": test_index, "pred": dict(record["test_pred"]),
           "ua": dict(record["test_ua"]), "epochs": record["epochs"], "seconds": record["seconds"]}
    video = record.get("with_video")
    if video is not None:
        if video["test_paths"] != record["test_paths"]:
            raise ConfigError(f"fold {record['fold']}: the fused scores are of other test clips than the teacher's")
        out["pred"]["au_only"] = np.asarray(video["p_au"]).argmax(axis=1).tolist()
        out["ua"]["au_only"] = video["ua"]["au_only"]
        if fused is not None:
            out["pred"]["clean_with_video"], out["ua"]["clean_with_video"] = fused["pred"], fused["ua"]
            out["fusion_weight"] = fused["weight"]
    return out


def _reference_folds(results_dir: Path, file: str, row: str, y: np.ndarray) -> dict[int, dict[str, Any]] | None:
    """``row``'s fold results in ``results_dir/file`` (None when absent), checked to index this corpus."""
    path = results_dir / file
    if not path.is_file():
        return None
    per = json.loads(path.read_text()).get("results", {}).get(row)
    if not per:
        return None
    folds = {int(k): v for k, v in per.items()}
    for k, r in folds.items():  # the same corpus order: its stored UA is what its predictions score here
        ua = 100 * unweighted_accuracy(y[r["test_index"]], np.asarray(r["pred"]["clean"]), len(RAVDESS_LABELS))
        if abs(ua - r["ua"]["clean"]) > 1e-6:
            raise ConfigError(f"{path}: row {row} fold {k} does not index this corpus ({ua:.2f} vs {r['ua']['clean']:.2f})")
    return folds


def teacher_summary(per_fold: Mapping[int, Mapping[str, Any]], y: np.ndarray, speakers: np.ndarray,
                    conditions: Sequence[str], references: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> dict[str, Any]:
    """Per row (the fine-tuned teacher first, then each reference on the fine-tuned folds): UA per
    condition over the folds, and for the teacher its paired Δ against every reference."""
    n_classes = len(RAVDESS_LABELS)
    folds = sorted(per_fold)
    degraded = [c for c in conditions if c != "clean"]

    def extra(rows: Mapping[int, Mapping[str, Any]]) -> list[str]:
        return [c for c in WITH_VIDEO if all(c in rows[k]["ua"] for k in folds)]

    def stats(rows: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
        s = condition_stats({k: rows[k] for k in folds}, conditions, extra(rows)) if len(folds) > 1 else {
            "ua": {c: rows[folds[0]]["ua"][c] for c in [*conditions, *extra(rows)]}, "ua_sd": None,
            "mean_degraded": float(np.mean([rows[folds[0]]["ua"][c] for c in degraded]))}
        s["folds"] = folds
        if len(folds) == N_FOLDS:
            s["interval_clean"] = speaker_bootstrap(y, [pooled_predictions(rows, len(y), "clean")], speakers,
                                                    n_classes).to_dict()
        return s

    def delta(ref: Mapping[int, Mapping[str, Any]], ours: str, theirs: str) -> dict[str, Any]:
        d = paired_delta({k: per_fold[k]["ua"][ours] for k in folds}, {k: ref[k]["ua"][theirs] for k in folds}).to_dict()
        if len(folds) == N_FOLDS:
            d["interval"] = speaker_bootstrap(
                y, [pooled_predictions(per_fold, len(y), ours), pooled_predictions(ref, len(y), theirs)],
                speakers, n_classes).to_dict()
        return d

    out: dict[str, Any] = {NAME: stats(per_fold)}
    deltas: dict[str, Any] = {}
    for name, ref in references.items():
        if not set(folds) <= set(ref):
            continue
        out[name] = stats(ref)
        d = {"clean": delta(ref, "clean", "clean"),
             "degraded": paired_delta({k: float(np.mean([per_fold[k]["ua"][c] for c in degraded])) for k in folds},
                                      {k: float(np.mean([ref[k]["ua"][c] for c in degraded])) for k in folds}).to_dict()}
        if "clean_with_video" in extra(per_fold) and "clean_with_video" in extra(ref):
            d["clean_with_video"] = delta(ref, "clean_with_video", "clean_with_video")
        deltas[name] = d
    out[NAME]["delta"] = deltas
    return out


def _markdown(summary: dict[str, Any], conditions: Sequence[str], meta: dict[str, Any]) -> str:
    degraded = [c for c in conditions if c != "clean"]
    teacher = summary[NAME]

    def pm(s: dict[str, Any], c: str) -> str:
        return f"{s['ua'][c]:.1f}" + ("" if not s.get("ua_sd") else f" ± {s['ua_sd'][c]:.1f}")

    def ci(s: dict[str, Any] | None, sign: str = "") -> str:
        return "–" if not s else f"[{s['low']:{sign}.1f}, {s['high']:{sign}.1f}]"

    def delta(d: dict[str, Any] | None) -> str:
        if d is None:
            return "–"
        return f"{d['mean']:+.1f}" + ("" if d["sd"] is None else f" ± {d['sd']:.1f}") + f" ({d['won']}/{len(d['folds'])})"

    folds = ",".join(str(k) for k in teacher["folds"])
    lines = [
        "# Fine-tuned Whisper teacher on the actor folds, clean and degraded",
        "",
        f"Written by `edgeemo recipe function-matching --teachers-only` ({meta['command']}). "
        f"{meta['teacher']} Out-of-fold UA % (macro recall) of the test fold, mean ± sd over the folds measured "
        f"({folds}); the references are scored on the same test clips and conditions, over the same folds. "
        "Δ: paired per fold against the reference (folds won); 95 % CI: bootstrap over the 20 speakers of the "
        "pooled out-of-fold predictions (five folds only).",
        "",
        "| teacher | clean | 95 % CI | mean of 8 degraded | Δ clean | 95 % CI of Δ clean | Δ degraded | what it is |",
        "|---|---|---|---|---|---|---|---|",
        f"| `{NAME}` | {pm(teacher, 'clean')} | {ci(teacher.get('interval_clean'))} | {teacher['mean_degraded']:.1f} | – | – "
        f"| – | {meta['teacher_short']} |",
    ]
    for name, file, row, what in REFERENCES:
        if name not in summary:
            continue
        s, d = summary[name], teacher["delta"][name]
        lines.append(f"| `{name}` ({file}) | {pm(s, 'clean')} | {ci(s.get('interval_clean'))} | "
                     f"{s['mean_degraded']:.1f} | {delta(d['clean'])} | {ci(d['clean'].get('interval'), '+')} | "
                     f"{delta(d['degraded'])} | {what} |")
    if "clean_with_video" in teacher["ua"]:
        weights = ", ".join(f"{meta['per_fold'][k]['fusion_weight']:g}" for k in teacher["folds"])
        lines += ["", "With video (clean test clips, the 35 action units beside the audio): the fine-tuned teacher "
                  "fused with a logistic regression on the action units fitted on the same clips (normalised "
                  "product p_audio · p_au^w; `edgeemo.recipes.teacher_fusion`), w chosen for each fold on the "
                  f"other folds' test clips from 0 to 2 in steps of 0.125 (folds {folds}: w = {weights}), so every "
                  "score stays out-of-fold; against the audio + AU heads on the frozen encoders:", "",
                  "| teacher | clean with video | Δ | 95 % CI of Δ | its audio alone | action units alone |",
                  "|---|---|---|---|---|---|",
                  f"| `{NAME}` + AU logistic regression | {pm(teacher, 'clean_with_video')} | – | – | "
                  f"{pm(teacher, 'clean')} | {pm(teacher, 'au_only')} |"]
        for name, s in summary.items():
            d = teacher["delta"].get(name, {}).get("clean_with_video")
            if name == NAME or d is None:
                continue
            lines.append(f"| `{name}` | {pm(s, 'clean_with_video')} | {delta(d)} | {ci(d.get('interval'), '+')} | "
                         f"{pm(s, 'clean')} | – |")
    lines += ["", "Per condition (mean over the folds):", "",
              "| teacher | " + " | ".join(conditions) + " |", "|---|" + "---|" * len(conditions)]
    for name, s in summary.items():
        lines.append(f"| `{name}` | " + " | ".join(f"{s['ua'][c]:.1f}" for c in conditions) + " |")
    lines += ["", "Per fold (clean UA; fit time on the machine that ran it):", "",
              "| fold | clean | mean of degraded | minutes (windows + fit + targets + scoring) |", "|---|---|---|---|"]
    for k, r in sorted(meta["per_fold"].items()):
        lines.append(f"| {k} | {r['ua']['clean']:.1f} | {np.mean([r['ua'][c] for c in degraded]):.1f} | "
                     f"{sum(r['seconds'].values()) / 60:.1f} |")
    return "\n".join(lines) + "\n"


def write_teacher_report(records: Sequence[Mapping[str, Any]], out: Path, corpus: Sequence[Utterance], *,
                         command: str, teacher: str, teacher_short: str) -> dict[str, Any]:
    """``OUT.json``, ``OUT.md`` and ``OUT.png`` of the fine-tuned teachers' cached fold ``records``."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    from .teacher_fusion import cross_fitted_fusion

    if not records:
        raise ConfigError("no fine-tuned teacher fold to report")
    conditions = list(EVAL_CONDITIONS)
    index = {str(u.path): i for i, u in enumerate(corpus)}
    y = label_indices(corpus, RAVDESS_LABELS)
    speakers = np.array([u.speaker for u in corpus])
    videos = {int(r["fold"]): r["with_video"] for r in records if "with_video" in r}
    fused = cross_fitted_fusion(videos)
    per_fold = {int(r["fold"]): fold_result(r, index, fused.get(int(r["fold"]))) for r in records}
    references = {name: ref for name, file, row, _ in REFERENCES
                  if (ref := _reference_folds(out.parent, file, row, y)) is not None}
    summary = teacher_summary(per_fold, y, speakers, conditions, references)
    meta = {"command": command, "teacher": teacher, "teacher_short": teacher_short, "per_fold": per_fold}
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps(
        {"command": command, "teacher": teacher, "results": {str(k): v for k, v in sorted(per_fold.items())},
         "summary": summary}, indent=1))
    atomic_write_text(out.with_suffix(".md"), _markdown(summary, conditions, meta))
    plot_conditions(summary, conditions, out.with_suffix(".png"), title="Whisper teachers, out-of-fold UA by condition",
                    ylabel="UA %", n_classes=len(RAVDESS_LABELS), legend_columns=2)
    return summary
