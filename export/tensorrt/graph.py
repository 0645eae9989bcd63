"""A flattened, typed view of an ONNX model for the TensorRT check (``onnx`` passed in, not imported)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .report import DTYPE_NAMES

__all__ = ["QDQ_OPS", "GraphView", "attr", "node_label"]

QDQ_OPS = {"QuantizeLinear", "DequantizeLinear"}


class GraphView:
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
                if node.op_type in QDQ_OPS:
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


def attr(node: Any, name: str, onnx: Any, default: Any = None) -> Any:
    """The value of attribute ``name`` of ``node`` (bytes decoded), else ``default``."""
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return default


def node_label(node: Any) -> str:
    """A node's name, else its first output (for messages)."""
    return node.name or (node.output[0] if node.output else "<unnamed>")
