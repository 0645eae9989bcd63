"""TensorRT compatibility check of an ONNX model, without TensorRT (only ``onnx`` is needed).

:func:`check_tensorrt_compat` walks every node of the graph (sub-graphs and model-local functions
included) and compares it with the table of what the TensorRT ONNX parser accepts
(``trt_support.json``: TensorRT 10.3, the version JetPack 6.1/6.2 ship). It reports, as
:class:`~.report.Issue` objects with a severity:

* operators: unknown or unsupported ops, custom domains (``com.microsoft`` ...), opset range;
* attributes: the restrictions that matter (Resize modes, pooling rank/dilations, constant axes ...);
* data types (through ``onnx.shape_inference``): float64, string, integer tensors into float-only ops;
* dynamic dimensions: only the batch dimension of an input may be dynamic, and it must fit the
  ``min/opt/max`` batch profile;
* INT8 explicit quantization: Q/DQ pairs, INT8 zero points equal to 0, valid per-channel axes,
  positive finite scales, INT32 (bias) and UINT8 Q/DQ, layers left in float, quantized front end.

The check is static: it does not prove that TensorRT will build the model, it catches what can be
seen in the file before a device is involved. ``edgeemo export tensorrt check`` is its CLI.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from edgeemo._deps import require
from edgeemo.contract import INPUT_NAME, KEY_FRONTEND_NODE_PREFIX, KEY_INT8_FLOAT_NODES, KEY_WINDOW_SAMPLES
from edgeemo.errors import ConfigError, ModelLoadError, ModelNotFoundError

from .graph import QDQ_OPS, GraphView, attr, node_label
from .report import (
    DTYPE_FRIENDLY,
    DTYPE_NAMES,
    SEVERITIES,
    CompatReport,
    DynamicDim,
    Issue,
    QDQSummary,
    Severity,
    TensorInfo,
)
from .support import SupportTable, load_support_table

__all__ = ["check_tensorrt_compat"]

_WEIGHT_LAYERS = {"Conv": 1, "ConvTranspose": 1, "Gemm": 1, "MatMul": 1}
_BINDING_TYPES = {"FP32", "FP16", "BF16", "INT32", "INT64", "INT8", "UINT8", "BOOL", "FP8", "INT4"}


# --------------------------------------------------------------------------- the checker


class _Checker:
    def __init__(self, g: GraphView, table: SupportTable, profile: dict[str, int]) -> None:
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
                node=None if node is None else node_label(node),
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
            if node.op_type not in QDQ_OPS:
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
            value = attr(node, rule["attr"], onnx, rule.get("default"))
            if value not in rule["values"]:
                self.add(
                    severity,
                    "attribute",
                    f"{node.op_type} {rule['attr']}={value!r} is not supported by TensorRT "
                    f"(supported: {', '.join(map(repr, rule['values']))})",
                    node,
                )
        elif kind == "attr_dtype_in":
            code = attr(node, rule["attr"], onnx)
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
            if attr(node, rule["attr"], onnx) is not None:
                self.add(severity, "attribute", f"{node.op_type} attribute '{rule['attr']}' is not supported by TensorRT", node)
        elif kind == "all_ones":
            value = attr(node, rule["attr"], onnx)
            if value and any(int(v) != 1 for v in value):
                self.add(severity, "attribute", f"{node.op_type} {rule['attr']}={list(value)}: TensorRT needs all ones", node)
        elif kind == "spatial_rank":
            kernel = attr(node, "kernel_shape", onnx)
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
            equation = str(attr(node, "equation", onnx, "")).replace(" ", "")
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
        window = metadata.get(KEY_WINDOW_SAMPLES)
        audio = next((t for t in inputs if t.name == INPUT_NAME), None)
        if window and audio and audio.shape and len(audio.shape) == 2 and isinstance(audio.shape[1], int):
            if str(audio.shape[1]) != window.strip():
                self.add(
                    "warning",
                    "metadata",
                    f"metadata {KEY_WINDOW_SAMPLES}={window} but input '{INPUT_NAME}' is {audio.shape[1]} samples wide",
                )

    # ---- explicit quantization
    def frontend(self, metadata: dict[str, str]) -> set[int]:
        """Nodes of the in-graph front end: every node upstream of (and including) a ``Log``, plus
        nodes named with the model's ``frontend_node_prefix`` metadata (edgeemo exports: ``frontend/``).
        The ``Log`` of an output calibration (``calibration/...``, after the probabilities) is not a
        front end."""
        from ..calibrate import NODE_PREFIX as CALIBRATION_PREFIX

        logs = [n for n in self.g.nodes if n.op_type == "Log" and id(n) not in self.g.function_nodes
                and not n.name.startswith(CALIBRATION_PREFIX)]
        ids = self.g.ancestors(o for n in logs for o in n.output) if logs else set()
        prefix = metadata.get(KEY_FRONTEND_NODE_PREFIX, "").strip()
        if prefix:
            ids |= {id(n) for n in self.g.nodes if n.name.startswith(prefix) and n.op_type not in QDQ_OPS}
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
            if node.op_type not in QDQ_OPS or (node.domain or "") not in self.table.allowed_domains:
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
                            f"QuantizeLinear feeds {c.op_type} '{node_label(c)}' directly; TensorRT needs each "
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
            self.add("warning", "qdq-pairing", f"Q/DQ pair '{node_label(q)}' -> '{node_label(dq)}' use different scales", dq)

    def _check_axis(self, node: Any, scale: Any, is_q: bool) -> None:
        g = self.g
        x = node.input[0]
        axis = int(attr(node, "axis", self.onnx, 1))
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
                expected = 0 if int(attr(c, "transB", self.onnx, 0)) else 1
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
            if node.op_type in QDQ_OPS:
                continue
            in_frontend = id(node) in frontend_ids
            if in_frontend and any(self._source_is_dq(i) for i in node.input if i):
                summary.frontend_layers_quantized.append(node_label(node))
                self.add(
                    "warning",
                    "quantized-frontend",
                    f"front-end {node.op_type} '{node_label(node)}' runs on INT8-quantized inputs; "
                    "quantizing the log-mel front end wrecks it (see PITFALLS): exclude it (nodes_to_exclude)",
                    node,
                )
            widx = _WEIGHT_LAYERS.get(node.op_type)
            if widx is None or len(node.input) <= widx:
                continue
            weight = node.input[widx]
            if self._source_is_dq(weight):
                summary.quantized_layers.append(node_label(node))
                if not self._source_is_dq(node.input[0]) and not in_frontend:
                    self.add(
                        "warning",
                        "partially-quantized",
                        f"{node.op_type} '{node_label(node)}' has quantized weights but a float input; "
                        "TensorRT cannot run it in INT8 (add a Q/DQ pair on its input)",
                        node,
                    )
            elif weight in g.constants:
                summary.float_layers.append(node_label(node))
                if in_frontend:
                    self.add(
                        "info",
                        "float-frontend",
                        f"front-end {node.op_type} '{node_label(node)}' stays in float (as intended)",
                        node,
                    )
                elif node.name in self.declared_float:
                    self.add(
                        "info",
                        "declared-float-layer",
                        f"{node.op_type} '{node_label(node)}' is kept in float by the exporter "
                        f"(metadata '{KEY_INT8_FLOAT_NODES}'); TensorRT runs it in FP32",
                        node,
                    )
                else:
                    self.add(
                        "warning",
                        "unquantized-layer",
                        f"{node.op_type} '{node_label(node)}' has float weights in an INT8 model; it will run "
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
    g = GraphView(model, onnx)
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
    checker.declared_float = {n for n in metadata.get(KEY_INT8_FLOAT_NODES, "").split(",") if n}
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
        frontend_nodes=[node_label(n) for n in g.nodes if id(n) in frontend_ids],
        metadata=metadata,
        issues=issues,
    )
