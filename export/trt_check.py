"""TensorRT compatibility check of an ONNX model, without TensorRT (only ``onnx`` is needed).

:func:`check_tensorrt_compat` walks every node of the graph (sub-graphs and model-local functions
included) and compares it with the table of what the TensorRT ONNX parser accepts
(``trt_support.json``: TensorRT 10.3, the version JetPack 6.1/6.2 ship). It reports, as
:class:`Issue` objects with a severity:

* operators: unknown or unsupported ops, custom domains (``com.microsoft`` ...), opset range;
* attributes: the restrictions that matter (Resize modes, pooling rank/dilations, constant axes ...);
* data types (through ``onnx.shape_inference``): float64, string, integer tensors into float-only ops;
* dynamic dimensions: only the batch dimension of an input may be dynamic, and it must fit the
  ``min/opt/max`` batch profile;
* INT8 explicit quantization: Q/DQ pairs, INT8 zero points equal to 0, valid per-channel axes,
  positive finite scales, INT32 (bias) and UINT8 Q/DQ, layers left in float, quantized front end.

The check is static: it does not prove that TensorRT will build the model, it catches what can be
seen in the file before a device is involved. ``edgeemo export check-tensorrt`` is its CLI.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from edgeemo._deps import require
from edgeemo.errors import ConfigError, ModelLoadError, ModelNotFoundError

__all__ = [
    "CompatReport",
    "DynamicDim",
    "Issue",
    "QDQSummary",
    "SupportTable",
    "TensorInfo",
    "check_tensorrt_compat",
    "load_support_table",
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
_WEIGHT_LAYERS = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1}
_QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}
_BINDING_TYPES = {"FP32", "FP16", "BF16", "INT32", "INT64", "INT8", "UINT8", "BOOL", "FP8", "INT4"}


# --------------------------------------------------------------------------- result types


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


# --------------------------------------------------------------------------- support table


@dataclass(frozen=True)
class SupportTable:
    """The parsed ``trt_support.json``."""

    tensorrt_version: str
    opset_min: int
    opset_max: int
    allowed_domains: frozenset[str]
    ops: dict[str, dict[str, Any]]
    source: dict[str, Any]
    raw: dict[str, Any]

    def op(self, op_type: str) -> dict[str, Any] | None:
        """The table row of ``op_type`` (``None`` when the table does not list it)."""
        return self.ops.get(op_type)


@lru_cache(maxsize=4)
def _load_table_cached(path: str | None) -> SupportTable:
    if path is None:
        text = resources.files(__package__ or "edgeemo.export").joinpath("trt_support.json").read_text("utf-8")
    else:
        text = Path(path).read_text("utf-8")
    raw = json.loads(text)
    return SupportTable(
        tensorrt_version=str(raw["tensorrt_version"]),
        opset_min=int(raw["opset"]["min"]),
        opset_max=int(raw["opset"]["max"]),
        allowed_domains=frozenset(raw["allowed_domains"]),
        ops=dict(raw["ops"]),
        source=dict(raw.get("source", {})),
        raw=raw,
    )


def load_support_table(path: str | Path | None = None) -> SupportTable:
    """Load the TensorRT ONNX operator table (the packaged ``trt_support.json`` by default)."""
    return _load_table_cached(None if path is None else str(path))


# --------------------------------------------------------------------------- graph view


class _Graph:
    """Flattened view of a model: nodes (with sub-graphs and local functions), types, constants."""

    def __init__(self, model: Any, onnx: Any) -> None:
        self.onnx = onnx
        self.model = model
        self.graph = model.graph
        self.functions = {(f.domain, f.name): f for f in model.functions}
        self.nodes: list[Any] = []
        self.function_nodes: set[int] = set()
        self._collect(self.graph.node, in_function=False, seen_functions=set())
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.graph_input_names = [i.name for i in self.graph.input if i.name not in self.initializers]
        self.graph_output_names = [o.name for o in self.graph.output]
        self.types: dict[str, int] = {}
        self.shapes: dict[str, tuple[int | str | None, ...] | None] = {}
        self._constant_values: dict[str, Any] = {}
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, list[Any]] = {}
        for node in self.nodes:
            for out in node.output:
                if out:
                    self.producer[out] = node
            for inp in node.input:
                if inp:
                    self.consumers.setdefault(inp, []).append(node)
        self.constants = self._constant_names()

    def _collect(self, nodes: Iterable[Any], *, in_function: bool, seen_functions: set[tuple[str, str]]) -> None:
        for node in nodes:
            self.nodes.append(node)
            if in_function:
                self.function_nodes.add(id(node))
            for attr in node.attribute:
                if attr.type == self.onnx_attr_type("GRAPH"):
                    self._collect(attr.g.node, in_function=in_function, seen_functions=seen_functions)
                elif attr.type == self.onnx_attr_type("GRAPHS"):
                    for g in attr.graphs:
                        self._collect(g.node, in_function=in_function, seen_functions=seen_functions)
            key = (node.domain, node.op_type)
            if key in self.functions and key not in seen_functions:
                seen_functions.add(key)
                self._collect(self.functions[key].node, in_function=True, seen_functions=seen_functions)

    def onnx_attr_type(self, name: str) -> int:
        return int(getattr(self.onnx.AttributeProto, name))

    def add_value_infos(self, model: Any) -> None:
        """Record element types and shapes from graph I/O, value_info and initializers."""
        g = model.graph
        for vi in list(g.input) + list(g.output) + list(g.value_info):
            tt = vi.type.tensor_type
            if vi.type.HasField("tensor_type"):
                if tt.elem_type:
                    self.types[vi.name] = tt.elem_type
                self.shapes[vi.name] = _shape_of(tt)
        for init in g.initializer:
            self.types[init.name] = init.data_type
            self.shapes[init.name] = tuple(int(d) for d in init.dims)
        for node in self.nodes:
            if node.op_type == "Constant" and node.output:
                for attr in node.attribute:
                    if attr.name == "value":
                        self.types.setdefault(node.output[0], attr.t.data_type)
                        self.shapes.setdefault(node.output[0], tuple(int(d) for d in attr.t.dims))

    def _constant_names(self) -> set[str]:
        """Names whose value is known at build time: initializers, Constant outputs, and outputs
        of nodes whose inputs are all constant (TensorRT folds those)."""
        const = set(self.initializers) - set(self.graph_input_names)
        changed = True
        while changed:
            changed = False
            for node in self.nodes:
                if id(node) in self.function_nodes or not node.output or node.output[0] in const:
                    continue
                if node.op_type in _QDQ_OPS:
                    continue  # a Q/DQ of a constant is a quantized weight, not a folded constant
                ins = [i for i in node.input if i]
                if node.op_type == "Constant" or (ins and all(i in const for i in ins)):
                    const.update(o for o in node.output if o)
                    changed = True
        return const

    def constant_value(self, name: str) -> Any | None:
        """The numpy value of an initializer or Constant output (``None`` if not directly stored)."""
        if name in self._constant_values:
            return self._constant_values[name]
        value = None
        numpy_helper = self.onnx.numpy_helper
        if name in self.initializers:
            value = numpy_helper.to_array(self.initializers[name])
        else:
            node = self.producer.get(name)
            if node is not None and node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        value = numpy_helper.to_array(attr.t)
        self._constant_values[name] = value
        return value

    def dtype(self, name: str) -> str | None:
        code = self.types.get(name)
        return DTYPE_NAMES.get(code, f"TYPE{code}") if code else None

    def rank(self, name: str) -> int | None:
        shape = self.shapes.get(name)
        return None if shape is None else len(shape)

    def ancestors(self, names: Iterable[str]) -> set[int]:
        """ids of all nodes upstream of the given tensor names (inclusive of their producers)."""
        seen: set[int] = set()
        stack = [n for n in names if n]
        visited: set[str] = set()
        while stack:
            name = stack.pop()
            if name in visited:
                continue
            visited.add(name)
            node = self.producer.get(name)
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            stack.extend(i for i in node.input if i)
        return seen


def _shape_of(tensor_type: Any) -> tuple[int | str | None, ...] | None:
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for d in tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param") and d.dim_param:
            dims.append(str(d.dim_param))
        else:
            dims.append(None)
    return tuple(dims)


def _attr(node: Any, name: str, onnx: Any, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return default


def _node_label(node: Any) -> str:
    return node.name or (node.output[0] if node.output else "<unnamed>")


# --------------------------------------------------------------------------- the checker


class _Checker:
    def __init__(self, g: _Graph, table: SupportTable, profile: dict[str, int]) -> None:
        self.g = g
        self.table = table
        self.profile = profile
        self.issues: list[Issue] = []
        self.onnx = g.onnx
        self.declared_float: set[str] = set()  # node names the exporter kept in float on purpose

    def add(self, severity: Severity, code: str, message: str, node: Any | None = None) -> None:
        self.issues.append(
            Issue(
                severity=severity,
                code=code,
                message=message,
                node=None if node is None else _node_label(node),
                op_type=None if node is None else node.op_type,
            )
        )

    # ---- opset and domains
    def check_opset(self) -> int | None:
        imports = {o.domain: int(o.version) for o in self.g.model.opset_import}
        opset = imports.get("", imports.get("ai.onnx"))
        t = self.table
        if opset is None:
            self.add("error", "opset", "the model imports no default (ai.onnx) opset")
        elif opset > t.opset_max:
            self.add(
                "error",
                "opset",
                f"opset {opset} is newer than TensorRT {t.tensorrt_version} parses (opset {t.opset_min}-{t.opset_max}); "
                f"re-export with opset_version={t.opset_max} (torch.onnx.export(..., opset_version={t.opset_max})) "
                "or convert with onnx.version_converter",
            )
        elif opset < t.opset_min:
            self.add("error", "opset", f"opset {opset} is older than TensorRT supports (>= {t.opset_min}); re-export")
        return opset

    def check_nodes(self) -> None:
        for node in self.g.nodes:  # function bodies and sub-graphs included
            domain = node.domain or ""
            if domain not in self.table.allowed_domains:
                if (node.domain, node.op_type) in self.g.functions:
                    self.add(
                        "info",
                        "local-function",
                        f"'{domain}::{node.op_type}' is a model-local function; TensorRT imports its body "
                        "(checked below) unless a plugin of that name is registered",
                        node,
                    )
                    continue
                hint = ""
                if domain == "com.microsoft":
                    hint = (
                        " (an ONNX Runtime contrib op: TensorRT does not parse it. For Q/DQ, quantize to int8 "
                        "with standard ops: no int16/uint16/int4 activations, UseQDQContribOps=False)"
                    )
                self.add(
                    "error",
                    "custom-domain",
                    f"operator '{domain}::{node.op_type}' is outside the ONNX standard domain; TensorRT "
                    f"would need a plugin for it{hint}",
                    node,
                )
                continue
            row = self.table.op(node.op_type)
            if row is None:
                self.add(
                    "error",
                    "unknown-op",
                    f"'{node.op_type}' is not in TensorRT {self.table.tensorrt_version}'s ONNX operator table",
                    node,
                )
                continue
            if not row.get("supported", False):
                note = row.get("restrictions", "")
                self.add(
                    "error",
                    "unsupported-op",
                    f"TensorRT {self.table.tensorrt_version} does not support '{node.op_type}'" + (f": {note}" if note else ""),
                    node,
                )
                continue
            if node.op_type not in _QDQ_OPS:
                self.check_dtype(node, row)
            for rule in row.get("rules", []):
                self.check_rule(node, rule)

    # ---- data types
    def _checked_tensor(self, node: Any, row: dict[str, Any]) -> str | None:
        spec = row.get("type_check", "input:0")
        if spec == "none":
            return None
        kind, _, idx = spec.partition(":")
        names = node.input if kind == "input" else node.output
        i = int(idx)
        return names[i] if i < len(names) and names[i] else None

    def check_dtype(self, node: Any, row: dict[str, Any]) -> None:
        name = self._checked_tensor(node, row)
        if name is None:
            return
        dtype = self.g.dtype(name)
        if dtype is None:
            return
        allowed = row.get("types", [])
        friendly = DTYPE_FRIENDLY.get(dtype, dtype)
        if dtype == "STRING":
            self.add("error", "dtype", f"'{name}' is a string tensor; TensorRT has no string type", node)
        elif dtype == "DOUBLE":
            if name in self.g.constants:
                self.add(
                    "warning",
                    "dtype",
                    f"constant '{name}' is float64: TensorRT casts DOUBLE to FLOAT with clamping; store it as float32",
                    node,
                )
            else:
                self.add(
                    "error",
                    "dtype",
                    f"'{name}' is a float64 activation; TensorRT computes in float32/float16 only: keep the "
                    "model in float32 (look for .double() or float64 numpy constants in the export)",
                    node,
                )
        elif allowed and dtype not in allowed:
            self.add(
                "error",
                "dtype",
                f"{node.op_type} gets {friendly} '{name}'; TensorRT {self.table.tensorrt_version} supports "
                + ", ".join(DTYPE_FRIENDLY.get(a, a) for a in allowed)
                + " for it",
                node,
            )

    # ---- attribute rules
    def check_rule(self, node: Any, rule: dict[str, Any]) -> None:
        kind = rule["kind"]
        severity: Severity = rule.get("severity", "error")
        onnx = self.onnx
        if kind == "attr_in":
            value = _attr(node, rule["attr"], onnx, rule.get("default"))
            if value not in rule["values"]:
                self.add(
                    severity,
                    "attribute",
                    f"{node.op_type} {rule['attr']}={value!r} is not supported by TensorRT "
                    f"(supported: {', '.join(map(repr, rule['values']))})",
                    node,
                )
        elif kind == "attr_dtype_in":
            code = _attr(node, rule["attr"], onnx)
            name = DTYPE_NAMES.get(int(code), str(code)) if code is not None else None
            if name is not None and name not in rule["values"]:
                self.add(
                    severity,
                    "dtype",
                    f"{node.op_type} to {DTYPE_FRIENDLY.get(name, name)} is not a TensorRT type "
                    f"(supported: {', '.join(DTYPE_FRIENDLY.get(v, v) for v in rule['values'])})",
                    node,
                )
        elif kind == "attr_absent":
            if _attr(node, rule["attr"], onnx) is not None:
                self.add(severity, "attribute", f"{node.op_type} attribute '{rule['attr']}' is not supported by TensorRT", node)
        elif kind == "all_ones":
            value = _attr(node, rule["attr"], onnx)
            if value and any(int(v) != 1 for v in value):
                self.add(severity, "attribute", f"{node.op_type} {rule['attr']}={list(value)}: TensorRT needs all ones", node)
        elif kind == "spatial_rank":
            kernel = _attr(node, "kernel_shape", onnx)
            rank = len(kernel) if kernel else None
            if rank is None and node.input:
                r = self.g.rank(node.input[0])
                rank = None if r is None else r - 2
            if rank is not None and rank not in rule["values"]:
                note = rule.get("note", "")
                self.add(
                    severity,
                    "attribute",
                    f"{rank}-D {node.op_type}: TensorRT supports {' or '.join(f'{v}-D' for v in rule['values'])}"
                    + (f"; {note}" if note else ""),
                    node,
                )
        elif kind == "const_input":
            idx = int(rule["index"])
            if idx < len(node.input) and node.input[idx] and node.input[idx] not in self.g.constants:
                self.add(
                    severity,
                    "attribute",
                    f"{node.op_type} input '{rule['what']}' ({node.input[idx]}) must be a build-time constant "
                    "(an initializer) for TensorRT",
                    node,
                )
        elif kind == "unused_output":
            idx = int(rule["index"])
            if idx < len(node.output) and node.output[idx]:
                name = node.output[idx]
                used = name in self.g.consumers or name in self.g.graph_output_names
                self.add(
                    "error" if used else "warning",
                    "attribute",
                    f"{node.op_type} output '{rule['what']}' is not supported by TensorRT"
                    + ("" if used else " (declared but unused: drop it from the node)"),
                    node,
                )
        elif kind == "einsum_simple":
            equation = str(_attr(node, "equation", onnx, "")).replace(" ", "")
            lhs = equation.split("->")[0]
            if "..." in equation:
                self.add(severity, "attribute", f"Einsum '{equation}': ellipsis is not supported by TensorRT 10.3", node)
            elif any(len(set(term)) != len(term) for term in lhs.split(",")):
                self.add(severity, "attribute", f"Einsum '{equation}': diagonal (repeated index) is not supported by TensorRT 10.3", node)

    # ---- dynamic dims and graph I/O
    def check_io(self) -> tuple[list[TensorInfo], list[TensorInfo], list[DynamicDim]]:
        g = self.g
        inputs = [TensorInfo(n, g.dtype(n) or "UNKNOWN", g.shapes.get(n)) for n in g.graph_input_names]
        outputs = [TensorInfo(n, g.dtype(n) or "UNKNOWN", g.shapes.get(n)) for n in g.graph_output_names]
        dynamic: list[DynamicDim] = []
        lo, opt, hi = self.profile["min"], self.profile["opt"], self.profile["max"]
        for kind, tensors in (("input", inputs), ("output", outputs)):
            for t in tensors:
                if t.dtype != "UNKNOWN" and t.dtype not in _BINDING_TYPES:
                    self.add(
                        "error",
                        "io-dtype",
                        f"graph {kind} '{t.name}' is {DTYPE_FRIENDLY.get(t.dtype, t.dtype)}; TensorRT bindings are "
                        "float32/float16/bfloat16/int32/int64/int8/uint8/bool",
                    )
                if t.shape is None:
                    sev: Severity = "error" if kind == "input" else "warning"
                    self.add(sev, "dynamic-dim", f"graph {kind} '{t.name}' has no declared shape (rank unknown)")
                    continue
                for axis, dim in enumerate(t.shape):
                    if isinstance(dim, int):
                        continue
                    dynamic.append(DynamicDim(t.name, axis, dim, kind))  # type: ignore[arg-type]
                    if axis == 0:
                        continue
                    if kind == "input":
                        self.add(
                            "error",
                            "dynamic-dim",
                            f"input '{t.name}' dim {axis} ({dim or '?'}) is dynamic; only the batch dim may be "
                            "dynamic (TensorRT gets one profile over the batch): export with a fixed window",
                        )
                    else:
                        self.add(
                            "warning",
                            "dynamic-dim",
                            f"output '{t.name}' dim {axis} ({dim or '?'}) is not static; expected [batch, N]",
                        )
                if kind == "input" and t.shape:
                    batch = t.shape[0]
                    if isinstance(batch, int) and not (lo == opt == hi == batch):
                        self.add(
                            "error",
                            "batch-profile",
                            f"input '{t.name}' has a fixed batch of {batch} but the profile asks for "
                            f"min={lo} opt={opt} max={hi}: re-export with a dynamic batch (with the dynamo "
                            "exporter use an example batch >= 2 or dynamic_shapes) or build with "
                            f"min=opt=max={batch}",
                        )
                if kind == "input" and len(t.shape) == 0:
                    self.add("warning", "dynamic-dim", f"input '{t.name}' is a scalar; no batch dimension")
        return inputs, outputs, dynamic

    def check_metadata(self, inputs: list[TensorInfo], metadata: dict[str, str]) -> None:
        window = metadata.get("window_samples")
        audio = next((t for t in inputs if t.name == "audio"), None)
        if window and audio and audio.shape and len(audio.shape) == 2 and isinstance(audio.shape[1], int):
            if str(audio.shape[1]) != window.strip():
                self.add(
                    "warning",
                    "metadata",
                    f"metadata window_samples={window} but input 'audio' is {audio.shape[1]} samples wide",
                )

    # ---- explicit quantization
    def frontend(self, metadata: dict[str, str]) -> set[int]:
        """Nodes of the in-graph front end: every node upstream of (and including) a ``Log``, plus
        nodes named with the model's ``frontend_node_prefix`` metadata (edgeemo exports: ``frontend/``)."""
        logs = [n for n in self.g.nodes if n.op_type == "Log" and id(n) not in self.g.function_nodes]
        ids = self.g.ancestors(o for n in logs for o in n.output) if logs else set()
        prefix = metadata.get("frontend_node_prefix", "").strip()
        if prefix:
            ids |= {id(n) for n in self.g.nodes if n.name.startswith(prefix) and n.op_type not in _QDQ_OPS}
        return ids

    def _scale_info(self, node: Any) -> tuple[Any | None, bool]:
        scale_name = node.input[1] if len(node.input) > 1 else ""
        value = self.g.constant_value(scale_name) if scale_name else None
        return value, scale_name in self.g.constants

    def check_qdq(self, frontend_ids: set[int]) -> QDQSummary:
        import numpy as np

        g = self.g
        summary = QDQSummary()
        zp_types: Counter[str] = Counter()
        for node in g.nodes:
            if node.op_type not in _QDQ_OPS or (node.domain or "") not in self.table.allowed_domains:
                continue
            is_q = node.op_type == "QuantizeLinear"
            if is_q:
                summary.quantize_nodes += 1
            else:
                summary.dequantize_nodes += 1
            x = node.input[0]
            scale, scale_const = self._scale_info(node)
            zp_name = node.input[2] if len(node.input) > 2 and node.input[2] else None

            # quantized type: a DQ's input type; a Q's zero-point type (none means uint8, opset < 21)
            if not is_q and g.dtype(x) is not None:
                qtype = g.dtype(x)
            elif zp_name is not None:
                qtype = g.dtype(zp_name)
            else:
                qtype = "UINT8" if is_q else None
            zp_types[qtype or "UNKNOWN"] += 1
            consumer_ops = [c for c in g.consumers.get(node.output[0], [])] if node.output else []
            if qtype == "UINT8":
                why = " (QuantizeLinear without a zero point defaults to uint8)" if is_q and zp_name is None else ""
                self.add(
                    "error",
                    "qdq-uint8",
                    f"{node.op_type} is uint8{why}: TensorRT supports only int8 Q/DQ; quantize with "
                    "activation_type=QuantType.QInt8, weight_type=QuantType.QInt8",
                    node,
                )
            elif qtype == "INT32":
                is_bias = any(c.op_type in ("Conv", "ConvTranspose", "Gemm") and len(c.input) > 2 and c.input[2] == node.output[0] for c in consumer_ops)
                self.add(
                    "error",
                    "qdq-int32",
                    f"DequantizeLinear of int32 '{x}'"
                    + (" (a quantized bias)" if is_bias else "")
                    + ": TensorRT rejects it ('only activation types allowed as input to this layer'); "
                    "keep biases in float: quantize_static(..., extra_options={'QuantizeBias': False})",
                    node,
                )
            elif qtype in ("FP8", "INT4"):
                self.add(
                    "warning",
                    "qdq-dtype",
                    f"{node.op_type} in {DTYPE_FRIENDLY.get(qtype, qtype)}: needs a GPU with that support "
                    "(FP8: Ada/Hopper, not Jetson Orin; INT4: weight-only on MatMul/Gemm)",
                    node,
                )
            elif qtype not in ("INT8", None):
                self.add("error", "qdq-dtype", f"{node.op_type} quantizes to {qtype}; TensorRT Q/DQ is int8", node)

            # zero point must be zero
            if zp_name is not None:
                zp = g.constant_value(zp_name)
                if zp is None:
                    self.add("error", "qdq-zero-point", f"zero point '{zp_name}' is not a constant", node)
                elif np.any(np.asarray(zp) != 0):
                    vals = np.unique(np.asarray(zp)).tolist()[:5]
                    self.add(
                        "error",
                        "qdq-zero-point",
                        f"zero point of {node.op_type} is {vals}, not 0: TensorRT supports only symmetric "
                        "quantization; quantize with extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True}",
                        node,
                    )
                if scale is not None and zp is not None and np.asarray(zp).shape != np.asarray(scale).shape:
                    self.add("error", "qdq-shape", "zero point and scale have different shapes", node)

            # scales
            if scale is None:
                if not scale_const:
                    self.add(
                        "warning",
                        "qdq-scale",
                        f"scale of {node.op_type} is computed at run time; TensorRT needs build-time constant scales",
                        node,
                    )
            else:
                s = np.asarray(scale, dtype=np.float64)
                if not np.all(np.isfinite(s)) or np.any(s <= 0):
                    self.add("error", "qdq-scale", f"scale of {node.op_type} has non-positive or non-finite values", node)
            per_axis = scale is not None and np.asarray(scale).size > 1
            if per_axis:
                summary.per_axis += 1
                self._check_axis(node, np.asarray(scale), is_q)
            elif scale is not None:
                summary.per_tensor += 1
                if np.asarray(scale).ndim > 1:
                    self.add("warning", "qdq-shape", "per-tensor scale should be a scalar", node)

            # pairing
            if is_q:
                out = node.output[0]
                if out in g.graph_output_names:
                    self.add("error", "qdq-pairing", "QuantizeLinear output is a graph output (int8 network output)", node)
                for c in consumer_ops:
                    if c.op_type != "DequantizeLinear":
                        self.add(
                            "error",
                            "qdq-pairing",
                            f"QuantizeLinear feeds {c.op_type} '{_node_label(c)}' directly; TensorRT needs each "
                            "QuantizeLinear followed by a DequantizeLinear",
                            node,
                        )
                    else:
                        self._compare_pair(node, c)
            else:
                src = g.producer.get(x)
                if src is not None and src.op_type == "QuantizeLinear":
                    pass
                elif x in g.constants or x in g.initializers:
                    vals = g.constant_value(x)
                    if vals is not None and g.dtype(x) == "INT8" and np.any(np.asarray(vals) == -128):
                        self.add(
                            "warning",
                            "qdq-range",
                            f"int8 weight '{x}' uses -128; TensorRT's weight range is [-127, 127] "
                            "(quantize weights symmetrically: WeightSymmetric=True)",
                            node,
                        )
                elif x in g.graph_input_names:
                    self.add("error", "qdq-pairing", f"DequantizeLinear of graph input '{x}': int8 network inputs are not supported here", node)
                else:
                    self.add(
                        "error",
                        "qdq-pairing",
                        f"DequantizeLinear input '{x}' is neither a QuantizeLinear output nor a constant",
                        node,
                    )
        summary.zero_point_types = dict(zp_types)
        if summary.present:
            self._check_layers(summary, frontend_ids)
        return summary

    def _compare_pair(self, q: Any, dq: Any) -> None:
        import numpy as np

        if q.input[1:3] == dq.input[1:3]:
            return
        qs, _ = self._scale_info(q)
        ds, _ = self._scale_info(dq)
        if qs is not None and ds is not None and (
            np.asarray(qs).shape != np.asarray(ds).shape or not np.allclose(qs, ds, rtol=1e-6, atol=0)
        ):
            self.add("warning", "qdq-pairing", f"Q/DQ pair '{_node_label(q)}' -> '{_node_label(dq)}' use different scales", dq)

    def _check_axis(self, node: Any, scale: Any, is_q: bool) -> None:
        g = self.g
        x = node.input[0]
        axis = int(_attr(node, "axis", self.onnx, 1))
        rank = g.rank(x)
        shape = g.shapes.get(x)
        if rank is not None:
            if not -rank <= axis < rank:
                self.add("error", "qdq-axis", f"per-channel axis {axis} is out of range for rank-{rank} '{x}'", node)
                return
            axis %= rank
            if shape is not None and isinstance(shape[axis], int) and shape[axis] != scale.size:
                self.add(
                    "error",
                    "qdq-axis",
                    f"per-channel axis {axis} of '{x}' has {shape[axis]} channels but {scale.size} scales",
                    node,
                )
        # per-axis is for weights only
        source = x
        if not is_q:
            prod = g.producer.get(x)
            if prod is not None and prod.op_type == "QuantizeLinear":
                source = prod.input[0]
        if source not in g.constants:
            self.add(
                "error",
                "qdq-axis",
                f"per-channel quantization of activation '{source}': TensorRT supports per-channel scales only "
                "for weights; use per-tensor scales for activations",
                node,
            )
            return
        if is_q or rank is None:
            return
        for c in g.consumers.get(node.output[0], []):
            if len(c.input) < 2 or c.input[1] != node.output[0]:
                continue
            expected: int | None = None
            if c.op_type == "Conv":
                expected = 0
            elif c.op_type == "ConvTranspose":
                expected = 1
            elif c.op_type == "Gemm":
                expected = 0 if int(_attr(c, "transB", self.onnx, 0)) else 1
            elif c.op_type == "MatMul":
                expected = rank - 1
            if expected is not None and axis != expected:
                sev: Severity = "error" if c.op_type in ("Conv", "ConvTranspose") else "warning"
                self.add(
                    sev,
                    "qdq-axis",
                    f"per-channel axis {axis} of the {c.op_type} weight '{x}' is not its output-channel axis "
                    f"({expected}) that TensorRT expects",
                    node,
                )

    def _source_is_dq(self, name: str) -> bool:
        prod = self.g.producer.get(name)
        return prod is not None and prod.op_type == "DequantizeLinear"

    def _check_layers(self, summary: QDQSummary, frontend_ids: set[int]) -> None:
        g = self.g
        for node in g.nodes:
            if node.op_type in _QDQ_OPS:
                continue
            in_frontend = id(node) in frontend_ids
            if in_frontend and any(self._source_is_dq(i) for i in node.input if i):
                summary.frontend_layers_quantized.append(_node_label(node))
                self.add(
                    "warning",
                    "quantized-frontend",
                    f"front-end {node.op_type} '{_node_label(node)}' runs on INT8-quantized inputs; "
                    "quantizing the log-mel front end wrecks it (see PITFALLS): exclude it (nodes_to_exclude)",
                    node,
                )
            widx = _WEIGHT_LAYERS.get(node.op_type)
            if widx is None or len(node.input) <= widx:
                continue
            weight = node.input[widx]
            if self._source_is_dq(weight):
                summary.quantized_layers.append(_node_label(node))
                if not self._source_is_dq(node.input[0]) and not in_frontend:
                    self.add(
                        "warning",
                        "partially-quantized",
                        f"{node.op_type} '{_node_label(node)}' has quantized weights but a float input; "
                        "TensorRT cannot run it in INT8 (add a Q/DQ pair on its input)",
                        node,
                    )
            elif weight in g.constants:
                summary.float_layers.append(_node_label(node))
                if in_frontend:
                    self.add(
                        "info",
                        "float-frontend",
                        f"front-end {node.op_type} '{_node_label(node)}' stays in float (as intended)",
                        node,
                    )
                elif node.name in self.declared_float:
                    self.add(
                        "info",
                        "declared-float-layer",
                        f"{node.op_type} '{_node_label(node)}' is kept in float by the exporter "
                        "(metadata 'int8_float_nodes'); TensorRT runs it in FP32",
                        node,
                    )
                else:
                    self.add(
                        "warning",
                        "unquantized-layer",
                        f"{node.op_type} '{_node_label(node)}' has float weights in an INT8 model; it will run "
                        "in FP32 (or FP16 if allowed)",
                        node,
                    )


# --------------------------------------------------------------------------- entry point


def _validate_profile(min_batch: int, opt_batch: int, max_batch: int) -> dict[str, int]:
    for name, v in (("min_batch", min_batch), ("opt_batch", opt_batch), ("max_batch", max_batch)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{name} must be an integer, got {v!r}")
    if not 1 <= min_batch <= opt_batch <= max_batch:
        raise ConfigError(
            f"the batch profile needs 1 <= min <= opt <= max, got min={min_batch} opt={opt_batch} max={max_batch}"
        )
    return {"min": min_batch, "opt": opt_batch, "max": max_batch}


def _load_model(onnx: Any, path: Path) -> Any:
    if not path.is_file():
        raise ModelNotFoundError(f"ONNX model not found: {path}")
    try:
        return onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ...
        raise ModelLoadError(f"{path} is not a readable ONNX model: {exc}") from exc


def check_tensorrt_compat(
    onnx_path: str | Path,
    *,
    min_batch: int = 1,
    opt_batch: int = 1,
    max_batch: int = 8,
    table: SupportTable | None = None,
) -> CompatReport:
    """Check an ONNX model against what TensorRT's ONNX parser accepts, without TensorRT.

    Args:
        onnx_path: the model file.
        min_batch, opt_batch, max_batch: the optimization profile over the batch dimension that
            the engine will be built with (``1 <= min <= opt <= max``).
        table: another support table (default: the packaged TensorRT 10.3 table).

    Returns:
        A :class:`CompatReport`; ``report.ok`` is False when any error-level issue was found.

    Raises:
        ConfigError: an invalid batch profile.
        ModelNotFoundError, ModelLoadError: the file is missing or not ONNX.
        MissingDependencyError: ``onnx`` is not installed (``edgeemo[export]``).
    """
    onnx = require("onnx", purpose="checking a model for TensorRT")
    import onnx.numpy_helper  # noqa: F401  (sub-modules used through the onnx namespace)
    import onnx.shape_inference  # noqa: F401

    profile = _validate_profile(min_batch, opt_batch, max_batch)
    table = table or load_support_table()
    path = Path(onnx_path)
    model = _load_model(onnx, path)
    g = _Graph(model, onnx)
    checker = _Checker(g, table, profile)
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=True)
    except Exception as exc:  # shape inference is best effort
        inferred = model
        checker.add("warning", "shape-inference", f"ONNX shape inference failed ({exc}); dtype checks are partial")
    g.add_value_infos(model)
    g.add_value_infos(inferred)

    opset = checker.check_opset()
    checker.check_nodes()
    inputs, outputs, dynamic = checker.check_io()
    metadata = {p.key: p.value for p in model.metadata_props}
    checker.check_metadata(inputs, metadata)
    frontend_ids = checker.frontend(metadata)
    checker.declared_float = {n for n in metadata.get("int8_float_nodes", "").split(",") if n}
    qdq = checker.check_qdq(frontend_ids)

    histogram: Counter[str] = Counter()
    for node in g.nodes:
        key = node.op_type if (node.domain or "") in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
        histogram[key] += 1
    order = {s: i for i, s in enumerate(SEVERITIES)}
    issues = sorted(checker.issues, key=lambda i: order[i.severity])
    return CompatReport(
        model_path=str(path),
        tensorrt_version=table.tensorrt_version,
        opset=opset,
        opset_imports={o.domain or "ai.onnx": int(o.version) for o in model.opset_import},
        ir_version=int(model.ir_version),
        inputs=inputs,
        outputs=outputs,
        dynamic_dims=dynamic,
        profile=profile,
        op_histogram=dict(sorted(histogram.items())),
        qdq=qdq,
        frontend_nodes=[_node_label(n) for n in g.nodes if id(n) in frontend_ids],
        metadata=metadata,
        issues=issues,
    )


def iter_error_lines(report: CompatReport, limit: int = 12) -> Iterator[str]:
    """Up to ``limit`` one-line descriptions of the report's errors (for exception messages)."""
    errors = report.errors
    for issue in errors[:limit]:
        where = f" [{issue.op_type} {issue.node}]" if issue.node else ""
        yield f"- {issue.code}{where}: {issue.message}"
    if len(errors) > limit:
        yield f"- ... and {len(errors) - limit} more (run `edgeemo export check-tensorrt MODEL`)"
