"""Run a prebuilt TensorRT engine (``.engine`` plan + ``.engine.json`` sidecar) on an NVIDIA GPU.

This is the bare-engine path of the ``[tensorrt]`` extra (``edgeemo export tensorrt run``); the
SDK's own GPU path is ONNX Runtime's CUDA/TensorRT providers. An engine is a bare TensorRT plan;
everything needed to use it (labels, sample rate, window, the TensorRT version and GPU it was
built for) lives in the JSON sidecar written next to it by
:func:`~edgeemo.export.tensorrt.build.build_engine` (or ``build_engine.sh`` of a Jetson bundle).

:class:`TensorRTEngineRunner` refuses an engine built by another TensorRT version or for another
compute capability with a :class:`~edgeemo.errors.ProviderError` that says how to rebuild it:
TensorRT plans are not portable across either.

``tensorrt`` and the CUDA buffer library (PyTorch with CUDA, or ``cuda-python``) are imported
lazily, when a runner is created; importing this module costs only numpy.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edgeemo.contract import KEY_SAMPLE_RATE, OUTPUT_PROBS
from edgeemo.errors import AudioFormatError, ModelMetadataError, ModelNotFoundError, ProviderError

from .cuda import DeviceBackend, default_backend
from .gpuinfo import normalize_compute_capability
from .sidecar import load_engine_sidecar
from .trtlib import import_tensorrt, make_trt_logger

__all__ = ["TensorRTEngineRunner"]

logger = logging.getLogger("edgeemo.tensorrt")


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
        self._backend = backend if backend is not None else default_backend(device)
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
                "(`edgeemo export tensorrt build MODEL.onnx ENGINE` or the bundle's build_engine.sh)"
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
        """Labels of the ``probs`` output (from the sidecar)."""
        return self.sidecar.labels

    @property
    def sample_rate(self) -> int:
        """Sample rate the model expects (from its metadata)."""
        try:
            return int(self.sidecar.onnx_metadata[KEY_SAMPLE_RATE])
        except (KeyError, ValueError):
            raise ModelMetadataError(f"{self.path}: the sidecar's ONNX metadata has no valid '{KEY_SAMPLE_RATE}'") from None

    @property
    def output_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each output's shape at the profile's largest batch (from the engine, not the metadata)."""
        return dict(self._out_shapes)

    @property
    def output_names(self) -> list[str]:
        """Names of the engine's outputs (``probs`` first when present)."""
        return sorted(self._outputs, key=lambda n: (n != OUTPUT_PROBS, n))

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
        name = OUTPUT_PROBS if OUTPUT_PROBS in outputs else self.output_names[0]
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
