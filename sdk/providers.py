"""Choosing ONNX Runtime execution providers (TensorRT -> CUDA -> CPU) and checking precision.

Nothing here imports onnxruntime at module import; :func:`available_providers` does it lazily.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Union

from ._deps import require
from .errors import ConfigError, ProviderError

__all__ = [
    "PROVIDER_NAMES",
    "ProviderSpec",
    "available_providers",
    "default_engine_cache_dir",
    "engine_cache_key",
    "resolve_providers",
    "check_precision",
]

logger = logging.getLogger("edgeemo")

PROVIDER_NAMES = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
_AUTO_ORDER = ("tensorrt", "cuda", "cpu")
_GPU_HINT = 'pip install "edgeemo[gpu]" (onnxruntime-gpu; TensorRT also needs its libraries)'

ProviderSpec = Union[str, tuple[str, dict[str, Any]]]


def available_providers() -> list[str]:
    """The execution providers this ONNX Runtime build offers (e.g. ``["CPUExecutionProvider"]``)."""
    ort = require("onnxruntime", purpose="running models")
    return list(ort.get_available_providers())


def default_engine_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/edgeemo/trt`` (``~/.cache/edgeemo/trt`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgeemo" / "trt"


def engine_cache_key(trt_version: str, compute_capability: str, model_sha256_prefix: str) -> str:
    """Sub-folder name for cached TensorRT engines: engines are only valid for one TensorRT
    version, one GPU architecture and one model file, e.g. ``trt10.3.0-sm87-1a2b3c4d5e6f``."""

    def clean(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9._]+", "_", str(s).strip()) or "unknown"

    cc = clean(compute_capability).replace(".", "")
    return f"trt{clean(trt_version)}-sm{cc}-{clean(model_sha256_prefix)[:12]}"


def _trt_version() -> str:
    """Best-effort TensorRT version without importing tensorrt."""
    from importlib import metadata

    for dist in ("tensorrt", "tensorrt-cu12", "tensorrt-libs", "tensorrt-cu12-libs"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def _compute_capability() -> str:
    """Best-effort compute capability of GPU 0 via the CUDA driver API (``"87"``), else unknown."""
    import ctypes

    try:
        cuda = ctypes.CDLL("libcuda.so.1")
        dev, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        if cuda.cuInit(0) != 0 or cuda.cuDeviceGet(ctypes.byref(dev), 0) != 0:
            return "unknown"
        cuda.cuDeviceGetAttribute(ctypes.byref(major), 75, dev)  # COMPUTE_CAPABILITY_MAJOR
        cuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, dev)  # COMPUTE_CAPABILITY_MINOR
        return f"{major.value}{minor.value}"
    except (OSError, AttributeError):
        return "unknown"


def resolve_providers(
    requested: str,
    available: list[str],
    *,
    engine_cache_dir: str | os.PathLike[str] | None,
    precision: str | None,
    model_sha256: str = "",
    trt_version: str | None = None,
    compute_capability: str | None = None,
) -> list[ProviderSpec]:
    """The ``providers`` list for ``onnxruntime.InferenceSession``.

    ``"auto"`` takes TensorRT, then CUDA, then CPU, among ``available``; an explicit ``"cuda"`` or
    ``"tensorrt"`` that is not available raises :class:`ProviderError`. GPU providers are followed
    by the slower ones as fallbacks for unsupported nodes. ``precision="fp16"`` needs TensorRT
    (it builds an FP16 engine); it is never dropped silently.
    """
    key = str(requested).lower()
    if key != "auto" and key not in PROVIDER_NAMES:
        raise ConfigError(
            f"provider must be one of 'auto', {', '.join(map(repr, PROVIDER_NAMES))}, not {requested!r}"
        )
    if key == "auto":
        chosen = next(
            (k for k in _AUTO_ORDER if PROVIDER_NAMES[k] in available or k == "cpu"), "cpu"
        )
    else:
        chosen = key
        if key != "cpu" and PROVIDER_NAMES[key] not in available:
            raise ProviderError(
                f"provider {key!r} ({PROVIDER_NAMES[key]}) is not available in this ONNX Runtime "
                f"(available: {', '.join(available) or 'none'}). Install GPU support with "
                f"{_GPU_HINT}, or use provider='cpu' or 'auto'"
            )
    if precision == "fp16" and chosen != "tensorrt":
        raise ProviderError(
            f"precision 'fp16' needs the TensorRT provider, but {PROVIDER_NAMES[chosen]} was chosen "
            f"(requested {key!r}); edgeemo never changes precision silently. Use precision=None to "
            f"run the model as exported, or install TensorRT support: {_GPU_HINT}"
        )
    order = _AUTO_ORDER[_AUTO_ORDER.index(chosen) :]
    specs: list[ProviderSpec] = []
    for k in order:
        name = PROVIDER_NAMES[k]
        if k == "tensorrt":
            cache_root = Path(engine_cache_dir) if engine_cache_dir else default_engine_cache_dir()
            sub = engine_cache_key(
                trt_version if trt_version is not None else _trt_version(),
                compute_capability if compute_capability is not None else _compute_capability(),
                model_sha256[:12] or "nohash",
            )
            opts = {
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache_root / sub),
                "trt_fp16_enable": precision == "fp16",
            }
            specs.append((name, opts))
        elif k == "cpu" or name in available:
            specs.append(name)
    logger.info("execution provider: %s (requested %r)", PROVIDER_NAMES[chosen], key)
    return specs


def check_precision(precision: str | None, quantization: str | None, provider: str) -> None:
    """Refuse a ``precision`` the model/provider pair would not really run at.

    ``None`` always passes. ``"fp16"`` needs ``provider`` to be TensorRT (FP16 engine built from
    an FP32 model). ``"fp32"`` and ``"int8"`` must match the model's ``quantization`` metadata
    (``fp32``, ``int8-qdq``...).
    """
    if precision is None:
        return
    quant = (quantization or "").strip().lower()
    if precision == "fp16":
        if provider != PROVIDER_NAMES["tensorrt"]:
            raise ProviderError(
                f"precision 'fp16' needs TensorRT but the model runs on {provider}; edgeemo never "
                "changes precision silently. Use precision=None, or install TensorRT support: "
                f"{_GPU_HINT}"
            )
        if quant.startswith("int8"):
            raise ProviderError(
                f"precision 'fp16' was asked for but the model is quantized ({quantization}); use "
                "the FP32 export of the model for an FP16 TensorRT engine, or precision=None"
            )
        return
    if not quant:
        raise ProviderError(
            f"precision {precision!r} was asked for but the model does not declare its "
            "'quantization' in its metadata; use precision=None or re-export the model with "
            "`edgeemo export`"
        )
    if not quant.startswith(precision):
        raise ProviderError(
            f"precision {precision!r} was asked for but the model is {quantization!r}; edgeemo "
            "never converts precision silently. Use the matching model file or precision=None"
        )
