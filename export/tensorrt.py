"""Build a TensorRT engine from an edgeemo ONNX model (TensorRT 10 Python API; ``tensorrt`` imported lazily).

Rules this module keeps (see docs/deployment.md):

* **Explicit quantization only.** ``precision="int8"`` builds the Q/DQ graph with
  ``BuilderFlag.INT8``; a graph without Q/DQ is refused — never TensorRT's implicit calibration.
  ``fp16``/``fp32`` refuse a Q/DQ graph instead of silently running it some other way.
* **No silent precision downgrade.** FP16 needs ``builder.platform_has_fast_fp16`` (INT8
  ``platform_has_fast_int8``); otherwise :class:`~edgeemo.errors.ProviderError`. ``fp32`` also
  clears TF32 unless ``allow_tf32=True``. INT8 layers without Q/DQ run in FP32 unless
  ``int8_fp16_fallback=True``.
* **One optimization profile** over the batch dimension (``min/opt/max_batch``); every other
  dimension is static (checked first by :func:`~edgeemo.export.trt_check.check_tensorrt_compat`).
* **Bare plan + sidecar.** ``out_path`` gets the serialized plan; ``out_path + ".json"`` the
  metadata (all ONNX metadata, TensorRT version, GPU, compute capability, precision, build options,
  ONNX SHA-256, cache key). ``EXPLICIT_BATCH`` is passed only to TensorRT < 10, which still needs it.

CLI: ``python -m edgeemo.export.tensorrt build MODEL.onnx OUT.engine --precision int8``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from edgeemo._version import __version__ as _edgeemo_version
from edgeemo.errors import ConfigError, ModelNotFoundError, ProviderError
from edgeemo.trt_engine import (
    EngineSidecar,
    make_trt_logger,
    engine_cache_key,
    import_tensorrt,
    load_engine_sidecar,
    normalize_compute_capability,
    sidecar_path_for,
)

from .trt_check import CompatReport, check_tensorrt_compat, iter_error_lines

__all__ = [
    "PRECISIONS",
    "EngineInfo",
    "GpuInfo",
    "build_engine",
    "engine_cache_key",
    "file_sha256",
    "load_engine_sidecar",
    "main",
    "query_gpu",
    "sidecar_path_for",
    "write_engine_sidecar",
]

logger = logging.getLogger("edgeemo.export.tensorrt")

Precision = Literal["int8", "fp16", "fp32"]
PRECISIONS: tuple[str, ...] = ("int8", "fp16", "fp32")
#: Oldest TensorRT the builder accepts; the support table targets 10.3 (JetPack 6.1/6.2).
MIN_TENSORRT = (8, 6)
#: Jetson SoC (device-tree ``compatible``) -> compute capability, for boards without cuda-python/torch.
_TEGRA_CC = {"tegra234": "8.7", "tegra194": "7.2", "tegra186": "6.2", "tegra210": "5.3"}


@dataclass(frozen=True)
class GpuInfo:
    """The GPU an engine is built on (``None`` fields when they could not be found)."""

    name: str | None
    compute_capability: str | None
    source: str


@dataclass(frozen=True)
class EngineInfo:
    """What :func:`build_engine` produced."""

    engine_path: Path
    sidecar_path: Path
    precision: str
    tensorrt_version: str
    gpu_name: str | None
    compute_capability: str | None
    cache_key: str | None
    onnx_sha256: str
    profile: dict[str, dict[str, list[int]]]
    build_seconds: float
    engine_bytes: int
    warnings: tuple[str, ...] = field(default_factory=tuple)


# --------------------------------------------------------------------------- helpers


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in str(version).split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def query_gpu(device: int = 0) -> GpuInfo:
    """Name and compute capability of CUDA device ``device``, by whatever is available.

    Tries cuda-python, PyTorch (CUDA build), the Jetson device tree, then ``nvidia-smi``.
    """
    try:  # cuda-python
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            from cuda import cudart  # type: ignore[no-redef]
        err, prop = cudart.cudaGetDeviceProperties(device)
        if int(err) == 0:
            name = prop.name.decode("utf-8", "replace").rstrip("\x00") if isinstance(prop.name, bytes) else str(prop.name)
            return GpuInfo(name, f"{prop.major}.{prop.minor}", "cuda-python")
    except Exception:  # noqa: BLE001 - probing
        pass
    try:  # torch with CUDA
        import importlib.util

        if importlib.util.find_spec("torch") is not None:
            import torch

            if torch.cuda.is_available():
                major, minor = torch.cuda.get_device_capability(device)
                return GpuInfo(torch.cuda.get_device_name(device), f"{major}.{minor}", "torch")
    except Exception:  # noqa: BLE001
        pass
    compat = Path("/proc/device-tree/compatible")
    if compat.is_file():  # Jetson: integrated GPU, fixed per SoC
        text = compat.read_bytes().decode("ascii", "replace")
        for soc, cc in _TEGRA_CC.items():
            if soc in text:
                model = Path("/proc/device-tree/model")
                name = model.read_bytes().decode("utf-8", "replace").rstrip("\x00") if model.is_file() else soc
                return GpuInfo(name, cc, "device-tree")
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--id={device}", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        name, cc = (x.strip() for x in out.splitlines()[0].rsplit(",", 1))
        return GpuInfo(name, normalize_compute_capability(cc), "nvidia-smi")
    except Exception:  # noqa: BLE001
        return GpuInfo(None, None, "unknown")


def _validate_options(precision: str, min_batch: int, opt_batch: int, max_batch: int, workspace_mb: int) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    for name, v in (("min_batch", min_batch), ("opt_batch", opt_batch), ("max_batch", max_batch), ("workspace_mb", workspace_mb)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"{name} must be a positive integer, got {v!r}")
    if not min_batch <= opt_batch <= max_batch:
        raise ConfigError(f"need min_batch <= opt_batch <= max_batch, got {min_batch}, {opt_batch}, {max_batch}")


def _require_precision_fits_graph(precision: str, report: CompatReport) -> None:
    """Explicit quantization: int8 needs Q/DQ; fp16/fp32 must not get a Q/DQ graph."""
    if precision == "int8" and not report.qdq.present:
        raise ProviderError(
            f"INT8 was requested but {report.model_path} has no QuantizeLinear/DequantizeLinear nodes. edgeemo "
            "builds INT8 engines only from explicitly quantized (QDQ) graphs, never with TensorRT's implicit "
            "calibration: quantize the model first (edgeemo's INT8 QDQ export) or build with precision='fp16'/'fp32'"
        )
    if precision in ("fp16", "fp32") and report.qdq.present:
        raise ProviderError(
            f"{report.model_path} is INT8-quantized (QDQ) but precision={precision!r} was requested: build it with "
            "precision='int8', or build the float model for fp16/fp32"
        )


def _network_flags(trt: ModuleType) -> int:
    """Network creation flags: EXPLICIT_BATCH for TensorRT < 10 only (10 removed implicit batch)."""
    if _version_tuple(trt.__version__)[0] >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def _platform_fast(builder: Any, kind: str, gpu: GpuInfo) -> bool | None:
    """``builder.platform_has_fast_{fp16,int8}``; falls back on the compute capability if absent."""
    attr = f"platform_has_fast_{kind}"
    if hasattr(builder, attr):
        return bool(getattr(builder, attr))
    if gpu.compute_capability is None:
        return None
    major, minor = (int(x) for x in gpu.compute_capability.split("."))
    if kind == "fp16":
        return (major, minor) in {(5, 3), (6, 0), (6, 2)} or major >= 7
    return (major, minor) == (6, 1) or major >= 7


def _require_fast(builder: Any, kind: str, gpu: GpuInfo, why: str) -> None:
    fast = _platform_fast(builder, kind, gpu)
    if fast:
        return
    gpu_text = f"{gpu.name or 'this GPU'} (compute capability {gpu.compute_capability or 'unknown'})"
    if fast is None:
        raise ProviderError(f"{why}, but TensorRT cannot tell whether {gpu_text} has fast {kind.upper()}; refusing to guess")
    raise ProviderError(
        f"{why}, but {gpu_text} has no fast {kind.upper()} support (builder.platform_has_fast_{kind} is False). "
        "edgeemo never downgrades precision silently: build with another precision explicitly"
    )


def _parser_errors(parser: Any) -> list[str]:
    lines = []
    for i in range(int(parser.num_errors)):
        err = parser.get_error(i)
        parts = []
        for getter in ("node_name", "node_operator"):
            fn = getattr(err, getter, None)
            try:
                value = fn() if callable(fn) else None
            except Exception:  # noqa: BLE001
                value = None
            if value:
                parts.append(str(value))
        desc = err.desc() if callable(getattr(err, "desc", None)) else str(err)
        node = err.node() if callable(getattr(err, "node", None)) else -1
        where = f"node {node}" + (f" ({' '.join(parts)})" if parts else "") if node is not None and node >= 0 else ""
        lines.append(f"{where}: {desc}" if where else str(desc))
    return lines


def _load_timing_cache(config: Any, path: Path | None, notes: list[str]) -> Any:
    data = b""
    if path is not None and path.is_file():
        data = path.read_bytes()
    cache = config.create_timing_cache(data)
    if cache is None and data:
        notes.append(f"timing cache {path} is unreadable; starting a fresh one")
        cache = config.create_timing_cache(b"")
    if cache is not None and not config.set_timing_cache(cache, False):
        notes.append(f"timing cache {path} does not match this TensorRT/GPU; it was not used")
    return cache


def _save_timing_cache(config: Any, path: Path | None) -> None:
    if path is None:
        return
    cache = config.get_timing_cache()
    if cache is None:
        return
    _atomic_write(path, bytes(memoryview(cache.serialize())))


def _profile_shapes(report: CompatReport, min_batch: int, opt_batch: int, max_batch: int) -> dict[str, dict[str, list[int]]]:
    profile: dict[str, dict[str, list[int]]] = {}
    for t in report.inputs:
        if t.shape is None or not t.shape or any(not isinstance(d, int) for d in t.shape[1:]):
            raise ProviderError(
                f"input '{t.name}' has shape {t.shape}: only the batch dimension may be dynamic "
                "(run `edgeemo export check-tensorrt` for details)"
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


# --------------------------------------------------------------------------- sidecar


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
    :func:`query_gpu`.
    """
    engine = Path(engine_path)
    onnx_file = Path(onnx_path)
    if not onnx_file.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {onnx_file}")
    _validate_options(precision, min_batch, opt_batch, max_batch, 1)
    if report is None:
        report = check_tensorrt_compat(onnx_file, min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch)
    if tensorrt_version is None:
        tensorrt_version = str(import_tensorrt("writing an engine sidecar").__version__)
    gpu = gpu or query_gpu(device)
    sha = file_sha256(onnx_file)
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
        profile=_profile_shapes(report, min_batch, opt_batch, max_batch),
        inputs=[{"name": t.name, "dtype": t.dtype, "shape": list(t.shape or [])} for t in report.inputs],
        outputs=[{"name": t.name, "dtype": t.dtype, "shape": list(t.shape or [])} for t in report.outputs],
        build_options=dict(build_options or {"min_batch": min_batch, "opt_batch": opt_batch, "max_batch": max_batch}),
        cache_key=engine_cache_key(tensorrt_version, cc, sha) if cc else None,
        builder=builder,
        created_utc=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        edgeemo_version=_edgeemo_version,
    )
    _atomic_write(sidecar_path_for(engine), (json.dumps(sidecar.to_dict(), indent=2) + "\n").encode("utf-8"))
    return sidecar


# --------------------------------------------------------------------------- builder


def build_engine(
    onnx_path: str | Path,
    out_path: str | Path,
    *,
    precision: Precision = "int8",
    min_batch: int = 1,
    opt_batch: int = 1,
    max_batch: int = 8,
    workspace_mb: int = 1024,
    timing_cache_path: str | Path | None = None,
    int8_fp16_fallback: bool = False,
    allow_tf32: bool = False,
    builder_optimization_level: int | None = None,
    device: int = 0,
    check: bool = True,
) -> EngineInfo:
    """Build a TensorRT engine (bare plan + JSON sidecar) from an edgeemo ONNX model.

    Args:
        onnx_path: the ONNX model (``audio`` float32 ``[batch, window]``, dynamic batch).
        out_path: where the plan goes (``.engine``); the sidecar is ``out_path + ".json"``.
        precision: ``"int8"`` (needs a Q/DQ graph), ``"fp16"`` or ``"fp32"``.
        min_batch, opt_batch, max_batch: the optimization profile over the batch dimension.
        workspace_mb: TensorRT workspace memory pool limit.
        timing_cache_path: load this timing cache if it exists and save the updated one after the build.
        int8_fp16_fallback: INT8 builds also set FP16, so layers without Q/DQ may run in FP16
            (default: they run in FP32, which keeps the log-mel front end exact).
        allow_tf32: let fp32 builds use TF32 tensor cores (default: strict FP32).
        builder_optimization_level: TensorRT's 0-5 builder optimization level (default: TensorRT's).
        device: CUDA device index (for the GPU name / compute capability in the sidecar).
        check: run :func:`check_tensorrt_compat` first and refuse a model with error-level issues.

    Returns:
        :class:`EngineInfo`.

    Raises:
        ConfigError: invalid options.
        ModelNotFoundError: no such ONNX file.
        MissingDependencyError: ``tensorrt`` is not installed (``edgeemo[tensorrt]`` / JetPack).
        ProviderError: incompatible model, int8 without Q/DQ, a precision the GPU cannot run fast,
            parser or build failure (with TensorRT's messages).
    """
    _validate_options(precision, min_batch, opt_batch, max_batch, workspace_mb)
    if builder_optimization_level is not None and not 0 <= int(builder_optimization_level) <= 5:
        raise ConfigError(f"the builder optimization level must be 0..5, got {builder_optimization_level}")
    onnx_file = Path(onnx_path)
    if not onnx_file.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {onnx_file}")
    out = Path(out_path)
    cache_path = Path(timing_cache_path) if timing_cache_path is not None else None

    report = check_tensorrt_compat(onnx_file, min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch)
    if check and not report.ok:
        raise ProviderError(
            f"{onnx_file} is not TensorRT-compatible:\n" + "\n".join(iter_error_lines(report))
        )
    _require_precision_fits_graph(precision, report)
    profile_shapes = _profile_shapes(report, min_batch, opt_batch, max_batch)

    trt = import_tensorrt("building TensorRT engines")
    version = str(trt.__version__)
    if _version_tuple(version)[:2] < MIN_TENSORRT:
        raise ProviderError(
            f"TensorRT {version} is too old: edgeemo builds with TensorRT >= {'.'.join(map(str, MIN_TENSORRT))} "
            "(the compatibility table targets 10.3: JetPack 6.1/6.2)"
        )
    gpu = query_gpu(device)
    trt_logger = make_trt_logger(trt)
    builder = trt.Builder(trt_logger)
    if builder is None:
        raise ProviderError("TensorRT could not create a builder (no CUDA GPU or driver?)")

    if precision == "fp16" or (precision == "int8" and int8_fp16_fallback):
        _require_fast(builder, "fp16", gpu, f"precision={precision!r} needs FP16")
    if precision == "int8":
        _require_fast(builder, "int8", gpu, "precision='int8' needs INT8")

    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(onnx_file)):
        errors = _parser_errors(parser) or trt_logger.errors or ["no detail from the parser"]
        raise ProviderError(f"TensorRT {version} could not parse {onnx_file}:\n" + "\n".join(f"- {e}" for e in errors))

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    flags_set: list[str] = []
    if precision == "fp16":
        config.set_flag(trt.BuilderFlag.FP16)
        flags_set.append("FP16")
    elif precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)  # explicit quantization: the Q/DQ scales are used
        flags_set.append("INT8")
        if int8_fp16_fallback:
            config.set_flag(trt.BuilderFlag.FP16)
            flags_set.append("FP16")
    if not allow_tf32 and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    if builder_optimization_level is not None:
        config.builder_optimization_level = int(builder_optimization_level)

    profile = builder.create_optimization_profile()
    for i in range(int(network.num_inputs)):
        name = network.get_input(i).name
        if name not in profile_shapes:
            raise ProviderError(f"TensorRT sees an input '{name}' that the ONNX graph does not declare")
        shapes = profile_shapes[name]
        profile.set_shape(name, tuple(shapes["min"]), tuple(shapes["opt"]), tuple(shapes["max"]))
    config.add_optimization_profile(profile)

    notes: list[str] = []
    _load_timing_cache(config, cache_path, notes)
    for note in notes:
        logger.warning(note)

    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - t0
    if plan is None:
        detail = "\n".join(f"- {e}" for e in trt_logger.errors[-8:]) or "- no detail from TensorRT"
        raise ProviderError(f"TensorRT {version} failed to build {onnx_file} ({precision}):\n{detail}")
    data = bytes(memoryview(plan))
    _atomic_write(out, data)
    _save_timing_cache(config, cache_path)

    options = {
        "precision": precision,
        "builder_flags": flags_set,
        "min_batch": min_batch,
        "opt_batch": opt_batch,
        "max_batch": max_batch,
        "workspace_mb": workspace_mb,
        "timing_cache": str(cache_path) if cache_path else None,
        "int8_fp16_fallback": int8_fp16_fallback,
        "allow_tf32": allow_tf32,
        "builder_optimization_level": builder_optimization_level,
        "network_flags": _network_flags(trt),
        "device": device,
        "compat_warnings": len(report.warnings),
    }
    sidecar = write_engine_sidecar(
        out,
        onnx_file,
        precision=precision,
        min_batch=min_batch,
        opt_batch=opt_batch,
        max_batch=max_batch,
        tensorrt_version=version,
        gpu=gpu,
        build_options=options,
        builder="edgeemo",
        report=report,
    )
    warnings = tuple(notes) + tuple(f"{i.code}: {i.message}" for i in report.warnings)
    if gpu.compute_capability is None:
        warnings += ("could not determine the GPU's compute capability; the sidecar cannot pin it",)
    return EngineInfo(
        engine_path=out,
        sidecar_path=sidecar_path_for(out),
        precision=precision,
        tensorrt_version=version,
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        cache_key=sidecar.cache_key,
        onnx_sha256=sidecar.onnx_sha256,
        profile=sidecar.profile,
        build_seconds=seconds,
        engine_bytes=len(data),
        warnings=warnings,
    )


def engine_info_dict(info: EngineInfo) -> dict[str, Any]:
    """JSON-ready form of :class:`EngineInfo`."""
    d = asdict(info)
    d["engine_path"] = str(info.engine_path)
    d["sidecar_path"] = str(info.sidecar_path)
    d["warnings"] = list(info.warnings)
    return d


def main(argv: list[str] | None = None) -> None:
    """``python -m edgeemo.export.tensorrt {build,sidecar,check}``."""
    from .trt_cli import tensorrt_cli

    tensorrt_cli.main(args=argv, prog_name="python -m edgeemo.export.tensorrt")


if __name__ == "__main__":  # pragma: no cover
    main()
