"""Reading and writing an ONNX ``ModelProto``'s ``metadata_props`` (plain strings).

What the keys are and mean is the model contract, :mod:`edgeemo.contract`; the names re-exported
here are that module's, kept importable for existing callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from edgeemo.contract import (
    FORMAT_VERSION,
    FRONTEND_NODE_PREFIX,
    NONCOMMERCIAL_LICENSE,
    REQUIRED_KEYS,
    build_metadata,
)

if TYPE_CHECKING:  # pragma: no cover
    import onnx

__all__ = [
    "FORMAT_VERSION",
    "FRONTEND_NODE_PREFIX",
    "NONCOMMERCIAL_LICENSE",
    "REQUIRED_KEYS",
    "student_metadata",
    "set_metadata",
    "get_metadata",
]

student_metadata = build_metadata
"""Alias of :func:`edgeemo.contract.build_metadata` (metadata of an exported student)."""


def set_metadata(model: onnx.ModelProto, meta: Mapping[str, str]) -> None:
    """Replace the model's ``metadata_props`` entries for the keys in ``meta``."""
    existing = {p.key: p for p in model.metadata_props}
    for key, value in meta.items():
        if key in existing:
            existing[key].value = str(value)
        else:
            prop = model.metadata_props.add()
            prop.key, prop.value = key, str(value)


def get_metadata(model: onnx.ModelProto) -> dict[str, str]:
    """All ``metadata_props`` of ``model`` as a dict."""
    return {p.key: p.value for p in model.metadata_props}
