"""The table of what TensorRT's ONNX parser accepts (``trt_support.json``, TensorRT 10.3)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["SUPPORT_TABLE", "SupportTable", "load_support_table"]

#: The packaged table, a data file of this package.
SUPPORT_TABLE = "trt_support.json"


@dataclass(frozen=True)
class SupportTable:
    """The parsed ``trt_support.json``."""

    tensorrt_version: str
    opset_min: int
    opset_max: int
    allowed_domains: frozenset[str]
    ops: dict[str, dict[str, Any]]
    source: dict[str, Any]
    raw: dict[str, Any]

    def op(self, op_type: str) -> dict[str, Any] | None:
        """The table row of ``op_type`` (``None`` when the table does not list it)."""
        return self.ops.get(op_type)


@lru_cache(maxsize=4)
def _load_table_cached(path: str | None) -> SupportTable:
    if path is None:
        text = resources.files(__package__ or "edgeemo.export.tensorrt").joinpath(SUPPORT_TABLE).read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = json.loads(text)
    return SupportTable(
        tensorrt_version=str(raw["tensorrt_version"]),
        opset_min=int(raw["opset"]["min"]),
        opset_max=int(raw["opset"]["max"]),
        allowed_domains=frozenset(raw["allowed_domains"]),
        ops=dict(raw["ops"]),
        source=dict(raw.get("source", {})),
        raw=raw,
    )


def load_support_table(path: str | Path | None = None) -> SupportTable:
    """Load the TensorRT ONNX operator table (the packaged ``trt_support.json`` by default)."""
    return _load_table_cached(None if path is None else str(path))
