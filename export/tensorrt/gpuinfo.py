"""Which GPU is this: name and CUDA compute capability, by whatever is available."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["GpuInfo", "normalize_compute_capability", "query_gpu"]

#: Jetson SoC (device-tree ``compatible``) -> compute capability, for boards without cuda-python/torch.
_TEGRA_CC = {"tegra234": "8.7", "tegra194": "7.2", "tegra186": "6.2", "tegra210": "5.3"}


@dataclass(frozen=True)
class GpuInfo:
    """The GPU an engine is built on (``None`` fields when they could not be found)."""

    name: str | None
    compute_capability: str | None
    source: str


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


def _from_cuda_python(device: int) -> GpuInfo | None:
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        from cuda import cudart  # type: ignore[no-redef]
    err, prop = cudart.cudaGetDeviceProperties(device)
    if int(err) != 0:
        return None
    name = prop.name.decode("utf-8", "replace").rstrip("\x00") if isinstance(prop.name, bytes) else str(prop.name)
    return GpuInfo(name, f"{prop.major}.{prop.minor}", "cuda-python")


def _from_torch(device: int) -> GpuInfo | None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(device)
    return GpuInfo(torch.cuda.get_device_name(device), f"{major}.{minor}", "torch")


def _from_device_tree() -> GpuInfo | None:
    compat = Path("/proc/device-tree/compatible")
    if not compat.is_file():  # Jetson only: integrated GPU, fixed per SoC
        return None
    text = compat.read_bytes().decode("ascii", "replace")
    for soc, cc in _TEGRA_CC.items():
        if soc in text:
            model = Path("/proc/device-tree/model")
            name = model.read_bytes().decode("utf-8", "replace").rstrip("\x00") if model.is_file() else soc
            return GpuInfo(name, cc, "device-tree")
    return None


def _from_nvidia_smi(device: int) -> GpuInfo | None:
    out = subprocess.run(
        ["nvidia-smi", f"--id={device}", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout.strip()
    name, cc = (x.strip() for x in out.splitlines()[0].rsplit(",", 1))
    return GpuInfo(name, normalize_compute_capability(cc), "nvidia-smi")


def query_gpu(device: int = 0) -> GpuInfo:
    """Name and compute capability of CUDA device ``device``.

    Tries cuda-python, PyTorch (CUDA build), the Jetson device tree, then ``nvidia-smi``; gives
    ``GpuInfo(None, None, "unknown")`` when none of them answers.
    """
    probes = (
        lambda: _from_cuda_python(device),
        lambda: _from_torch(device),
        _from_device_tree,
        lambda: _from_nvidia_smi(device),
    )
    for probe in probes:
        try:
            found = probe()
        except Exception:  # noqa: BLE001 - probing: any failure means "not this way"
            continue
        if found is not None:
            return found
    return GpuInfo(None, None, "unknown")
