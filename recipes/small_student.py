"""``edgeemo recipe small-student``: the small Whisper student on the five actor folds.

The student is Whisper tiny.en's front end, conv stem and first ``k`` encoder layers (frozen,
pretrained) with a layer-weighted head (:mod:`edgeemo.train.models.whisper_small`). The encoder
runs once per window of every clip and variant (clean, training views, degraded test audio) and
its statistics are cached (:mod:`edgeemo.train.small_features`), so every ``k`` and head recipe is
scored from the same cache. Per fold: the head is fitted on the training actors (clean + views),
its epoch count chosen on the dev fold, then refitted on train + dev; it scores the test actors'
clips as the SDK does (mean of the window probabilities), clean and under every condition of
:data:`edgeemo.train.degrade.EVAL_CONDITIONS`. ``--int8`` also exports each fold's model, quantizes
it with calibration windows of that fold's training actors, and scores the INT8 file with ONNX
Runtime on the same test audio.

Writes ``OUT.json`` (resumable: finished (row, fold) results are kept), ``OUT.md`` and ``OUT.png``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
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
from edgeemo.train.selection import paired_delta, speaker_bootstrap, unweighted_accuracy

from .report import condition_stats, plot_conditions, pooled_predictions, read_state

__all__ = ["ROWS", "Row", "SmallBank", "load_results", "onnx_fold_scores", "run_small_student", "save_results",
           "small_student_command", "summarize_rows"]

WINDOW, HOP = 48000, 8000
N_VIEWS = 4
REFERENCE = "small_k2_clean"


@dataclass(frozen=True)
class Row:
    name: str
    n_layers: int
    views: bool
    description: str
    kd_weight: float = 0.0  # > 0: distilled from the fold's audio + AU Whisper teacher (KL weight)


ROWS: tuple[Row, ...] = (
    Row("small_k2_clean", 2, False, "k = 2 layers, head on clean windows only"),
    Row("small_k1_views", 1, True, "k = 1 layer, head on clean + 4 views"),
    Row("small_k2_views", 2, True, "k = 2 layers, head on clean + 4 views"),
    Row("small_k3_views", 3, True, "k = 3 layers, head on clean + 4 views"),
    Row("small_k4_views", 4, True, "k = 4 (all) layers, head on clean + 4 views"),
    Row("small_k3_views_kd", 3, True, "k = 3, clean + 4 views, distilled from the fold's audio + AU Whisper teacher "
        "(`whisper_av_head_views`, with video; KL at T = 2, weight 0.5, plus the labels)", kd_weight=0.5),
)
KD_TEMPERATURE = 2.0
ROW_BY_NAME = {r.name: r for r in ROWS}


def variant_functions(utts: Sequence[Utterance], n_views: int, pool_from: Sequence[Utterance] | None = None) -> dict[str, Any]:
    """``variant name -> fn(utt, wave, clip sha256)`` (``None`` for clean), as the teacher cache
    makes its views and test conditions (:mod:`edgeemo.train.views`); the babble pool comes from
    ``pool_from`` (default ``utts``; the teacher cache draws it from the whole corpus)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.small_features import variant_names
    from edgeemo.train.teachers.whisper_features import clip_view_seed
    from edgeemo.train.views import condition_wave, teacher_babble_pool, view_function

    pool = teacher_babble_pool(utts if pool_from is None else pool_from)
    speaker_fns: dict[str, Any] = {}

    def view(seed: int) -> Any:
        def make(utt: Utterance, wave: np.ndarray, digest: str) -> np.ndarray:
            if utt.speaker not in speaker_fns:
                speaker_fns[utt.speaker] = view_function(pool, utt.speaker)
            return speaker_fns[utt.speaker](wave, clip_view_seed(seed, digest))
        return make

    def cond(name: str) -> Any:
        return lambda utt, wave, digest: condition_wave(utt, wave, name, pool, digest)

    out: dict[str, Any] = {}
    for name in variant_names(n_views, list(EVAL_CONDITIONS)):
        if name == "clean":
            out[name] = None
        elif name.startswith("view-"):
            out[name] = view(int(name.split("-", 1)[1]))
        else:
            out[name] = cond(name[len("eval-"):])
    return out


class SmallBank:
    """Cached window statistics of every clip and variant, from the full tiny.en encoder."""

    def __init__(self, utts: Sequence[Utterance], *, n_views: int = N_VIEWS, shard: tuple[int, int] = (0, 1),
                 progress: bool = True, data: str | None = None) -> None:
        from edgeemo.train.models.whisper_small import SmallConfig, WhisperWindowEncoder
        from edgeemo.train.small_features import extract_window_features
        from edgeemo.train.teachers.whisper import (
            load_whisper_encoder,
            weights_fingerprint,
        )

        self.utts = list(utts)
        self.n_views = n_views
        self.data = data
        self.fingerprint = weights_fingerprint(size="tiny.en")
        self._encoder: Any = None

        def encoder() -> Any:
            if self._encoder is None:
                whisper = load_whisper_encoder(size="tiny.en")
                cfg = SmallConfig(labels=RAVDESS_LABELS, n_layers=whisper.n_layers, encoder_layers=whisper.n_layers,
                                  window_samples=WINDOW, hop_samples=HOP)
                self._encoder = WhisperWindowEncoder.from_whisper(whisper, cfg)
            return self._encoder

        t0 = time.perf_counter()
        self.features = extract_window_features(  # the encoder is loaded only if a window is missing
            self.utts, lambda audio: encoder()(audio), variant_functions(self.utts, n_views), fingerprint=self.fingerprint,
            window=WINDOW, hop=HOP, shard=shard, progress=progress,
        )
        self.seconds = time.perf_counter() - t0
        self._teacher_bank: Any = None

    def teacher_bank(self) -> Any:
        """Clip-level pooled Whisper features (clean, views) and the AU features, for the teachers
        of distilled rows (the caches of ``recipe whisper-teachers``; loaded once)."""
        if self._teacher_bank is None:
            from edgeemo.train.data import find_data_root
            from edgeemo.train.teachers.visual import visual_features

            from .whisper_teachers import FeatureBank

            tb = FeatureBank(self.utts, size="tiny.en", n_views=self.n_views, progress=False)
            tb.au = visual_features(self.utts, find_data_root(self.data))
            self._teacher_bank = tb
        return self._teacher_bank


def _labels(utts: Sequence[Utterance]) -> np.ndarray:
    index = {lab: i for i, lab in enumerate(RAVDESS_LABELS)}
    return np.array([index[u.label] for u in utts], dtype=np.int64)


def clip_probs(window_probs: np.ndarray, owner: np.ndarray, clips: np.ndarray) -> np.ndarray:
    """Mean window probability per clip (what ``Recognizer.classify`` reports), in ``clips`` order."""
    out = np.zeros((len(clips), window_probs.shape[1]), np.float64)
    for j, c in enumerate(clips):
        out[j] = window_probs[owner == c].mean(axis=0)
    return out


def _head_rows(bank: SmallBank, clips: np.ndarray, y: np.ndarray, n_states: int, views: bool,
               teacher: dict[str, np.ndarray] | None = None) -> Any:
    """Window rows of ``clips`` (clean, and each view when ``views``); with ``teacher`` (variant ->
    per-clip logits) every window carries its clip-and-view's teacher logits."""
    from edgeemo.train.teachers.whisper_head import HeadData

    names = ["clean"] + ([f"view-{i}" for i in range(1, bank.n_views + 1)] if views else [])
    feats, labels, soft = [], [], []
    for name in names:
        f, owner = bank.features.rows(name, clips, n_states)
        feats.append(f)
        labels.append(y[owner])
        if teacher is not None:
            soft.append(teacher[name][owner])
    return HeadData(features=np.concatenate(feats), labels=np.concatenate(labels),
                    teacher_logits=np.concatenate(soft) if teacher is not None else None)


def fold_teacher_logits(fold: int, bank: SmallBank, y: np.ndarray, *, seed: int = 0, epochs: int = 60) -> dict[str, np.ndarray]:
    """The fold's audio + AU Whisper teacher (``whisper_av_head_views`` of ``recipe whisper-teachers``:
    trained on the fold's train actors with the epoch count chosen on its dev actors, then refitted on
    train + dev) and its logits, *with video*, for every clip's clean audio and training views."""
    from edgeemo.train.teachers.whisper_head import (
        HeadData,
        HeadTrainConfig,
        WhisperHeadConfig,
        fit_whisper_head,
        predict_logits,
    )

    tb = bank.teacher_bank()
    folds = np.array([u.fold for u in bank.utts])
    train_folds, dev_fold, _ = fold_split(fold)
    tr = np.flatnonzero(np.isin(folds, train_folds))
    dv = np.flatnonzero(folds == dev_fold)
    au = tb.au
    n_layers, dim = tb.clean.shape[1:]
    cfg = WhisperHeadConfig(n_layers=n_layers, feature_dim=dim, n_classes=len(RAVDESS_LABELS), au_dim=au.shape[1])
    sets = [tb.clean, *tb.views[: bank.n_views]]

    def rows(index: np.ndarray, with_views: bool) -> HeadData:
        use = sets if with_views else sets[:1]
        return HeadData(features=np.concatenate([s[index] for s in use]), labels=np.concatenate([y[index]] * len(use)),
                        au=np.concatenate([au[index]] * len(use)))

    _, history = fit_whisper_head(rows(tr, True), rows(dv, False), cfg, HeadTrainConfig(seed=seed, epochs=epochs))
    best = int(max(history, key=lambda h: h["dev_ua"])["epoch"])
    teacher, _ = fit_whisper_head(rows(np.concatenate([tr, dv]), True), None, cfg, HeadTrainConfig(seed=seed, epochs=best))
    names = ["clean", *(f"view-{i}" for i in range(1, bank.n_views + 1))]
    every = np.arange(len(y))
    return {name: predict_logits(teacher, HeadData(features=feats, labels=y, au=au[every]), with_video=True)
            for name, feats in zip(names, sets)}


def fit_fold_head(row: Row, fold: int, bank: SmallBank, y: np.ndarray, *, seed: int = 0, epochs: int = 60,
                  fixed_epochs: int | None = None) -> tuple[Any, int]:
    """The fold's head (train + dev actors) and its epoch count (chosen on the dev fold unless fixed)."""
    from edgeemo.train.models.whisper_small import SmallConfig, WhisperSmall
    from edgeemo.train.teachers.whisper_head import HeadTrainConfig, fit_whisper_head

    folds = np.array([u.fold for u in bank.utts])
    train_folds, dev_fold, _ = fold_split(fold)
    tr = np.flatnonzero(np.isin(folds, train_folds))
    dv = np.flatnonzero(folds == dev_fold)
    n_states = row.n_layers + 1
    teacher = fold_teacher_logits(fold, bank, y, seed=seed, epochs=epochs) if row.kd_weight > 0 else None
    kd = {"kd_weight": row.kd_weight, "kd_temperature": KD_TEMPERATURE} if teacher is not None else {}
    train_rows = _head_rows(bank, tr, y, n_states, row.views, teacher)
    cfg = replace(WhisperSmall.head_config(SmallConfig(labels=RAVDESS_LABELS, n_layers=row.n_layers)),
                  feature_dim=int(train_rows.features.shape[-1]))
    if fixed_epochs is None:
        _, history = fit_whisper_head(train_rows, _head_rows(bank, dv, y, n_states, False), cfg,
                                      HeadTrainConfig(seed=seed, epochs=epochs, **kd))
        fixed_epochs = int(max(history, key=lambda h: h["dev_ua"])["epoch"])
    head, _ = fit_whisper_head(_head_rows(bank, np.concatenate([tr, dv]), y, n_states, row.views, teacher), None, cfg,
                               HeadTrainConfig(seed=seed, epochs=fixed_epochs, **kd))
    return head, fixed_epochs


def run_fold(row: Row, fold: int, bank: SmallBank, y: np.ndarray, *, seed: int = 0, int8: bool = False,
             epochs: int = 60) -> dict[str, Any]:
    """Out-of-fold clip probabilities of one row on one fold, for every test condition."""
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.teachers.whisper_head import HeadData, predict_proba

    folds = np.array([u.fold for u in bank.utts])
    te = np.flatnonzero(folds == fold)
    t0 = time.perf_counter()
    head, chosen = fit_fold_head(row, fold, bank, y, seed=seed, epochs=epochs)
    out: dict[str, Any] = {"fold": fold, "test_index": te.tolist(), "epochs": chosen, "pred": {}}
    for cond in EVAL_CONDITIONS:
        variant = "clean" if cond == "clean" else f"eval-{cond}"
        feats, owner = bank.features.rows(variant, te, row.n_layers + 1)
        wp = predict_proba(head, HeadData(features=feats, labels=np.zeros(len(feats), np.int64)))
        out["pred"][cond] = clip_probs(wp, owner, te).argmax(axis=1).tolist()
        if cond == "clean":  # window level, for fitting a temperature as classify averages windows
            out[WINDOW_PROBS], out[WINDOW_CLIPS] = wp.astype(np.float32), owner
    out["layer_weights"] = head.layer_weights().detach().numpy().round(4).tolist()
    if int8:
        out["int8"] = _int8_fold(row, fold, head, bank, y)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["ua"] = {c: _ua(y[te], np.array(p)) for c, p in out["pred"].items()}
    return out


def _ua(y: np.ndarray, pred: np.ndarray) -> float:
    return 100 * unweighted_accuracy(y, np.asarray(pred), len(RAVDESS_LABELS))


def build_small(head: Any, n_layers: int) -> Any:
    """A :class:`~edgeemo.train.models.whisper_small.WhisperSmall` from tiny.en's first ``n_layers``
    layers and a fitted head."""
    from edgeemo.train.models.whisper_small import (
        SmallConfig,
        WhisperSmall,
        WhisperWindowEncoder,
    )
    from edgeemo.train.teachers.whisper import load_whisper_encoder

    whisper = load_whisper_encoder(size="tiny.en")
    cfg = SmallConfig(labels=RAVDESS_LABELS, n_layers=n_layers, encoder_layers=whisper.n_layers,
                      window_samples=WINDOW, hop_samples=HOP, whisper_fingerprint=whisper.fingerprint)
    return WhisperSmall(cfg, WhisperWindowEncoder.from_whisper(whisper, cfg), head).eval()


def calibration_set(utts: Sequence[Utterance], clips: np.ndarray, n_windows: int = 64, seed: int = 0) -> np.ndarray:
    """``n_windows`` windows of distinct clips among ``clips`` (training actors only)."""
    from edgeemo.export.quantize import calibration_windows
    from edgeemo.train.data import read_audio

    rng = np.random.default_rng(seed)
    chosen = rng.choice(clips, size=min(n_windows, len(clips)), replace=False)
    waves = [read_audio(utts[i].path, 16000) for i in chosen]
    return calibration_windows(waves, WINDOW, n_windows, seed=seed)


def _int8_fold(row: Row, fold: int, head: Any, bank: SmallBank, y: np.ndarray) -> dict[str, Any]:
    """Export the fold's model, quantize it on training-actor windows, score FP32 and INT8 ONNX."""
    from edgeemo.fileio import sha256_file
    from edgeemo.train.data import read_audio
    from edgeemo.train.degrade import EVAL_CONDITIONS
    from edgeemo.train.small_features import clip_windows
    from edgeemo.train.views import condition_wave, teacher_babble_pool

    folds = np.array([u.fold for u in bank.utts])
    train_folds, dev_fold, _ = fold_split(fold)
    te = np.flatnonzero(folds == fold)
    fit = np.flatnonzero(np.isin(folds, [*train_folds, dev_fold]))
    pool = teacher_babble_pool(bank.utts)
    waves = {i: read_audio(bank.utts[i].path, 16000) for i in te}
    digests = {i: sha256_file(bank.utts[i].path) for i in te}

    def test() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:  # one condition's windows at a time
        for cond in EVAL_CONDITIONS:
            wins = [clip_windows(condition_wave(bank.utts[i], waves[i], cond, pool, digests[i]), WINDOW, HOP) for i in te]
            yield cond, np.concatenate(wins), np.concatenate([np.full(len(w), i) for i, w in zip(te, wins)])

    return onnx_fold_scores(build_small(head, row.n_layers), calibration_set(bank.utts, fit), test(), te, y)


def onnx_fold_scores(model: Any, calibration: np.ndarray, test: Iterable[tuple[str, np.ndarray, np.ndarray]],
                     te: np.ndarray, y: np.ndarray, *, num_threads: int = 1) -> dict[str, Any]:
    """Export a fold's :class:`WhisperSmall`, quantize it (INT8 QDQ) on ``calibration`` windows and
    score both files with ONNX Runtime: ``test`` yields ``(condition, windows, clip per window)``
    for the test clips ``te``; clean is scored in FP32 too (the INT8 − FP32 check)."""
    from edgeemo.export.parity import onnx_probs
    from edgeemo.export.small_export import EXPORT_LAYOUT, export_small, quantize_small

    result: dict[str, Any] = {"pred": {}, "pred_fp32_onnx": {}, "export": EXPORT_LAYOUT}
    with tempfile.TemporaryDirectory() as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        export_small(model, fp32)
        q = quantize_small(fp32, int8, calibration)
        result["int8_bytes"], result["fp32_bytes"] = int8.stat().st_size, fp32.stat().st_size
        result["quantized_nodes"] = q.quantized_nodes
        for cond, x, owner in test:
            result["pred"][cond] = clip_probs(onnx_probs(int8, x, num_threads), owner, te).argmax(axis=1).tolist()
            if cond == "clean":
                result["pred_fp32_onnx"][cond] = clip_probs(onnx_probs(fp32, x, num_threads), owner, te).argmax(axis=1).tolist()
    result["ua"] = {c: _ua(y[te], np.array(p)) for c, p in result["pred"].items()}
    result["ua_fp32_onnx"] = {c: _ua(y[te], np.array(p)) for c, p in result["pred_fp32_onnx"].items()}
    return result


WINDOW_PROBS, WINDOW_CLIPS = "window_probs_clean", "window_clip_clean"


def _windows_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.stem + ".windows.npz")


def save_results(state_path: Path, settings: dict[str, Any], results: dict[str, dict[int, dict[str, Any]]],
                 summary: dict[str, Any] | None = None) -> None:
    """Write ``OUT.json`` (settings, per-fold class predictions and UA, summary) and beside it
    ``OUT.windows.npz`` (each fold's clean window probabilities as float16 and their clip index,
    what a temperature is fitted on), both atomically."""
    import io

    from edgeemo.fileio import atomic_write_bytes

    arrays: dict[str, np.ndarray] = {}
    plain: dict[str, dict[str, Any]] = {}
    for name, per in results.items():
        plain[name] = {}
        for fold, r in per.items():
            plain[name][str(fold)] = {k: v for k, v in r.items() if k not in (WINDOW_PROBS, WINDOW_CLIPS)}
            if WINDOW_PROBS in r:
                arrays[f"{name}/{fold}/probs"] = np.asarray(r[WINDOW_PROBS], np.float16)
                arrays[f"{name}/{fold}/clip"] = np.asarray(r[WINDOW_CLIPS], np.int32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write_bytes(_windows_path(state_path), buffer.getvalue())
    payload: dict[str, Any] = {"settings": settings}
    if summary is not None:
        payload["summary"] = summary
    payload["results"] = plain
    atomic_write_text(state_path, json.dumps(payload, separators=(",", ":")))


def load_results(state_path: Path) -> dict[str, dict[int, dict[str, Any]]]:
    """The per-fold results :func:`save_results` wrote (window probabilities merged back where the
    ``.windows.npz`` file has them)."""
    state = read_state(state_path)
    results = {n: {int(k): dict(v) for k, v in per.items()} for n, per in state.get("results", {}).items()}
    path = _windows_path(state_path)
    if path.is_file():
        with np.load(path) as arrays:
            for name, per in results.items():
                for fold, r in per.items():
                    key = f"{name}/{fold}"
                    if f"{key}/probs" in arrays:
                        r[WINDOW_PROBS] = arrays[f"{key}/probs"].astype(np.float32)
                        r[WINDOW_CLIPS] = arrays[f"{key}/clip"].astype(np.int64)
    return results


def summarize_rows(results: dict[str, dict[int, dict[str, Any]]], y: np.ndarray, speakers: np.ndarray,
                   conditions: Sequence[str], names: Sequence[str], reference: str) -> dict[str, Any]:
    """Per row with all five folds: UA per condition (mean, sd over folds), the speaker-bootstrap
    interval of clean UA, the epochs, paired deltas against ``reference`` (when it has five folds)
    and the INT8 scores (when every fold has them)."""
    n_classes = len(RAVDESS_LABELS)
    summary: dict[str, Any] = {}
    degraded = [c for c in conditions if c != "clean"]
    for name in names:
        per_fold = results.get(name, {})
        if len(per_fold) < N_FOLDS:
            continue
        s = condition_stats(per_fold, conditions)
        s["interval_clean"] = speaker_bootstrap(y, [pooled_predictions(per_fold, len(y), "clean")], speakers,
                                                n_classes).to_dict()
        s["epochs"] = [per_fold[k]["epochs"] for k in sorted(per_fold)]
        ref = results.get(reference, {})
        if name != reference and len(ref) == N_FOLDS:
            s["delta_vs_reference"] = paired_delta({k: v["ua"]["clean"] for k, v in per_fold.items()},
                                                   {k: v["ua"]["clean"] for k, v in ref.items()}).to_dict()
            s["delta_degraded_vs_reference"] = paired_delta(
                {k: float(np.mean([v["ua"][c] for c in degraded])) for k, v in per_fold.items()},
                {k: float(np.mean([v["ua"][c] for c in degraded])) for k, v in ref.items()}).to_dict()
            s["delta_interval"] = speaker_bootstrap(
                y, [pooled_predictions(per_fold, len(y), "clean"), pooled_predictions(ref, len(y), "clean")], speakers,
                n_classes).to_dict()
        if all("int8" in v for v in per_fold.values()):
            i8 = {c: float(np.mean([per_fold[k]["int8"]["ua"][c] for k in per_fold])) for c in conditions}
            s["int8"] = {"ua": i8, "mean_degraded": float(np.mean([i8[c] for c in degraded])),
                         "fp32_onnx_clean": float(np.mean([per_fold[k]["int8"]["ua_fp32_onnx"]["clean"] for k in per_fold])),
                         "delta_vs_fp32": paired_delta({k: v["int8"]["ua"]["clean"] for k, v in per_fold.items()},
                                                       {k: v["ua"]["clean"] for k, v in per_fold.items()}).to_dict(),
                         "int8_bytes": int(np.median([v["int8"]["int8_bytes"] for v in per_fold.values()]))}
        summary[name] = s
    return summary


def _markdown(summary: dict[str, Any], conditions: Sequence[str], meta: dict[str, Any]) -> str:
    degraded = [c for c in conditions if c != "clean"]
    lines = [
        "# Small Whisper student: five actor folds, clean and degraded",
        "",
        f"Written by `edgeemo recipe small-student` ({meta['command']}). Whisper tiny.en front end, conv stem and "
        "first k encoder layers (frozen, pretrained) + a layer-weighted head; 3 s windows every 0.5 s, clip score = "
        "mean of its window probabilities (as `Recognizer.classify`). Out-of-fold UA % (macro recall), mean ± sd "
        f"over the five folds. `Δ vs {REFERENCE}`: paired per-fold difference (folds won); 95 % CI: bootstrap "
        "over the 20 speakers of the pooled out-of-fold predictions.",
        "",
        f"| row | clean (FP32) | 95 % CI | Δ clean vs {REFERENCE} | mean of 8 degraded | Δ degraded | worst | "
        "INT8 clean | INT8 − FP32 (folds ≥ FP32) | INT8 degraded | epochs per fold |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        ci = s["interval_clean"]
        d, dd = s.get("delta_vs_reference"), s.get("delta_degraded_vs_reference")
        fmt = (lambda x: "–" if x is None else f"{x['mean']:+.1f} ± {x['sd']:.1f} ({x['won']}/5)")
        i8 = s.get("int8")
        lines.append(
            f"| {name} | {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f} | [{ci['low']:.1f}, {ci['high']:.1f}] | "
            f"{fmt(d)} | {s['mean_degraded']:.1f} | {fmt(dd)} | {s['worst'][0]:.1f} ({s['worst'][1]}) | "
            + ("– | – | –" if i8 is None else
               f"{i8['ua']['clean']:.1f} | {fmt(i8['delta_vs_fp32'])} | {i8['mean_degraded']:.1f}")
            + f" | {', '.join(map(str, s['epochs']))} |"
        )
    lines += ["", "Per condition (FP32, mean over folds):", "",
              "| row | " + " | ".join(degraded) + " |", "|---|" + "---|" * len(degraded)]
    for name, s in summary.items():
        lines.append(f"| {name} | " + " | ".join(f"{s['ua'][c]:.1f}" for c in degraded) + " |")
    int8_rows = {n: s["int8"] for n, s in summary.items() if "int8" in s}
    if int8_rows:
        lines += ["", "Per condition (INT8 ONNX, each fold's model quantized on 64 windows of its training actors):", "",
                  "| row | " + " | ".join(degraded) + " |", "|---|" + "---|" * len(degraded)]
        for name, i8 in int8_rows.items():
            lines.append(f"| {name} | " + " | ".join(f"{i8['ua'][c]:.1f}" for c in degraded) + " |")
    lines += ["", "Rows:", ""] + [f"- `{r.name}`: {r.description}" for r in ROWS if r.name in summary]
    lines += ["", f"Window statistics (once, cached): {meta['feature_seconds']:.0f} s this run; fitting and scoring: "
              f"{meta['fit_seconds']:.0f} s summed over every row and fold as each was run (2 torch threads, INT8 rows "
              "include export, quantization and ONNX Runtime scoring)."]
    return "\n".join(lines) + "\n"


def run_small_student(out: Path, *, rows: Sequence[str] | None = None, folds: Sequence[int] = tuple(range(N_FOLDS)),
                      int8_rows: Sequence[str] = (), data: str | None = None, seed: int = 0,
                      progress: bool = True) -> dict[str, Any]:
    """Fit and score every requested row on every requested fold (resumable)."""
    from edgeemo.train.degrade import EVAL_CONDITIONS

    names = list(rows) if rows else [r.name for r in ROWS]
    unknown = [n for n in [*names, *int8_rows] if n not in ROW_BY_NAME]
    if unknown:
        raise ConfigError(f"unknown row(s) {unknown}; known: {[r.name for r in ROWS]}")
    utts = load_ravdess(find_data_root(data))
    settings = {"views": N_VIEWS, "seed": seed, "n_clips": len(utts), "window": WINDOW, "hop": HOP}
    state_path = out.with_suffix(".json")
    state = read_state(state_path)
    results: dict[str, dict[int, dict[str, Any]]] = {}
    if state.get("settings") == settings:
        results = load_results(state_path)
    bank = SmallBank(utts, progress=progress, data=data)
    y = _labels(utts)
    for name in names:
        for k in folds:
            done = results.get(name, {}).get(k)
            if done is not None and (name not in int8_rows or "int8" in done):
                continue
            r = run_fold(ROW_BY_NAME[name], k, bank, y, seed=seed, int8=name in int8_rows)
            results.setdefault(name, {})[k] = r
            extra = f", INT8 {r['int8']['ua']['clean']:.1f}" if "int8" in r else ""
            click.echo(f"{name} fold {k}: clean UA {r['ua']['clean']:.1f}{extra} ({r['seconds']:.0f} s)", err=True)
            save_results(state_path, settings, results)
    conditions = list(EVAL_CONDITIONS)
    speakers = np.array([u.speaker for u in utts])
    summary = summarize_rows(results, y, speakers, conditions, [r.name for r in ROWS], REFERENCE)
    fit_seconds = sum(r.get("seconds", 0.0) for per in results.values() for r in per.values())
    meta = {"feature_seconds": bank.seconds, "fit_seconds": fit_seconds,
            "command": f"--out {out}" + (f" --int8 {','.join(int8_rows)}" if int8_rows else "")}
    save_results(state_path, settings, results, summary)
    if summary:
        atomic_write_text(out.with_suffix(".md"), _markdown(summary, conditions, meta))
        plot_conditions(summary, conditions, out.with_suffix(".png"),
                        title="Small Whisper student, five actor folds: clean and degraded test audio",
                        ylabel="out-of-fold UA %", n_classes=len(RAVDESS_LABELS), legend_columns=3)
    return summary


def _parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise click.BadParameter(f"expected I/N, e.g. 0/2, got {text!r}") from None
    if not 0 <= i < n:
        raise click.BadParameter(f"expected 0 <= I < N, got {text!r}")
    return i, n


@click.command("small-student")
@click.option("--out", default="docs/results/small_student", show_default=True,
              help="Report stem: writes OUT.json, OUT.md and OUT.png.")
@click.option("--rows", default=None, help="Comma-separated subset of: " + ", ".join(r.name for r in ROWS))
@click.option("--int8", "int8_rows", default="", help="Rows whose fold models are also exported, quantized and scored in INT8.")
@click.option("--folds", default="0,1,2,3,4", show_default=True, help="Comma-separated outer folds.")
@click.option("--features-only", "shard", default=None, metavar="I/N",
              help="Only compute the cached window statistics of every I-th of N clips, then stop "
                   "(run N of these side by side, e.g. 0/2 and 1/2).")
@click.option("--data", default=None, help="Data root holding ravdess/.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="torch CPU threads.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
def small_student_command(out: str, rows: str | None, int8_rows: str, folds: str, shard: str | None, data: str | None,
                          seed: int, threads: int, no_progress: bool) -> None:
    """The small Whisper student on the five actor folds, clean, degraded and INT8 (resumable, cached)."""
    from edgeemo.train.config import set_torch_threads

    set_torch_threads(threads)
    parts = _parse_shard(shard)
    if parts is not None:
        bank = SmallBank(load_ravdess(find_data_root(data)), shard=parts, progress=not no_progress)
        click.echo(f"shard {shard}: {bank.features.computed} clip-variants computed in {bank.seconds:.0f} s", err=True)
        return
    summary = run_small_student(
        Path(out), rows=[r for r in rows.split(",") if r] if rows else None,
        folds=[int(f) for f in folds.split(",") if f.strip()], int8_rows=[r for r in int8_rows.split(",") if r],
        data=data, seed=seed, progress=not no_progress,
    )
    for name, s in summary.items():
        click.echo(f"{name}: clean {s['ua']['clean']:.1f} ± {s['ua_sd']['clean']:.1f}, "
                   f"degraded mean {s['mean_degraded']:.1f}")
