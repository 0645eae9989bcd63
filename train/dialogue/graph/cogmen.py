"""COGMEN teacher: per-dialogue transformer context + relational graph (RGCN -> TransformerConv).

After Joshi et al., "COGMEN: COntextualized GNN based Multimodal Emotion recognitioN", NAACL 2022
(code: github.com/Exploration-Lab/COGMEN). Differences from that code, on purpose:

* **Modality-agnostic input.** Any subset of ``text``/``audio``/``visual`` utterance vectors; each
  is projected by its own ``Linear`` (+ LayerNorm, dropout) to ``proj_dim`` and the projections
  are concatenated (COGMEN concatenates the raw vectors).
* **Key padding mask.** COGMEN runs ``nn.TransformerEncoder`` over zero-padded dialogues without a
  mask, so padded positions leak into real utterances' attention and a dialogue's outputs depend
  on what it is batched with. Here the encoder gets ``src_key_padding_mask``; the tests check that
  batching (padding) leaves real utterances' outputs unchanged.
* **Optional positional embedding** (learned, by utterance index; off by default as in COGMEN,
  where order reaches the model only through the graph's direction relations).
* **Optional valence/arousal head** (``tanh``, trained with the concordance correlation
  coefficient loss ``1 - CCC``), next to the emotion classifier.

Layers (COGMEN's ``SeqContext`` -> ``GNN`` -> ``Classifier``): transformer encoder over the
utterances of each dialogue, ``Linear`` to ``hidden``; ``RGCNConv(hidden, hidden, R)``;
``TransformerConv(hidden, hidden, heads)`` + BatchNorm + leaky ReLU; classifier
``Linear -> ReLU -> Dropout -> Linear`` on ``[context, graph]`` (COGMEN's ``concat_gin_gout``) or
on the graph output alone. ``forward`` returns logits and the node embeddings the classifier sees.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from edgeemo.errors import ConfigError
from torch import Tensor, nn
from torch_geometric.nn import RGCNConv, TransformerConv
from torch_geometric.utils import to_dense_batch

from ..data import MODALITIES
from .build import num_relations

__all__ = [
    "Cogmen",
    "CogmenConfig",
    "CogmenOutput",
    "ccc",
    "ccc_loss",
    "class_weights",
    "emotion_loss",
    "load_checkpoint",
    "save_checkpoint",
]


@dataclass
class CogmenConfig:
    """Hyper-parameters of :class:`Cogmen` (stored in checkpoints next to the weights)."""

    input_dims: dict[str, int] = field(default_factory=lambda: {"text": 384})
    n_classes: int = 7
    proj_dim: int = 128
    hidden: int = 100
    seq_layers: int = 2
    seq_heads: int = 4
    seq_ff: int = 256
    n_speakers: int = 2
    num_bases: int | None = None
    gnn_heads: int = 2
    dropout: float = 0.3
    concat_context: bool = True
    positional: bool = False
    max_len: int = 128
    va_head: bool = False

    def __post_init__(self) -> None:
        if not self.input_dims:
            raise ConfigError("input_dims needs at least one modality")
        for m, d in self.input_dims.items():
            if m not in MODALITIES:
                raise ConfigError(f"unknown modality {m!r}; use {MODALITIES}")
            if int(d) <= 0:
                raise ConfigError(f"input dim of {m!r} must be positive, not {d}")
        d_model = self.proj_dim * len(self.input_dims)
        if d_model % self.seq_heads:
            raise ConfigError(
                f"seq_heads ({self.seq_heads}) must divide proj_dim * n_modalities ({d_model})"
            )
        if self.n_classes < 2:
            raise ConfigError("n_classes must be >= 2")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), not {self.dropout}")

    @property
    def modalities(self) -> tuple[str, ...]:
        """Input modalities in canonical order."""
        return tuple(m for m in MODALITIES if m in self.input_dims)

    @property
    def num_relations(self) -> int:
        """Relation types of the graph (``2 * n_speakers**2``)."""
        return num_relations(self.n_speakers)

    def to_json(self) -> str:
        """The config as JSON (for checkpoint metadata)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CogmenConfig:
        """Inverse of :meth:`to_json`."""
        return cls(**json.loads(text))


@dataclass
class CogmenOutput:
    """Model outputs for the nodes (utterances) of a batch, in batch node order."""

    logits: Tensor
    embeddings: Tensor
    valence_arousal: Tensor | None = None


class _ModalityProjection(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, dropout: float) -> None:
        super().__init__()
        self.lin = nn.Linear(in_dim, out_dim)
        self.norm = nn.LayerNorm(out_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.norm(self.lin(x)))


class Cogmen(nn.Module):
    """COGMEN over a torch-geometric batch of dialogue graphs (see the module doc)."""

    def __init__(self, config: CogmenConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.proj = nn.ModuleDict(
            {m: _ModalityProjection(c.input_dims[m], c.proj_dim, c.dropout) for m in c.modalities}
        )
        d_model = c.proj_dim * len(c.modalities)
        self.pos = nn.Embedding(c.max_len, d_model) if c.positional else None
        layer = nn.TransformerEncoderLayer(
            d_model=d_model,
            nhead=c.seq_heads,
            dim_feedforward=c.seq_ff,
            dropout=c.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=c.seq_layers, enable_nested_tensor=False)
        self.seq_out = nn.Linear(d_model, c.hidden)
        self.rgcn = RGCNConv(c.hidden, c.hidden, c.num_relations, num_bases=c.num_bases)
        self.tconv = TransformerConv(c.hidden, c.hidden, heads=c.gnn_heads, concat=True)
        self.bn = nn.BatchNorm1d(c.hidden * c.gnn_heads)
        emb_dim = c.hidden * c.gnn_heads + (c.hidden if c.concat_context else 0)
        self.embedding_dim = emb_dim
        self.clf = nn.Sequential(
            nn.Linear(emb_dim, c.hidden), nn.ReLU(), nn.Dropout(c.dropout), nn.Linear(c.hidden, c.n_classes)
        )
        self.va = (
            nn.Sequential(nn.Linear(emb_dim, c.hidden), nn.ReLU(), nn.Dropout(c.dropout), nn.Linear(c.hidden, 2))
            if c.va_head
            else None
        )

    def context(self, batch: Any) -> Tensor:
        """Transformer context per utterance, ``[N, hidden]`` (padding masked out)."""
        parts = []
        for m in self.config.modalities:
            x = getattr(batch, f"x_{m}", None)
            if x is None:
                raise ConfigError(f"the batch has no {m!r} features (x_{m}); the model needs {self.config.modalities}")
            parts.append(self.proj[m](x))
        h = torch.cat(parts, dim=-1)
        dense, mask = to_dense_batch(h, batch.batch)  # [B, L, D], True = real utterance
        if self.pos is not None:
            L = dense.size(1)
            if L > self.config.max_len:
                raise ConfigError(f"dialogue of {L} utterances exceeds max_len {self.config.max_len}")
            dense = dense + self.pos(torch.arange(L, device=dense.device))[None]
        enc = self.encoder(dense, src_key_padding_mask=~mask)
        return self.seq_out(enc[mask])

    def forward(self, batch: Any) -> CogmenOutput:
        """Logits ``[N, n_classes]``, node embeddings ``[N, D]`` and optional VA ``[N, 2]``."""
        ctx = self.context(batch)
        g = self.rgcn(ctx, batch.edge_index, batch.edge_type)
        g = F.leaky_relu(self.bn(self.tconv(g, batch.edge_index)))
        emb = torch.cat([ctx, g], dim=-1) if self.config.concat_context else g
        logits = self.clf(emb)
        va = torch.tanh(self.va(emb)) if self.va is not None else None
        return CogmenOutput(logits=logits, embeddings=emb, valence_arousal=va)


def ccc(pred: Tensor, target: Tensor) -> Tensor:
    """Concordance correlation coefficient of two 1-D tensors."""
    pm, tm = pred.mean(), target.mean()
    pv, tv = pred.var(unbiased=False), target.var(unbiased=False)
    cov = ((pred - pm) * (target - tm)).mean()
    return 2 * cov / (pv + tv + (pm - tm) ** 2 + 1e-8)


def ccc_loss(pred: Tensor, valence: Tensor, arousal: Tensor) -> Tensor:
    """``1 - CCC`` averaged over valence and arousal, on nodes whose targets are finite."""
    losses = []
    for i, target in enumerate((valence, arousal)):
        ok = torch.isfinite(target)
        if int(ok.sum()) >= 2:
            losses.append(1.0 - ccc(pred[ok, i], target[ok]))
    if not losses:
        return pred.sum() * 0.0
    return torch.stack(losses).mean()


def class_weights(counts: Tensor) -> Tensor:
    """Inverse-frequency class weights (as COGMEN's ``1 / p``), scaled to mean 1."""
    counts = counts.float().clamp_min(1.0)
    w = counts.sum() / counts
    return w / w.mean()


def emotion_loss(logits: Tensor, y: Tensor, weight: Tensor | None = None) -> Tensor:
    """Cross-entropy over supervised nodes (``y == -1`` is ignored)."""
    return F.cross_entropy(logits, y, weight=weight, ignore_index=-1)


# ---------------------------------------------------------------------------- checkpoints
CHECKPOINT_KIND = "edgeemo.cogmen"


def save_checkpoint(path: Any, model: Cogmen, extra: dict[str, Any] | None = None) -> None:
    """Write weights + config (+ ``extra`` JSON metadata) to a ``.safetensors`` file atomically.

    Self-describing, as nanoGPT's checkpoints: :func:`load_checkpoint` needs nothing else.
    """
    from edgeemo._deps import require
    from edgeemo.fileio import atomic_write_bytes

    st = require("safetensors.torch", purpose="COGMEN checkpoints")
    meta = {"kind": CHECKPOINT_KIND, "config": model.config.to_json(), "extra": json.dumps(extra or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, st.save(tensors, metadata=meta))


def load_checkpoint(path: Any) -> tuple[Cogmen, dict[str, Any]]:
    """Rebuild a :class:`Cogmen` from :func:`save_checkpoint`'s file; return it and ``extra``."""
    from edgeemo._deps import require

    st = require("safetensors", purpose="COGMEN checkpoints")
    with st.safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
        if meta.get("kind") != CHECKPOINT_KIND:
            raise ConfigError(f"{path} is not an edgeemo COGMEN checkpoint")
        state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open API
    model = Cogmen(CogmenConfig.from_json(meta["config"]))
    model.load_state_dict(state)
    model.eval()
    return model, json.loads(meta.get("extra", "{}"))
