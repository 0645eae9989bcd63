"""Run a prebuilt TensorRT engine (``.engine`` plan + ``.engine.json`` sidecar) on an NVIDIA GPU.

An engine is a bare TensorRT plan; everything the SDK needs to use it (labels, sample rate,
window, the TensorRT version and GPU it was built for) lives in the JSON sidecar written next to it
by :func:`edgeemo.export.tensorrt.build_engine` (or ``build_engine.sh`` of a Jetson bundle).

:class:`TensorRTEngineRunner` refuses an engine built by another TensorRT version or for another
compute capability with a :class:`~edgeemo.errors.ProviderError` that says how to rebuild it:
TensorRT plans are not portable across either.

``tensorrt`` and the CUDA buffer library (PyTorch with CUDA, or ``cuda-python``) are imported
lazily, when a runner is created; importing this module costs only numpy.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from ._deps import require
from .errors import (
    AudioFormatError,
    MissingDependencyError,
    ModelMetadataError,
    ModelNotFoundError,
    ProviderError,
)

__all__ = [
    "SIDECAR_FORMAT",
    "DeviceBackend",
    "EngineSidecar",
    "TensorRTEngineRunner",
    "engine_cache_key",
    "import_tensorrt",
    "is_engine_path",
    "make_trt_logger",
    "load_engine_sidecar",
    "normalize_compute_capability",
    "sidecar_path_for",
]

logger = logging.getLogger("edgeemo.tensorrt")

#: Major version of the sidecar layout; a runner refuses other majors.
SIDECAR_FORMAT = 1
ENGINE_SUFFIXES = (".engine", ".plan", ".trt")

_JETPACK_HINT = (
    "On a Jetson, TensorRT comes with JetPack (JetPack 6.1/6.2 ship TensorRT 10.3: "
    "`sudo apt install nvidia-jetpack`; its Python module is the `python3-libnvinfer` package, so "
    "create virtual environments with --system-site-packages). On x86_64/SBSA Linux: "
    'pip install "edgeemo[tensorrt]".'
)


def import_tensorrt(purpose: str = "TensorRT engines") -> ModuleType:
    """Import ``tensorrt`` or raise :class:`MissingDependencyError` naming ``edgeemo[tensorrt]`` and JetPack."""
    try:
        return require("tensorrt", purpose=purpose)
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{exc}. {_JETPACK_HINT}") from exc
    except OSError as exc:  # the bindings are installed but libnvinfer is not loadable
        raise MissingDependencyError(
            f"the tensorrt Python module is installed but its libraries cannot be loaded ({exc}). {_JETPACK_HINT}"
        ) from exc


# --------------------------------------------------------------------------- cache key and sidecar


def normalize_compute_capability(cc: str | tuple[int, int] | None) -> str | None:
    """``(8, 7)``, ``"8.7"``, ``"87"``, ``"sm_87"`` -> ``"8.7"``; ``None`` stays ``None``."""
    if cc is None:
        return None
    if isinstance(cc, tuple):
        return f"{int(cc[0])}.{int(cc[1])}"
    text = str(cc).strip().lower().removeprefix("sm_").removeprefix("sm")
    if re.fullmatch(r"\d+\.\d+", text):
        major, minor = text.split(".")
        return f"{int(major)}.{int(minor)}"
    if re.fullmatch(r"\d{2,3}", text):
        return f"{int(text[:-1])}.{int(text[-1])}"
    raise ValueError(f"not a CUDA compute capability: {cc!r} (expected e.g. '8.7' or (8, 7))")


def engine_cache_key(trt_version: str, compute_capability: str | tuple[int, int], model_sha256: str) -> str:
    """The engine cache key, e.g. ``trt10.3.0-sm87-1a2b3c4d5e6f``: TensorRT version, compute capability
    and the first 12 hex digits of the ONNX file's SHA-256.

    An engine is valid only for the TensorRT version, the GPU architecture and the exact model it
    was built from, so the key names all three. It is the same key the SDK uses for ONNX Runtime's
    TensorRT engine cache (:func:`edgeemo.providers.engine_cache_key`, which this delegates to after
    normalizing the compute capability: ``(8, 7)``, ``"8.7"``, ``"87"``, ``"sm_87"`` all give ``sm87``).
    """
    from .providers import engine_cache_key as sdk_engine_cache_key

    cc = normalize_compute_capability(compute_capability)
    if not str(trt_version).strip() or cc is None:
        raise ValueError("engine_cache_key needs a TensorRT version and a compute capability")
    sha = str(model_sha256).strip().lower()
    if not re.fullmatch(r"[0-9a-f]{8,64}", sha):
        raise ValueError(f"model_sha256 must be hex (at least 8 characters), got {model_sha256!r}")
    return sdk_engine_cache_key(str(trt_version).strip(), cc, sha)


def sidecar_path_for(engine_path: str | Path) -> Path:
    """``model.engine`` -> ``model.engine.json``."""
    p = Path(engine_path)
    return p.with_name(p.name + ".json")


def is_engine_path(path: str | Path) -> bool:
    """True for a file name the SDK treats as a TensorRT engine (``.engine``, ``.plan``, ``.trt``)."""
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
        if str(data["precision"]) not in ("int8", "fp16", "fp32"):
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
        """The model's labels (from the ONNX metadata copied into the sidecar)."""
        raw = self.onnx_metadata.get("labels", "")
        return [x.strip() for x in raw.split(",") if x.strip()]


def load_engine_sidecar(engine_path: str | Path) -> EngineSidecar:
    """Read ``<engine>.json`` next to an engine (or the JSON file itself)."""
    p = Path(engine_path)
    path = p if p.suffix == ".json" else sidecar_path_for(p)
    if not path.is_file():
        raise ModelMetadataError(
            f"the engine sidecar {path} is missing: edgeemo needs it for labels, window and the TensorRT "
            "version/GPU the plan was built for. Build the engine with `python -m edgeemo.export.tensorrt "
            "build` or write one for a trtexec-built plan with `python -m edgeemo.export.tensorrt sidecar`"
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelMetadataError(f"{path}: unreadable engine sidecar ({exc})") from exc
    if not isinstance(data, dict):
        raise ModelMetadataError(f"{path}: the sidecar must be a JSON object")
    return EngineSidecar.from_dict(data, source=str(path))


# --------------------------------------------------------------------------- device buffers


class DeviceBackend(Protocol):
    """CUDA memory and a stream, as the runner needs them (PyTorch or cuda-python behind it)."""

    name: str

    def device_name(self) -> str: ...
    def compute_capability(self) -> str: ...
    def alloc(self, nbytes: int) -> int: ...
    def free(self, ptr: int) -> None: ...
    def upload(self, ptr: int, array: np.ndarray) -> None: ...
    def download(self, ptr: int, out: np.ndarray) -> None: ...
    def stream(self) -> int: ...
    def synchronize(self) -> None: ...


class _TorchBackend:
    """Buffers as CUDA tensors of PyTorch (the usual choice on Jetson, where NVIDIA ships torch wheels)."""

    name = "torch"

    def __init__(self, device: int) -> None:
        self.torch = require("torch", purpose="CUDA buffers for TensorRT engines")
        if not self.torch.cuda.is_available():
            raise ProviderError("PyTorch sees no CUDA device (a CPU-only torch build or no GPU/driver)")
        self.device = self.torch.device("cuda", device)
        self._buffers: dict[int, Any] = {}

    def device_name(self) -> str:
        return str(self.torch.cuda.get_device_name(self.device))

    def compute_capability(self) -> str:
        major, minor = self.torch.cuda.get_device_capability(self.device)
        return f"{major}.{minor}"

    def alloc(self, nbytes: int) -> int:
        t = self.torch.empty(max(int(nbytes), 1), dtype=self.torch.uint8, device=self.device)
        ptr = int(t.data_ptr())
        self._buffers[ptr] = t
        return ptr

    def free(self, ptr: int) -> None:
        self._buffers.pop(ptr, None)

    def upload(self, ptr: int, array: np.ndarray) -> None:
        src = self.torch.from_numpy(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
        self._buffers[ptr][: src.numel()].copy_(src)

    def download(self, ptr: int, out: np.ndarray) -> None:
        host = self._buffers[ptr][: out.nbytes].cpu().numpy()
        out.reshape(-1).view(np.uint8)[:] = host

    def stream(self) -> int:
        return int(self.torch.cuda.current_stream(self.device).cuda_stream)

    def synchronize(self) -> None:
        self.torch.cuda.synchronize(self.device)


class _CudaPythonBackend:
    """Buffers through NVIDIA's ``cuda-python`` runtime bindings."""

    name = "cuda-python"

    def __init__(self, device: int) -> None:
        try:
            from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
        except ImportError:
            try:
                from cuda import cudart  # type: ignore[no-redef]  # older cuda-python
            except ImportError as exc:
                raise MissingDependencyError(
                    "TensorRT engines need CUDA buffers: install PyTorch with CUDA (on Jetson: NVIDIA's "
                    f"JetPack wheel) or `pip install cuda-python` ({exc})"
                ) from exc
        self.cudart = cudart
        self.device = device
        self._call("cudaSetDevice", device)
        self._stream = self._call("cudaStreamCreate")

    def _call(self, fn: str, *args: Any) -> Any:
        result = getattr(self.cudart, fn)(*args)
        err, rest = (result[0], result[1:]) if isinstance(result, tuple) else (result, ())
        if int(err) != 0:
            raise ProviderError(f"CUDA call {fn} failed: {err}")
        return rest[0] if len(rest) == 1 else (rest or None)

    def _props(self) -> Any:
        return self._call("cudaGetDeviceProperties", self.device)

    def device_name(self) -> str:
        name = self._props().name
        return name.decode("utf-8", "replace").rstrip("\x00") if isinstance(name, bytes) else str(name)

    def compute_capability(self) -> str:
        p = self._props()
        return f"{p.major}.{p.minor}"

    def alloc(self, nbytes: int) -> int:
        return int(self._call("cudaMalloc", max(int(nbytes), 1)))

    def free(self, ptr: int) -> None:
        self._call("cudaFree", ptr)

    def upload(self, ptr: int, array: np.ndarray) -> None:
        a = np.ascontiguousarray(array)
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        self._call("cudaMemcpyAsync", ptr, a.ctypes.data, a.nbytes, kind, self._stream)
        self.synchronize()

    def download(self, ptr: int, out: np.ndarray) -> None:
        kind = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._call("cudaMemcpyAsync", out.ctypes.data, ptr, out.nbytes, kind, self._stream)
        self.synchronize()

    def stream(self) -> int:
        return int(self._stream)

    def synchronize(self) -> None:
        self._call("cudaStreamSynchronize", self._stream)


def _default_backend(device: int) -> DeviceBackend:
    problems: list[str] = []
    try:
        return _TorchBackend(device)
    except (MissingDependencyError, ProviderError) as exc:
        problems.append(f"torch: {exc}")
    try:
        return _CudaPythonBackend(device)
    except (MissingDependencyError, ProviderError) as exc:
        problems.append(f"cuda-python: {exc}")
    raise ProviderError("no CUDA device memory for the TensorRT engine: " + "; ".join(problems))


# --------------------------------------------------------------------------- the runner


def make_trt_logger(trt: ModuleType) -> Any:
    """A TensorRT ILogger that forwards to Python logging and keeps errors for exception messages."""

    class _Logger(trt.ILogger):  # type: ignore[misc, name-defined]
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            sev = trt.ILogger.Severity
            if severity in (sev.INTERNAL_ERROR, sev.ERROR):
                self.errors.append(str(msg))
                logger.error("TensorRT: %s", msg)
            elif severity == sev.WARNING:
                logger.warning("TensorRT: %s", msg)
            else:
                logger.debug("TensorRT: %s", msg)

    return _Logger()


def _np_dtype(trt: ModuleType, dtype: Any) -> np.dtype:
    return np.dtype(trt.nptype(dtype))


class TensorRTEngineRunner:
    """Runs windows of audio through a TensorRT engine; the ``.engine`` counterpart of an ONNX session.

    Args:
        path: the ``.engine`` file; ``<path>.json`` (its sidecar) must lie next to it.
        device: CUDA device index.
        backend: CUDA buffers to use (default: PyTorch CUDA tensors, else cuda-python).

    Raises:
        ModelNotFoundError: no such engine file.
        ModelMetadataError: the sidecar is missing or invalid.
        MissingDependencyError: ``tensorrt`` (or a CUDA buffer library) is not installed.
        ProviderError: the engine was built by another TensorRT version or for another compute
            capability, or TensorRT cannot deserialize it.
    """

    def __init__(self, path: str | Path, *, device: int = 0, backend: DeviceBackend | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"TensorRT engine not found: {self.path}")
        self.sidecar = load_engine_sidecar(self.path)
        trt = import_tensorrt("running TensorRT engines")
        self._trt = trt
        self._check_version(str(getattr(trt, "__version__", "unknown")))
        self._backend = backend if backend is not None else _default_backend(device)
        self._check_device()
        self._logger = make_trt_logger(trt)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self._engine is None:
            detail = "; ".join(self._logger.errors[-3:]) or "no detail from TensorRT"
            raise ProviderError(f"TensorRT could not load the engine {self.path}: {detail}")
        self._context = self._engine.create_execution_context()
        if self._context is None:
            raise ProviderError(f"TensorRT could not create an execution context for {self.path} (out of GPU memory?)")
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        for i in range(self._engine.num_io_tensors):
            name = self._engine.get_tensor_name(i)
            if self._engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                self._inputs.append(name)
            else:
                self._outputs.append(name)
        if len(self._inputs) != 1:
            raise ModelMetadataError(f"{self.path}: expected one input (audio), the engine has {self._inputs}")
        self.input_name = self._inputs[0]
        lo, _opt, hi = (tuple(int(d) for d in s) for s in self._engine.get_tensor_profile_shape(self.input_name, 0))
        self.min_batch, self.max_batch = lo[0], hi[0]
        self.window_samples = int(hi[1])
        self._in_dtype = _np_dtype(trt, self._engine.get_tensor_dtype(self.input_name))
        self._ptrs: dict[str, int] = {}
        self._out_dtypes: dict[str, np.dtype] = {}
        self._out_shapes: dict[str, tuple[int, ...]] = {}
        self._allocate()

    # ---- validation
    def _check_version(self, installed: str) -> None:
        built = self.sidecar.tensorrt_version
        if installed != built:
            raise ProviderError(
                f"{self.path} was built with TensorRT {built} but this machine has TensorRT {installed}; "
                "TensorRT plans are tied to the exact version: rebuild it here "
                "(`python -m edgeemo.export.tensorrt build MODEL.onnx ENGINE` or the bundle's build_engine.sh)"
            )

    def _check_device(self) -> None:
        built = self.sidecar.compute_capability
        have = normalize_compute_capability(self._backend.compute_capability())
        name = self._backend.device_name()
        if built is None:
            logger.warning("%s: the sidecar records no compute capability; cannot verify the GPU", self.path)
        elif have != built:
            raise ProviderError(
                f"{self.path} was built for compute capability {built} ({self.sidecar.gpu_name or 'unknown GPU'}) "
                f"but this GPU is {name} with compute capability {have}; rebuild the engine on this device"
            )
        if self.sidecar.gpu_name and name and self.sidecar.gpu_name != name:
            logger.warning(
                "%s was built on %s and runs on %s (same compute capability): it works, but rebuild it "
                "here for the best kernels",
                self.path,
                self.sidecar.gpu_name,
                name,
            )

    def _allocate(self) -> None:
        trt, ctx = self._trt, self._context
        ctx.set_input_shape(self.input_name, (self.max_batch, self.window_samples))
        n = self.max_batch * self.window_samples * self._in_dtype.itemsize
        self._ptrs[self.input_name] = self._backend.alloc(n)
        for name in self._outputs:
            shape = tuple(int(d) for d in ctx.get_tensor_shape(name))
            dtype = _np_dtype(trt, self._engine.get_tensor_dtype(name))
            self._out_dtypes[name] = dtype
            self._out_shapes[name] = shape
            self._ptrs[name] = self._backend.alloc(int(np.prod(shape)) * dtype.itemsize)

    # ---- public API
    @property
    def metadata(self) -> dict[str, str]:
        """The ONNX model's ``metadata_props`` (as copied into the sidecar)."""
        return dict(self.sidecar.onnx_metadata)

    @property
    def labels(self) -> list[str]:
        """Labels of the ``probs`` output."""
        return self.sidecar.labels

    @property
    def sample_rate(self) -> int:
        """Sample rate the model expects (from its metadata)."""
        try:
            return int(self.sidecar.onnx_metadata["sample_rate"])
        except (KeyError, ValueError):
            raise ModelMetadataError(f"{self.path}: the sidecar's ONNX metadata has no valid 'sample_rate'") from None

    @property
    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each output's shape at the profile's largest batch (from the engine, not the metadata)."""
        return dict(self._out_shapes)

    @property
    def output_names(self) -> list[str]:
        """Names of the engine's outputs (``probs`` first when present)."""
        return sorted(self._outputs, key=lambda n: (n != "probs", n))

    def _validate(self, windows: np.ndarray) -> np.ndarray:
        x = np.asarray(windows)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != self.window_samples:
            raise AudioFormatError(
                f"expected windows of shape [n, {self.window_samples}] (float32 samples), got {list(np.shape(windows))}"
            )
        if not np.issubdtype(x.dtype, np.floating):
            raise AudioFormatError(f"expected float audio windows, got {x.dtype}")
        if not np.all(np.isfinite(x)):
            raise AudioFormatError("audio windows contain NaN or Inf")
        return np.ascontiguousarray(x, dtype=self._in_dtype)

    def run_all(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Run ``windows`` (``[n, window_samples]``) and return every output as float32 ``[n, ...]``."""
        x = self._validate(windows)
        if x.shape[0] == 0:
            return {name: np.zeros((0, *shape[1:]), np.float32) for name, shape in self._out_shapes.items()}
        results: dict[str, list[np.ndarray]] = {name: [] for name in self._outputs}
        for start in range(0, x.shape[0], self.max_batch):
            chunk = x[start : start + self.max_batch]
            rows = chunk.shape[0]
            if rows < self.min_batch:  # pad up to the profile's minimum; padded rows are dropped
                chunk = np.concatenate([chunk, np.zeros((self.min_batch - rows, chunk.shape[1]), chunk.dtype)])
            for name, out in self._run_chunk(chunk).items():
                results[name].append(out[:rows].astype(np.float32, copy=False))
        return {name: np.concatenate(parts) for name, parts in results.items()}

    def run(self, windows: np.ndarray) -> np.ndarray:
        """Class probabilities ``[n, n_labels]`` for ``windows`` (``[n, window_samples]`` float32)."""
        outputs = self.run_all(windows)
        name = "probs" if "probs" in outputs else self.output_names[0]
        return outputs[name]

    def _run_chunk(self, chunk: np.ndarray) -> dict[str, np.ndarray]:
        ctx, be = self._context, self._backend
        ctx.set_input_shape(self.input_name, tuple(chunk.shape))
        be.upload(self._ptrs[self.input_name], chunk)
        for name, ptr in self._ptrs.items():
            ctx.set_tensor_address(name, ptr)
        if not ctx.execute_async_v3(be.stream()):
            detail = "; ".join(self._logger.errors[-3:]) or "no detail from TensorRT"
            raise ProviderError(f"TensorRT inference failed: {detail}")
        be.synchronize()
        outs: dict[str, np.ndarray] = {}
        for name in self._outputs:
            shape = tuple(int(d) for d in ctx.get_tensor_shape(name))
            host = np.empty(shape, dtype=self._out_dtypes[name])
            be.download(self._ptrs[name], host)
            outs[name] = host
        return outs

    def close(self) -> None:
        """Free the GPU buffers and the TensorRT objects."""
        for ptr in self._ptrs.values():
            try:
                self._backend.free(ptr)
            except Exception:  # pragma: no cover - freeing is best effort
                logger.debug("could not free a CUDA buffer", exc_info=True)
        self._ptrs.clear()
        self._context = None
        self._engine = None

    def __enter__(self) -> TensorRTEngineRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        s = self.sidecar
        return (
            f"TensorRTEngineRunner({str(self.path)!r}, precision={s.precision}, trt={s.tensorrt_version}, "
            f"sm={s.compute_capability}, batch={self.min_batch}..{self.max_batch})"
        )
