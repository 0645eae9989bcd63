"""The teacher / student / distillation comparison over the five RAVDESS actor folds.

``python -m edgeemo.recipes.experiments --out docs/results`` runs every configuration in
:data:`SPECS` on folds 0-4 (fold k: test = k, dev = (k + 1) % 5 picks the epoch, train = the other
three) with fixed seeds, and writes ``docs/results.md``, ``docs/results.json`` and PNG plots in
``docs/results/``. Each finished (configuration, fold) is stored in ``docs/results/fold_results.json``
under a key that includes a hash of its settings, so an interrupted run resumes and a run with
other settings never reuses a stale number. Student runs also resume inside a fold from their
last checkpoint. Checkpoints go to ``--runs`` (default ``runs/experiments``, not in git).

``--configs``, ``--folds`` and ``--epochs`` (or ``--teacher-epochs`` / ``--student-epochs``) run a
subset; ``--clips-per-actor`` and ``--max-steps`` make a smoke run. The same command is
``edgeemo recipe compare`` (:mod:`edgeemo.recipes.cli`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import click
import numpy as np
from edgeemo.cli._common import run_standalone
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write, atomic_write_text
from edgeemo.train.config import set_torch_threads
from edgeemo.train.data import (
    N_FOLDS,
    RAVDESS_LABELS,
    Utterance,
    fold_split,
    load_ravdess,
    select,
    subset_per_actor,
)
from edgeemo.train.selection import paired_delta
from edgeemo.train.teachers.egemaps import FEATURE_SET

log = logging.getLogger("edgeemo.recipes.experiments")


@dataclass(frozen=True)
class Spec:
    """One row of the comparison."""

    name: str
    kind: str  # "baseline", "teacher" or "student"
    description: str
    teacher: dict[str, Any] = field(default_factory=dict)  # TeacherConfig overrides
    teacher_train: dict[str, Any] = field(default_factory=dict)  # TeacherTrainConfig overrides
    eval_with_video: bool = True
    distill: dict[str, Any] | None = None  # DistillConfig fields (students only)
    # the teacher a distilled student learns from: the A+V teacher with the best mean *dev* UA over
    # the five folds in the measured teacher rows (concat 73.2, shift 73.0, attention 72.3; see results.md)
    teacher_ref: str = "teacher_av_concat"
    features: tuple[str, ...] = ()  # baselines: clip features for logistic regression
    speaker_norm: bool = False  # baselines: z-score the features per speaker first (as TeacherConfig.speaker_norm)


_MASKING = {"p_none": 0.4, "p_audio": 0.1, "p_video": 0.3, "p_span": 0.2, "audio_span_frames": 25,
            "audio_span_count": 2, "video_span_dims": 5, "video_span_count": 1, "modality_dropout": 0.1}

# the a-priori combination of distillation losses (fixed before any student result)
_BEST = {"triplet_weight": 1.0, "feature_weight": 1.0, "response_weight": 0.5, "weighting": "confidence"}

SPECS: tuple[Spec, ...] = (
    Spec("logreg_egemaps_au", "baseline", "same-protocol reference: eGeMAPS + AU, logistic regression "
         "(C picked on the dev fold)", features=("egemaps", "visual")),
    Spec("logreg_egemaps", "baseline", "same-protocol reference: eGeMAPS, logistic regression (C on dev)",
         features=("egemaps",)),
    Spec("logreg_egemaps_au_spk", "baseline", "eGeMAPS + AU, each speaker's features z-scored over that "
         "speaker's clips (transductive), logistic regression (C on dev)", features=("egemaps", "visual"),
         speaker_norm=True),
    Spec("teacher_av", "teacher", "A+V teacher: log-mel CNN + eGeMAPS + AU, cross-modal attention + gate",
         teacher={"fusion": "attention"}),
    Spec("teacher_av_concat", "teacher", "A+V teacher, concat fusion", teacher={"fusion": "concat"}),
    Spec("teacher_av_shift", "teacher", "A+V teacher, TelME-style audio-led modality shift",
         teacher={"fusion": "shift"}),
    Spec("teacher_av_concat_refit", "teacher", "A+V teacher, concat fusion, refit on train + dev after the "
         "epoch is picked on dev", teacher={"fusion": "concat"}, teacher_train={"refit_with_dev": True}),
    Spec("teacher_av_compare", "teacher", "A+V teacher, concat fusion, ComParE 2016 functionals (6373) in "
         "place of eGeMAPS", teacher={"fusion": "concat", "functionals": "ComParE_2016"}),
    Spec("teacher_av_compare_refit", "teacher", "A+V teacher, concat fusion, ComParE functionals, refit on "
         "train + dev", teacher={"fusion": "concat", "functionals": "ComParE_2016"},
         teacher_train={"refit_with_dev": True}),
    Spec("teacher_av_concat_spk", "teacher", "A+V teacher, concat fusion, functionals and AUs z-scored per "
         "speaker (transductive)", teacher={"fusion": "concat", "speaker_norm": True}),
    Spec("teacher_av_concat_spk_refit", "teacher", "A+V teacher, concat fusion, per-speaker z-scoring, refit "
         "on train + dev", teacher={"fusion": "concat", "speaker_norm": True},
         teacher_train={"refit_with_dev": True}),
    Spec("teacher_audio", "teacher", "audio-only teacher: log-mel CNN + eGeMAPS (same class, visual off)",
         teacher={"use_visual": False}),
    Spec("masked_av_no_video", "teacher",
         "A+V teacher trained with Bridging-Modalities scenarios + random modality masking, "
         "dev selection and test with video removed (COGMEN-Mask-style speech-only model)",
         teacher={"fusion": "attention"}, teacher_train={"masking": _MASKING, "select_without_video": True},
         eval_with_video=False),
    Spec("student", "student", "student alone (hard labels, the trainer's defaults)"),
    Spec("student_kd", "student", "student + logit KD (T 2)", distill={"kd_weight": 1.0, "temperature": 2.0}),
    Spec("student_triplet", "student", "student + triplet loss (margin 0.2, cosine)",
         distill={"triplet_weight": 1.0, "triplet_margin": 0.2}),
    Spec("student_telme_response", "student", "student + TelME response loss (DIST, tau 4)",
         distill={"response_weight": 1.0, "response_temperature": 4.0}),
    Spec("student_telme_feature", "student", "student + TelME feature loss (similarity KL, T 1)",
         distill={"feature_weight": 1.0, "feature_temperature": 1.0}),
    Spec("student_dmd", "student", "student + DMD-style shared/specific graph distillation",
         distill={"dmd_weight": 1.0}),
    Spec("student_best", "student",
         "student + triplet + TelME feature + TelME response, confidence-weighted (a-priori combination)",
         distill=_BEST),
    Spec("student_best_no_embedding", "student", "student_best without its embedding terms (triplet, TelME "
         "feature): 0.5 x TelME response, confidence-weighted (ablation)",
         distill={"response_weight": 0.5, "weighting": "confidence"}),
    Spec("student_best_spk", "student", "student_best's losses, learning from the per-speaker-normalised "
         "A+V teacher (teacher_av_concat_spk)", distill=_BEST, teacher_ref="teacher_av_concat_spk"),
)
SPEC_BY_NAME = {s.name: s for s in SPECS}


def spec_signature(spec: Spec) -> dict[str, Any]:
    """What defines a configuration's results (names and descriptions excluded), so adding a field
    to :class:`Spec` never invalidates cached results of the kinds it does not concern."""
    if spec.kind == "baseline":
        sig: dict[str, Any] = {"kind": "baseline", "features": list(spec.features)}
        return {**sig, "speaker_norm": True} if spec.speaker_norm else sig
    if spec.kind == "teacher":
        return {"kind": "teacher", "teacher": spec.teacher, "teacher_train": spec.teacher_train,
                "eval_with_video": spec.eval_with_video}
    teacher = SPEC_BY_NAME[spec.teacher_ref] if spec.distill is not None else None
    return {"kind": "student", "distill": spec.distill,
            "teacher": (teacher.name, teacher_signature(teacher)) if teacher is not None else None}


def teacher_signature(spec: Spec) -> dict[str, Any]:
    """What defines a trained teacher (its evaluation setting excluded)."""
    return {"teacher": spec.teacher, "teacher_train": spec.teacher_train}


@dataclass(frozen=True)
class Settings:
    """What every (configuration, fold) of a run shares."""

    teacher_epochs: int = 40
    student_epochs: int = 60
    clips_per_actor: int | None = None
    max_steps: int | None = None
    seed: int = 0
    threads: int = 1
    crossfit: bool = False


def _hash(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Runner:
    """Runs (configuration, fold) pairs, caching each result."""

    def __init__(self, out: Path, runs: Path, settings: Settings, data_root: str | None = None) -> None:
        self.out, self.runs, self.settings = out, runs, settings
        self.cache_file = out / "fold_results.json"
        self.results: dict[str, Any] = json.loads(self.cache_file.read_text()) if self.cache_file.is_file() else {}
        self.data_root = data_root
        self.utts = subset_per_actor(
            [u for u in load_ravdess(data_root) if u.fold < N_FOLDS], settings.clips_per_actor
        )
        self._inputs = None
        self._other_functionals: dict[str, Any] = {}

    # ------------------------------------------------------------------ keys
    def key(self, spec: Spec, fold: int) -> str:
        s = asdict(self.settings)
        relevant = {k: s[k] for k in ("clips_per_actor", "seed", "crossfit")}
        if spec.kind == "baseline":
            relevant = {k: s[k] for k in ("clips_per_actor",)}
        elif spec.kind == "teacher" or spec.distill is not None:
            relevant["teacher_epochs"] = s["teacher_epochs"]
        if spec.kind == "student":
            relevant.update(student_epochs=s["student_epochs"], max_steps=s["max_steps"])
        return f"{spec.name}|fold{fold}|{_hash([spec_signature(spec), relevant])}"

    def _save(self) -> None:
        """Merge into what is on disk (another run may have added rows meanwhile), then write."""
        import fcntl

        self.cache_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.cache_file.with_suffix(".lock"), "w") as lock:  # runners in parallel processes
            fcntl.flock(lock, fcntl.LOCK_EX)
            on_disk = json.loads(self.cache_file.read_text()) if self.cache_file.is_file() else {}
            self.results = {**on_disk, **self.results}
            atomic_write_text(self.cache_file, json.dumps(self.results, indent=1, sort_keys=True))

    # ------------------------------------------------------------------ data
    def inputs(self, logmel: bool = True, functionals: str = FEATURE_SET):  # type: ignore[no-untyped-def]
        """Teacher inputs of every clip (log-mel only when asked: baselines need none), with the
        clip functionals of the openSMILE set ``functionals``."""
        if self._inputs is None or (logmel and self._inputs.logmel is None):
            from edgeemo.train.teachers.features import build_teacher_inputs

            what = "log-mel, eGeMAPS, AUs" if logmel else "eGeMAPS, AUs"
            print(f"computing teacher inputs for {len(self.utts)} clips ({what}) ...", flush=True)
            self._inputs = build_teacher_inputs(self.utts, RAVDESS_LABELS, use_logmel=logmel,
                                                visual_root=self.data_root)
            self._other_functionals.clear()
        if functionals == self._inputs.functionals:
            return self._inputs
        if functionals not in self._other_functionals:
            from edgeemo.train.teachers.egemaps import opensmile_functionals

            print(f"computing {functionals} functionals for {len(self.utts)} clips ...", flush=True)
            values = opensmile_functionals(self.utts, functionals)
            self._other_functionals[functionals] = replace(self._inputs, egemaps=values, functionals=functionals)
        return self._other_functionals[functionals]

    def spec_inputs(self, spec: Spec):  # type: ignore[no-untyped-def]
        """Teacher inputs for the teacher of ``spec`` (its functionals set)."""
        return self.inputs(functionals=spec.teacher.get("functionals", FEATURE_SET))

    def split(self, fold: int) -> tuple[list[Utterance], list[Utterance], list[Utterance]]:
        train, dev, test = fold_split(fold)
        return select(self.utts, folds=train), select(self.utts, folds=(dev,)), select(self.utts, folds=(test,))

    # ------------------------------------------------------------------ teachers
    def teacher_configs(self, spec: Spec):  # type: ignore[no-untyped-def]
        from edgeemo.train.teachers.model import TeacherConfig
        from edgeemo.train.teachers.trainer import TeacherTrainConfig

        mcfg = TeacherConfig(labels=RAVDESS_LABELS, **spec.teacher)
        tcfg = TeacherTrainConfig.from_dict({
            "epochs": self.settings.teacher_epochs, "seed": self.settings.seed,
            "num_threads": self.settings.threads, **spec.teacher_train,
        })
        return mcfg, tcfg

    def train_teacher(self, spec: Spec, fold: int, train: list[Utterance], dev: list[Utterance], tag: str = ""):  # type: ignore[no-untyped-def]
        from edgeemo.train.teachers.trainer import TeacherTrainer

        mcfg, tcfg = self.teacher_configs(spec)
        tag_hash = _hash([teacher_signature(spec), self.settings.teacher_epochs, self.settings.clips_per_actor,
                          self.settings.seed])
        folder = self.runs / f"{spec.name}-{tag_hash}" / f"fold{fold}{tag}"
        tcfg = replace(tcfg, out_dir=str(folder))
        inp = self.spec_inputs(spec)
        return TeacherTrainer(mcfg, tcfg, inp.select_utterances(train), inp.select_utterances(dev)).fit()

    def run_teacher(self, spec: Spec, fold: int) -> dict[str, Any]:
        from edgeemo.train.metrics import score
        from edgeemo.train.teachers.trainer import load_teacher, predict_teacher

        train, dev, test = self.split(fold)
        result = self.train_teacher(spec, fold, train, dev)
        model, std, _ = load_teacher(result.best_dir)
        test_inp = self.spec_inputs(spec).select_utterances(test)
        row: dict[str, Any] = {"dev": result.dev.to_dict(), "best_epoch": result.best_epoch}
        probs = predict_teacher(model, std, test_inp, with_video=spec.eval_with_video)["probs"]
        row["test"] = score(test_inp.y, probs.argmax(1), len(RAVDESS_LABELS)).to_dict()
        if model.cfg.use_visual and not spec.eval_with_video:
            probs_v = predict_teacher(model, std, test_inp, with_video=True)["probs"]
            row["test_with_video"] = score(test_inp.y, probs_v.argmax(1), len(RAVDESS_LABELS)).to_dict()
        return row

    # ------------------------------------------------------------------ baselines
    def run_baseline(self, spec: Spec, fold: int) -> dict[str, Any]:
        """Standardised clip features -> logistic regression, C chosen by dev UA."""
        from edgeemo.train.metrics import score
        from edgeemo.train.teachers.visual import Standardizer, standardize_per_speaker
        from sklearn.linear_model import LogisticRegression

        inp = self.inputs(logmel=False)
        train, dev, test = (inp.select_utterances(part) for part in self.split(fold))

        def feats(x):  # type: ignore[no-untyped-def]
            values = np.concatenate([getattr(x, f) for f in spec.features], axis=1)
            return standardize_per_speaker(values, [u.speaker for u in x.utterances]) if spec.speaker_norm else values

        std = Standardizer.fit(feats(train))
        xs = {k: std.transform(feats(v)) for k, v in (("train", train), ("dev", dev), ("test", test))}
        best = None
        for c in (0.003, 0.01, 0.03, 0.1, 0.3, 1.0):
            clf = LogisticRegression(C=c, max_iter=3000).fit(xs["train"], train.y)
            dev_scores = score(dev.y, clf.predict(xs["dev"]), len(RAVDESS_LABELS))
            if best is None or dev_scores.ua > best[1].ua:
                best = (clf, dev_scores, c)
        clf, dev_scores, c = best
        return {"dev": dev_scores.to_dict(), "C": c,
                "test": score(test.y, clf.predict(xs["test"]), len(RAVDESS_LABELS)).to_dict()}

    # ------------------------------------------------------------------ students
    def run_student(self, spec: Spec, fold: int) -> dict[str, Any]:
        from edgeemo.train.data import label_indices, load_waves
        from edgeemo.train.metrics import score
        from edgeemo.train.models.student import load_student
        from edgeemo.train.trainer import StudentTrainer, TrainConfig, predict_clips

        train, dev, test = self.split(fold)
        train_folds, dev_fold, _ = fold_split(fold)
        s = self.settings
        run_dir = self.runs / f"{spec.name}-{self.key(spec, fold).rsplit('|', 1)[-1]}" / f"fold{fold}"
        cfg = TrainConfig(out_dir=str(run_dir), train_folds=train_folds, dev_folds=(dev_fold,),
                          epochs=s.student_epochs, seed=s.seed, num_threads=s.threads,
                          max_steps_per_epoch=s.max_steps)
        utts = train + dev
        terms, modules = [], None
        if spec.distill is not None:
            from edgeemo.train.distill.recipe import DistillConfig, build_distill_terms
            from edgeemo.train.distill.teacher_cache import (
                crossfit_teacher_outputs,
                teacher_outputs,
            )

            teacher_spec = SPEC_BY_NAME[spec.teacher_ref]
            dcfg = DistillConfig(**spec.distill)
            if s.crossfit:
                outputs = crossfit_teacher_outputs(
                    train, lambda tr, dv, tag: self.train_teacher(teacher_spec, fold, tr, dv, tag).best_dir,
                    dev, self.spec_inputs(teacher_spec), crop=dcfg.teacher_crop, with_video=dcfg.teacher_with_video,
                )
            else:
                teacher = self.train_teacher(teacher_spec, fold, train, dev)
                outputs = teacher_outputs(teacher.best_dir, self.spec_inputs(teacher_spec).select_utterances(train),
                                          crop=dcfg.teacher_crop, with_video=dcfg.teacher_with_video)
            terms, modules = build_distill_terms(dcfg, select(utts, folds=train_folds), outputs, cfg.embedding_dim)
        trainer = StudentTrainer(cfg, utterances=utts, extra_losses=terms, extra_modules=modules, progress=False)
        if trainer.train_utts != select(utts, folds=train_folds):  # loss terms index trainer.train_utts
            raise ConfigError("internal: the trainer's training clips are not in the order the loss terms expect")
        result = trainer.fit()  # on cfg.num_threads = settings.threads
        model, _ = load_student(result.best_dir)
        probs = predict_clips(model, load_waves(test))
        y = label_indices(test, RAVDESS_LABELS)
        return {"dev": result.dev.to_dict(), "best_epoch": result.best_epoch,
                "test": score(y, probs.argmax(1), len(RAVDESS_LABELS)).to_dict()}

    # ------------------------------------------------------------------ driver
    def run(self, names: Sequence[str], folds: Sequence[int]) -> None:
        todo = [(SPEC_BY_NAME[n], f) for n in names for f in folds]
        pending = [(sp, f) for sp, f in todo if self.key(sp, f) not in self.results]
        print(f"{len(todo)} (config, fold) pairs, {len(todo) - len(pending)} cached, {len(pending)} to run", flush=True)
        for i, (spec, fold) in enumerate(pending, 1):
            started = time.time()
            print(f"[{i}/{len(pending)}] {spec.name} fold {fold} ...", flush=True)
            run = {"baseline": self.run_baseline, "teacher": self.run_teacher, "student": self.run_student}[spec.kind]
            row = run(spec, fold)
            row.update(config=spec.name, fold=fold, seconds=round(time.time() - started, 1),
                       settings=self.settings_for(spec), measured=time.strftime("%Y-%m-%d %H:%M"))
            self.results[self.key(spec, fold)] = row
            self._save()
            t = row["test"]
            print(f"[{i}/{len(pending)}] {spec.name} fold {fold}: test UA {100 * t['ua']:.1f} WA {100 * t['wa']:.1f} "
                  f"F1 {100 * t['f1']:.1f} (dev UA {100 * row['dev']['ua']:.1f}, {row['seconds']:.0f} s)", flush=True)

    def settings_for(self, spec: Spec) -> dict[str, Any]:
        s = asdict(self.settings)
        if spec.kind == "baseline":
            return {"clips_per_actor": s["clips_per_actor"]}
        if spec.kind == "teacher":
            for k in ("student_epochs", "max_steps", "crossfit"):
                s.pop(k)
        elif spec.distill is None:
            for k in ("teacher_epochs", "crossfit"):
                s.pop(k)
        return s


# ---------------------------------------------------------------------- reporting
def aggregate(results: dict[str, Any], runner: Runner, names: Sequence[str]) -> list[dict[str, Any]]:
    """Mean ± sd (over folds, sample sd) per configuration, for the current settings only."""
    rows = []
    for spec in SPECS:
        if spec.name not in names and not any(runner.key(spec, f) in results for f in range(N_FOLDS)):
            continue
        per_fold = [results[runner.key(spec, f)] for f in range(N_FOLDS) if runner.key(spec, f) in results]
        row: dict[str, Any] = {"config": spec.name, "kind": spec.kind, "description": spec.description,
                               "folds": [r["fold"] for r in per_fold], "per_fold": per_fold}
        for metric in ("ua", "wa", "f1"):
            vals = np.array([r["test"][metric] for r in per_fold]) * 100
            row[metric] = (float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else None) if len(vals) else None
        if per_fold and "test_with_video" in per_fold[0]:
            vals = np.array([r["test_with_video"]["ua"] for r in per_fold]) * 100
            row["ua_with_video"] = (float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else None)
        row["settings"] = per_fold[0]["settings"] if per_fold else None
        rows.append(row)
    _add_paired_deltas(rows, reference="student")
    return rows


TIE = 1e-6  # UA points: a difference this small is a tie (same clips right), not a win


def _add_paired_deltas(rows: list[dict[str, Any]], reference: str) -> None:
    """``delta_ua``: mean ± sd over the folds both rows measured of (row − reference) test UA, for
    the distilled students; fold difficulty varies far more than the methods do, so compare pairs."""
    ref = next((r for r in rows if r["config"] == reference), None)
    if ref is None:
        return
    ref_ua = {p["fold"]: 100 * p["test"]["ua"] for p in ref["per_fold"]}
    for r in rows:
        if r["kind"] != "student" or r["config"] == reference:
            continue
        row_ua = {p["fold"]: 100 * p["test"]["ua"] for p in r["per_fold"]}
        if set(row_ua) & set(ref_ua):
            d = paired_delta(row_ua, ref_ua, tie=TIE)
            r["delta_ua"] = {"vs": reference, "folds": len(d.folds), "mean": d.mean, "sd": d.sd, "wins": d.won}


def _fmt(ms: tuple[float, float | None] | None) -> str:
    """``mean ± sd``; a single fold has no sd."""
    if ms is None:
        return "–"
    return f"{ms[0]:.1f}" if ms[1] is None else f"{ms[0]:.1f} ± {ms[1]:.1f}"


def write_report(out: Path, rows: list[dict[str, Any]], settings: Settings) -> None:
    """``<out>.md``, ``<out>.json`` and plots under ``<out>/``."""
    md_path, json_path = out.with_suffix(".md"), out.with_suffix(".json")
    plots = plot_results(out, rows)
    lines = [
        "# Teachers, distillation and masked training on RAVDESS (5 actor folds)", "",
        "Written by `python -m edgeemo.recipes.experiments`. Fold k: test = actors of fold k, dev = fold "
        "(k+1) % 5 (epoch selection), train = the other three folds. UA = macro recall (headline), "
        "WA = accuracy, F1 = macro F1, in %, mean ± sample sd over the folds listed. Fixed seeds.", "",
        "| config | kind | folds measured | test UA | paired Δ UA vs `student` (wins) | test WA | test F1 | settings |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        folds = ",".join(str(f) for f in r["folds"]) or "not yet run"
        extra = f" (with video: {_fmt(r['ua_with_video'])})" if r.get("ua_with_video") else ""
        st = ", ".join(f"{k}={v}" for k, v in sorted((r["settings"] or {}).items()))
        d = r.get("delta_ua")
        delta = "–"
        if d:
            sign = "+" if d["mean"] >= 0 else "−"
            delta = f"{sign}{_fmt((abs(d['mean']), d['sd']))} ({d['wins']}/{d['folds']})"
        lines.append(f"| `{r['config']}` | {r['kind']} | {folds} | {_fmt(r['ua'])}{extra} | {delta} | {_fmt(r['wa'])} | "
                     f"{_fmt(r['f1'])} | {st or '–'} |")
    notes = out / "NOTES.md"  # hand-written: what was measured how, what is not yet run
    if notes.is_file():
        lines += ["", notes.read_text().strip()]
    lines += ["", "## Configurations", ""]
    lines += [f"- `{r['config']}`: {r['description']}" for r in rows]
    lines += ["", "## Plots", ""] + [f"![{p.stem}]({p.relative_to(md_path.parent).as_posix()})" for p in plots]
    lines += ["", "## Per fold (test UA %)", "", "| config | " + " | ".join(f"fold {f}" for f in range(N_FOLDS)) + " |",
              "|---|" + "---|" * N_FOLDS]
    for r in rows:
        by = {p["fold"]: p for p in r["per_fold"]}
        cells = [f"{100 * by[f]['test']['ua']:.1f}" if f in by else "–" for f in range(N_FOLDS)]
        lines.append(f"| `{r['config']}` | " + " | ".join(cells) + " |")
    atomic_write_text(md_path, "\n".join(lines) + "\n")
    atomic_write_text(json_path, json.dumps({"settings": asdict(settings), "rows": rows}, indent=1))


def plot_results(out: Path, rows: list[dict[str, Any]]) -> list[Path]:
    """Bar chart of test UA mean ± sd with the per-fold points."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r["ua"] is not None]
    if not measured:
        return []
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(measured) + 2), 4.5))
    x = np.arange(len(measured))
    colors = [{"teacher": "tab:orange", "baseline": "tab:gray"}.get(r["kind"], "tab:blue") for r in measured]
    ax.bar(x, [r["ua"][0] for r in measured], yerr=[r["ua"][1] or 0.0 for r in measured], color=colors, alpha=0.7, capsize=4)
    for i, r in enumerate(measured):
        ax.scatter([i] * len(r["per_fold"]), [100 * p["test"]["ua"] for p in r["per_fold"]], color="k", s=10, zorder=3)
    ax.axhline(70.7, color="gray", ls="--", lw=1, label="TARGETS.md eGeMAPS+AU logreg CV5, other protocol (70.7)")
    ax.axhline(12.5, color="gray", ls=":", lw=1, label="chance")
    names = [r["config"] + (f" ({len(r['per_fold'])} folds)" if len(r["per_fold"]) < N_FOLDS else "") for r in measured]
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("test UA (%)")
    ax.set_title("RAVDESS 5-fold actor CV (test UA, mean ± sd, dots = folds)")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path = atomic_write(out / "ua_by_config.png", lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return [path]


@click.command("compare", help=__doc__.split("\n\n")[0])
@click.option("--out", default="docs/results", help="report stem: writes OUT.md, OUT.json and OUT/ (plots, cache)")
@click.option("--runs", default="runs/experiments", help="checkpoint folder (not committed)")
@click.option("--data", default=None, help="data root holding ravdess/ and ravdess_visual/")
@click.option("--configs", default=",".join(s.name for s in SPECS),
              help="comma-separated subset of: " + ", ".join(s.name for s in SPECS))
@click.option("--folds", default="0,1,2,3,4", help="comma-separated outer folds")
@click.option("--epochs", type=int, default=None, help="epochs for teachers and students alike")
@click.option("--teacher-epochs", type=int, default=None)
@click.option("--student-epochs", type=int, default=None)
@click.option("--clips-per-actor", type=int, default=None, help="smoke runs: at most N clips per actor")
@click.option("--max-steps", type=int, default=None, help="smoke runs: student steps per epoch")
@click.option("--seed", type=int, default=0)
@click.option("--threads", type=int, default=1)
@click.option("--crossfit", is_flag=True, help="out-of-fold teacher targets for the train folds")
@click.option("--report-only", is_flag=True, help="rewrite the report from the cache, run nothing")
def compare_command(out: str, runs: str, data: str | None, configs: str, folds: str, epochs: int | None,
                    teacher_epochs: int | None, student_epochs: int | None, clips_per_actor: int | None,
                    max_steps: int | None, seed: int, threads: int, crossfit: bool, report_only: bool) -> None:
    """Run the comparison (or only rewrite its report); an :class:`EdgeEmoError` propagates."""
    names = [n.strip() for n in configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPEC_BY_NAME]
    if unknown:
        raise ConfigError(f"unknown config(s) {unknown}; known: {[s.name for s in SPECS]}")
    fold_ids = [int(f) for f in folds.split(",") if f.strip()]
    for f in fold_ids:
        fold_split(f)
    base = Settings()
    settings = Settings(
        teacher_epochs=teacher_epochs or epochs or base.teacher_epochs,
        student_epochs=student_epochs or epochs or base.student_epochs,
        clips_per_actor=clips_per_actor, max_steps=max_steps, seed=seed, threads=threads, crossfit=crossfit,
    )
    set_torch_threads(settings.threads)  # teacher inputs and baselines; each trainer sets its own
    out_path = Path(out)
    runner = Runner(out_path, Path(runs), settings, data)
    if not report_only:
        runner.run(names, fold_ids)
    rows = aggregate(runner.results, runner, names)
    write_report(out_path, rows, settings)
    click.echo(f"wrote {out_path.with_suffix('.md')}, {out_path.with_suffix('.json')} and plots in {out_path}/")


if __name__ == "__main__":
    sys.exit(run_standalone(compare_command, "python -m edgeemo.recipes.experiments"))
