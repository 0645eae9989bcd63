"""Train and evaluate the COGMEN teacher on MELD text (official train/dev/test).

    python -m edgeemo.train.graph.train_meld --out runs/cogmen_meld

Steps: read MELD (the shared ``meld_text/manifest.csv`` or a folder of the release CSVs), embed
every utterance with all-MiniLM-L6-v2 (cached under ``$EDGEEMO_CACHE`` / ``~/.cache/edgeemo``),
build one COGMEN graph per dialogue, train with fixed seeds, pick the epoch with the best dev
weighted F1, and report on test: weighted F1 (the figure the MELD literature reports), UA (macro
recall), accuracy and macro F1. Writes to ``--out``: ``best.safetensors`` (weights + config +
labels, written atomically), ``metrics.json``, ``confusion_test.png``; ``--figure`` also writes the
confusion matrix elsewhere (e.g. ``docs/img/``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from edgeemo.errors import ConfigError

from ..dialogue_data import DialogueSet, atomic_write, publish
from ..readers.meld import read_meld_manifest, read_meld_release
from ..text_embed import TextEmbedConfig, attach_text_embeddings
from .build import DialogueGraphs, GraphConfig
from .cogmen import Cogmen, CogmenConfig, class_weights, emotion_loss, save_checkpoint

__all__ = ["TrainConfig", "default_data_path", "evaluate", "load_meld", "main", "train"]

log = logging.getLogger("edgeemo.train.graph.train_meld")


@dataclass
class TrainConfig:
    """Options of one MELD training run (stored in ``metrics.json``)."""

    out: str = "runs/cogmen_meld"
    data: str | None = None
    epochs: int = 30
    patience: int = 8
    batch_size: int = 16
    lr: float = 3e-4
    weight_decay: float = 1e-4
    grad_clip: float = 1.0
    class_weighted: bool = False
    seed: int = 24
    threads: int = 1
    window_past: int = 5
    window_future: int = 5
    n_speakers: int = 4
    hidden: int = 100
    proj_dim: int = 128
    seq_layers: int = 1
    gnn_heads: int = 2
    dropout: float = 0.5
    figure: str | None = None
    progress: bool = True


def default_data_path() -> Path:
    """``$EDGEEMO_DATA/meld_text/manifest.csv``, else ``../shared/data`` beside the repository."""
    env = os.environ.get("EDGEEMO_DATA")
    root = Path(env) if env else Path(__file__).resolve().parents[2].parent / "shared" / "data"
    return root / "meld_text" / "manifest.csv"


def load_meld(data: str | os.PathLike[str] | None = None) -> DialogueSet:
    """MELD from a manifest CSV, a folder holding ``manifest.csv``, or a folder of release CSVs."""
    path = Path(data) if data else default_data_path()
    if path.is_dir() and (path / "train_sent_emo.csv").is_file():
        return read_meld_release(path)
    if path.is_dir() and (path / "manifest.csv").is_file():
        path = path / "manifest.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"no MELD data at {path}: pass --data (manifest.csv or a folder with the release CSVs) "
            "or set EDGEEMO_DATA"
        )
    return read_meld_manifest(path)


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch generator for shuffling."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def predict(model: Cogmen, graphs: DialogueGraphs, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of every supervised utterance of ``graphs``."""
    model.eval()
    ys, ps = [], []
    for b in graphs.batches(batch_size):
        out = model(b)
        ok = b.y >= 0
        ys.append(b.y[ok].numpy())
        ps.append(out.logits[ok].argmax(-1).numpy())
    return np.concatenate(ys), np.concatenate(ps)


def metrics(y: np.ndarray, p: np.ndarray, n_classes: int) -> dict[str, Any]:
    """Weighted F1, UA (macro recall), accuracy, macro F1, per-class recall, confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, recall_score

    labels = list(range(n_classes))
    return {
        "weighted_f1": float(f1_score(y, p, average="weighted", labels=labels, zero_division=0)),
        "ua": float(recall_score(y, p, average="macro", labels=labels, zero_division=0)),
        "accuracy": float(accuracy_score(y, p)),
        "macro_f1": float(f1_score(y, p, average="macro", labels=labels, zero_division=0)),
        "recall_per_class": recall_score(y, p, average=None, labels=labels, zero_division=0).tolist(),
        "confusion": confusion_matrix(y, p, labels=labels).tolist(),
        "n": len(y),
    }


def evaluate(model: Cogmen, graphs: DialogueGraphs, n_classes: int) -> dict[str, Any]:
    """:func:`metrics` of ``model`` on ``graphs``."""
    y, p = predict(model, graphs)
    return metrics(y, p, n_classes)


def plot_confusion(cm: Sequence[Sequence[int]], labels: Sequence[str], title: str, paths: Sequence[Path]) -> None:
    """Row-normalised confusion matrix with counts, saved as PNG to every path in ``paths``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arr = np.asarray(cm, dtype=float)
    norm = arr / np.maximum(arr.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.4), dpi=110)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n({int(arr[i, j])})", ha="center", va="center",
                    fontsize=7, color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="recall (row-normalised)")
    fig.tight_layout()
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
        os.close(fd)
        fig.savefig(tmp, format="png")
        publish(tmp, path)
    plt.close(fig)


def _write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda fh: fh.write(json.dumps(obj, indent=2).encode("utf-8")))


def train(cfg: TrainConfig, dset: DialogueSet | None = None) -> dict[str, Any]:
    """Run one training; return the metrics dict also written to ``<out>/metrics.json``."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    gen = seed_everything(cfg.seed)

    if dset is None:
        dset = load_meld(cfg.data)
    if "text" not in dset.modalities:
        dset = attach_text_embeddings(dset, TextEmbedConfig(show_progress=cfg.progress))
    t_data = time.perf_counter() - t0
    gcfg = GraphConfig(cfg.window_past, cfg.window_future, cfg.n_speakers)
    parts = {s: DialogueGraphs(dset.split(s), gcfg) for s in ("train", "dev", "test")}
    n_classes = len(dset.label_names)
    mcfg = CogmenConfig(
        input_dims=dset.feature_dims,
        n_classes=n_classes,
        proj_dim=cfg.proj_dim,
        hidden=cfg.hidden,
        seq_layers=cfg.seq_layers,
        n_speakers=cfg.n_speakers,
        gnn_heads=cfg.gnn_heads,
        dropout=cfg.dropout,
    )
    model = Cogmen(mcfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    counts = torch.tensor([dset.split("train").label_counts()[n] for n in dset.label_names])
    weight = class_weights(counts) if cfg.class_weighted else None
    extra = {"label_names": dset.label_names, "graph": asdict(gcfg), "dataset": dset.name,
             "modalities": list(mcfg.modalities), "text_encoder": "all-MiniLM-L6-v2"}

    best = {"dev_weighted_f1": -1.0, "epoch": -1}
    history = []
    bad = 0
    bar = tqdm(range(1, cfg.epochs + 1), desc="cogmen meld", disable=not cfg.progress, file=sys.stderr)
    for epoch in bar:
        model.train()
        total, nb = 0.0, 0
        for b in parts["train"].batches(cfg.batch_size, shuffle=True, generator=gen):
            if b.num_nodes < 2:  # BatchNorm needs two nodes in training
                continue
            loss = emotion_loss(model(b).logits, b.y, weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            total += loss.item()
            nb += 1
        dev = evaluate(model, parts["dev"], n_classes)
        history.append({"epoch": epoch, "train_loss": total / max(nb, 1),
                        "dev_weighted_f1": dev["weighted_f1"], "dev_ua": dev["ua"]})
        bar.set_postfix(loss=f"{total / max(nb, 1):.3f}", dev_wf1=f"{dev['weighted_f1']:.4f}")
        if dev["weighted_f1"] > best["dev_weighted_f1"]:
            best = {"dev_weighted_f1": dev["weighted_f1"], "epoch": epoch}
            save_checkpoint(out / "best.safetensors", model, {**extra, "epoch": epoch, "dev": dev})
            bad = 0
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    t_train = time.perf_counter() - t0 - t_data

    from .cogmen import load_checkpoint

    model, _ = load_checkpoint(out / "best.safetensors")
    dev = evaluate(model, parts["dev"], n_classes)
    test = evaluate(model, parts["test"], n_classes)
    figs = [out / "confusion_test.png"] + ([Path(cfg.figure)] if cfg.figure else [])
    plot_confusion(
        test["confusion"], dset.label_names,
        f"COGMEN (MiniLM text), MELD test: wF1 {100 * test['weighted_f1']:.1f}, UA {100 * test['ua']:.1f}",
        figs,
    )
    result = {
        "config": asdict(cfg),
        "model": asdict(mcfg),
        "parameters": n_params,
        "label_names": dset.label_names,
        "best_epoch": best["epoch"],
        "dev": dev,
        "test": test,
        "history": history,
        "seconds": {"data_and_embeddings": round(t_data, 1), "training": round(t_train, 1),
                    "total": round(time.perf_counter() - t0, 1)},
        "torch_threads": torch.get_num_threads(),
    }
    _write_json(out / "metrics.json", result)
    return result


def _parse(argv: Sequence[str] | None) -> TrainConfig:
    d = TrainConfig()
    p = argparse.ArgumentParser(prog="python -m edgeemo.train.graph.train_meld", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=d.out, help="output folder (checkpoint, metrics, figure)")
    p.add_argument("--data", default=None, help="MELD manifest.csv or folder of release CSVs")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--patience", type=int, default=d.patience, help="stop after N epochs without dev gain")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="dialogues per batch")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--class-weighted", action="store_true", help="inverse-frequency class weights in the loss")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument("--wp", type=int, default=d.window_past, help="past window (-1 = all)")
    p.add_argument("--wf", type=int, default=d.window_future, help="future window (-1 = all)")
    p.add_argument("--n-speakers", type=int, default=d.n_speakers,
                   help="speaker indices per dialogue (later speakers share the last)")
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--proj-dim", type=int, default=d.proj_dim)
    p.add_argument("--seq-layers", type=int, default=d.seq_layers)
    p.add_argument("--gnn-heads", type=int, default=d.gnn_heads)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--figure", default=None, help="also write the test confusion matrix PNG here")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.epochs < 1:
        raise ConfigError("--epochs must be >= 1")
    return TrainConfig(
        out=a.out, data=a.data, epochs=a.epochs, patience=a.patience, batch_size=a.batch_size, lr=a.lr,
        weight_decay=a.weight_decay, class_weighted=a.class_weighted, seed=a.seed, threads=a.threads,
        window_past=a.wp, window_future=a.wf, n_speakers=a.n_speakers, hidden=a.hidden,
        proj_dim=a.proj_dim, seq_layers=a.seq_layers, gnn_heads=a.gnn_heads, dropout=a.dropout,
        figure=a.figure, progress=not a.no_progress,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; prints the test metrics."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    cfg = _parse(argv)
    res = train(cfg)
    t = res["test"]
    print(
        f"MELD test (best dev epoch {res['best_epoch']}): weighted F1 {100 * t['weighted_f1']:.2f}  "
        f"UA {100 * t['ua']:.2f}  accuracy {100 * t['accuracy']:.2f}  macro F1 {100 * t['macro_f1']:.2f}  "
        f"| dev weighted F1 {100 * res['dev']['weighted_f1']:.2f}  | {res['seconds']['total']:.0f} s"
    )
    print(f"wrote {Path(cfg.out) / 'best.safetensors'} and {Path(cfg.out) / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
