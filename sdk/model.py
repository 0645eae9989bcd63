"""Loading a model file: ONNX Runtime session plus validated metadata (docs/model_contract.md)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._deps import require
from .errors import ModelLoadError, ModelMetadataError, ModelNotFoundError, ProviderError
from .options import RecognizerOptions
from .providers import PROVIDER_NAMES, available_providers, check_precision, resolve_providers

__all__ = [
    "ModelInfo",
    "load_model",
    "default_model_path",
    "DEFAULT_MODEL_NAME",
    "REQUIRED_KEYS",
    "SUPPORTED_FORMAT_MAJOR",
]

logger = logging.getLogger("edgeemo")

DEFAULT_MODEL_NAME = "edgeemo-student-ravdess-int8.onnx"
SUPPORTED_FORMAT_MAJOR = 1
REQUIRED_KEYS = (
    "edgeemo_format",
    "labels",
    "sample_rate",
    "window_samples",
    "hop_samples",
    "heads",
    "model_name",
    "model_version",
    "training_data",
    "license",
    "min_samples",
)
INPUT_NAME = "audio"
HEAD_OUTPUTS = {"categories": "probs", "valence_arousal": "valence_arousal"}
_FIX = "re-export the model with `edgeemo export` (see docs/model_contract.md)"
_ORT_SEVERITY = {"verbose": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}


def default_model_path() -> Path:
    """Path of the bundled default model (``edgeemo/models/edgeemo-student-ravdess-int8.onnx``).

    The path is returned even when the file is absent; :class:`~edgeemo.Recognizer` then raises
    :class:`ModelNotFoundError`.
    """
    return Path(str(resources.files("edgeemo").joinpath("models", DEFAULT_MODEL_NAME)))


@dataclass(frozen=True)
class ModelInfo:
    """Everything a model file says about itself, validated against its graph.

    ``metadata`` holds every ``metadata_props`` entry as read (strings), including informative and
    unknown keys; the other fields are parsed from it.
    """

    path: Path
    n_bytes: int
    sha256: str
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
    input_name: str
    output_names: tuple[str, ...]
    metadata: Mapping[str, str] = field(hash=False, repr=False)

    @property
    def window_s(self) -> float:
        """Window length in seconds."""
        return self.window_samples / self.sample_rate

    @property
    def hop_s(self) -> float:
        """Default hop in seconds."""
        return self.hop_samples / self.sample_rate

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (for ``edgeemo info``)."""
        return {
            "path": str(self.path),
            "n_bytes": self.n_bytes,
            "sha256": self.sha256,
            "format_version": self.format_version,
            "labels": list(self.labels),
            "sample_rate": self.sample_rate,
            "window_samples": self.window_samples,
            "hop_samples": self.hop_samples,
            "min_samples": self.min_samples,
            "heads": list(self.heads),
            "model_name": self.model_name,
            "model_version": self.model_version,
            "training_data": self.training_data,
            "license": self.license,
            "frontend": self.frontend,
            "quantization": self.quantization,
            "metrics": self.metrics,
            "input_name": self.input_name,
            "output_names": list(self.output_names),
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_session(
        cls, session: Any, path: str | os.PathLike[str], *, n_bytes: int | None = None,
        sha256: str | None = None,
    ) -> ModelInfo:
        """Read and validate the metadata of an ``onnxruntime.InferenceSession`` created from
        ``path``; raise :class:`ModelMetadataError` naming the key or mismatch."""
        p = Path(path)
        meta = dict(session.get_modelmeta().custom_metadata_map)
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name: o for o in session.get_outputs()}
        parsed = _parse_metadata(meta, p.name)
        _check_graph(parsed, inputs, outputs, p.name)
        return cls(
            path=p,
            n_bytes=n_bytes if n_bytes is not None else p.stat().st_size,
            sha256=sha256 if sha256 is not None else _sha256(p),
            metadata=MappingProxyType(meta),
            input_name=INPUT_NAME,
            output_names=tuple(outputs),
            **parsed,
        )


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


def _parse_metadata(meta: Mapping[str, str], name: str) -> dict[str, Any]:
    if not meta:
        raise _bad(name, "it has no edgeemo metadata (metadata_props is empty)")
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise _bad(name, f"required metadata key(s) missing: {', '.join(map(repr, missing))}")
    fmt = meta["edgeemo_format"].strip()
    try:
        major = int(fmt.split(".")[0])
    except ValueError:
        raise _bad(name, f"metadata key 'edgeemo_format' must be a version like '1', not {fmt!r}") from None
    if major != SUPPORTED_FORMAT_MAJOR:
        raise ModelMetadataError(
            f"model {name}: metadata key 'edgeemo_format' is {fmt!r} but this edgeemo reads format "
            f"{SUPPORTED_FORMAT_MAJOR}.x; upgrade edgeemo (pip install -U edgeemo) or re-export the "
            "model with a matching `edgeemo export`"
        )
    sr = _int_key(meta, "sample_rate", name, 8000, 192000)
    window = _int_key(meta, "window_samples", name, 1, 1 << 30)
    hop = _int_key(meta, "hop_samples", name, 1, window)
    min_samples = _int_key(meta, "min_samples", name, 1, window)
    heads = _list_key(meta, "heads", name)
    if "categories" not in heads:
        raise _bad(name, f"metadata key 'heads' must include 'categories', not {meta['heads']!r}")
    return {
        "format_version": fmt,
        "labels": _list_key(meta, "labels", name),
        "sample_rate": sr,
        "window_samples": window,
        "hop_samples": hop,
        "min_samples": min_samples,
        "heads": heads,
        "model_name": meta["model_name"].strip(),
        "model_version": meta["model_version"].strip(),
        "training_data": meta["training_data"].strip(),
        "license": meta["license"].strip(),
        "frontend": meta.get("frontend"),
        "quantization": meta.get("quantization"),
        "metrics": meta.get("metrics"),
    }


def _check_graph(
    parsed: Mapping[str, Any], inputs: Mapping[str, Any], outputs: Mapping[str, Any], name: str
) -> None:
    if INPUT_NAME not in inputs:
        raise _bad(name, f"the graph has no input named '{INPUT_NAME}' (inputs: {', '.join(inputs)})")
    audio = inputs[INPUT_NAME]
    if audio.type != "tensor(float)" or len(audio.shape) != 2:
        raise _bad(name, f"input 'audio' must be float32 [batch, window_samples], not {audio.type} {audio.shape}")
    width = audio.shape[1]
    if not isinstance(width, int):
        raise _bad(name, f"input 'audio' must have a fixed width (window_samples), not {width!r}")
    if width != parsed["window_samples"]:
        raise _bad(
            name,
            f"metadata key 'window_samples' = {parsed['window_samples']} but the 'audio' input is "
            f"{width} samples wide",
        )
    for head in parsed["heads"]:
        out = HEAD_OUTPUTS.get(head, head)
        if out not in outputs:
            raise _bad(
                name,
                f"metadata key 'heads' lists {head!r} but the graph has no output {out!r} "
                f"(outputs: {', '.join(outputs)})",
            )
    probs_w = outputs["probs"].shape[-1] if outputs["probs"].shape else None
    n = len(parsed["labels"])
    if isinstance(probs_w, int) and probs_w != n:
        raise _bad(
            name,
            f"metadata key 'labels' lists {n} labels but output 'probs' is {probs_w} wide",
        )
    if "valence_arousal" in parsed["heads"]:
        va_w = outputs["valence_arousal"].shape[-1] if outputs["valence_arousal"].shape else None
        if isinstance(va_w, int) and va_w != 2:
            raise _bad(name, f"output 'valence_arousal' must be 2 wide, not {va_w}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_model_path(model: str | os.PathLike[str] | None) -> Path:
    """The model path to load (the bundled default for ``None``); :class:`ModelNotFoundError`
    when it does not exist."""
    if model is None:
        p = default_model_path()
        if not p.is_file():
            raise ModelNotFoundError(
                f"the bundled default model is not in this installation (expected {p}). Pass a "
                "model file: edgeemo.Recognizer('path/to/model.onnx'), or export one with "
                "`edgeemo export`"
            )
        return p
    if not isinstance(model, (str, os.PathLike)):
        raise ModelNotFoundError(
            f"model must be a path to an .onnx file or None, not {type(model).__name__}"
        )
    p = Path(model).expanduser()
    if not p.exists():
        raise ModelNotFoundError(
            f"model file not found: {p}. Pass the path of an edgeemo .onnx model, or None for the "
            "bundled default"
        )
    if p.is_dir():
        raise ModelNotFoundError(f"model path {p} is a folder; pass the .onnx file inside it")
    return p


def _load_engine(p: Path, opts: RecognizerOptions, sha: str) -> tuple[Any, ModelInfo]:
    """A TensorRT ``.engine`` with its sidecar: needs TensorRT and a CUDA GPU, never falls back."""
    from .engine_session import PROVIDER_NAME, EngineSession

    if opts.provider not in ("auto", "tensorrt"):
        raise ProviderError(
            f"{p.name} is a TensorRT engine; it runs only with provider 'tensorrt' or 'auto', not "
            f"{opts.provider!r}. Pass the .onnx model to use another provider"
        )
    session = EngineSession.open(str(p))
    info = ModelInfo.from_session(session, p, n_bytes=p.stat().st_size, sha256=sha)
    if opts.precision is not None and opts.precision != session.precision:
        raise ProviderError(
            f"precision {opts.precision!r} was asked for but {p.name} was built at {session.precision!r}; "
            "edgeemo never changes precision silently: rebuild the engine at that precision"
        )
    logger.info("loaded TensorRT engine %s (%s %s)", p.name, info.model_name, info.model_version)
    return session, info


def load_model(
    path: str | os.PathLike[str] | None, options: RecognizerOptions | None = None
) -> tuple[Any, ModelInfo]:
    """Create the ONNX Runtime session for ``path`` and validate its metadata.

    Returns ``(session, info)``. Raises :class:`ModelNotFoundError`, :class:`ModelLoadError`
    (not ONNX, corrupt, truncated), :class:`ModelMetadataError` or :class:`ProviderError`.
    """
    opts = options or RecognizerOptions()
    p = resolve_model_path(path)
    sha = _sha256(p)
    from .trt_engine import is_engine_path

    if is_engine_path(p):
        return _load_engine(p, opts, sha)
    ort = require("onnxruntime", purpose="running models")
    providers = resolve_providers(
        opts.provider,
        available_providers(),
        engine_cache_dir=opts.engine_cache_dir,
        precision=opts.precision,
        model_sha256=sha,
    )
    for spec in providers:
        if isinstance(spec, tuple) and "trt_engine_cache_path" in spec[1]:
            Path(spec[1]["trt_engine_cache_path"]).mkdir(parents=True, exist_ok=True)
    so = ort.SessionOptions()
    so.intra_op_num_threads = opts.num_threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = _ORT_SEVERITY[opts.log_level]
    try:
        session = ort.InferenceSession(str(p), sess_options=so, providers=providers)
    except Exception as exc:  # ORT raises its own pybind exception types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if len(reason) > 300:
            reason = reason[:300] + "..."
        raise ModelLoadError(
            f"ONNX Runtime could not load {p}: {reason}. The file is not an ONNX model or is "
            "corrupt or truncated; download or export it again"
        ) from None
    info = ModelInfo.from_session(session, p, n_bytes=p.stat().st_size, sha256=sha)
    used = session.get_providers()[0]
    wanted = PROVIDER_NAMES.get(opts.provider)
    if wanted is not None and used != wanted:
        raise ProviderError(
            f"provider {opts.provider!r} was asked for but ONNX Runtime fell back to {used} "
            "(see ONNX Runtime's log for why: missing CUDA/TensorRT libraries?). Fix the GPU "
            "installation, or use provider='auto' to accept the fallback"
        )
    check_precision(opts.precision, info.quantization, used)
    logger.info("loaded %s (%s %s) on %s", p.name, info.model_name, info.model_version, used)
    return session, info
