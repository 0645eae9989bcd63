"""Self-describing, atomically written training checkpoints.

A checkpoint is a folder: ``config.json`` (model config, training config, labels, epoch, metrics),
``model.safetensors`` (weights) and ``trainer_state.pt`` (optimizer, scheduler, EMA and RNG state,
loaded with ``weights_only=True``). A folder is written under a temporary name and renamed into
place, so an interrupted write never replaces a good checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from edgeemo.errors import ConfigError, ModelLoadError, ModelNotFoundError

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    path: Path
    config: dict[str, Any]
    weights: dict[str, torch.Tensor]
    trainer_state: dict[str, Any] | None


def save_checkpoint(
    folder: str | os.PathLike[str],
    *,
    config: dict[str, Any],
    weights: dict[str, torch.Tensor],
    trainer_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint folder atomically (old one kept as ``<name>.old`` until the swap ends)."""
    from safetensors.torch import save_file

    final = Path(folder)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
    save_file({k: v.detach().contiguous().cpu() for k, v in weights.items()}, str(tmp / WEIGHTS_FILE))
    if trainer_state is not None:
        torch.save(trainer_state, tmp / STATE_FILE)
    old = final.with_name(final.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)
    return final


def resolve_checkpoint(folder: str | os.PathLike[str]) -> Path:
    """The checkpoint folder to read: ``folder`` or, after a crash mid-swap, ``folder.old``."""
    path = Path(folder)
    if (path / CONFIG_FILE).is_file():
        return path
    old = path.with_name(path.name + ".old")
    if (old / CONFIG_FILE).is_file():
        return old
    raise ModelNotFoundError(f"no checkpoint at {path} (expected {CONFIG_FILE} and {WEIGHTS_FILE} inside)")


def read_checkpoint_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The config of a checkpoint folder, without reading its weights."""
    path = resolve_checkpoint(folder)
    try:
        return json.loads((path / CONFIG_FILE).read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path / CONFIG_FILE} is not valid JSON: {exc}") from exc


def load_checkpoint(folder: str | os.PathLike[str], *, with_state: bool = False) -> Checkpoint:
    """Read a checkpoint folder written by :func:`save_checkpoint`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = resolve_checkpoint(folder)
    config = read_checkpoint_config(path)
    try:
        weights = load_file(str(path / WEIGHTS_FILE))
    except (SafetensorError, OSError) as exc:
        raise ModelLoadError(f"cannot read weights {path / WEIGHTS_FILE}: {exc}") from exc
    state = None
    if with_state and (path / STATE_FILE).is_file():
        state = torch.load(path / STATE_FILE, weights_only=True)
    return Checkpoint(path=path, config=config, weights=weights, trainer_state=state)
