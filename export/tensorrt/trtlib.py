"""Importing TensorRT (with install hints) and routing its log into Python logging."""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

from edgeemo._deps import require
from edgeemo.errors import MissingDependencyError

__all__ = ["JETPACK_HINT", "import_tensorrt", "make_trt_logger", "version_tuple"]

logger = logging.getLogger("edgeemo.tensorrt")

JETPACK_HINT = (
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
        raise MissingDependencyError(f"{exc}. {JETPACK_HINT}") from exc
    except OSError as exc:  # the bindings are installed but libnvinfer is not loadable
        raise MissingDependencyError(
            f"the tensorrt Python module is installed but its libraries cannot be loaded ({exc}). {JETPACK_HINT}"
        ) from exc


def version_tuple(version: str) -> tuple[int, ...]:
    """``"10.3.0.30"`` -> ``(10, 3, 0)`` (non-digits ignored, missing parts 0)."""
    parts = []
    for p in str(version).split(".")[:3]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


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
