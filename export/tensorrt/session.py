"""A TensorRT engine checked against the model contract, and whole clips classified through it.

:class:`EngineSession` shows a :class:`~.runner.TensorRTEngineRunner` as the small slice of
``onnxruntime.InferenceSession`` that edgeemo's code reads (metadata, inputs/outputs, ``run``), so
:func:`open_engine` validates an engine's sidecar metadata exactly as the SDK validates an ONNX
model (:func:`edgeemo.contract.parse_metadata` and :func:`~edgeemo.contract.check_graph`).
:func:`classify_clip` is what ``edgeemo export tensorrt run`` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edgeemo.contract import INPUT_NAME, OUTPUT_PROBS, ModelMetadata, check_graph, clip_window_starts, parse_metadata
from edgeemo.errors import ProviderError

__all__ = ["PROVIDER_NAME", "ClipScores", "EngineSession", "classify_clip", "open_engine"]

#: What :meth:`EngineSession.get_providers` reports.
PROVIDER_NAME = "TensorrtEngine"
#: Windows per engine call in :func:`classify_clip` (the runner splits further by its profile).
_CHUNK = 32


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
    def open(cls, path: str | Path, *, device: int = 0) -> EngineSession:
        """A session over a new :class:`~.runner.TensorRTEngineRunner` for ``path``."""
        from .runner import TensorRTEngineRunner

        return cls(TensorRTEngineRunner(path, device=device))

    def get_modelmeta(self) -> SimpleNamespace:
        """``custom_metadata_map``: the ONNX metadata copied into the sidecar."""
        return SimpleNamespace(custom_metadata_map=dict(self._runner.metadata))

    def get_inputs(self) -> list[_TensorSpec]:
        """The ``audio`` input, ``[batch, window_samples]`` as the engine's profile says."""
        return [_TensorSpec(INPUT_NAME, ["batch", int(self._runner.window_samples)])]

    def get_outputs(self) -> list[_TensorSpec]:
        """The engine's own outputs and widths (so the labels-vs-probs check stays a real check)."""
        shapes = self._runner.output_shapes
        return [_TensorSpec(name, ["batch", *list(shapes[name])[1:]]) for name in self._runner.output_names]

    @property
    def precision(self) -> str:
        """The precision the engine was built at (from its sidecar)."""
        return str(self._runner.sidecar.precision)

    def get_providers(self) -> list[str]:
        """``["TensorrtEngine"]``."""
        return [PROVIDER_NAME]

    def run(self, output_names: Sequence[str], feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Outputs ``output_names`` for ``feeds["audio"]`` (float32 ``[n, window_samples]``)."""
        outs = self._runner.run_all(feeds[INPUT_NAME])
        return [np.asarray(outs[name]) for name in output_names]

    def close(self) -> None:
        """Free the runner's GPU buffers."""
        close = getattr(self._runner, "close", None)
        if callable(close):
            close()


def open_engine(
    path: str | Path, *, device: int = 0, precision: str | None = None
) -> tuple[EngineSession, ModelMetadata]:
    """Open an engine and validate its metadata against its I/O, as the SDK does for ONNX models.

    Raises what :class:`~.runner.TensorRTEngineRunner` raises, :class:`ModelMetadataError` for
    metadata that breaks the model contract, and :class:`ProviderError` when ``precision`` is given
    and differs from the engine's (edgeemo never changes precision silently).
    """
    p = Path(path)
    session = EngineSession.open(p, device=device)
    meta = parse_metadata(session.get_modelmeta().custom_metadata_map, p.name)
    check_graph(
        meta,
        {t.name: t for t in session.get_inputs()},
        {t.name: t for t in session.get_outputs()},
        p.name,
    )
    if precision is not None and precision != session.precision:
        raise ProviderError(
            f"precision {precision!r} was asked for but {p.name} was built at {session.precision!r}; "
            "edgeemo never changes precision silently: rebuild the engine at that precision"
        )
    return session, meta


@dataclass(frozen=True)
class ClipScores:
    """A clip's mean window probabilities and its top label."""

    label: str
    confidence: float
    scores: dict[str, float]
    n_windows: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {"label": self.label, "confidence": self.confidence, "scores": dict(self.scores), "n_windows": self.n_windows}


def classify_clip(session: EngineSession, meta: ModelMetadata, wave: np.ndarray, sample_rate: int) -> ClipScores:
    """Mean ``probs`` over the clip's windows (the contract's window rule), like
    ``Recognizer.classify`` without voice-activity gating."""
    from edgeemo.audio import prepare_clip

    x = prepare_clip(wave, sample_rate, meta.sample_rate, meta.min_samples)
    w = meta.window_samples
    if x.size < w:
        x = np.concatenate([x, np.zeros(w - x.size, np.float32)])
    starts = clip_window_starts(x.size, w, meta.hop_samples)
    view = np.lib.stride_tricks.sliding_window_view(x, w)
    total = np.zeros(len(meta.labels), np.float64)
    for i in range(0, len(starts), _CHUNK):
        batch = np.ascontiguousarray(view[starts[i : i + _CHUNK]], dtype=np.float32)
        total += np.asarray(session.run([OUTPUT_PROBS], {INPUT_NAME: batch})[0], np.float64).sum(axis=0)
    mean = total / len(starts)
    best = int(np.argmax(mean))
    return ClipScores(
        label=meta.labels[best],
        confidence=float(mean[best]),
        scores={lab: float(v) for lab, v in zip(meta.labels, mean)},
        n_windows=len(starts),
    )
