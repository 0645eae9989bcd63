"""Whisper teachers on the five RAVDESS actor folds, clean and under the eight degraded conditions.

    edgeemo recipe whisper-teachers --views 4 --out docs/results/whisper_teachers

Every row is scored out-of-fold: fold k tests on the four actors of fold k, fold (k + 1) % 5 picks
the head's epoch (then the head is refit on train + dev for that many epochs), the other three
folds train. Logistic-regression rows fit on all four non-test folds. The encoder is frozen
(Whisper tiny.en by default); its pooled layer features are cached per clip and per view
(:mod:`edgeemo.train.teachers.whisper_features`), so a rerun only fits heads.

Rows:

* ``whisper_lr_layer2`` / ``whisper_lr_all`` — logistic regression on layer 2 / on every hidden
  state (the probes the issue measured); ``whisper_lr_all_views`` adds the augmented views;
* ``whisper_head`` — the learned layer-weighting head, clean training clips;
* ``whisper_head_views`` — the same head trained on the clean clips plus ``--views`` augmented
  views per clip (:func:`edgeemo.train.degrade.make_view`);
* ``whisper_av_head`` / ``whisper_av_head_views`` — audio + the 35 OpenFace AUs, video removed
  from 30 % of training rows; scored with video (clean) and speech-only (clean and degraded);
* ``whisper_head_views_x3`` / ``whisper_av_head_views_x3`` — the mean of three such heads fitted
  with seeds ``seed + 100 j`` (:class:`~edgeemo.train.teachers.whisper_head.WhisperHeadEnsemble`),
  each choosing its own epoch on the dev fold; their deltas against the single head are paired by
  fold in ``OUT.md``.

Test clips are degraded with :data:`edgeemo.train.degrade.EVAL_CONDITIONS` (babble from other
speakers' clips). Writes ``OUT.json`` (per-fold results and pooled out-of-fold predictions),
``OUT.md`` (mean ± sd over folds, paired deltas against ``whisper_lr_all``, 95 % speaker-bootstrap
intervals) and ``OUT.png``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
from edgeemo.cli._common import run_standalone
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text
from edgeemo.train.config import set_torch_threads
from edgeemo.train.data import (
    N_FOLDS,
    RAVDESS_LABELS,
    Utterance,
    find_data_root,
    fold_split,
    load_ravdess,
)
from edgeemo.train.selection import paired_delta, speaker_bootstrap, unweighted_accuracy

from .report import condition_stats, plot_conditions, read_state

__all__ = ["ROWS", "FeatureBank", "run_whisper_teachers", "whisper_teachers_command"]

REFERENCE = "whisper_lr_all"
LR_LAYER = 2


@dataclass(frozen=True)
class Row:
    """One teacher configuration of the table."""

    name: str
    kind: str  # "lr" or "head"
    description: str
    layer: int | None = None  # lr: one hidden state, None = all
    views: bool = False
    video: bool = False
    heads: int = 1  # head rows: the mean of this many heads fitted seeds apart
    single: str | None = None  # the one-head row an ensemble row is paired against


ROWS: tuple[Row, ...] = (
    Row("whisper_lr_layer2", "lr", "logistic regression, hidden state 2 (mean + std)", layer=LR_LAYER),
    Row("whisper_lr_all", "lr", "logistic regression, every hidden state concatenated"),
    Row("whisper_lr_all_views", "lr", "the same logistic regression, clean + augmented views", views=True),
    Row("whisper_head", "head", "learned layer weighting + MLP, clean training clips"),
    Row("whisper_head_views", "head", "the same head, clean + augmented views", views=True),
    Row("whisper_av_head", "head", "audio + AUs (video dropped from 30 % of training rows)", video=True),
    Row("whisper_av_head_views", "head", "audio + AUs, clean + augmented views", views=True, video=True),
    Row("whisper_head_views_x3", "head", "mean of 3 `whisper_head_views` heads fitted seeds apart", views=True,
        heads=3, single="whisper_head_views"),
    Row("whisper_av_head_views_x3", "head", "mean of 3 `whisper_av_head_views` heads fitted seeds apart",
        views=True, video=True, heads=3, single="whisper_av_head_views"),
)
ROW_BY_NAME = {r.name: r for r in ROWS}


class FeatureBank:
    """Cached pooled Whisper features of every clip: clean, training views, degraded test audio."""

    def __init__(self, utts: Sequence[Utterance], *, size: str, n_views: int, progress: bool = True) -> None:
        from edgeemo.train.degrade import EVAL_CONDITIONS
        from edgeemo.train.teachers.whisper import load_whisper_encoder
        from edgeemo.train.teachers.whisper_features import whisper_features
        from edgeemo.train.views import (
            TRAIN_VIEW_TAG,
            condition_function,
            condition_seed,
            condition_tag,
            teacher_babble_pool,
            view_function,
        )

        self.utts = list(utts)
        encoder = load_whisper_encoder(size=size)
        pool = teacher_babble_pool(self.utts)
        speakers = sorted({u.speaker for u in self.utts})
        index = {id(u): i for i, u in enumerate(self.utts)}

        def per_speaker(make: Callable[[str], Callable[[np.ndarray, int], np.ndarray]], seed: int, tag: str) -> np.ndarray:
            out: np.ndarray | None = None
            for spk in speakers:
                group = [u for u in self.utts if u.speaker == spk]
                feats = whisper_features(group, encoder=encoder, views=make(spk),
                                         view_seed=seed, view_tag=tag, progress=progress)
                if out is None:
                    out = np.zeros((len(self.utts), *feats.shape[1:]), np.float32)
                out[[index[id(u)] for u in group]] = feats
            assert out is not None
            return out

        t0 = time.perf_counter()
        self.clean = whisper_features(self.utts, encoder=encoder, progress=progress)
        self.views = [per_speaker(lambda spk: view_function(pool, spk), seed, TRAIN_VIEW_TAG)
                      for seed in range(1, n_views + 1)]
        self.conditions: dict[str, np.ndarray] = {"clean": self.clean}
        for name in EVAL_CONDITIONS:
            if name != "clean":
                self.conditions[name] = per_speaker(lambda spk, name=name: condition_function(name, pool, spk),
                                                    condition_seed(name), condition_tag(name))
        self.seconds = time.perf_counter() - t0


def _labels(utts: Sequence[Utterance]) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(RAVDESS_LABELS)}
    return np.array([index[u.label] for u in utts], dtype=np.int64)


def _fit_lr(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced"))
    return model.fit(x, y)


def _lr_input(feats: np.ndarray, layer: int | None) -> np.ndarray:
    return feats[:, layer] if layer is not None else feats.reshape(len(feats), -1)


def run_fold(row: Row, fold: int, bank: FeatureBank, au: np.ndarray, y: np.ndarray, *, seed: int = 0,
             epochs: int = 60) -> dict[str, Any]:
    """Out-of-fold predictions of one row on one fold, for every test condition (heads: at most
    ``epochs``, the count chosen on the dev fold)."""
    from edgeemo.train.teachers.whisper_head import (
        HeadData,
        HeadTrainConfig,
        WhisperHeadConfig,
        WhisperHeadEnsemble,
        ensemble_seeds,
        fit_whisper_head,
        predict_proba,
    )

    folds = np.array([u.fold for u in bank.utts])
    train_folds, dev_fold, test_fold = fold_split(fold)
    tr = np.flatnonzero(np.isin(folds, train_folds))
    dv = np.flatnonzero(folds == dev_fold)
    te = np.flatnonzero(folds == test_fold)
    out: dict[str, Any] = {"fold": fold, "test_index": te.tolist(), "pred": {}}
    t0 = time.perf_counter()
    if row.kind == "lr":
        fit_rows = np.concatenate([tr, dv])
        sets = [bank.clean] + (bank.views if row.views else [])
        model = _fit_lr(np.concatenate([_lr_input(s[fit_rows], row.layer) for s in sets]),
                        np.concatenate([y[fit_rows]] * len(sets)))
        for name, feats in bank.conditions.items():
            out["pred"][name] = model.predict(_lr_input(feats[te], row.layer)).tolist()
    else:
        n_layers, dim = bank.clean.shape[1:]
        cfg = WhisperHeadConfig(n_layers=n_layers, feature_dim=dim, n_classes=len(RAVDESS_LABELS),
                                au_dim=au.shape[1] if row.video else 0)

        def rows(index: np.ndarray, with_views: bool) -> HeadData:
            sets = [bank.clean] + (bank.views if with_views else [])
            return HeadData(
                features=np.concatenate([s[index] for s in sets]),
                labels=np.concatenate([y[index]] * len(sets)),
                au=np.concatenate([au[index]] * len(sets)) if row.video else None,
            )

        members, head_epochs = [], []
        for head_seed in ensemble_seeds(seed, row.heads):
            _, history = fit_whisper_head(rows(tr, row.views), rows(dv, False), cfg,
                                          HeadTrainConfig(seed=head_seed, epochs=epochs))
            best_epoch = max(history, key=lambda h: h["dev_ua"])["epoch"]
            head, _ = fit_whisper_head(rows(np.concatenate([tr, dv]), row.views), None, cfg,
                                       HeadTrainConfig(seed=head_seed, epochs=best_epoch))
            members.append(head)
            head_epochs.append(best_epoch)
        model = members[0] if row.heads == 1 else WhisperHeadEnsemble(members).eval()
        out["epochs"] = head_epochs[0] if row.heads == 1 else int(np.median(head_epochs))
        if row.heads > 1:
            out["head_epochs"] = head_epochs
        for name, feats in bank.conditions.items():
            test = HeadData(features=feats[te], labels=y[te], au=au[te] if row.video else None)
            out["pred"][name] = predict_proba(model, test, with_video=False).argmax(axis=1).tolist()
        if row.video:
            test = HeadData(features=bank.clean[te], labels=y[te], au=au[te])
            out["pred"]["clean_with_video"] = predict_proba(model, test, with_video=True).argmax(axis=1).tolist()
        out["layer_weights"] = np.mean([m.layer_weights().detach().numpy() for m in members], axis=0).round(4).tolist()
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["ua"] = {name: 100 * unweighted_accuracy(y[te], np.array(p), len(RAVDESS_LABELS)) for name, p in out["pred"].items()}
    return out


def _summary(rows: Sequence[Row], results: dict[str, dict[int, dict[str, Any]]], y: np.ndarray,
             speakers: np.ndarray, conditions: Sequence[str]) -> dict[str, Any]:
    n_classes = len(RAVDESS_LABELS)
    summary: dict[str, Any] = {}

    def pooled(name: str, cond: str) -> np.ndarray:
        pred = np.full(len(y), -1)
        for r in results[name].values():
            pred[r["test_index"]] = r["pred"][cond]
        return pred

    for row in rows:
        per_fold = results.get(row.name, {})
        if len(per_fold) < N_FOLDS:
            continue
        s = condition_stats(per_fold, conditions, ["clean_with_video"] if row.video else [])
        s["interval_clean"] = speaker_bootstrap(y, [pooled(row.name, "clean")], speakers, n_classes).to_dict()
        if row.name != REFERENCE and REFERENCE in results and len(results[REFERENCE]) == N_FOLDS:
            ref = {k: v["ua"]["clean"] for k, v in results[REFERENCE].items()}
            s["delta_vs_reference"] = paired_delta({k: v["ua"]["clean"] for k, v in per_fold.items()}, ref).to_dict()
            s["delta_interval"] = speaker_bootstrap(
                y, [pooled(row.name, "clean"), pooled(REFERENCE, "clean")], speakers, n_classes
            ).to_dict()
        single = results.get(row.single or "", {})
        if row.single and len(single) == N_FOLDS:

            def by_fold(folds: dict[int, dict[str, Any]], cond: str) -> dict[int, float]:
                if cond == "mean_degraded":
                    return {k: float(np.mean([v["ua"][c] for c in conditions if c != "clean"])) for k, v in folds.items()}
                return {k: v["ua"][cond] for k, v in folds.items()}

            s["delta_vs_single"] = {
                cond: paired_delta(by_fold(per_fold, cond), by_fold(single, cond)).to_dict()
                for cond in ["clean", *(["clean_with_video"] if row.video else []), "mean_degraded"]
            }
        summary[row.name] = s
    return summary


def _markdown(summary: dict[str, Any], conditions: Sequence[str], meta: dict[str, Any]) -> str:
    degraded = [c for c in conditions if c != "clean"]
    lines = [
        "# Whisper teachers: five actor folds, clean and degraded",
        "",
        f"Written by `edgeemo recipe whisper-teachers` ({meta['command']}). Whisper {meta['size']} encoder, frozen; "
        f"{meta['views']} augmented views per training clip for the `_views` rows. Out-of-fold UA % "
        "(macro recall), mean ± sd over the five folds (fold k tests on its four actors). "
        "`Δ vs whisper_lr_all`: paired per-fold difference, folds won; `95 % CI`: bootstrap over the "
        "20 speakers of the pooled out-of-fold predictions. Speech-only unless the column says video.",
        "",
        "| row | clean | 95 % CI | Δ vs whisper_lr_all | 95 % CI of Δ | with video | mean of 8 degraded | worst |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        ci = s["interval_clean"]
        delta = s.get("delta_vs_reference")
        dci = s.get("delta_interval")
        d = "–" if delta is None else f"{delta['mean']:+.1f} ± {delta['sd']:.1f} ({delta['won']}/5)"
        dc = "–" if dci is None else f"[{dci['low']:+.1f}, {dci['high']:+.1f}]"
        video = "–" if "clean_with_video" not in s["ua"] else f"{s['ua']['clean_with_video']:.1f}"
        lines.append(
            f"| {name} | {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f} | [{ci['low']:.1f}, {ci['high']:.1f}] | "
            f"{d} | {dc} | {video} | {s['mean_degraded']:.1f} | {s['worst'][0]:.1f} ({s['worst'][1]}) |"
        )
    lines += ["", "Per condition (mean over folds):", "",
              "| row | " + " | ".join(degraded) + " |", "|---|" + "---|" * len(degraded)]
    for name, s in summary.items():
        lines.append(f"| {name} | " + " | ".join(f"{s['ua'][c]:.1f}" for c in degraded) + " |")
    ensembles = [(r, summary[r.name]["delta_vs_single"]) for r in ROWS if "delta_vs_single" in summary.get(r.name, {})]
    if ensembles:
        lines += ["", "Ensembles against their single head (paired by fold, folds won):", "",
                  "| row | against | Δ clean | Δ with video | Δ mean of 8 degraded |", "|---|---|---|---|---|"]
        for r, d in ensembles:
            cells = ["–" if c not in d else f"{d[c]['mean']:+.1f} ± {d[c]['sd']:.1f} ({d[c]['won']}/5)"
                     for c in ("clean", "clean_with_video", "mean_degraded")]
            lines.append(f"| {r.name} | {r.single} | " + " | ".join(cells) + " |")
    lines += ["", "Rows:", ""] + [f"- `{r.name}`: {r.description}" for r in ROWS if r.name in summary]
    lines += ["", f"Feature extraction in the run that wrote this (cached after it): {meta['feature_seconds']:.0f} s; "
              f"fitting, summed over rows and folds (across resumed runs): {meta['fit_seconds']:.0f} s, one "
              "thread. Babble for the test conditions and the training "
              "views comes from other speakers' clips (any fold: it is interference, never labels)."]
    return "\n".join(lines) + "\n"


def _plot(summary: dict[str, Any], conditions: Sequence[str], path: Path) -> None:
    plot_conditions(summary, conditions, path, title="Whisper teachers, five actor folds: clean and degraded test audio",
                    ylabel="out-of-fold UA %", n_classes=len(RAVDESS_LABELS), legend_columns=3)


def run_whisper_teachers(out: Path, *, size: str = "tiny.en", n_views: int = 4, rows: Sequence[str] | None = None,
                         folds: Sequence[int] = tuple(range(N_FOLDS)), data: str | None = None, seed: int = 0,
                         progress: bool = True) -> dict[str, Any]:
    """Fit and score every requested row on every requested fold; resumable (``OUT.json`` keeps
    finished (row, fold) results for the same settings)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.teachers.visual import visual_features

    names = list(rows) if rows else [r.name for r in ROWS]
    unknown = [n for n in names if n not in ROW_BY_NAME]
    if unknown:
        raise ConfigError(f"unknown row(s) {unknown}; known: {[r.name for r in ROWS]}")
    root = find_data_root(data)
    utts = load_ravdess(root)
    settings = {"size": size, "views": n_views, "seed": seed, "n_clips": len(utts)}
    state_path = out.with_suffix(".json")
    state = read_state(state_path)
    results: dict[str, dict[int, dict[str, Any]]] = {}
    if state.get("settings") == settings:
        results = {n: {int(k): v for k, v in per.items()} for n, per in state.get("results", {}).items()}
    bank = FeatureBank(utts, size=size, n_views=n_views, progress=progress)
    y = _labels(utts)
    au = visual_features(utts, root)
    for name in names:
        for k in folds:
            if k in results.get(name, {}):
                continue
            results.setdefault(name, {})[k] = run_fold(ROW_BY_NAME[name], k, bank, au, y, seed=seed)
            click.echo(f"{name} fold {k}: clean UA {results[name][k]['ua']['clean']:.1f} "
                       f"({results[name][k]['seconds']:.0f} s)", err=True)
            payload = {"settings": settings, "results": {n: {str(f): r for f, r in per.items()} for n, per in results.items()}}
            atomic_write_text(state_path, json.dumps(payload))
    conditions = list(EVAL_CONDITIONS)
    speakers = np.array([u.speaker for u in utts])
    summary = _summary(ROWS, results, y, speakers, conditions)
    fit_seconds = sum(r["seconds"] for per in results.values() for r in per.values())
    meta = {"size": size, "views": n_views, "feature_seconds": bank.seconds, "fit_seconds": fit_seconds,
            "command": f"--views {n_views} --size {size} --out {out}"}
    payload = {"settings": settings, "summary": summary,
               "results": {n: {str(f): r for f, r in per.items()} for n, per in results.items()}}
    atomic_write_text(state_path, json.dumps(payload))
    if summary:
        atomic_write_text(out.with_suffix(".md"), _markdown(summary, conditions, meta))
        _plot(summary, conditions, out.with_suffix(".png"))
    return summary


@click.command("whisper-teachers")
@click.option("--out", default="docs/results/whisper_teachers", show_default=True,
              help="Report stem: writes OUT.json, OUT.md and OUT.png.")
@click.option("--size", type=click.Choice(["tiny.en", "base"]), default="tiny.en", show_default=True,
              help="Whisper encoder (frozen).")
@click.option("--views", "n_views", type=click.IntRange(min=0), default=4, show_default=True,
              help="Augmented views per training clip for the *_views rows.")
@click.option("--rows", default=None, help="Comma-separated subset of: " + ", ".join(r.name for r in ROWS))
@click.option("--folds", default="0,1,2,3,4", show_default=True, help="Comma-separated outer folds.")
@click.option("--data", default=None, help="Data root holding ravdess/ and ravdess_visual/.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def whisper_teachers_command(out: str, size: str, n_views: int, rows: str | None, folds: str, data: str | None,
                             seed: int, threads: int, no_progress: bool) -> None:
    """Whisper teachers on the five actor folds, clean and degraded (resumable, cached features)."""
    set_torch_threads(threads)
    summary = run_whisper_teachers(
        Path(out), size=size, n_views=n_views, rows=rows.split(",") if rows else None,
        folds=[int(f) for f in folds.split(",")], data=data, seed=seed, progress=not no_progress,
    )
    for name, s in summary.items():
        click.echo(f"{name}: clean {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f}; "
                   f"mean degraded {s['mean_degraded']:.1f}; worst {s['worst'][0]:.1f} ({s['worst'][1]})")
    click.echo(f"wrote {Path(out).with_suffix('.md')}, .json and .png")


if __name__ == "__main__":
    raise SystemExit(run_standalone(whisper_teachers_command, "python -m edgeemo.recipes.whisper_teachers"))
