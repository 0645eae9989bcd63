"""The engine sidecar (``<engine>.json``): everything a bare TensorRT plan does not say about itself.

A plan is only valid for the TensorRT version, the GPU architecture and the exact ONNX model it was
built from; the sidecar records all three (plus the model's metadata, the build options and the
batch profile) and :func:`sidecar_cache_key` names them in one string.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeemo._version import __version__ as _edgeemo_version
from edgeemo.contract import ModelMetadata, parse_labels, parse_metadata
from edgeemo.errors import ModelMetadataError, ModelNotFoundError, ProviderError
from edgeemo.fileio import atomic_write_text, sha256_file
from edgeemo.model import ENGINE_SUFFIXES  # the SDK recognizes (and refuses) the same suffixes
from edgeemo.providers import engine_cache_key

from . import gpuinfo
from .check import check_tensorrt_compat
from .gpuinfo import GpuInfo, normalize_compute_capability
from .options import PRECISIONS, BuildOptions
from .report import CompatReport
from .trtlib import import_tensorrt

__all__ = [
    "ENGINE_SUFFIXES",
    "SIDECAR_FORMAT",
    "EngineSidecar",
    "is_engine_path",
    "load_engine_sidecar",
    "profile_shapes",
    "sidecar_cache_key",
    "sidecar_path_for",
    "write_engine_sidecar",
]

#: Major version of the sidecar layout; a runner refuses other majors.
SIDECAR_FORMAT = 1


def sidecar_cache_key(trt_version: str, compute_capability: str | tuple[int, int], model_sha256: str) -> str:
    """The cache key a sidecar records, e.g. ``trt10.3.0-sm87-1a2b3c4d5e6f``: TensorRT version,
    compute capability and the first 12 hex digits of the ONNX file's SHA-256.

    It is the key of ONNX Runtime's TensorRT engine cache in the SDK
    (:func:`edgeemo.providers.engine_cache_key`, which this returns), after checking the inputs
    strictly and normalizing the compute capability: ``(8, 7)``, ``"8.7"``, ``"87"``, ``"sm_87"``
    all give ``sm87``. Raises :class:`ValueError` for an empty version, a bad compute capability or
    a SHA-256 that is not hex.
    """
    cc = normalize_compute_capability(compute_capability)
    if not str(trt_version).strip() or cc is None:
        raise ValueError("sidecar_cache_key needs a TensorRT version and a compute capability")
    sha = str(model_sha256).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", sha):
        raise ValueError(f"model_sha256 must be hex (at least 8 characters), got {model_sha256!r}")
    return engine_cache_key(str(trt_version).strip(), cc, sha)


def sidecar_path_for(engine_path: str | Path) -> Path:
    """``model.engine`` -> ``model.engine.json``."""
    p = Path(engine_path)
    return p.with_name(p.name + ".json")


def is_engine_path(path: str | Path) -> bool:
    """True for a file name of a bare TensorRT plan (``.engine``, ``.plan``, ``.trt``)."""
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


@dataclass(frozen=True)
class EngineSidecar:
    """The metadata written next to an engine (``<engine>.json``)."""

    engine_file: str
    onnx_file: str
    onnx_sha256: str
    onnx_metadata: dict[str, str]
    tensorrt_version: str
    compute_capability: str | None
    gpu_name: str | None
    precision: str
    profile: dict[str, dict[str, list[int]]]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    build_options: dict[str, Any] = field(default_factory=dict)
    cache_key: str | None = None
    builder: str = "edgeemo"
    created_utc: str | None = None
    edgeemo_version: str | None = None
    format: int = SIDECAR_FORMAT

    REQUIRED = (
        "engine_file",
        "onnx_sha256",
        "onnx_metadata",
        "tensorrt_version",
        "compute_capability",
        "precision",
        "profile",
        "inputs",
        "outputs",
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "sidecar") -> EngineSidecar:
        """Validate and build from parsed JSON; :class:`ModelMetadataError` names a missing key."""
        fmt = data.get("format")
        if fmt is None:
            raise ModelMetadataError(f"{source}: missing key 'format' (not an edgeemo engine sidecar?)")
        try:
            major = int(str(fmt).split(".")[0])
        except ValueError:
            raise ModelMetadataError(f"{source}: 'format' must be a number, got {fmt!r}") from None
        if major != SIDECAR_FORMAT:
            raise ModelMetadataError(
                f"{source}: sidecar format {fmt} is not supported (this edgeemo reads format {SIDECAR_FORMAT})"
            )
        for key in cls.REQUIRED:
            if key not in data:
                raise ModelMetadataError(f"{source}: missing key '{key}'")
        if str(data["precision"]) not in PRECISIONS:
            raise ModelMetadataError(f"{source}: precision must be int8, fp16 or fp32, got {data['precision']!r}")
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["format"] = major
        kwargs["onnx_metadata"] = {str(k): str(v) for k, v in dict(data["onnx_metadata"]).items()}
        kwargs.setdefault("onnx_file", "")
        try:
            kwargs["compute_capability"] = normalize_compute_capability(data["compute_capability"])
        except ValueError as exc:
            raise ModelMetadataError(f"{source}: {exc}") from None
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return asdict(self)

    @property
    def labels(self) -> list[str]:
        """The model's labels (from the ONNX metadata copied into the sidecar; lenient)."""
        return list(parse_labels(self.onnx_metadata))

    def model_metadata(self) -> ModelMetadata:
        """The ONNX metadata validated against the model contract (:func:`edgeemo.contract.parse_metadata`).

        Raises :class:`ModelMetadataError` naming the missing or bad key.
        """
        return parse_metadata(self.onnx_metadata, self.engine_file)


def load_engine_sidecar(engine_path: str | Path) -> EngineSidecar:
    """Read ``<engine>.json`` next to an engine (or the JSON file itself)."""
    p = Path(engine_path)
    path = p if p.suffix == ".json" else sidecar_path_for(p)
    if not path.is_file():
        raise ModelMetadataError(
            f"the engine sidecar {path} is missing: edgeemo needs it for labels, window and the TensorRT "
            "version/GPU the plan was built for. Build the engine with `edgeemo export tensorrt build` "
            "or write one for a trtexec-built plan with `edgeemo export tensorrt sidecar`"
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelMetadataError(f"{path}: unreadable engine sidecar ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelMetadataError(f"{path}: the sidecar must be a JSON object")
    return EngineSidecar.from_dict(data, source=str(path))


def profile_shapes(report: CompatReport, min_batch: int, opt_batch: int, max_batch: int) -> dict[str, dict[str, list[int]]]:
    """``{input: {"min": [...], "opt": [...], "max": [...]}}`` for the batch profile.

    Raises :class:`ProviderError` when an input has a dynamic non-batch dimension or a fixed batch
    that does not fit the profile.
    """
    profile: dict[str, dict[str, list[int]]] = {}
    for t in report.inputs:
        if t.shape is None or not t.shape or any(not isinstance(d, int) for d in t.shape[1:]):
            raise ProviderError(
                f"input '{t.name}' has shape {t.shape}: only the batch dimension may be dynamic "
                "(run `edgeemo export tensorrt check` for details)"
            )
        rest = [int(d) for d in t.shape[1:]]  # type: ignore[arg-type]
        batch = t.shape[0]
        if isinstance(batch, int) and not (min_batch == opt_batch == max_batch == batch):
            raise ProviderError(
                f"input '{t.name}' has a fixed batch of {batch}; it cannot take the profile "
                f"{min_batch}/{opt_batch}/{max_batch}: re-export with a dynamic batch"
            )
        profile[t.name] = {"min": [min_batch, *rest], "opt": [opt_batch, *rest], "max": [max_batch, *rest]}
    return profile


def write_engine_sidecar(
    engine_path: str | Path,
    onnx_path: str | Path,
    *,
    precision: str,
    min_batch: int = 1,
    opt_batch: int = 1,
    max_batch: int = 8,
    tensorrt_version: str | None = None,
    gpu: GpuInfo | None = None,
    device: int = 0,
    build_options: dict[str, Any] | None = None,
    builder: str = "edgeemo",
    report: CompatReport | None = None,
) -> EngineSidecar:
    """Write ``<engine>.json`` for an engine built from ``onnx_path`` (by edgeemo or by trtexec).

    ``tensorrt_version`` defaults to the installed ``tensorrt`` module's; ``gpu`` to
    :func:`~edgeemo.export.tensorrt.gpuinfo.query_gpu`. ``report`` is the static check of
    ``onnx_path`` when the caller already ran it.
    """
    engine = Path(engine_path)
    onnx_file = Path(onnx_path)
    if not onnx_file.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {onnx_file}")
    BuildOptions(precision=precision, min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch).validate()  # type: ignore[arg-type]
    if report is None:
        report = check_tensorrt_compat(onnx_file, min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch)
    if tensorrt_version is None:
        tensorrt_version = str(import_tensorrt("writing an engine sidecar").__version__)
    gpu = gpu or gpuinfo.query_gpu(device)
    sha = sha256_file(onnx_file)
    cc = gpu.compute_capability
    sidecar = EngineSidecar(
        engine_file=engine.name,
        onnx_file=onnx_file.name,
        onnx_sha256=sha,
        onnx_metadata=dict(report.metadata),
        tensorrt_version=tensorrt_version,
        compute_capability=cc,
        gpu_name=gpu.name,
        precision=precision,
        profile=profile_shapes(report, min_batch, opt_batch, max_batch),
        inputs=[{"name": t.name, "dtype": t.dtype, "shape": list(t.shape or [])} for t in report.inputs],
        outputs=[{"name": t.name, "dtype": t.dtype, "shape": list(t.shape or [])} for t in report.outputs],
        build_options=dict(build_options or {"min_batch": min_batch, "opt_batch": opt_batch, "max_batch": max_batch}),
        cache_key=sidecar_cache_key(tensorrt_version, cc, sha) if cc else None,
        builder=builder,
        created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        edgeemo_version=_edgeemo_version,
    )
    atomic_write_text(sidecar_path_for(engine), json.dumps(sidecar.to_dict(), indent=2) + "\n")
    return sidecar
