"""Options of an engine build: precision, batch profile, workspace, timing cache, flags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edgeemo.errors import ConfigError

__all__ = ["PRECISIONS", "BuildOptions", "Precision"]

Precision = Literal["int8", "fp16", "fp32"]
PRECISIONS: tuple[str, ...] = ("int8", "fp16", "fp32")


@dataclass(frozen=True)
class BuildOptions:
    """What :func:`~edgeemo.export.tensorrt.build.build_engine` builds (see its arguments)."""

    precision: Precision = "int8"
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 8
    workspace_mb: int = 1024
    timing_cache_path: Path | None = None
    int8_fp16_fallback: bool = False
    allow_tf32: bool = False
    builder_optimization_level: int | None = None
    device: int = 0
    check: bool = True

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid option."""
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for name in ("min_batch", "opt_batch", "max_batch", "workspace_mb"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, got {v!r}")
        if not self.min_batch <= self.opt_batch <= self.max_batch:
            raise ConfigError(
                "need min_batch <= opt_batch <= max_batch, got "
                f"{self.min_batch}, {self.opt_batch}, {self.max_batch}"
            )
        level = self.builder_optimization_level
        if level is not None and not 0 <= int(level) <= 5:
            raise ConfigError(f"the builder optimization level must be 0..5, got {level}")

    @property
    def uses_fp16(self) -> bool:
        """True when the build sets FP16 (``fp16``, or ``int8`` with the FP16 fallback)."""
        return self.precision == "fp16" or (self.precision == "int8" and self.int8_fp16_fallback)

    def builder_flags(self) -> list[str]:
        """Names of the ``trt.BuilderFlag`` values the build sets, in order."""
        if self.precision == "fp16":
            return ["FP16"]
        if self.precision == "int8":
            return ["INT8", "FP16"] if self.int8_fp16_fallback else ["INT8"]
        return []
