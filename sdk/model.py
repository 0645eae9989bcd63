"""Loading a model file: ONNX Runtime session plus validated metadata (docs/model_contract.md).

What the metadata must say is :mod:`edgeemo.contract`; this module opens the file, creates the
session (:func:`create_session`, :func:`build_session_options`) and checks the model against it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from . import contract, registry
from ._deps import require
from .contract import REQUIRED_KEYS, SUPPORTED_FORMAT_MAJOR
from .errors import ModelLoadError, ModelNotFoundError, ProviderError
from .fileio import sha256_file
from .options import RecognizerOptions
from .providers import PROVIDER_NAMES, available_providers, check_precision, resolve_providers

__all__ = [
    "ModelInfo",
    "load_model",
    "create_session",
    "build_session_options",
    "default_model_path",
    "DEFAULT_MODEL_NAME",
    "model_load_error",
    "resolve_model_path",
    "REQUIRED_KEYS",
    "SUPPORTED_FORMAT_MAJOR",
]

logger = logging.getLogger("edgeemo")

DEFAULT_MODEL_NAME = registry.BUNDLED_MODELS[registry.DEFAULT_MODEL].file_name
"""File name of the default bundled model (follows :data:`edgeemo.registry.DEFAULT_MODEL`)."""
_ORT_SEVERITY = {"verbose": 0, "info": 1, "warning": 2, "error": 3, "fatal": 4}
_PROFILE_PREFIX = "edgeemo_profile"


def default_model_path() -> Path:
    """Path of the default bundled model, :data:`edgeemo.registry.DEFAULT_MODEL`
    (``edgeemo/models/<its file>``).

    The path is returned even when the file is absent; :class:`~edgeemo.Recognizer` then raises
    :class:`ModelNotFoundError`.
    """
    return registry.bundled_model_path(registry.DEFAULT_MODEL)


@dataclass(frozen=True)
class ModelInfo(contract.ModelMetadata):
    """Everything a model file says about itself, validated against its graph.

    The parsed metadata fields come from :class:`edgeemo.contract.ModelMetadata`
    (:func:`edgeemo.contract.parse_metadata`); ``metadata`` holds every ``metadata_props`` entry as
    read (strings), including informative and unknown keys.
    """

    path: Path
    n_bytes: int
    sha256: str
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

    @property
    def frontend_node_prefix(self) -> str:
        """Name prefix of the in-graph front-end nodes (:func:`edgeemo.contract.frontend_node_prefix`)."""
        return contract.frontend_node_prefix(self.metadata)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (for ``edgeemo info``): every field; the file's facts,
        then the parsed metadata, then the graph's names and the raw metadata."""
        order = ("path", "n_bytes", "sha256", *(f.name for f in fields(contract.ModelMetadata)),
                 "input_name", "output_names", "metadata")
        out: dict[str, Any] = {}
        for name in order:
            value = getattr(self, name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            out[name] = value
        return out

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
        parsed = contract.parse_metadata(meta, p.name)
        contract.check_graph(parsed, inputs, outputs, p.name)
        return cls(
            path=p,
            n_bytes=n_bytes if n_bytes is not None else p.stat().st_size,
            sha256=sha256 if sha256 is not None else sha256_file(p),
            metadata=MappingProxyType(meta),
            input_name=contract.INPUT_NAME,
            output_names=tuple(outputs),
            **{f.name: getattr(parsed, f.name) for f in fields(parsed)},
        )


def resolve_model_path(model: str | os.PathLike[str] | None) -> Path:
    """The model file to load: ``None`` is the default bundled model, a name such as ``"tiny"`` a
    bundled model (:func:`edgeemo.registry.is_model_name`), anything else a path.

    Raises :class:`ModelNotFoundError` for an unknown name (listing the bundled ones), a bundled
    model missing from this installation, a missing path or a folder (the ``cli_message`` speaks
    of ``--model NAME|PATH``)."""
    if model is None:
        p = default_model_path()
        if not p.is_file():
            raise registry.missing_model_error(None, p)
        return p
    if registry.is_model_name(model):
        return registry.resolve_model_name(model)
    if not isinstance(model, (str, os.PathLike)):
        raise ModelNotFoundError(
            f"model must be a bundled model's name ({', '.join(registry.BUNDLED_MODELS)}), a path "
            f"to an .onnx file or None, not {type(model).__name__}"
        )
    p = Path(model).expanduser()
    if not p.exists():
        raise ModelNotFoundError(
            f"model file not found: {p}. Pass the path of an edgeemo .onnx model, a bundled model's "
            f"name ({', '.join(registry.BUNDLED_MODELS)}), or None for the bundled default",
            cli_message=f"model file not found: {p}. Pass --model PATH of an edgeemo .onnx model, "
            f"--model NAME of a bundled one ({', '.join(registry.BUNDLED_MODELS)}), or omit --model "
            "for the bundled model",
        )
    if p.is_dir():
        raise ModelNotFoundError(
            f"model path {p} is a folder; pass the .onnx file inside it",
            cli_message=f"model path {p} is a folder: pass --model PATH of the .onnx file inside it",
        )
    return p


def build_session_options(
    options: RecognizerOptions, ort: Any, *, profile_dir: str | os.PathLike[str] | None = None
) -> Any:
    """The ``ort.SessionOptions`` edgeemo uses: ``options.num_threads`` intra-op threads, one
    inter-op thread, all graph optimisations, ``options.log_level``; with ``profile_dir``, ONNX
    Runtime's profiler writes its trace there.

    On the CPU provider the memory pattern is off (``enable_mem_pattern``): it pre-plans one
    block per input shape on top of the arena; measured on the tiny model, one thread, it held
    25 MiB after batches of 4 windows against 17 MiB without it, at the same latency. The CPU
    arena stays on (off: no smaller at 1-2 windows per run, and 5-40 % slower per window); docs/api.md,
    "Memory"."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = options.num_threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if str(options.provider).lower() == "cpu":
        so.enable_mem_pattern = False
    so.log_severity_level = _ORT_SEVERITY[options.log_level]
    if profile_dir is not None:
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(os.fspath(profile_dir), _PROFILE_PREFIX)
    return so


def create_session(
    path: Path,
    options: RecognizerOptions,
    *,
    model_sha256: str,
    profile_dir: str | os.PathLike[str] | None = None,
) -> Any:
    """An ONNX Runtime session on the ``.onnx`` file ``path`` with the providers ``options`` ask
    for (:func:`~edgeemo.providers.resolve_providers`) and :func:`build_session_options`.

    Raises :class:`MissingDependencyError` (no onnxruntime), :class:`ProviderError` or
    :class:`ModelLoadError` (not ONNX, corrupt, truncated). Metadata is not checked here.
    """
    ort = require("onnxruntime", purpose="running models")
    providers = resolve_providers(
        options.provider,
        available_providers(),
        engine_cache_dir=options.engine_cache_dir,
        precision=options.precision,
        model_sha256=model_sha256,
    )
    for spec in providers:
        if isinstance(spec, tuple) and "trt_engine_cache_path" in spec[1]:
            Path(spec[1]["trt_engine_cache_path"]).mkdir(parents=True, exist_ok=True)
    so = build_session_options(options, ort, profile_dir=profile_dir)
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=providers)
    except Exception as exc:  # ORT raises its own pybind exception types
        raise model_load_error(path, exc) from None


_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*")
LOAD_ERROR_REASON = "not an ONNX model or corrupt/truncated: re-export or download it again"
"""The reason and fix every :class:`ModelLoadError` from ONNX Runtime gives."""


def model_load_error(path: str | os.PathLike[str], exc: BaseException) -> ModelLoadError:
    """The :class:`ModelLoadError` for ONNX Runtime failing to load ``path``: our reason and fix,
    then ONNX Runtime's first line in parentheses (kept apart as ``detail``; the CLI shows it only
    with ``--verbose``)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    detail = _ORT_PREFIX.sub("", lines[0]) if lines else type(exc).__name__
    if len(detail) > 300:
        detail = detail[:300] + "..."
    message = f"cannot load model {path}: {LOAD_ERROR_REASON}"
    return ModelLoadError(f"{message} (ONNX Runtime: {detail})", cli_message=message, detail=detail)


ENGINE_SUFFIXES = (".engine", ".plan", ".trt")
"""File suffixes of bare TensorRT plans, which the SDK refuses (:func:`_refuse_engine`)."""


def _refuse_engine(p: Path) -> None:
    """Raise :class:`ModelLoadError` for a bare TensorRT engine: the runtime's GPU path is ONNX
    Runtime's providers, and bare engines belong to the ``[tensorrt]`` tools."""
    raise ModelLoadError(
        f"{p.name} is a bare TensorRT engine; edgeemo.Recognizer runs .onnx models only. Pass the "
        ".onnx model with provider='tensorrt' instead (ONNX Runtime's TensorRT provider builds and "
        "caches the engine). To run the engine file itself, use `edgeemo export tensorrt run "
        f"{p.name} AUDIO...` or edgeemo.export.tensorrt.runner.TensorRTEngineRunner "
        '(pip install "edgeemo[tensorrt]", or JetPack on a Jetson)'
    )


def load_model(
    path: str | os.PathLike[str] | None, options: RecognizerOptions | None = None
) -> tuple[Any, ModelInfo]:
    """Create the ONNX Runtime session for ``path`` and validate its metadata.

    Returns ``(session, info)``. Raises :class:`ModelNotFoundError`, :class:`ModelLoadError`
    (not ONNX, corrupt, truncated), :class:`ModelMetadataError` or :class:`ProviderError`.
    """
    opts = options or RecognizerOptions()
    p = resolve_model_path(path)
    if p.suffix.lower() in ENGINE_SUFFIXES:
        _refuse_engine(p)
    sha = sha256_file(p)
    session = create_session(p, opts, model_sha256=sha)
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
