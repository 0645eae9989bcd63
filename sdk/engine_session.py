"""A TensorRT engine behind the small slice of ``onnxruntime.InferenceSession`` the SDK uses.

``Recognizer("model.engine")`` loads a bare TensorRT plan with its sidecar JSON (written by
``edgeemo.export.tensorrt``) through :class:`~edgeemo.trt_engine.TensorRTEngineRunner` and reads the
same metadata contract from the sidecar, so every check of an ONNX model applies to engines too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

PROVIDER_NAME = "TensorrtEngine"


@dataclass(frozen=True)
class _TensorSpec:
    name: str
    shape: list[Any]
    type: str = "tensor(float)"


class EngineSession:
    """Runs ``probs`` (and ``valence_arousal``) of a TensorRT engine like ``session.run``."""

    def __init__(self, runner: Any) -> None:
        self._runner = runner

    @classmethod
    def open(cls, path: str, *, device: int = 0) -> "EngineSession":
        from .trt_engine import TensorRTEngineRunner

        return cls(TensorRTEngineRunner(path, device=device))

    def get_modelmeta(self) -> SimpleNamespace:
        return SimpleNamespace(custom_metadata_map=dict(self._runner.metadata))

    def get_inputs(self) -> list[_TensorSpec]:
        return [_TensorSpec("audio", ["batch", int(self._runner.window_samples)])]

    def get_outputs(self) -> list[_TensorSpec]:
        # the engine's own output widths, so the labels-vs-probs check in ModelInfo stays a real check
        shapes = self._runner.output_shapes
        return [_TensorSpec(name, ["batch", *list(shapes[name])[1:]]) for name in self._runner.output_names]

    @property
    def precision(self) -> str:
        """The precision the engine was built at (from its sidecar)."""
        return str(self._runner.sidecar.precision)

    def get_providers(self) -> list[str]:
        return [PROVIDER_NAME]

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        outs = self._runner.run_all(feeds["audio"])
        return [np.asarray(outs[name]) for name in output_names]
