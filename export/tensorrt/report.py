"""The result of the TensorRT compatibility check: issues, tensors, Q/DQ summary, the report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "DTYPE_FRIENDLY",
    "DTYPE_NAMES",
    "SEVERITIES",
    "CompatReport",
    "DynamicDim",
    "Issue",
    "QDQSummary",
    "Severity",
    "TensorInfo",
    "iter_error_lines",
]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")

#: ONNX ``TensorProto.DataType`` number -> the names the support table uses.
DTYPE_NAMES: dict[int, str] = {
    1: "FP32", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16", 6: "INT32", 7: "INT64", 8: "STRING",
    9: "BOOL", 10: "FP16", 11: "DOUBLE", 12: "UINT32", 13: "UINT64", 14: "COMPLEX64",
    15: "COMPLEX128", 16: "BF16", 17: "FP8", 18: "FP8E4M3FNUZ", 19: "FP8E5M2", 20: "FP8E5M2FNUZ",
    21: "UINT4", 22: "INT4", 23: "FP4",
}
#: Friendly names for messages (numpy spelling).
DTYPE_FRIENDLY: dict[str, str] = {
    "FP32": "float32", "FP16": "float16", "BF16": "bfloat16", "DOUBLE": "float64", "INT8": "int8",
    "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16", "INT32": "int32", "INT64": "int64",
    "STRING": "string", "BOOL": "bool", "FP8": "float8e4m3fn", "INT4": "int4", "FP4": "float4e2m1",
}


@dataclass(frozen=True)
class Issue:
    """One finding. ``error``: TensorRT will refuse the model (or the profile); ``warning``: it
    builds, but not the way you probably want; ``info``: worth knowing."""

    severity: Severity
    code: str
    message: str
    node: str | None = None
    op_type: str | None = None


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: element type and shape (``int`` static, ``str`` symbolic, ``None`` unknown)."""

    name: str
    dtype: str
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True)
class DynamicDim:
    """A dynamic dimension of a graph input/output (``name`` is the symbolic name, if any)."""

    tensor: str
    axis: int
    name: str | None
    kind: Literal["input", "output"] = "input"


@dataclass
class QDQSummary:
    """What the explicit quantization of the graph looks like."""

    quantize_nodes: int = 0
    dequantize_nodes: int = 0
    per_tensor: int = 0
    per_axis: int = 0
    zero_point_types: dict[str, int] = field(default_factory=dict)
    quantized_layers: list[str] = field(default_factory=list)
    float_layers: list[str] = field(default_factory=list)
    frontend_layers_quantized: list[str] = field(default_factory=list)

    @property
    def present(self) -> bool:
        """True when the graph holds any QuantizeLinear/DequantizeLinear node."""
        return (self.quantize_nodes + self.dequantize_nodes) > 0


@dataclass
class CompatReport:
    """The result of :func:`check_tensorrt_compat`."""

    model_path: str
    tensorrt_version: str
    opset: int | None
    opset_imports: dict[str, int]
    ir_version: int
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    dynamic_dims: list[DynamicDim]
    profile: dict[str, int]
    op_histogram: dict[str, int]
    qdq: QDQSummary
    frontend_nodes: list[str]
    metadata: dict[str, str]
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity ``error``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        """Issues of severity ``warning``."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when no error-level issue was found."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (the ``--json`` output)."""
        data = asdict(self)
        data["ok"] = self.ok
        data["counts"] = {s: sum(1 for i in self.issues if i.severity == s) for s in SEVERITIES}
        data["qdq"]["present"] = self.qdq.present
        return data

    def to_json(self, *, indent: int = 2) -> str:
        """The report as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    def format_text(self) -> str:
        """A plain-text report (no colours), e.g. for a file in a deploy bundle."""
        lines = [
            f"TensorRT {self.tensorrt_version} compatibility of {self.model_path}",
            f"result: {'OK' if self.ok else 'NOT COMPATIBLE'} "
            f"({len(self.errors)} errors, {len(self.warnings)} warnings)",
            f"opset: {self.opset}  ir_version: {self.ir_version}",
            "profile: batch min={min} opt={opt} max={max}".format(**self.profile),
        ]
        for kind, tensors in (("input", self.inputs), ("output", self.outputs)):
            for t in tensors:
                shape = "?" if t.shape is None else "x".join("?" if d is None else str(d) for d in t.shape)
                lines.append(f"{kind}: {t.name} {DTYPE_FRIENDLY.get(t.dtype, t.dtype)} [{shape}]")
        q = self.qdq
        lines.append(
            f"qdq: {q.quantize_nodes} QuantizeLinear, {q.dequantize_nodes} DequantizeLinear, "
            f"{q.per_tensor} per-tensor, {q.per_axis} per-axis, "
            f"{len(q.quantized_layers)} quantized layers, {len(q.float_layers)} float layers"
        )
        lines.append("ops: " + ", ".join(f"{k}={v}" for k, v in sorted(self.op_histogram.items())))
        for issue in self.issues:
            where = f" [{issue.op_type} {issue.node}]" if issue.node else ""
            lines.append(f"{issue.severity.upper():7s} {issue.code}{where}: {issue.message}")
        return "\n".join(lines) + "\n"


def iter_error_lines(report: CompatReport, limit: int = 12) -> Iterator[str]:
    """Up to ``limit`` one-line descriptions of the report's errors (for exception messages)."""
    errors = report.errors
    for issue in errors[:limit]:
        where = f" [{issue.op_type} {issue.node}]" if issue.node else ""
        yield f"- {issue.code}{where}: {issue.message}"
    if len(errors) > limit:
        yield f"- ... and {len(errors) - limit} more (run `edgeemo export tensorrt check MODEL`)"
