"""The stream graph of a streamable student: each log-mel frame and each trunk column computed once.

A window model recomputes its whole 3 s window every hop: six times the work per second of audio
at the default 0.5 s hop. A *streamable* student (:attr:`StudentConfig.streamable
<edgeemo.train.models.student.StudentConfig.streamable>`) has a front end and a conv trunk whose
every output depends only on a fixed span of samples, so a stream can carry them from one window
to the next. Its stream graph is a second ONNX file beside the window model (``<name>.stream.onnx``,
:func:`stream_graph_path`) that carries that state in and out, as silero-vad does:

* inputs: ``audio`` ``[1, samples]``, ``mel_state`` ``[1, n_mels, frames]`` and ``column_state``
  ``[1, C, F, columns]``;
* it appends the log-mel frames of ``audio`` to ``mel_state``, runs the normalisation and the trunk
  on them, appends the new columns to ``column_state``, pools the window's columns into ``probs``
  (and ``embedding``, ``valence_arousal`` when the model has it), and returns the states for the next
  hop: ``mel_state_out`` (the last :attr:`StreamGeometry.mel_context` frames) and
  ``column_state_out`` (the window's columns but the oldest :attr:`StreamGeometry.new_columns`).

The first window of a stream *primes* the state: the whole window as ``audio`` with empty states.
Every later hop feeds :attr:`StreamGeometry.step_samples` samples (the hop's new frames, with the
STFT's overlap), and the result equals the window model's on that window, to float rounding
(:func:`check_stream_parity`). The geometry is measured on the model itself by running it on
silence (:func:`stream_geometry`) and written into the file's metadata, which also holds the
SHA-256 of the window model the graph belongs to (the SDK refuses a stale stream file).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write_bytes, sha256_file
from edgeemo.contract import KEY_CALIBRATION, KEY_QUANTIZATION, KEY_STREAM_GEOMETRY, KEY_WINDOW_MODEL_SHA256
from edgeemo.incremental import StreamGeometry, stream_graph_path
from edgeemo.train.models.student import StudentNet

__all__ = [
    "KEY_STREAM_GEOMETRY",
    "KEY_WINDOW_MODEL_SHA256",
    "StreamGeometry",
    "check_stream_parity",
    "export_stream_graph",
    "stream_geometry",
    "stream_graph_path",
]


def _columns(model: StudentNet, n_frames: int) -> int:
    """Trunk columns the model makes from ``n_frames`` log-mel frames (0 when too few)."""
    cfg = model.cfg
    if n_frames <= 2 * cfg.local_context_frames:
        return 0
    with torch.no_grad():
        feats = model.normalize(torch.zeros(1, cfg.frontend.n_mels, n_frames))
        try:
            return int(model.trunk(feats).shape[3])
        except RuntimeError:  # a conv or pooling had nothing left to work on
            return 0


def stream_geometry(model: StudentNet) -> StreamGeometry:
    """Measure the stream geometry of a streamable student on silence (see the module docstring);
    :class:`ConfigError` when the model is not streamable or its hop does not line up with the
    trunk's frame stride."""
    cfg = model.cfg
    fe = cfg.frontend
    if not cfg.streamable:
        raise ConfigError(
            "this student is not streamable: it needs normalization='local_max' and time_padding='valid' "
            f"(it has {cfg.normalization!r} and {cfg.time_padding!r})"
        )
    if cfg.hop_samples % fe.hop_length or (cfg.hop_samples // fe.hop_length) % cfg.frame_stride:
        raise ConfigError(
            f"the hop ({cfg.hop_samples} samples) must be a whole number of trunk strides "
            f"({cfg.frame_stride} frames of {fe.hop_length} samples)"
        )
    window_frames = fe.n_frames(cfg.window_samples)
    new_frames = cfg.hop_samples // fe.hop_length
    new_columns = new_frames // cfg.frame_stride
    window_columns = _columns(model, window_frames)
    if window_columns <= new_columns:
        raise ConfigError(f"a window yields {window_columns} trunk columns; a stream needs more than {new_columns}")
    # the smallest context whose chunk starts on the window's column grid and yields exactly the new columns
    for context in range(window_frames - new_frames, -1, -cfg.frame_stride):
        if _columns(model, context + new_frames) == new_columns and (
            context < cfg.frame_stride or _columns(model, context - cfg.frame_stride + new_frames) < new_columns
        ):
            break
    else:  # pragma: no cover - the loop always finds the window itself at worst
        raise ConfigError("no stream context lines up with this model's trunk")
    return StreamGeometry(
        window_samples=cfg.window_samples, hop_samples=cfg.hop_samples, n_fft=fe.n_fft, hop_length=fe.hop_length,
        window_frames=window_frames, new_frames=new_frames, mel_context=context, window_columns=window_columns,
        new_columns=new_columns,
    )


class _StreamWrapper(nn.Module):
    """The stream step (module docstring) around a student in eval mode."""

    def __init__(self, model: StudentNet, geometry: StreamGeometry) -> None:
        super().__init__()
        self.model = model
        self.keep_frames = geometry.mel_context
        self.keep_columns = geometry.window_columns - geometry.new_columns

    def forward(self, audio: torch.Tensor, mel_state: torch.Tensor,
                column_state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        m = self.model
        mel = torch.cat([mel_state, m.frontend(audio)], dim=2)
        columns = torch.cat([column_state, m.trunk(m.normalize(mel))], dim=3)
        out = m.pool_head(columns)
        probs = torch.softmax(out["logits"], dim=1)
        heads = (probs, out["valence_arousal"]) if "valence_arousal" in out else (probs,)
        n_frames, n_columns = mel.shape[2], columns.shape[3]
        return (*heads, out["embedding"], mel[:, :, n_frames - self.keep_frames:],
                columns[:, :, :, n_columns - self.keep_columns:])


def _example_states(model: StudentNet, geometry: StreamGeometry) -> tuple[torch.Tensor, torch.Tensor]:
    cfg = model.cfg
    with torch.no_grad():
        window = torch.randn(1, cfg.window_samples) * 0.1
        mel = model.frontend(window)
        columns = model.trunk(model.normalize(mel))
    return (mel[:, :, mel.shape[2] - geometry.mel_context:],
            columns[:, :, :, columns.shape[3] - (geometry.window_columns - geometry.new_columns):])


def export_stream_graph(model: StudentNet, window_model: str | os.PathLike[str],
                        out_path: str | os.PathLike[str] | None = None) -> Path:
    """Export the stream graph of ``model`` (eval mode) for the float32 window model file
    ``window_model`` exported from the same weights (its SHA-256 and metadata are copied in; its
    calibration temperature, if any, is applied the same way). Writes ``out_path`` (default
    :func:`stream_graph_path`) and returns it. :class:`ConfigError` for a model that is not
    streamable or a quantized window model."""
    import onnx

    from .calibrate import apply_temperature
    from .metadata import get_metadata, set_metadata
    from .onnx_export import _rename_and_strip, _store_large_constants_fp16, fold_batch_norms, restore_log_floor
    from .stft_graph import generate_stft_kernel

    geometry = stream_geometry(model)
    window_model = Path(window_model)
    out = Path(out_path) if out_path is not None else stream_graph_path(window_model)
    try:
        window_meta = get_metadata(onnx.load(os.fspath(window_model), load_external_data=False))
    except Exception as exc:  # protobuf's DecodeError and friends: not an ONNX file
        raise ConfigError(f"{window_model} is not a readable ONNX model ({type(exc).__name__}): pass the float32 "
                          "window model exported from the same checkpoint") from None
    if window_meta.get(KEY_QUANTIZATION, "fp32") != "fp32":
        raise ConfigError(
            f"{window_model.name} is {window_meta[KEY_QUANTIZATION]}; a stream graph is float32 and must belong to "
            "the float32 window model of the same checkpoint (its scores then match to float rounding)"
        )
    fused = fold_batch_norms(model).eval()
    mel_state, column_state = _example_states(fused, geometry)
    audio = torch.randn(1, geometry.step_samples) * 0.1
    heads = ["probs"] + (["valence_arousal"] if model.cfg.valence_arousal else [])
    outputs = [*heads, "embedding", "mel_state_out", "column_state_out"]
    frames, columns = torch.export.Dim("frames", min=2, max=100_000), torch.export.Dim("columns", min=2, max=100_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _StreamWrapper(fused, geometry), (audio, mel_state, column_state),
            input_names=["audio", "mel_state", "column_state"], output_names=outputs,
            dynamic_shapes={"audio": {1: torch.export.Dim("samples", min=geometry.step_samples, max=10_000_000)},
                            "mel_state": {2: frames}, "column_state": {3: columns}},
            dynamo=True, verbose=False,
        )
    proto = program.model_proto
    _rename_and_strip(proto)
    restore_log_floor(proto, model.cfg.frontend.log_floor)
    generate_stft_kernel(proto, model.cfg.frontend)  # as the window model does: the same values
    _store_large_constants_fp16(proto)
    meta = {k: v for k, v in window_meta.items() if k != KEY_CALIBRATION}
    meta[KEY_STREAM_GEOMETRY] = geometry.to_json()
    meta[KEY_WINDOW_MODEL_SHA256] = sha256_file(window_model)
    set_metadata(proto, meta)
    proto.producer_name = "edgeemo"
    onnx.checker.check_model(proto)
    atomic_write_bytes(out, proto.SerializeToString())
    calibration = window_meta.get(KEY_CALIBRATION)
    if calibration:  # the window model's own temperature (its float32 initializer), and its metadata text
        from onnx import numpy_helper

        from .calibrate import TEMPERATURE_NODE

        window_proto = onnx.load(os.fspath(window_model))
        t = next(float(numpy_helper.to_array(i)) for i in window_proto.graph.initializer if i.name == TEMPERATURE_NODE)
        apply_temperature(out, out, t)
        calibrated = onnx.load(os.fspath(out))
        set_metadata(calibrated, {**get_metadata(calibrated), KEY_CALIBRATION: calibration})
        atomic_write_bytes(out, calibrated.SerializeToString())
    return out


def run_stream(session: Any, geometry: StreamGeometry, audio: np.ndarray) -> np.ndarray:
    """``probs`` of every whole window of ``audio`` (hop by hop) through a stream-graph session:
    the reference loop the SDK's incremental stream follows (tests and parity checks use it)."""
    n_windows = 1 + (len(audio) - geometry.window_samples) // geometry.hop_samples if len(audio) >= geometry.window_samples else 0
    probs = []
    mel = np.zeros((1, 0, 0), np.float32)
    cols = None
    for k in range(n_windows):
        start = k * geometry.hop_samples
        if k == 0:
            chunk = audio[: geometry.window_samples]
            inputs = _empty_states(session)
        else:
            begin = start + geometry.step_offset
            chunk = audio[begin : begin + geometry.step_samples]
            inputs = {"mel_state": mel, "column_state": cols}
        outs = session.run(None, {"audio": chunk[None].astype(np.float32), **inputs})
        named = dict(zip([o.name for o in session.get_outputs()], outs))
        probs.append(named["probs"][0])
        mel, cols = named["mel_state_out"], named["column_state_out"]
    return np.array(probs, np.float32).reshape(n_windows, -1)


def _empty_states(session: Any) -> dict[str, np.ndarray]:
    shapes = {i.name: i.shape for i in session.get_inputs()}
    n_mels = int(shapes["mel_state"][1])
    c, f = int(shapes["column_state"][1]), int(shapes["column_state"][2])
    return {"mel_state": np.zeros((1, n_mels, 0), np.float32), "column_state": np.zeros((1, c, f, 0), np.float32)}


def check_stream_parity(window_model: str | os.PathLike[str], stream_model: str | os.PathLike[str],
                        audio: np.ndarray) -> float:
    """Max |Δprob| between the stream graph and the window model over every window of ``audio``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    win = ort.InferenceSession(os.fspath(window_model), so, providers=["CPUExecutionProvider"])
    stream = ort.InferenceSession(os.fspath(stream_model), so, providers=["CPUExecutionProvider"])
    geometry = StreamGeometry.from_json(stream.get_modelmeta().custom_metadata_map[KEY_STREAM_GEOMETRY])
    got = run_stream(stream, geometry, audio)
    starts = range(0, len(got) * geometry.hop_samples, geometry.hop_samples)
    windows = np.stack([audio[s : s + geometry.window_samples] for s in starts]).astype(np.float32)
    want = win.run(["probs"], {"audio": windows})[0]
    return float(np.abs(got - want).max())
