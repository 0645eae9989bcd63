"""The edgeemo model contract (docs/model_contract.md) in one place; standard library only.

Everything that both writes models (``edgeemo.export``, training) and reads them (the SDK, the
TensorRT engine sidecar, tests) must agree on lives here, and only here:

* names: :data:`FORMAT_VERSION` / :data:`SUPPORTED_FORMAT_MAJOR`; the metadata keys ``KEY_*``
  (:data:`REQUIRED_KEYS`, :data:`INFORMATIVE_KEYS`); the graph's :data:`INPUT_NAME`, head names
  ``HEAD_*`` and their outputs (:data:`HEAD_OUTPUTS`, ``OUTPUT_*``, :func:`output_names`);
  :data:`FRONTEND_NODE_PREFIX`; the default :data:`NONCOMMERCIAL_LICENSE` string;
* writing: :func:`build_metadata` (the ``metadata_props`` of an exported student),
  :func:`format_metrics`, :func:`join_list`;
* reading: :func:`parse_metadata` (validated :class:`ModelMetadata`, or
  :class:`~edgeemo.errors.ModelMetadataError` naming the key and the fix), :func:`check_graph`
  (metadata against the graph's inputs/outputs), :func:`parse_labels` (lenient, for sidecars and
  tools), :func:`frontend_node_prefix`;
* the window rule: :func:`clip_window_starts` (whole clips), :func:`stream_window_starts` and
  :func:`takes_partial_window` (streams).

Other modules use the ``KEY_*`` constants instead of spelling the key strings themselves
(tests/sdk/test_contract.py checks this).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .errors import ModelMetadataError

__all__ = [
    "FORMAT_VERSION",
    "SUPPORTED_FORMAT_MAJOR",
    "KEY_FORMAT",
    "KEY_LABELS",
    "KEY_SAMPLE_RATE",
    "KEY_WINDOW_SAMPLES",
    "KEY_HOP_SAMPLES",
    "KEY_MIN_SAMPLES",
    "KEY_HEADS",
    "KEY_MODEL_NAME",
    "KEY_MODEL_VERSION",
    "KEY_TRAINING_DATA",
    "KEY_LICENSE",
    "KEY_FRONTEND",
    "KEY_FRONTEND_NODE_PREFIX",
    "KEY_QUANTIZATION",
    "KEY_METRICS",
    "KEY_INT8_FLOAT_NODES",
    "KEY_CALIBRATION",
    "REQUIRED_KEYS",
    "INFORMATIVE_KEYS",
    "INPUT_NAME",
    "HEAD_CATEGORIES",
    "HEAD_VALENCE_AROUSAL",
    "OUTPUT_PROBS",
    "OUTPUT_VALENCE_AROUSAL",
    "OUTPUT_EMBEDDING",
    "OUTPUT_PROBS_UNCALIBRATED",
    "HEAD_OUTPUTS",
    "FRONTEND_NODE_PREFIX",
    "NONCOMMERCIAL_LICENSE",
    "ModelMetadata",
    "build_metadata",
    "parse_metadata",
    "check_graph",
    "parse_labels",
    "frontend_node_prefix",
    "output_names",
    "format_metrics",
    "join_list",
    "clip_window_starts",
    "stream_window_starts",
    "takes_partial_window",
]

FORMAT_VERSION = "1"
"""The contract version written into ``edgeemo_format``."""
SUPPORTED_FORMAT_MAJOR = 1
"""The ``edgeemo_format`` major version this edgeemo reads."""

# -- metadata keys (metadata_props; all values are strings) --------------------------------
KEY_FORMAT = "edgeemo_format"
KEY_LABELS = "labels"
KEY_SAMPLE_RATE = "sample_rate"
KEY_WINDOW_SAMPLES = "window_samples"
KEY_HOP_SAMPLES = "hop_samples"
KEY_MIN_SAMPLES = "min_samples"
KEY_HEADS = "heads"
KEY_MODEL_NAME = "model_name"
KEY_MODEL_VERSION = "model_version"
KEY_TRAINING_DATA = "training_data"
KEY_LICENSE = "license"
KEY_FRONTEND = "frontend"
KEY_FRONTEND_NODE_PREFIX = "frontend_node_prefix"
KEY_QUANTIZATION = "quantization"
KEY_METRICS = "metrics"
KEY_INT8_FLOAT_NODES = "int8_float_nodes"
KEY_CALIBRATION = "calibration"
"""Informative: the temperature written into the graph after ``probs`` (``edgeemo export
calibrate``), e.g. ``temperature=1.4300;fitted_on=...;ece_before=0.1160;ece_after=0.0400``."""

KEY_STREAM_GEOMETRY = "stream_geometry"
"""Stream graphs only (``NAME.stream.onnx``, :mod:`edgeemo.incremental`): how a window splits into
frames and trunk columns, as JSON."""
KEY_WINDOW_MODEL_SHA256 = "window_model_sha256"
"""Stream graphs only: the SHA-256 of the window model the stream graph belongs to."""

REQUIRED_KEYS: tuple[str, ...] = (
    KEY_FORMAT,
    KEY_LABELS,
    KEY_SAMPLE_RATE,
    KEY_WINDOW_SAMPLES,
    KEY_HOP_SAMPLES,
    KEY_HEADS,
    KEY_MODEL_NAME,
    KEY_MODEL_VERSION,
    KEY_TRAINING_DATA,
    KEY_LICENSE,
    KEY_MIN_SAMPLES,
)
"""Keys every model must have; a model without one is refused."""
INFORMATIVE_KEYS: tuple[str, ...] = (
    KEY_FRONTEND,
    KEY_FRONTEND_NODE_PREFIX,
    KEY_QUANTIZATION,
    KEY_METRICS,
    KEY_INT8_FLOAT_NODES,
    KEY_CALIBRATION,
    KEY_STREAM_GEOMETRY,
    KEY_WINDOW_MODEL_SHA256,
)
"""Keys the exporter writes that a model may lack."""

# -- graph names ---------------------------------------------------------------------------
INPUT_NAME = "audio"
HEAD_CATEGORIES = "categories"
HEAD_VALENCE_AROUSAL = "valence_arousal"
OUTPUT_PROBS = "probs"
OUTPUT_VALENCE_AROUSAL = "valence_arousal"
OUTPUT_EMBEDDING = "embedding"
OUTPUT_PROBS_UNCALIBRATED = "probs_uncalibrated"
"""Optional output of a calibrated model: ``probs`` before the temperature (the SDK ignores it)."""
HEAD_OUTPUTS: Mapping[str, str] = MappingProxyType(
    {HEAD_CATEGORIES: OUTPUT_PROBS, HEAD_VALENCE_AROUSAL: OUTPUT_VALENCE_AROUSAL}
)
"""Head name (``heads`` metadata) -> graph output name."""

FRONTEND_NODE_PREFIX = "frontend/"
"""Name prefix of the in-graph front-end nodes in edgeemo exports (and the default of the
``frontend_node_prefix`` key)."""
NONCOMMERCIAL_LICENSE = (
    "CC BY-NC-SA 4.0 (non-commercial; model trained on RAVDESS, Livingstone & Russo 2018)"
)
"""Default ``license`` of a student trained on RAVDESS."""

_FIX = "re-export the model with `edgeemo export` (see docs/model_contract.md)"


@dataclass(frozen=True)
class ModelMetadata:
    """The validated metadata of a model (what :func:`parse_metadata` returns)."""

    format_version: str
    labels: tuple[str, ...]
    sample_rate: int
    window_samples: int
    hop_samples: int
    min_samples: int
    heads: tuple[str, ...]
    model_name: str
    model_version: str
    training_data: str
    license: str
    frontend: str | None
    quantization: str | None
    metrics: str | None


# -- writing -------------------------------------------------------------------------------
def join_list(items: Iterable[str]) -> str:
    """A list value as stored in metadata: comma-separated, no spaces, no JSON."""
    return ",".join(items)


def format_metrics(metrics: Mapping[str, float]) -> str:
    """The ``metrics`` value: ``name=0.1234`` pairs, comma-separated."""
    return join_list(f"{k}={v:.4f}" for k, v in metrics.items())


def build_metadata(
    model_cfg: Mapping[str, object],
    *,
    model_name: str,
    model_version: str,
    training_data: str,
    license: str = NONCOMMERCIAL_LICENSE,
    quantization: str = "fp32",
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Metadata of a student exported from its checkpoint's model config (a dict with
    ``labels``, ``window_samples``, ``hop_samples``, ``min_samples``, ``valence_arousal`` and a
    ``frontend`` dict with ``sample_rate``, ``n_fft``, ``hop_length``, ``n_mels``, ``f_min``,
    ``f_max``); ``extra`` entries are added last (and win)."""
    frontend = dict(model_cfg["frontend"])  # type: ignore[call-overload]
    heads = [HEAD_CATEGORIES] + ([HEAD_VALENCE_AROUSAL] if model_cfg.get("valence_arousal") else [])
    meta = {
        KEY_FORMAT: FORMAT_VERSION,
        KEY_LABELS: join_list(model_cfg["labels"]),  # type: ignore[arg-type]
        KEY_SAMPLE_RATE: str(frontend["sample_rate"]),
        KEY_WINDOW_SAMPLES: str(model_cfg["window_samples"]),
        KEY_HOP_SAMPLES: str(model_cfg["hop_samples"]),
        KEY_MIN_SAMPLES: str(model_cfg["min_samples"]),
        KEY_HEADS: join_list(heads),
        KEY_MODEL_NAME: model_name,
        KEY_MODEL_VERSION: model_version,
        KEY_TRAINING_DATA: training_data,
        KEY_LICENSE: license,
        KEY_FRONTEND: (
            f"logmel n_fft={frontend['n_fft']} hop={frontend['hop_length']} n_mels={frontend['n_mels']} "
            f"fmin={frontend['f_min']:g} fmax={frontend['f_max']:g} conv-stft"
        ),
        KEY_FRONTEND_NODE_PREFIX: FRONTEND_NODE_PREFIX,
        KEY_QUANTIZATION: quantization,
    }
    if metrics:
        meta[KEY_METRICS] = format_metrics(metrics)
    meta.update(extra or {})
    return meta


# -- reading -------------------------------------------------------------------------------
def _bad(name: str, msg: str) -> ModelMetadataError:
    return ModelMetadataError(f"model {name}: {msg}; {_FIX}")


def _int_key(meta: Mapping[str, str], key: str, name: str, lo: int, hi: int) -> int:
    raw = meta[key].strip()
    try:
        value = int(raw)
    except ValueError:
        raise _bad(name, f"metadata key '{key}' must be an integer, not {raw!r}") from None
    if not lo <= value <= hi:
        raise _bad(name, f"metadata key '{key}' = {value} is out of range [{lo}, {hi}]")
    return value


def _list_key(meta: Mapping[str, str], key: str, name: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in meta[key].split(","))
    if not items or any(not s for s in items):
        raise _bad(name, f"metadata key '{key}' must be a comma-separated list, not {meta[key]!r}")
    if len(set(items)) != len(items):
        raise _bad(name, f"metadata key '{key}' has duplicate entries: {meta[key]!r}")
    return items


def parse_metadata(meta: Mapping[str, str], name: str) -> ModelMetadata:
    """Validate the ``metadata_props`` of the model called ``name`` (used in messages).

    Raises :class:`~edgeemo.errors.ModelMetadataError` naming the missing or bad key and the fix.
    """
    if not meta:
        raise _bad(name, "it has no edgeemo metadata (metadata_props is empty)")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise _bad(name, f"required metadata key(s) missing: {', '.join(map(repr, missing))}")
    fmt = meta[KEY_FORMAT].strip()
    try:
        major = int(fmt.split(".")[0])
    except ValueError:
        raise _bad(name, f"metadata key '{KEY_FORMAT}' must be a version like '1', not {fmt!r}") from None
    if major != SUPPORTED_FORMAT_MAJOR:
        raise ModelMetadataError(
            f"model {name}: metadata key '{KEY_FORMAT}' is {fmt!r} but this edgeemo reads format "
            f"{SUPPORTED_FORMAT_MAJOR}.x; upgrade edgeemo (pip install -U edgeemo) or re-export the "
            "model with a matching `edgeemo export`"
        )
    sr = _int_key(meta, KEY_SAMPLE_RATE, name, 8000, 192000)
    window = _int_key(meta, KEY_WINDOW_SAMPLES, name, 1, 1 << 30)
    hop = _int_key(meta, KEY_HOP_SAMPLES, name, 1, window)
    min_samples = _int_key(meta, KEY_MIN_SAMPLES, name, 1, window)
    heads = _list_key(meta, KEY_HEADS, name)
    if HEAD_CATEGORIES not in heads:
        raise _bad(
            name, f"metadata key '{KEY_HEADS}' must include '{HEAD_CATEGORIES}', not {meta[KEY_HEADS]!r}"
        )
    return ModelMetadata(
        format_version=fmt,
        labels=_list_key(meta, KEY_LABELS, name),
        sample_rate=sr,
        window_samples=window,
        hop_samples=hop,
        min_samples=min_samples,
        heads=heads,
        model_name=meta[KEY_MODEL_NAME].strip(),
        model_version=meta[KEY_MODEL_VERSION].strip(),
        training_data=meta[KEY_TRAINING_DATA].strip(),
        license=meta[KEY_LICENSE].strip(),
        frontend=meta.get(KEY_FRONTEND),
        quantization=meta.get(KEY_QUANTIZATION),
        metrics=meta.get(KEY_METRICS),
    )


def check_graph(
    parsed: ModelMetadata, inputs: Mapping[str, Any], outputs: Mapping[str, Any], name: str
) -> None:
    """Check metadata against the graph: ``inputs``/``outputs`` map names to objects with ONNX
    Runtime's ``.type`` (e.g. ``"tensor(float)"``) and ``.shape``; raises
    :class:`~edgeemo.errors.ModelMetadataError` on a mismatch."""
    if INPUT_NAME not in inputs:
        raise _bad(name, f"the graph has no input named '{INPUT_NAME}' (inputs: {', '.join(inputs)})")
    audio = inputs[INPUT_NAME]
    if audio.type != "tensor(float)" or len(audio.shape) != 2:
        raise _bad(
            name,
            f"input '{INPUT_NAME}' must be float32 [batch, {KEY_WINDOW_SAMPLES}], not "
            f"{audio.type} {audio.shape}",
        )
    width = audio.shape[1]
    if not isinstance(width, int):
        raise _bad(
            name, f"input '{INPUT_NAME}' must have a fixed width ({KEY_WINDOW_SAMPLES}), not {width!r}"
        )
    if width != parsed.window_samples:
        raise _bad(
            name,
            f"metadata key '{KEY_WINDOW_SAMPLES}' = {parsed.window_samples} but the '{INPUT_NAME}' "
            f"input is {width} samples wide",
        )
    for head in parsed.heads:
        out = HEAD_OUTPUTS.get(head, head)
        if out not in outputs:
            raise _bad(
                name,
                f"metadata key '{KEY_HEADS}' lists {head!r} but the graph has no output {out!r} "
                f"(outputs: {', '.join(outputs)})",
            )
    probs = outputs[OUTPUT_PROBS]
    probs_w = probs.shape[-1] if probs.shape else None
    n = len(parsed.labels)
    if isinstance(probs_w, int) and probs_w != n:
        raise _bad(
            name,
            f"metadata key '{KEY_LABELS}' lists {n} labels but output '{OUTPUT_PROBS}' is {probs_w} wide",
        )
    if HEAD_VALENCE_AROUSAL in parsed.heads:
        va = outputs[OUTPUT_VALENCE_AROUSAL]
        va_w = va.shape[-1] if va.shape else None
        if isinstance(va_w, int) and va_w != 2:
            raise _bad(name, f"output '{OUTPUT_VALENCE_AROUSAL}' must be 2 wide, not {va_w}")


def parse_labels(meta: Mapping[str, str]) -> tuple[str, ...]:
    """The ``labels`` of ``meta``, leniently (stripped, empty entries dropped; ``()`` when the key
    is missing). Use :func:`parse_metadata` to validate a model."""
    raw = meta.get(KEY_LABELS, "")
    return tuple(s.strip() for s in raw.split(",") if s.strip())


def frontend_node_prefix(meta: Mapping[str, str]) -> str:
    """The model's front-end node-name prefix (:data:`FRONTEND_NODE_PREFIX` when not recorded)."""
    return meta.get(KEY_FRONTEND_NODE_PREFIX, FRONTEND_NODE_PREFIX)


def output_names(heads: Iterable[str]) -> list[str]:
    """Graph outputs the SDK runs for ``heads``: ``probs``, then ``valence_arousal`` if present."""
    hs = set(heads)
    return [OUTPUT_PROBS] + ([OUTPUT_VALENCE_AROUSAL] if HEAD_VALENCE_AROUSAL in hs else [])


# -- windows -------------------------------------------------------------------------------
def clip_window_starts(n: int, window: int, hop: int) -> list[int]:
    """Window starts for a whole clip of ``n`` samples (docs/model_contract.md, "Windows").

    Every ``hop`` samples; the last window is aligned to the end of the clip; a clip shorter than
    one window gives the single start 0 (that window is zero-padded).
    """
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, hop))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def stream_window_starts(next_start: int, n: int, window: int, hop: int) -> list[int]:
    """Starts of the stream windows complete once ``n`` samples have arrived, from
    ``next_start`` on: a window starts every ``hop`` samples (``0, hop, 2*hop, ...``)."""
    starts = []
    while next_start + window <= n:
        starts.append(next_start)
        next_start += hop
    return starts


def takes_partial_window(tail: int, min_samples: int) -> bool:
    """Whether a stream's flush runs the last, incomplete window holding ``tail`` samples
    (zero-padded): it must hold at least ``min_samples``."""
    return tail > 0 and tail >= min_samples
