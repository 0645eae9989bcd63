"""``edgeemo cogmen``: train the COGMEN text/dialogue teacher on MELD.

The command's body is :func:`edgeemo.train.dialogue.graph.train_meld.train`; torch and
torch-geometric are imported only when the command runs (its defaults are read from
:class:`~edgeemo.train.dialogue.graph.train_meld.CogmenTrainConfig` then), so this module
imports click and nothing heavy. It is mounted as ``edgeemo cogmen``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from edgeemo.errors import ConfigError

__all__ = ["cogmen_command"]


def _default(name: str) -> Callable[[], Any]:
    """A lazy default: field ``name`` of ``CogmenTrainConfig()`` (imports torch only when parsing)."""

    def value() -> Any:
        from .graph.train_meld import CogmenTrainConfig

        return getattr(CogmenTrainConfig(), name)

    return value


@click.command("cogmen")
@click.option("--out", default=_default("out"), help="output folder (checkpoint, metrics, figure)")
@click.option("--data", default=None, help="MELD manifest.csv or folder of release CSVs")
@click.option("--epochs", type=int, default=_default("epochs"))
@click.option("--patience", type=int, default=_default("patience"), help="stop after N epochs without dev gain")
@click.option("--batch-size", type=int, default=_default("batch_size"), help="dialogues per batch")
@click.option("--lr", type=float, default=_default("lr"))
@click.option("--weight-decay", type=float, default=_default("weight_decay"))
@click.option("--class-weighted", is_flag=True, help="inverse-frequency class weights in the loss")
@click.option("--seed", type=int, default=_default("seed"))
@click.option("--threads", type=int, default=_default("num_threads"), help="torch CPU threads")
@click.option("--wp", type=int, default=_default("window_past"), help="past window (-1 = all)")
@click.option("--wf", type=int, default=_default("window_future"), help="future window (-1 = all)")
@click.option("--n-speakers", type=int, default=_default("n_speakers"),
              help="speaker indices per dialogue (later speakers share the last)")
@click.option("--hidden", type=int, default=_default("hidden"))
@click.option("--proj-dim", type=int, default=_default("proj_dim"))
@click.option("--seq-layers", type=int, default=_default("seq_layers"))
@click.option("--gnn-heads", type=int, default=_default("gnn_heads"))
@click.option("--dropout", type=float, default=_default("dropout"))
@click.option("--figure", default=None, help="also write the test confusion matrix PNG here")
@click.option("--no-progress", is_flag=True)
def cogmen_command(out: str, data: str | None, epochs: int, patience: int, batch_size: int, lr: float,
                   weight_decay: float, class_weighted: bool, seed: int, threads: int, wp: int, wf: int,
                   n_speakers: int, hidden: int, proj_dim: int, seq_layers: int, gnn_heads: int, dropout: float,
                   figure: str | None, no_progress: bool) -> None:
    """Train and evaluate the COGMEN teacher on MELD text (official train/dev/test)."""
    from .graph.train_meld import CogmenTrainConfig, train

    if epochs < 1:
        raise ConfigError("--epochs must be >= 1")
    cfg = CogmenTrainConfig(
        out=out, data=data, epochs=epochs, patience=patience, batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, class_weighted=class_weighted, seed=seed, num_threads=threads,
        window_past=wp, window_future=wf, n_speakers=n_speakers, hidden=hidden,
        proj_dim=proj_dim, seq_layers=seq_layers, gnn_heads=gnn_heads, dropout=dropout,
        figure=figure, progress=not no_progress,
    )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    res = train(cfg)
    t = res["test"]
    click.echo(
        f"MELD test (best dev epoch {res['best_epoch']}): weighted F1 {100 * t['weighted_f1']:.2f}  "
        f"UA {100 * t['ua']:.2f}  accuracy {100 * t['accuracy']:.2f}  macro F1 {100 * t['macro_f1']:.2f}  "
        f"| dev weighted F1 {100 * res['dev']['weighted_f1']:.2f}  | {res['seconds']['total']:.0f} s"
    )
    click.echo(f"wrote {Path(cfg.out) / 'best.safetensors'} and {Path(cfg.out) / 'metrics.json'}")
