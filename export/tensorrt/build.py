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
  dimension is static (checked first by :func:`~edgeemo.export.tensorrt.check.check_tensorrt_compat`).
* **Bare plan + sidecar.** ``out_path`` gets the serialized plan; ``out_path + ".json"`` the
  metadata (:mod:`edgeemo.export.tensorrt.sidecar`). ``EXPLICIT_BATCH`` is passed only to
  TensorRT < 10, which still needs it.

CLI: ``edgeemo export tensorrt build MODEL.onnx OUT.engine --precision int8``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from edgeemo.errors import ModelNotFoundError, ProviderError
from edgeemo.fileio import atomic_write_bytes

from . import gpuinfo
from .check import check_tensorrt_compat
from .gpuinfo import GpuInfo
from .options import BuildOptions, Precision
from .report import CompatReport, iter_error_lines
from .sidecar import profile_shapes, sidecar_path_for, write_engine_sidecar
from .trtlib import import_tensorrt, make_trt_logger, version_tuple

__all__ = ["MIN_TENSORRT", "EngineInfo", "build_engine"]

logger = logging.getLogger("edgeemo.export.tensorrt")

#: Oldest TensorRT the builder accepts; the support table targets 10.3 (JetPack 6.1/6.2).
MIN_TENSORRT = (8, 6)


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings, warnings as a list)."""
        d = asdict(self)
        d["engine_path"] = str(self.engine_path)
        d["sidecar_path"] = str(self.sidecar_path)
        d["warnings"] = list(self.warnings)
        return d


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
        check: refuse a model whose static check (:func:`check_tensorrt_compat`) has error-level issues.

    Returns:
        :class:`EngineInfo`.

    Raises:
        ConfigError: invalid options.
        ModelNotFoundError: no such ONNX file.
        MissingDependencyError: ``tensorrt`` is not installed (``edgeemo[tensorrt]`` / JetPack).
        ProviderError: incompatible model, int8 without Q/DQ, a precision the GPU cannot run fast,
            parser or build failure (with TensorRT's messages).
    """
    options = BuildOptions(
        precision=precision,
        min_batch=min_batch,
        opt_batch=opt_batch,
        max_batch=max_batch,
        workspace_mb=workspace_mb,
        timing_cache_path=Path(timing_cache_path) if timing_cache_path is not None else None,
        int8_fp16_fallback=int8_fp16_fallback,
        allow_tf32=allow_tf32,
        builder_optimization_level=builder_optimization_level,
        device=device,
        check=check,
    )
    options.validate()
    onnx_file = Path(onnx_path)
    if not onnx_file.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {onnx_file}")
    report = _static_check(onnx_file, options)
    shapes = profile_shapes(report, options.min_batch, options.opt_batch, options.max_batch)

    trt = _import_builder_tensorrt()
    version = str(trt.__version__)
    gpu = gpuinfo.query_gpu(options.device)
    trt_logger = make_trt_logger(trt)
    builder = _create_builder(trt, trt_logger, gpu, options)
    network = _parse_onnx(trt, builder, trt_logger, onnx_file)
    config = _configure(trt, builder, network, options, shapes)
    notes = _load_timing_cache(config, options.timing_cache_path)
    for note in notes:
        logger.warning(note)

    plan, seconds = _serialize(builder, network, config, trt_logger, f"TensorRT {version} failed to build {onnx_file} ({precision})")
    out = Path(out_path)
    atomic_write_bytes(out, plan)
    _save_timing_cache(config, options.timing_cache_path)
    sidecar = write_engine_sidecar(
        out,
        onnx_file,
        precision=options.precision,
        min_batch=options.min_batch,
        opt_batch=options.opt_batch,
        max_batch=options.max_batch,
        tensorrt_version=version,
        gpu=gpu,
        build_options=_recorded_options(options, trt, report),
        builder="edgeemo",
        report=report,
    )
    warnings = tuple(notes) + tuple(f"{i.code}: {i.message}" for i in report.warnings)
    if gpu.compute_capability is None:
        warnings += ("could not determine the GPU's compute capability; the sidecar cannot pin it",)
    return EngineInfo(
        engine_path=out,
        sidecar_path=sidecar_path_for(out),
        precision=options.precision,
        tensorrt_version=version,
        gpu_name=gpu.name,
        compute_capability=gpu.compute_capability,
        cache_key=sidecar.cache_key,
        onnx_sha256=sidecar.onnx_sha256,
        profile=sidecar.profile,
        build_seconds=seconds,
        engine_bytes=len(plan),
        warnings=warnings,
    )


# --------------------------------------------------------------------------- steps, in build order


def _static_check(onnx_file: Path, options: BuildOptions) -> CompatReport:
    """Run the static check; refuse an incompatible model and a precision that does not fit it."""
    report = check_tensorrt_compat(
        onnx_file, min_batch=options.min_batch, opt_batch=options.opt_batch, max_batch=options.max_batch
    )
    if options.check and not report.ok:
        raise ProviderError(f"{onnx_file} is not TensorRT-compatible:\n" + "\n".join(iter_error_lines(report)))
    _require_precision_fits_graph(options.precision, report)
    return report


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


def _import_builder_tensorrt() -> ModuleType:
    """``tensorrt``, refused when older than :data:`MIN_TENSORRT`."""
    trt = import_tensorrt("building TensorRT engines")
    version = str(trt.__version__)
    if version_tuple(version)[:2] < MIN_TENSORRT:
        raise ProviderError(
            f"TensorRT {version} is too old: edgeemo builds with TensorRT >= {'.'.join(map(str, MIN_TENSORRT))} "
            "(the compatibility table targets 10.3: JetPack 6.1/6.2)"
        )
    return trt


def _create_builder(trt: ModuleType, trt_logger: Any, gpu: GpuInfo, options: BuildOptions) -> Any:
    """A ``trt.Builder``, after checking the GPU runs the requested precision fast."""
    builder = trt.Builder(trt_logger)
    if builder is None:
        raise ProviderError("TensorRT could not create a builder (no CUDA GPU or driver?)")
    if options.uses_fp16:
        _require_fast(builder, "fp16", gpu, f"precision={options.precision!r} needs FP16")
    if options.precision == "int8":
        _require_fast(builder, "int8", gpu, "precision='int8' needs INT8")
    return builder


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


def _network_flags(trt: ModuleType) -> int:
    """Network creation flags: EXPLICIT_BATCH for TensorRT < 10 only (10 removed implicit batch)."""
    if version_tuple(trt.__version__)[0] >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def _parse_onnx(trt: ModuleType, builder: Any, trt_logger: Any, onnx_file: Path) -> Any:
    """The network parsed from ``onnx_file``; parser errors (node, operator, description) in the message."""
    network = builder.create_network(_network_flags(trt))
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse_from_file(str(onnx_file)):
        errors = _parser_errors(parser) or trt_logger.errors or ["no detail from the parser"]
        raise ProviderError(
            f"TensorRT {trt.__version__} could not parse {onnx_file}:\n" + "\n".join(f"- {e}" for e in errors)
        )
    return network


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


def _configure(trt: ModuleType, builder: Any, network: Any, options: BuildOptions, shapes: dict[str, dict[str, list[int]]]) -> Any:
    """The builder config: workspace pool, precision flags, TF32, optimization level, the batch profile."""
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_mb) << 20)
    for flag in options.builder_flags():  # INT8: explicit quantization, the Q/DQ scales are used
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if not options.allow_tf32 and hasattr(trt.BuilderFlag, "TF32"):
        config.clear_flag(trt.BuilderFlag.TF32)
    if options.builder_optimization_level is not None:
        config.builder_optimization_level = int(options.builder_optimization_level)

    profile = builder.create_optimization_profile()
    for i in range(int(network.num_inputs)):
        name = network.get_input(i).name
        if name not in shapes:
            raise ProviderError(f"TensorRT sees an input '{name}' that the ONNX graph does not declare")
        s = shapes[name]
        profile.set_shape(name, tuple(s["min"]), tuple(s["opt"]), tuple(s["max"]))
    config.add_optimization_profile(profile)
    return config


def _load_timing_cache(config: Any, path: Path | None) -> list[str]:
    """Attach the timing cache at ``path`` (a fresh one if absent); returns notes for the user."""
    notes: list[str] = []
    data = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(data)
    if cache is None and data:
        notes.append(f"timing cache {path} is unreadable; starting a fresh one")
        cache = config.create_timing_cache(b"")
    if cache is not None and not config.set_timing_cache(cache, False):
        notes.append(f"timing cache {path} does not match this TensorRT/GPU; it was not used")
    return notes


def _save_timing_cache(config: Any, path: Path | None) -> None:
    if path is None:
        return
    cache = config.get_timing_cache()
    if cache is None:
        return
    atomic_write_bytes(path, bytes(memoryview(cache.serialize())))


def _serialize(builder: Any, network: Any, config: Any, trt_logger: Any, failure: str) -> tuple[bytes, float]:
    """Build the serialized plan: ``(plan bytes, seconds)``; TensorRT's error log in the message on failure."""
    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    seconds = time.perf_counter() - t0
    if plan is None:
        detail = "\n".join(f"- {e}" for e in trt_logger.errors[-8:]) or "- no detail from TensorRT"
        raise ProviderError(f"{failure}:\n{detail}")
    return bytes(memoryview(plan)), seconds


def _recorded_options(options: BuildOptions, trt: ModuleType, report: CompatReport) -> dict[str, Any]:
    """The ``build_options`` the sidecar records."""
    path = options.timing_cache_path
    return {
        "precision": options.precision,
        "builder_flags": options.builder_flags(),
        "min_batch": options.min_batch,
        "opt_batch": options.opt_batch,
        "max_batch": options.max_batch,
        "workspace_mb": options.workspace_mb,
        "timing_cache": str(path) if path else None,
        "int8_fp16_fallback": options.int8_fp16_fallback,
        "allow_tf32": options.allow_tf32,
        "builder_optimization_level": options.builder_optimization_level,
        "network_flags": _network_flags(trt),
        "device": options.device,
        "compat_warnings": len(report.warnings),
    }
