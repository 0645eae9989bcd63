"""Train and evaluate the COGMEN teacher on MELD text (official train/dev/test).

    edgeemo cogmen --out runs/cogmen_meld

Steps: read MELD (the shared ``meld_text/manifest.csv`` or a folder of the release CSVs), embed
every utterance with all-MiniLM-L6-v2 (cached under ``$EDGEEMO_CACHE`` / ``~/.cache/edgeemo``),
build one COGMEN graph per dialogue, train with fixed seeds, pick the epoch with the best dev
weighted F1, and report on test: weighted F1 (the figure the MELD literature reports), UA (macro
recall), accuracy and macro F1. Writes to ``--out``: ``best.safetensors`` (weights + config +
labels, written atomically), ``metrics.json``, ``confusion_test.png``; ``--figure`` also writes the
confusion matrix elsewhere (e.g. ``docs/img/``). The command is ``edgeemo cogmen``
(:mod:`edgeemo.train.dialogue.cli`).
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from edgeemo.fileio import atomic_write_text

from ...config import set_torch_threads
from ...data import find_data_root
from ...metrics import class_report, save_confusion_matrix_png
from ..data import DialogueSet
from ..readers.meld import read_meld_manifest, read_meld_release
from ..text_embed import TextEmbedConfig, attach_text_embeddings
from .build import DialogueGraphs, GraphConfig
from .cogmen import (
    Cogmen,
    CogmenConfig,
    class_weights,
    emotion_loss,
    load_checkpoint,
    save_checkpoint,
)

__all__ = ["CogmenTrainConfig", "default_data_path", "evaluate", "load_meld", "train"]

log = logging.getLogger("edgeemo.train.dialogue.graph.train_meld")


@dataclass
class CogmenTrainConfig:
    """Options of one COGMEN training run on MELD (stored in ``metrics.json``)."""

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
    num_threads: int = 1
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
    """``meld_text/manifest.csv`` under the data root (:func:`edgeemo.train.data.find_data_root`)."""
    return find_data_root() / "meld_text" / "manifest.csv"


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


def evaluate(model: Cogmen, graphs: DialogueGraphs, n_classes: int) -> dict[str, Any]:
    """:func:`~edgeemo.train.metrics.class_report` of ``model`` on ``graphs``."""
    y, p = predict(model, graphs)
    return class_report(y, p, n_classes)


def train(cfg: CogmenTrainConfig, dset: DialogueSet | None = None) -> dict[str, Any]:
    """Run one training; return the metrics dict also written to ``<out>/metrics.json``."""
    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    set_torch_threads(cfg.num_threads)
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

    model, _ = load_checkpoint(out / "best.safetensors")
    dev = evaluate(model, parts["dev"], n_classes)
    test = evaluate(model, parts["test"], n_classes)
    figs = [out / "confusion_test.png"] + ([Path(cfg.figure)] if cfg.figure else [])
    save_confusion_matrix_png(
        test["confusion"], dset.label_names, figs,
        f"COGMEN (MiniLM text), MELD test: wF1 {100 * test['weighted_f1']:.1f}, UA {100 * test['ua']:.1f}",
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
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2))
    return result

