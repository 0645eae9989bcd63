"""COGMEN conversation graphs: utterances as nodes, speaker- and direction-typed edges.

Edges (as in COGMEN's ``edge_perms``): for every utterance ``j`` of a dialogue and every ``k``
with ``j - wp <= k <= j + wf`` (clipped to the dialogue; ``-1`` = unbounded on that side) there
is one edge ``j -> k``, the self-loop ``j -> j`` included. ``edge_index[0]`` is the source and
``edge_index[1]`` the target; torch-geometric layers send messages from source to target (its
default ``flow="source_to_target"``). So the windows are seen from the *source*: with
``wp != wf`` a node *receives* from ``wf`` utterances before it and ``wp`` after it. COGMEN uses
``wp == wf`` (5 and 5 by default in its ``train.py``), where the distinction vanishes.

Relation type (COGMEN's ``edge_type_to_idx``, keyed ``str(s_src) + str(s_dst) + c``)::

    c = 0 if src < dst          # the source utterance comes *before* the target
    c = 1 otherwise             # source after the target, and the self-loop (src == dst)
    relation = (s_src * n_speakers + s_dst) * 2 + c      # 2 * n_speakers**2 types

COGMEN builds the same indices by inserting keys ``jk0`` then ``jk1`` for ``j`` and then ``k`` in
``range(n_speakers)``; the arithmetic form is identical for ``n_speakers <= 10`` and avoids its
string collisions beyond (``'1'+'11'`` vs ``'11'+'1'``).

Speakers are indexed per dialogue in order of first appearance (the first speaker is 0), or by a
fixed vocabulary (e.g. IEMOCAP's ``{'M': 0, 'F': 1}`` in COGMEN). Indices ``>= n_speakers`` share
the last index ``n_speakers - 1`` ("other speakers"), which keeps the relation count bounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from edgeemo.errors import ConfigError
from torch_geometric.data import Batch, Data

from ..data import Dialogue, DialogueSet

__all__ = [
    "DialogueGraphs",
    "GraphConfig",
    "collate",
    "dialogue_edges",
    "dialogue_to_data",
    "edge_pairs",
    "num_relations",
    "relation_type",
    "speaker_indices",
]


@dataclass(frozen=True)
class GraphConfig:
    """How a dialogue becomes a graph.

    window_past/window_future: COGMEN's ``wp``/``wf`` (``-1`` = all). n_speakers: size of the
    speaker index space (relations = ``2 * n_speakers**2``). speaker_vocab: fixed name -> index
    map; ``None`` = first appearance per dialogue.
    """

    window_past: int = 5
    window_future: int = 5
    n_speakers: int = 2
    speaker_vocab: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        for name in ("window_past", "window_future"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < -1:
                raise ConfigError(f"{name} must be an int >= -1 (-1 = all), not {v!r}")
        if not isinstance(self.n_speakers, int) or self.n_speakers < 1:
            raise ConfigError(f"n_speakers must be a positive int, not {self.n_speakers!r}")

    @property
    def num_relations(self) -> int:
        """``2 * n_speakers ** 2``."""
        return num_relations(self.n_speakers)


def num_relations(n_speakers: int) -> int:
    """Number of COGMEN relation types for ``n_speakers`` speakers."""
    return 2 * n_speakers * n_speakers


def relation_type(src_speaker: int, dst_speaker: int, src: int, dst: int, n_speakers: int) -> int:
    """COGMEN relation index of the edge ``src -> dst`` (positions in the dialogue)."""
    c = 0 if src < dst else 1
    return (src_speaker * n_speakers + dst_speaker) * 2 + c


def speaker_indices(
    speakers: Sequence[str], n_speakers: int, vocab: Mapping[str, int] | None = None
) -> np.ndarray:
    """Per-utterance speaker indices in ``[0, n_speakers)`` (see the module doc)."""
    if vocab is None:
        order: dict[str, int] = {}
        idx = [order.setdefault(s, len(order)) for s in speakers]
    else:
        missing = sorted({s for s in speakers if s not in vocab})
        if missing:
            raise ConfigError(f"speakers {missing[:5]} are not in the speaker vocabulary")
        idx = [int(vocab[s]) for s in speakers]
    return np.minimum(np.asarray(idx, dtype=np.int64), n_speakers - 1)


def edge_pairs(length: int, window_past: int, window_future: int) -> list[tuple[int, int]]:
    """COGMEN's ``edge_perms``: sorted ``(j, k)`` with ``k`` in ``j``'s past/future window."""
    pairs: list[tuple[int, int]] = []
    for j in range(length):
        lo = 0 if window_past == -1 else max(0, j - window_past)
        hi = length - 1 if window_future == -1 else min(length - 1, j + window_future)
        pairs.extend((j, k) for k in range(lo, hi + 1))
    return pairs


def dialogue_edges(
    speaker_idx: Sequence[int] | np.ndarray, window_past: int, window_future: int, n_speakers: int
) -> tuple[np.ndarray, np.ndarray]:
    """``edge_index`` ``[2, E]`` and ``edge_type`` ``[E]`` (int64) for one dialogue."""
    spk = np.asarray(speaker_idx, dtype=np.int64)
    pairs = edge_pairs(len(spk), window_past, window_future)
    if not pairs:
        return np.zeros((2, 0), np.int64), np.zeros(0, np.int64)
    ei = np.asarray(pairs, dtype=np.int64).T
    src, dst = ei
    et = (spk[src] * n_speakers + spk[dst]) * 2 + (src >= dst).astype(np.int64)
    return ei, et


def dialogue_to_data(
    dialogue: Dialogue, config: GraphConfig, modalities: Sequence[str] | None = None
) -> Data:
    """One dialogue as a torch-geometric ``Data``.

    Node attributes: ``x_<modality>`` (float32 ``[n, d]``), ``y`` (int64, ``-1`` = no label),
    ``valence``/``arousal`` (float32, ``NaN`` = unknown), ``speaker`` (index), ``utt_pos``
    (position in the dialogue). Edge attributes: ``edge_index``, ``edge_type``.
    """
    mods = list(modalities) if modalities is not None else list(dialogue.features)
    n = dialogue.n_utterances
    spk = speaker_indices(dialogue.speakers, config.n_speakers, config.speaker_vocab)
    ei, et = dialogue_edges(spk, config.window_past, config.window_future, config.n_speakers)
    nan = np.full(n, np.nan, dtype=np.float32)
    kw: dict[str, Any] = {
        "edge_index": torch.from_numpy(ei),
        "edge_type": torch.from_numpy(et),
        "y": torch.from_numpy(dialogue.labels.astype(np.int64)),
        "valence": torch.from_numpy(dialogue.valence if dialogue.valence is not None else nan),
        "arousal": torch.from_numpy(dialogue.arousal if dialogue.arousal is not None else nan),
        "speaker": torch.from_numpy(spk),
        "utt_pos": torch.arange(n, dtype=torch.long),
        "num_nodes": n,
    }
    for m in mods:
        if m not in dialogue.features:
            raise ConfigError(f"dialogue {dialogue.dialogue_id!r} has no {m!r} features")
        kw[f"x_{m}"] = torch.from_numpy(dialogue.features[m])
    return Data(**kw)


class DialogueGraphs:
    """All dialogues of a :class:`DialogueSet` turned into graphs once, batched on demand."""

    def __init__(
        self, dset: DialogueSet, config: GraphConfig, modalities: Sequence[str] | None = None
    ) -> None:
        self.config = config
        self.modalities = tuple(modalities) if modalities is not None else dset.modalities
        self.dialogue_ids = [d.dialogue_id for d in dset.dialogues]
        self.graphs = [dialogue_to_data(d, config, self.modalities) for d in dset.dialogues]

    def __len__(self) -> int:
        return len(self.graphs)

    def batches(
        self, batch_size: int, *, shuffle: bool = False, generator: torch.Generator | None = None
    ) -> list[Batch]:
        """Mini-batches of whole dialogues (a seeded ``generator`` makes shuffling repeatable)."""
        order = (
            torch.randperm(len(self.graphs), generator=generator).tolist()
            if shuffle
            else list(range(len(self.graphs)))
        )
        return [
            collate([self.graphs[i] for i in order[k : k + batch_size]])
            for k in range(0, len(order), batch_size)
        ]


def collate(graphs: Sequence[Data]) -> Batch:
    """Batch dialogue graphs (node indices of later graphs are offset by torch-geometric)."""
    return Batch.from_data_list(list(graphs))
