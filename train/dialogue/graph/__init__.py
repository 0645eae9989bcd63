"""COGMEN conversation-graph teacher: graph construction, model, MELD training.

Importing this package imports torch and torch-geometric (``pip install "edgeemo[train]"``).
"""

from __future__ import annotations

from edgeemo._deps import require

require("torch", purpose="the COGMEN graph teacher")
require("torch_geometric", purpose="the COGMEN graph teacher")

from .build import DialogueGraphs, GraphConfig, collate, dialogue_edges, num_relations
from .cogmen import Cogmen, CogmenConfig, CogmenOutput, load_checkpoint, save_checkpoint

__all__ = [
    "Cogmen",
    "CogmenConfig",
    "CogmenOutput",
    "DialogueGraphs",
    "GraphConfig",
    "collate",
    "dialogue_edges",
    "load_checkpoint",
    "num_relations",
    "save_checkpoint",
]
