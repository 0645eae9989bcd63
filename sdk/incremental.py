"""Incremental streaming: a model's *stream graph* computes each audio frame once, not once per window.

A streamable model ships a second ONNX file beside the window model, ``<name>.stream.onnx``
(written by ``edgeemo.export.stream_graph``; docs/model_contract.md, "Stream graph"). It takes the
newest audio plus two state tensors (the recent log-mel frames and the conv trunk's columns) and
returns the window's scores and the next state. A :class:`~edgeemo.Stream` uses it when the model
has one and the stream's hop is the model's: the first window *primes* the state (the whole window
goes in), every later hop feeds only :attr:`StreamGeometry.step_samples` new samples. The scores
equal the window model's on the same windows to float rounding, so results do not change, only
their cost.

The stream file must belong to the window model: its metadata holds the window model's SHA-256,
and a mismatch (a stale file from an older export) raises :class:`ModelMetadataError` naming the
fix, rather than silently scoring with other weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .contract import KEY_STREAM_GEOMETRY, KEY_WINDOW_MODEL_SHA256
from .errors import ModelError, ModelMetadataError

__all__ = ["StreamGeometry", "StreamGraph", "StreamState", "stream_graph_path"]

STREAM_SUFFIX = ".stream.onnx"


def stream_graph_path(window_model: str | os.PathLike[str]) -> Path:
    """Where the stream graph of ``window_model`` lives: ``name.onnx`` -> ``name.stream.onnx``."""
    p = Path(window_model)
    stem = p.name[: -len(".onnx")] if p.name.endswith(".onnx") else p.name
    return p.with_name(stem + STREAM_SUFFIX)


@dataclass(frozen=True)
class StreamGeometry:
    """How a window splits into reusable frames and trunk columns (counts at the model rate)."""

    window_samples: int
    hop_samples: int
    n_fft: int
    hop_length: int
    window_frames: int
    new_frames: int
    mel_context: int
    window_columns: int
    new_columns: int

    @property
    def step_samples(self) -> int:
        """Samples fed per hop after the first window: the span of the hop's new frames."""
        return (self.new_frames - 1) * self.hop_length + self.n_fft

    @property
    def step_offset(self) -> int:
        """Where a hop's audio starts inside its window."""
        return (self.window_frames - self.new_frames) * self.hop_length

    def to_json(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StreamGeometry:
        """Parse the ``stream_geometry`` metadata value; :class:`ValueError` when malformed."""
        data = json.loads(text)
        names = [f.name for f in fields(cls)]
        if not isinstance(data, dict) or set(data) != set(names):
            raise ValueError(f"expected the keys {sorted(names)}")
        values = {k: data[k] for k in names}
        if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in values.values()):
            raise ValueError("every value must be an integer >= 0")
        return cls(**values)


@dataclass
class StreamState:
    """One stream's carried state (None until the first window primes it)."""

    mel: np.ndarray | None = None
    columns: np.ndarray | None = None
    next_start: int | None = None  # the window start the state is ready for


class StreamGraph:
    """A loaded stream graph (thread-safe: the state lives in each :class:`StreamState`)."""

    def __init__(self, session: Any, path: Path, geometry: StreamGeometry, outputs: tuple[str, ...]) -> None:
        self.session = session
        self.path = path
        self.geometry = geometry
        self._outputs = outputs
        shapes = {i.name: i.shape for i in session.get_inputs()}
        self._empty_mel = np.zeros((1, int(shapes["mel_state"][1]), 0), np.float32)
        self._empty_columns = np.zeros((1, int(shapes["column_state"][1]), int(shapes["column_state"][2]), 0), np.float32)

    @classmethod
    def load(cls, path: Path, *, window_sha256: str, window_samples: int, hop_samples: int,
             heads_outputs: tuple[str, ...], create_session: Any) -> StreamGraph:
        """Open ``path`` with ``create_session(path)`` and check it belongs to the window model."""
        session = create_session(path)
        meta = dict(session.get_modelmeta().custom_metadata_map)
        name = path.name
        if meta.get(KEY_WINDOW_MODEL_SHA256) != window_sha256:
            raise ModelMetadataError(
                f"{name} was exported for another version of its window model (SHA-256 mismatch): re-export it "
                "with `edgeemo export stream`, delete it, or create the stream with incremental=False (whole windows)"
            )
        try:
            geometry = StreamGeometry.from_json(meta.get(KEY_STREAM_GEOMETRY, ""))
        except (ValueError, TypeError) as exc:
            raise ModelMetadataError(f"{name}: metadata key '{KEY_STREAM_GEOMETRY}' is malformed ({exc})") from None
        if geometry.window_samples != window_samples or geometry.hop_samples != hop_samples:
            raise ModelMetadataError(
                f"{name}: its window/hop ({geometry.window_samples}/{geometry.hop_samples} samples) differ from "
                f"the window model's ({window_samples}/{hop_samples}); re-export it"
            )
        inputs = {i.name for i in session.get_inputs()}
        outputs = {o.name for o in session.get_outputs()}
        needed_out = {*heads_outputs, "mel_state_out", "column_state_out"}
        if inputs != {"audio", "mel_state", "column_state"} or not needed_out <= outputs:
            raise ModelMetadataError(
                f"{name}: not a stream graph (inputs {sorted(inputs)}, outputs {sorted(outputs)}); re-export it"
            )
        return cls(session, path, geometry, (*heads_outputs, "mel_state_out", "column_state_out"))

    def step(self, state: StreamState, window: np.ndarray, start: int) -> list[np.ndarray]:
        """Scores of the window ``[start, start + window_samples)`` given as ``window`` (float32
        ``[window_samples]``); updates ``state``. A window that does not follow the state's last one
        by exactly one hop primes the state afresh (the whole window goes in)."""
        g = self.geometry
        if state.next_start == start and state.mel is not None:
            audio = window[g.step_offset : g.step_offset + g.step_samples]
            mel, columns = state.mel, state.columns
        else:
            audio, mel, columns = window, self._empty_mel, self._empty_columns
        try:
            outs = self.session.run(self._outputs, {"audio": audio[None], "mel_state": mel, "column_state": columns})
        except Exception as exc:  # ORT's own exception types
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise ModelError(f"stream graph {self.path.name} failed to run: {reason}") from None
        state.mel, state.columns = outs[-2], outs[-1]
        state.next_start = start + g.hop_samples
        return [np.asarray(o, np.float32) for o in outs[:-2]]
