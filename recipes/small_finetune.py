"""``edgeemo recipe small-finetune``: the small student with its Whisper layers fine-tuned, on the folds.

Issue 11 asks whether fine-tuning the small student's encoder beats freezing it. The frozen recipe
(``recipe small-student``) trains a head on cached statistics; here the windows themselves go
through the network (:mod:`edgeemo.train.small_finetune`), so this recipe is meant for a GPU
(``--device cuda``); on a CPU use ``--max-clips-per-actor`` for a smoke run.

The audio is what the frozen recipe sees, made by the same code (:mod:`edgeemo.train.views`):
every clip clean, its 4 training views and the 8 degraded test conditions, cut into the SDK's
3 s windows every 0.5 s. They are made once, in ``--workers`` processes, and kept in memory.

Per row and outer fold, as the frozen recipe does: fit on the 3 training folds with the epoch of
best clean dev UA chosen on the dev fold, refit on train + dev for that many epochs, score the
test actors' clips (mean of window probabilities) clean and under every condition. Rows
(:data:`ROWS`) differ in k and in what learns; ``frozen_k3`` is the frozen model trained by this
same loop, the paired reference. When ``docs/results/small_student.json`` is present its
``small_k3_views`` folds (the shipped frozen recipe) are a second reference.

``--final ROW`` then trains that row on all 20 actors with the median of its fold epochs and saves
it (``save_small``; ``--half`` stores float16 weights) under ``--save-models``; ``--int8 ROW``
exports, quantizes and scores each fold's model of that row with ONNX Runtime, after every FP32
row has finished. ``--encoder-weights`` (``save_encoder_weights``) stands in for the Whisper
package on a machine without it. Writes ``OUT.json`` (resumable, after every fold), ``OUT.md`` and
``OUT.png``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_text
from edgeemo.train.data import (
    N_FOLDS,
    RAVDESS_LABELS,
    Utterance,
    find_data_root,
    fold_split,
    load_ravdess,
)

from .report import plot_conditions, read_state
from .small_student import (
    HOP,
    N_VIEWS,
    WINDOW,
    WINDOW_CLIPS,
    WINDOW_PROBS,
    load_results,
    onnx_fold_scores,
    save_results,
    summarize_rows,
)

__all__ = ["ROWS", "FinetuneRow", "PretrainedEncoders", "VariantWindows", "WindowTables", "best_row", "fresh_small_model",
           "make_variant_windows", "run_small_finetune", "small_finetune_command", "write_encoder_weights"]


@dataclass(frozen=True)
class FinetuneRow:
    name: str
    n_layers: int
    train_encoder: str  # "all", "top" or "none" (FinetuneConfig.train_encoder)
    description: str


ROWS: tuple[FinetuneRow, ...] = (
    FinetuneRow("ft_all_k3", 3, "all", "k = 3, stem + positions + all 3 layers fine-tuned (after 2 head-only epochs)"),
    FinetuneRow("frozen_k3", 3, "none", "k = 3, encoder frozen, head trained by the same loop (the paired reference)"),
    FinetuneRow("ft_all_k2", 2, "all", "k = 2, stem + positions + both layers fine-tuned (after 2 head-only epochs)"),
    FinetuneRow("ft_top_k3", 3, "top", "k = 3, only layer 3 fine-tuned, stem and layers 1-2 frozen"),
)
ROW_BY_NAME = {r.name: r for r in ROWS}
REFERENCE = "frozen_k3"
BEST = "best"
FROZEN_RECIPE = ("small_student.json", "small_k3_views")  # the shipped frozen recipe's five-fold results


# ----------------------------------------------------------------------------- the audio, once

_WORK: dict[str, Any] = {}  # set in the parent before the worker processes fork


def _variant_windows_of_clip(i: int) -> tuple[int, dict[str, np.ndarray]]:
    from edgeemo.fileio import sha256_file
    from edgeemo.train.data import read_audio
    from edgeemo.train.small_features import clip_windows

    utt = _WORK["utts"][i]
    wave = read_audio(utt.path, 16000)
    digest = sha256_file(utt.path)
    out = {}
    for name, make in _WORK["variants"].items():
        audio = wave if make is None else np.asarray(make(utt, wave, digest), np.float32)
        out[name] = clip_windows(audio, WINDOW, HOP)
    return i, out


@dataclass
class VariantWindows:
    """Per variant (``clean``, ``view-1..n``, ``eval-<condition>``): every clip's windows stacked
    ``[N, WINDOW]`` float32 and ``offsets`` (clip ``i``'s windows are ``offsets[i]:offsets[i + 1]``)."""

    windows: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]
    seconds: float

    def rows(self, variant: str, clips: np.ndarray) -> np.ndarray:
        """Indices into ``windows[variant]`` of ``clips``' windows, clip by clip."""
        o = self.offsets[variant]
        return np.concatenate([np.arange(o[c], o[c + 1]) for c in clips]) if len(clips) else np.zeros(0, np.int64)

    def owners(self, variant: str, clips: np.ndarray) -> np.ndarray:
        o = self.offsets[variant]
        return np.concatenate([np.full(o[c + 1] - o[c], c) for c in clips]) if len(clips) else np.zeros(0, np.int64)


def make_variant_windows(utts: Sequence[Utterance], *, corpus: Sequence[Utterance] | None = None, n_views: int = N_VIEWS,
                         variants: Sequence[str] | None = None, workers: int = 1, progress: bool = True) -> VariantWindows:
    """The windows of every clip of ``utts`` under every variant (or only ``variants``, e.g.
    ``["clean", "view-1"]``), made as the frozen recipe's cache makes them (the babble pool drawn
    from ``corpus``, by default ``utts``: pass the whole corpus when ``utts`` is a subset, so the
    audio stays the same)."""
    import multiprocessing as mp

    from .small_student import variant_functions

    t0 = time.perf_counter()
    _WORK["utts"] = list(utts)
    made = variant_functions(utts, n_views, pool_from=corpus)
    if variants is not None:
        unknown = [v for v in variants if v not in made]
        if unknown:
            raise ConfigError(f"unknown variant(s) {unknown}; known: {list(made)}")
        made = {v: made[v] for v in variants}
    _WORK["variants"] = made
    per_clip: list[dict[str, np.ndarray] | None] = [None] * len(utts)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(utts), desc="variant windows", unit="clip", leave=False)
    try:
        if workers > 1:
            with mp.get_context("fork").Pool(workers) as pool:
                for i, out in pool.imap_unordered(_variant_windows_of_clip, range(len(utts)), chunksize=4):
                    per_clip[i] = out
                    if bar is not None:
                        bar.update(1)
        else:
            for i in range(len(utts)):
                per_clip[i] = _variant_windows_of_clip(i)[1]
                if bar is not None:
                    bar.update(1)
    finally:
        _WORK.clear()
        if bar is not None:
            bar.close()
    windows, offsets = {}, {}
    for name in list(per_clip[0]):  # type: ignore[union-attr]
        parts = [c[name] for c in per_clip]  # type: ignore[index]
        offsets[name] = np.concatenate([[0], np.cumsum([len(p) for p in parts])])
        windows[name] = np.concatenate(parts)
        for c in per_clip:
            del c[name]  # type: ignore[union-attr]  # free as we go: the stacked copy replaces them
    return VariantWindows(windows, offsets, time.perf_counter() - t0)


# ----------------------------------------------------------------------------- one row, one fold

class PretrainedEncoders:
    """Pretrained window encoders by k, from a weights file or the Whisper package (loaded once)."""

    def __init__(self, weights: str | None) -> None:
        self.weights = weights
        self._full: Any = None

    def get(self, n_layers: int) -> Any:
        from edgeemo.train.models.whisper_small import load_encoder_weights

        if self.weights is not None:
            return load_encoder_weights(self.weights, n_layers)
        from edgeemo.train.models.whisper_small import SmallConfig, WhisperWindowEncoder
        from edgeemo.train.teachers.whisper import load_whisper_encoder

        if self._full is None:
            self._full = load_whisper_encoder(size="tiny.en")
        cfg = SmallConfig(labels=RAVDESS_LABELS, n_layers=n_layers, encoder_layers=self._full.n_layers,
                          window_samples=WINDOW, hop_samples=HOP, whisper_fingerprint=self._full.fingerprint)
        return WhisperWindowEncoder.from_whisper(self._full, cfg)  # new modules: the loaded weights stay untouched


class WindowTables:
    """Window tables on the training device, gathered from :class:`VariantWindows`."""

    def __init__(self, data: VariantWindows, device: Any) -> None:
        import torch

        self.data = data
        self.device = device
        self.on_device = {name: torch.from_numpy(w).to(device) for name, w in data.windows.items()}

    def table(self, variants: Sequence[str], clips: np.ndarray) -> Any:
        """The windows of ``clips`` under ``variants``; one group per (variant, clip)."""
        import torch
        from edgeemo.train.small_finetune import WindowTable

        windows, owner, group = [], [], []
        for j, v in enumerate(variants):
            windows.append(self.on_device[v][torch.as_tensor(self.data.rows(v, clips), device=self.device)])
            o = self.data.offsets[v]
            counts = (o[clips + 1] - o[clips]).astype(np.int64)
            owner.append(np.repeat(clips, counts))
            group.append(np.repeat(j * len(clips) + np.arange(len(clips)), counts))
        return WindowTable(torch.cat(windows), np.concatenate(owner), np.concatenate(group))


def write_encoder_weights(path: str | os.PathLike[str], n_layers: int = max(r.n_layers for r in ROWS)) -> Path:
    """Whisper tiny.en's window encoder with its first ``n_layers`` layers as one float16 file
    (``--encoder-weights``), for a machine without the Whisper package (12 MB for k = 3)."""
    from edgeemo.train.models.whisper_small import save_encoder_weights

    return save_encoder_weights(PretrainedEncoders(None).get(n_layers), path)


def fresh_small_model(encoders: PretrainedEncoders, n_layers: int, device: Any) -> Any:
    """A :class:`~edgeemo.train.models.whisper_small.WhisperSmall` for RAVDESS's labels on ``device``:
    the pretrained window encoder cut to ``n_layers`` layers and a new head."""
    from edgeemo.train.models.whisper_small import WhisperSmall

    enc = encoders.get(n_layers)
    cfg = replace(enc.cfg, labels=RAVDESS_LABELS, n_layers=n_layers)
    enc.cfg = cfg
    return WhisperSmall(cfg, enc).to(device)


def _ua(y: np.ndarray, pred: np.ndarray) -> float:
    from edgeemo.train.selection import unweighted_accuracy

    return 100 * unweighted_accuracy(y, np.asarray(pred), len(RAVDESS_LABELS))


def run_fold(row: FinetuneRow, fold: int, tables: WindowTables, encoders: PretrainedEncoders, utts: Sequence[Utterance],
             y: np.ndarray, tcfg: Any, *, save_to: Path | None, half: bool, log: Any) -> tuple[dict[str, Any], Any]:
    """Dev-chosen epochs, refit on train + dev, out-of-fold clip predictions under every condition."""
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.small_finetune import clip_mean, finetune_small, window_probs

    folds = np.array([u.fold for u in utts])
    train_folds, dev_fold, _ = fold_split(fold)
    tr = np.flatnonzero(np.isin(folds, train_folds))
    dv = np.flatnonzero(folds == dev_fold)
    te = np.flatnonzero(folds == fold)
    train_variants = ["clean", *(f"view-{i}" for i in range(1, N_VIEWS + 1))]
    cfg = replace(tcfg, train_encoder=row.train_encoder)
    t0 = time.perf_counter()

    def show(stage: str) -> Any:
        return lambda r: log(f"  {row.name} fold {fold} {stage} epoch {r['epoch']}: loss {r['loss']:.3f}"
                             + (f", dev UA {r['dev_ua']:.1f}" if "dev_ua" in r else "") + f" ({r['seconds']:.1f} s)")

    model, history = finetune_small(fresh_small_model(encoders, row.n_layers, tables.device),
                                    tables.table(train_variants, tr), y, cfg, dev=tables.table(["clean"], dv),
                                    dev_labels=y, progress=show("dev"))
    chosen = int(max(history, key=lambda h: h["dev_ua"])["epoch"])
    del model
    model, _ = finetune_small(fresh_small_model(encoders, row.n_layers, tables.device),
                              tables.table(train_variants, np.concatenate([tr, dv])), y, replace(cfg, epochs=chosen),
                              progress=show("refit"))
    out: dict[str, Any] = {"fold": fold, "test_index": te.tolist(), "epochs": chosen, "pred": {},
                           "dev_history": [{k: v for k, v in h.items() if k != "seconds"} for h in history]}
    for cond in EVAL_CONDITIONS:
        variant = "clean" if cond == "clean" else f"eval-{cond}"
        tab = tables.table([variant], te)
        wp = window_probs(model, tab.windows)
        _, probs = clip_mean(wp, tab.clip)  # clips come sorted, as te is
        out["pred"][cond] = probs.argmax(axis=1).tolist()
        if cond == "clean":  # window level, for fitting a temperature as classify averages windows
            out[WINDOW_PROBS], out[WINDOW_CLIPS] = wp.astype(np.float32), tab.clip
    out["layer_weights"] = model.head.layer_weights().detach().cpu().numpy().round(4).tolist()
    out["device"] = _device_name(tables.device)
    out["ua"] = {c: _ua(y[te], np.array(p)) for c, p in out["pred"].items()}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    if save_to is not None:
        from edgeemo.train.models.whisper_small import save_small

        save_small(model.cpu(), save_to / row.name / f"fold-{fold}", {"fold": fold, "epochs": chosen}, half=half)
    return out, model


def _device_name(device: Any) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"


def _frozen_recipe_folds(results_dir: Path) -> dict[int, dict[str, Any]] | None:
    path = results_dir / FROZEN_RECIPE[0]
    if not path.is_file():
        return None
    per = load_results(path).get(FROZEN_RECIPE[1], {})
    return per if len(per) == N_FOLDS else None


# ----------------------------------------------------------------------------- the report

def _markdown(summary: dict[str, Any], conditions: Sequence[str], meta: dict[str, Any]) -> str:
    degraded = [c for c in conditions if c != "clean"]
    fmt = (lambda x: "–" if x is None else f"{x['mean']:+.1f} ± {x['sd']:.1f} ({x['won']}/5)")
    lines = [
        "# Small Whisper student, fine-tuned vs frozen: five actor folds, clean and degraded",
        "",
        f"Written by `edgeemo recipe small-finetune` ({meta['command']}), on {meta['device']}. Whisper tiny.en "
        "front end, conv stem and first k layers + the layer-weighted head, trained on raw 3 s windows of every "
        "training clip and its 4 views (one random window per clip and view per epoch); epochs chosen on the dev "
        "fold, refitted on train + dev; clip score = mean of its window probabilities. Out-of-fold UA % (macro "
        f"recall), mean ± sd over the five folds. Δ: paired per-fold difference (folds won) against `{REFERENCE}` "
        "(the frozen encoder trained by this loop) and against the frozen recipe's shipped row "
        f"(`{FROZEN_RECIPE[1]}` of `recipe small-student`, cached features, same folds and test audio).",
        "",
        f"| row | clean (FP32) | 95 % CI | Δ clean vs {REFERENCE} | Δ clean vs {FROZEN_RECIPE[1]} | mean of 8 degraded | "
        f"Δ degraded vs {REFERENCE} | Δ degraded vs {FROZEN_RECIPE[1]} | worst | INT8 clean | INT8 − FP32 | "
        "INT8 degraded | epochs per fold |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        ci = s["interval_clean"]
        i8 = s.get("int8")
        lines.append(
            f"| {name} | {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f} | [{ci['low']:.1f}, {ci['high']:.1f}] | "
            f"{fmt(s.get('delta_vs_reference'))} | {fmt(s.get('delta_vs_frozen_recipe'))} | {s['mean_degraded']:.1f} | "
            f"{fmt(s.get('delta_degraded_vs_reference'))} | {fmt(s.get('delta_degraded_vs_frozen_recipe'))} | "
            f"{s['worst'][0]:.1f} ({s['worst'][1]}) | "
            + ("– | – | –" if i8 is None else
               f"{i8['ua']['clean']:.1f} | {fmt(i8['delta_vs_fp32'])} | {i8['mean_degraded']:.1f}")
            + f" | {', '.join(map(str, s['epochs']))} |")
    lines += ["", "Per condition (FP32, mean over folds):", "",
              "| row | " + " | ".join(degraded) + " |", "|---|" + "---|" * len(degraded)]
    for name, s in summary.items():
        lines.append(f"| {name} | " + " | ".join(f"{s['ua'][c]:.1f}" for c in degraded) + " |")
    lines += ["", "Rows:", ""] + [f"- `{r.name}`: {r.description}" for r in ROWS if r.name in summary]
    train = {k: v for k, v in meta["train"].items() if k != "train_encoder"}
    lines += ["", f"Training (what learns is each row's, above): {json.dumps(train)}.", "",
              f"Fitting and scoring: {meta['fit_seconds']:.0f} s summed over the rows and folds as each was run "
              "(per fold: the dev run, the refit and the scoring of 9 conditions; INT8 export and scoring not "
              "included)."]
    return "\n".join(lines) + "\n"


def _add_frozen_recipe_deltas(summary: dict[str, Any], results: dict[str, dict[int, dict[str, Any]]],
                              frozen: dict[int, dict[str, Any]] | None, conditions: Sequence[str]) -> None:
    from edgeemo.train.selection import paired_delta

    if frozen is None:
        return
    degraded = [c for c in conditions if c != "clean"]
    for name, s in summary.items():
        per = results[name]
        s["delta_vs_frozen_recipe"] = paired_delta({k: v["ua"]["clean"] for k, v in per.items()},
                                                   {k: v["ua"]["clean"] for k, v in frozen.items()}).to_dict()
        s["delta_degraded_vs_frozen_recipe"] = paired_delta(
            {k: float(np.mean([v["ua"][c] for c in degraded])) for k, v in per.items()},
            {k: float(np.mean([v["ua"][c] for c in degraded])) for k, v in frozen.items()}).to_dict()


# ----------------------------------------------------------------------------- the run

def best_row(results: dict[str, dict[int, dict[str, Any]]], names: Sequence[str]) -> str | None:
    """Among ``names`` with all five folds, the one with the best mean of clean UA and the mean UA
    over the degraded conditions (robustness counts as much as clean accuracy); None if none."""
    scores = {}
    for name in names:
        per = results.get(name, {})
        if len(per) == N_FOLDS:
            clean = np.mean([r["ua"]["clean"] for r in per.values()])
            degraded = np.mean([np.mean([v for c, v in r["ua"].items() if c != "clean"]) for r in per.values()])
            scores[name] = (clean + degraded) / 2
    return max(scores, key=scores.__getitem__) if scores else None


def run_small_finetune(out: Path, *, rows: Sequence[str], later_rows: Sequence[str] = (),
                       folds: Sequence[int] = tuple(range(N_FOLDS)),
                       final: str | None = None, int8_row: str | None = None, save_models: Path | None = None,
                       half: bool = False, device: str = "cpu", workers: int = 1, encoder_weights: str | None = None,
                       data: str | None = None, max_clips_per_actor: int | None = None, epochs: int | None = None,
                       seed: int = 0, deadline_s: float | None = None, progress: bool = True) -> dict[str, Any]:
    """Fit and score ``rows`` on ``folds`` (resumable), then the final model and the INT8 folds
    (``final`` / ``int8_row``: a row name or ``"best"``, see :func:`best_row`), then ``later_rows``.
    Past ``deadline_s`` seconds no new fold or model is started; the report covers what is done."""
    import torch
    from edgeemo.train.data import subset_per_actor
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.small_finetune import FinetuneConfig

    unknown = [n for n in [*rows, *later_rows, *(r for r in (final, int8_row) if r and r != BEST)] if n not in ROW_BY_NAME]
    if unknown:
        raise ConfigError(f"unknown row(s) {unknown}; known: {[r.name for r in ROWS]}")
    if int8_row is not None and save_models is None:
        raise ConfigError("--int8 scores the saved fold models: pass --save-models")
    if final is not None and save_models is None:
        raise ConfigError("--final saves the model it trains: pass --save-models (a folder outside docs/)")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {device!r} is not a torch device; pass cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda but torch sees no GPU; pass --device cpu")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    corpus = load_ravdess(find_data_root(data))
    utts = subset_per_actor(corpus, max_clips_per_actor)
    y = np.array([RAVDESS_LABELS.index(u.label) for u in utts], dtype=np.int64)
    tcfg = FinetuneConfig(seed=seed) if epochs is None else FinetuneConfig(seed=seed, epochs=epochs)
    settings = {"views": N_VIEWS, "seed": seed, "n_clips": len(utts), "window": WINDOW, "hop": HOP,
                "train": tcfg.to_dict()}
    state_path = out.with_suffix(".json")
    results: dict[str, dict[int, dict[str, Any]]] = {}
    if read_state(state_path).get("settings") == settings:
        results = load_results(state_path)

    def log(text: str) -> None:
        click.echo(text, err=True)

    need = [n for n in [*rows, *later_rows] for k in folds if k not in results.get(n, {})]
    need_int8 = int8_row == BEST or (int8_row is not None and
                                     any("int8" not in results.get(int8_row, {}).get(k, {}) for k in folds))
    variants = None
    if need or final or need_int8:
        variants = make_variant_windows(utts, corpus=corpus, workers=workers, progress=progress)
        log(f"variant windows: {sum(len(w) for w in variants.windows.values())} windows in {variants.seconds:.0f} s")
    encoders = PretrainedEncoders(encoder_weights)
    tables = WindowTables(variants, dev) if variants is not None else None
    started = time.monotonic()

    def in_time(what: str) -> bool:
        if deadline_s is None or time.monotonic() - started < deadline_s:
            return True
        log(f"deadline of {deadline_s:.0f} s reached: {what} not run (rerun the same command to resume)")
        return False

    def run_rows(names: Sequence[str]) -> None:
        for name in names:
            for k in folds:
                if k in results.get(name, {}) or not in_time(f"{name} fold {k}"):
                    continue
                r, _ = run_fold(ROW_BY_NAME[name], k, tables, encoders, utts, y, tcfg, save_to=save_models, half=half,
                                log=log)
                results.setdefault(name, {})[k] = r
                log(f"{name} fold {k}: clean UA {r['ua']['clean']:.1f}, epochs {r['epochs']} ({r['seconds']:.0f} s)")
                save_results(state_path, settings, results)

    run_rows(rows)
    final_row = best_row(results, rows) if final == BEST else final
    if final_row is not None and tables is not None and in_time(f"the final {final_row} model"):
        _final_model(ROW_BY_NAME[final_row], results, tables, encoders, utts, y, tcfg, save_models, half, log)  # type: ignore[arg-type]
    int8_name = best_row(results, rows) if int8_row == BEST else int8_row
    if int8_name is not None and variants is not None:
        for k in folds:
            r = results.get(int8_name, {}).get(k)
            if r is None or "int8" in r or not in_time(f"{int8_name} fold {k} in INT8"):
                continue
            try:  # an export or quantizer failure must not cost the rows still to run
                r["int8"] = _int8_fold(save_models / int8_name / f"fold-{k}", k, variants, utts, y)  # type: ignore[operator]
            except Exception as exc:  # noqa: BLE001
                log(f"{int8_name} fold {k}: INT8 export or scoring failed ({type(exc).__name__}: {exc}); skipped")
                break
            log(f"{int8_name} fold {k}: INT8 clean UA {r['int8']['ua']['clean']:.1f}")
            save_results(state_path, settings, results)
    run_rows(later_rows)
    conditions = list(EVAL_CONDITIONS)
    speakers = np.array([u.speaker for u in utts])
    summary = summarize_rows(results, y, speakers, conditions, [r.name for r in ROWS], REFERENCE)
    _add_frozen_recipe_deltas(summary, results, _frozen_recipe_folds(out.parent) if max_clips_per_actor is None else None,
                              conditions)
    save_results(state_path, settings, results, summary)
    if summary:
        meta = {"command": f"--out {out} --rows {','.join(rows)}" + (f" --final {final}" if final else "")
                + (f" --later-rows {','.join(later_rows)}" if later_rows else "")
                + (f" --int8 {int8_row}" if int8_row else ""),
                "device": ", ".join(sorted({r.get("device", "?") for per in results.values() for r in per.values()})),
                "train": tcfg.to_dict(),
                "fit_seconds": sum(r.get("seconds", 0.0) for per in results.values() for r in per.values())}
        atomic_write_text(out.with_suffix(".md"), _markdown(summary, conditions, meta))
        plot_conditions(summary, conditions, out.with_suffix(".png"),
                        title="Small Whisper student, fine-tuned vs frozen: five actor folds",
                        ylabel="out-of-fold UA %", n_classes=len(RAVDESS_LABELS), legend_columns=4)
    return summary


def _final_model(row: FinetuneRow, results: dict[str, dict[int, dict[str, Any]]], tables: WindowTables,
                 encoders: PretrainedEncoders, utts: Sequence[Utterance], y: np.ndarray, tcfg: Any, folder: Path, half: bool, log: Any) -> Path:
    """``row`` trained on every clip for the median of its dev-chosen fold epochs, saved."""
    from edgeemo.train.models.whisper_small import save_small
    from edgeemo.train.small_finetune import finetune_small

    per = results.get(row.name, {})
    if len(per) < N_FOLDS:
        raise ConfigError(f"--final {row.name} needs its five folds first (has {sorted(per)})")
    epochs = int(np.median([r["epochs"] for r in per.values()]))
    t0 = time.perf_counter()
    model, _ = finetune_small(fresh_small_model(encoders, row.n_layers, tables.device),
                              tables.table(["clean", *(f"view-{i}" for i in range(1, N_VIEWS + 1))], np.arange(len(utts))),
                              y, replace(tcfg, train_encoder=row.train_encoder, epochs=epochs))
    path = save_small(model.cpu(), folder / row.name / "final",
                      {"row": row.name, "epochs": epochs, "train": replace(tcfg, epochs=epochs).to_dict(),
                       "actors": sorted({u.actor for u in utts})}, half=half)
    log(f"{row.name}: final model ({epochs} epochs, {time.perf_counter() - t0:.0f} s) -> {path}")
    return path


def _int8_fold(folder: Path, fold: int, variants: VariantWindows, utts: Sequence[Utterance], y: np.ndarray) -> dict[str, Any]:
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.models.whisper_small import load_small

    from .small_student import calibration_set

    folds = np.array([u.fold for u in utts])
    train_folds, dev_fold, _ = fold_split(fold)
    te = np.flatnonzero(folds == fold)
    fit = np.flatnonzero(np.isin(folds, [*train_folds, dev_fold]))
    model, _ = load_small(folder)

    def test() -> Any:
        for cond in EVAL_CONDITIONS:
            v = "clean" if cond == "clean" else f"eval-{cond}"
            yield cond, variants.windows[v][variants.rows(v, te)], variants.owners(v, te)

    return onnx_fold_scores(model, calibration_set(utts, fit), test(), te, y, num_threads=os.cpu_count() or 1)


@click.command("small-finetune")
@click.option("--out", default="docs/results/small_finetune", show_default=True,
              help="Report stem: writes OUT.json, OUT.md and OUT.png.")
@click.option("--rows", default=",".join(r.name for r in ROWS), show_default=True,
              help="Comma-separated rows, run in this order.")
@click.option("--later-rows", default="", help="Rows run after --final and --int8 (e.g. the less likely ones).")
@click.option("--folds", default="0,1,2,3,4", show_default=True, help="Comma-separated outer folds.")
@click.option("--final", default=None, help="Also train this row (or 'best' of --rows) on all 20 actors and save it.")
@click.option("--int8", "int8_row", default=None,
              help="Export, quantize and score the saved fold models of this row (or 'best' of --rows).")
@click.option("--deadline-minutes", type=float, default=None,
              help="Start no new fold or model after this many minutes (the report covers what is done).")
@click.option("--save-models", type=click.Path(file_okay=False), default=None,
              help="Save every fold's model (and --final's) under this folder.")
@click.option("--half", is_flag=True, help="Save models with float16 weights.")
@click.option("--device", default="cpu", show_default=True, help="torch device: cpu, cuda, cuda:1, ...")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes that make the variant audio.")
@click.option("--encoder-weights", type=click.Path(dir_okay=False, exists=True), default=None,
              help="A save_encoder_weights file instead of the Whisper package (machines without it).")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Epochs of the dev run (default 12).")
@click.option("--max-clips-per-actor", type=click.IntRange(min=1), default=None, help="A subset, for a smoke run.")
@click.option("--data", default=None, help="Data root holding ravdess/.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads (default: torch's).")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def small_finetune_command(out: str, rows: str, later_rows: str, folds: str, final: str | None, int8_row: str | None,
                           deadline_minutes: float | None,
                           save_models: str | None, half: bool, device: str, workers: int, encoder_weights: str | None,
                           epochs: int | None, max_clips_per_actor: int | None, data: str | None, seed: int,
                           threads: int | None, no_progress: bool) -> None:
    """The small student fine-tuned end to end vs frozen, on the five actor folds (meant for a GPU)."""
    if threads is not None:
        from edgeemo.train.config import set_torch_threads

        set_torch_threads(threads)
    summary = run_small_finetune(
        Path(out), rows=[r for r in rows.split(",") if r], later_rows=[r for r in later_rows.split(",") if r],
        folds=[int(f) for f in folds.split(",") if f.strip()],
        deadline_s=None if deadline_minutes is None else 60 * deadline_minutes,
        final=final, int8_row=int8_row, save_models=Path(save_models) if save_models else None, half=half,
        device=device, workers=workers, encoder_weights=encoder_weights, data=data,
        max_clips_per_actor=max_clips_per_actor, epochs=epochs, seed=seed, progress=not no_progress)
    for name, s in summary.items():
        click.echo(f"{name}: clean {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f}, "
                   f"degraded mean {s['mean_degraded']:.1f}")
