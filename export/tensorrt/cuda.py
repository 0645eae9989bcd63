"""CUDA device memory and a stream for the engine runner: PyTorch CUDA tensors or cuda-python.

Both libraries are imported when a backend is created, never at import time.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from edgeemo._deps import require
from edgeemo.errors import MissingDependencyError, ProviderError

__all__ = ["CudaPythonBackend", "DeviceBackend", "TorchBackend", "default_backend"]


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


class TorchBackend:
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


class CudaPythonBackend:
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


def default_backend(device: int) -> DeviceBackend:
    """PyTorch CUDA buffers, else cuda-python; :class:`ProviderError` listing why neither works."""
    problems: list[str] = []
    try:
        return TorchBackend(device)
    except (MissingDependencyError, ProviderError) as exc:
        problems.append(f"torch: {exc}")
    try:
        return CudaPythonBackend(device)
    except (MissingDependencyError, ProviderError) as exc:
        problems.append(f"cuda-python: {exc}")
    raise ProviderError("no CUDA device memory for the TensorRT engine: " + "; ".join(problems))
