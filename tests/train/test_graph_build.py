"""COGMEN graph construction against hand-written edge lists (three-speaker toy dialogue)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from edgeemo.errors import ConfigError
from edgeemo.train.dialogue.data import Dialogue
from edgeemo.train.dialogue.graph.build import (
    DialogueGraphs,
    GraphConfig,
    collate,
    dialogue_edges,
    dialogue_to_data,
    edge_pairs,
    num_relations,
    relation_type,
    speaker_indices,
)

# Ann, Bo, Ann, Cy: three speakers, indexed by first appearance -> 0, 1, 0, 2
TOY_SPEAKERS = ["Ann", "Bo", "Ann", "Cy"]


def _edges(speakers: list[str], wp: int, wf: int, n_speakers: int = 3) -> list[tuple[int, int, int]]:
    ei, et = dialogue_edges(speaker_indices(speakers, n_speakers), wp, wf, n_speakers)
    return sorted(zip(ei[0].tolist(), ei[1].tolist(), et.tolist()))


def test_three_speakers_window_one() -> None:
    # relation = (s_src * 3 + s_dst) * 2 + c ; c = 0 if src < dst else 1 (self-loop -> 1)
    expected = [
        (0, 0, 1),   # Ann->Ann self
        (0, 1, 2),   # Ann->Bo, source earlier
        (1, 0, 7),   # Bo->Ann, source later: (1*3+0)*2+1
        (1, 1, 9),   # Bo->Bo self: (1*3+1)*2+1
        (1, 2, 6),   # Bo->Ann, source earlier: (1*3+0)*2
        (2, 1, 3),   # Ann->Bo, source later
        (2, 2, 1),   # Ann self
        (2, 3, 4),   # Ann->Cy, source earlier: (0*3+2)*2
        (3, 2, 13),  # Cy->Ann, source later: (2*3+0)*2+1
        (3, 3, 17),  # Cy self: (2*3+2)*2+1
    ]
    assert _edges(TOY_SPEAKERS, 1, 1) == expected


def test_asymmetric_windows_are_seen_from_the_source() -> None:
    # wp=2, wf=0: every j links to itself and up to two earlier utterances (j -> k, k in [j-2, j])
    expected = [
        (0, 0, 1),
        (1, 0, 7), (1, 1, 9),
        (2, 0, 1), (2, 1, 3), (2, 2, 1),
        (3, 1, 15), (3, 2, 13), (3, 3, 17),  # Cy->Bo: (2*3+1)*2+1
    ]
    assert _edges(TOY_SPEAKERS, 2, 0) == expected
    # wp=0, wf=1: j links to itself and the next utterance
    assert [(s, d) for s, d, _ in _edges(TOY_SPEAKERS, 0, 1)] == [
        (0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3)]


def test_unbounded_windows_give_all_pairs() -> None:
    assert len(_edges(TOY_SPEAKERS, -1, -1)) == 16
    assert [(s, d) for s, d, _ in _edges(TOY_SPEAKERS, -1, 0)] == sorted(
        (j, k) for j in range(4) for k in range(j + 1))
    assert edge_pairs(3, 0, -1) == [(0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]


def test_matches_cogmen_string_keyed_relation_table() -> None:
    # COGMEN: edge_type_to_idx[str(j) + str(k) + '0'/'1'] filled in this order
    n = 3
    table: dict[str, int] = {}
    for j in range(n):
        for k in range(n):
            table[f"{j}{k}0"] = len(table)
            table[f"{j}{k}1"] = len(table)
    assert len(table) == num_relations(n) == 18
    for s1 in range(n):
        for s2 in range(n):
            for src, dst in ((0, 1), (1, 0), (2, 2)):
                c = "0" if src < dst else "1"
                assert relation_type(s1, s2, src, dst, n) == table[f"{s1}{s2}{c}"]


def test_speaker_index_clipping_and_vocab() -> None:
    assert speaker_indices(["a", "b", "c", "d", "a"], 3).tolist() == [0, 1, 2, 2, 0]
    assert speaker_indices(["F", "M", "F"], 2, {"M": 0, "F": 1}).tolist() == [1, 0, 1]
    with pytest.raises(ConfigError):
        speaker_indices(["X"], 2, {"M": 0, "F": 1})
    with pytest.raises(ConfigError):
        GraphConfig(window_past=-2)


def test_batching_offsets_nodes_and_keeps_relation_types() -> None:
    rng = np.random.default_rng(0)
    dlg = [
        Dialogue(f"d{k}", [f"u{i}" for i in range(len(s))], s, [0] * len(s),
                 features={"text": rng.standard_normal((len(s), 3))})
        for k, s in enumerate([TOY_SPEAKERS, ["Zed", "Zed"]])
    ]
    cfg = GraphConfig(window_past=1, window_future=1, n_speakers=3)
    batch = collate([dialogue_to_data(d, cfg) for d in dlg])
    assert batch.num_nodes == 6
    assert batch.batch.tolist() == [0, 0, 0, 0, 1, 1]
    assert batch.x_text.shape == (6, 3)
    got = sorted(zip(batch.edge_index[0].tolist(), batch.edge_index[1].tolist(), batch.edge_type.tolist()))
    second = [(4, 4, 1), (4, 5, 0), (5, 4, 1), (5, 5, 1)]  # one speaker -> relations 0/1, offset 4
    assert got == _edges(TOY_SPEAKERS, 1, 1) + second
    graphs = DialogueGraphs.__new__(DialogueGraphs)
    graphs.graphs = [dialogue_to_data(d, cfg) for d in dlg]
    g = torch.Generator().manual_seed(0)
    assert [b.num_graphs for b in graphs.batches(1, shuffle=True, generator=g)] == [1, 1]
