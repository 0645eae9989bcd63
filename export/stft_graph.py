"""The student's convolution-STFT basis as a few ONNX nodes instead of a stored tensor.

The basis (``edgeemo.train.frontend.stft_kernel``: the real and imaginary DFT rows times a
periodic Hann window, ``[2 * (n_fft // 2 + 1), 1, n_fft]``) is 160,800 numbers for ``n_fft =
400``: more than the student's learned weights. It is a formula, so the exported graph computes
it from two ``Range`` nodes (about 20 nodes, no large initializer); ONNX Runtime folds them into a
constant when the session starts (``ORT_ENABLE_ALL``, as the SDK and the C library open models),
so inference runs the same convolution as before. The angle is reduced modulo ``n_fft`` in
integers before it becomes float32 (``2 pi ((k n) mod N) / N``), so the generated basis matches
the float64 formula to about 1e-6, closer than the float16 copy it replaces (about 1e-3).
"""

from __future__ import annotations

import numpy as np

from edgeemo.train.frontend import FrontendConfig, stft_kernel

from .metadata import FRONTEND_NODE_PREFIX

__all__ = ["STFT_KERNEL_SUFFIX", "generate_stft_kernel", "stft_kernel_nodes"]

#: The front end's STFT basis initializer in a torch export ends with this name.
STFT_KERNEL_SUFFIX = "frontend.stft_kernel"


def stft_kernel_nodes(output: str, n_fft: int, prefix: str = FRONTEND_NODE_PREFIX + "stft_basis/") -> tuple[list, list]:
    """ONNX nodes and (scalar or tiny) initializers that compute the ``[2 * n_bins, 1, n_fft]``
    float32 basis into ``output``."""
    from onnx import TensorProto, helper, numpy_helper

    n_bins = n_fft // 2 + 1
    consts = {
        "zero": np.array(0, np.int32), "one": np.array(1, np.int32), "n_fft": np.array(n_fft, np.int32),
        "n_bins": np.array(n_bins, np.int32), "axis0": np.array([0], np.int64), "axis1": np.array([1], np.int64),
        "step": np.array(2 * np.pi / n_fft, np.float32), "half": np.array(0.5, np.float32),
    }
    inits = [numpy_helper.from_array(v, prefix + k) for k, v in consts.items()]

    def c(name: str) -> str:
        return prefix + name

    def node(op: str, inputs: list[str], out: str, **attrs: object) -> object:
        return helper.make_node(op, inputs, [out] if out == output else [c(out)], name=c(out), **attrs)

    nodes = [
        node("Range", [c("zero"), c("n_fft"), c("one")], "n"),                    # [N] sample index
        node("Range", [c("zero"), c("n_bins"), c("one")], "k"),                   # [K] frequency bin
        node("Unsqueeze", [c("k"), c("axis1")], "k_col"),                         # [K, 1]
        node("Unsqueeze", [c("n"), c("axis0")], "n_row"),                         # [1, N]
        node("Mul", [c("k_col"), c("n_row")], "kn"),                              # [K, N] int32 (k n < 2^31)
        node("Mod", [c("kn"), c("n_fft")], "kn_mod"),                             # exact in integers
        node("Cast", [c("kn_mod")], "kn_float", to=TensorProto.FLOAT),
        node("Mul", [c("kn_float"), c("step")], "angle"),
        node("Cast", [c("n")], "n_float", to=TensorProto.FLOAT),
        node("Mul", [c("n_float"), c("step")], "window_angle"),
        node("Cos", [c("window_angle")], "window_cos"),
        node("Mul", [c("window_cos"), c("half")], "window_half"),
        node("Sub", [c("half"), c("window_half")], "window"),                     # periodic Hann [N]
        node("Cos", [c("angle")], "cos"),
        node("Sin", [c("angle")], "sin"),
        node("Mul", [c("cos"), c("window")], "real"),
        node("Mul", [c("sin"), c("window")], "sin_window"),
        node("Neg", [c("sin_window")], "imag"),
        node("Concat", [c("real"), c("imag")], "rows", axis=0),                   # [2K, N]
    ]
    nodes.append(helper.make_node("Unsqueeze", [c("rows"), c("axis1")], [output], name=c("basis")))  # [2K, 1, N]
    return nodes, inits


def generate_stft_kernel(proto: "onnx.ModelProto", frontend: FrontendConfig,  # noqa: F821
                         *, atol: float = 1e-6) -> bool:
    """Replace the stored STFT basis initializer of ``proto`` by :func:`stft_kernel_nodes` (in
    place). Only an initializer that *is* the basis of ``frontend`` is replaced (checked to
    ``atol``); returns whether one was."""
    from onnx import TensorProto, numpy_helper

    graph = proto.graph
    n_fft = frontend.n_fft
    n_bins = n_fft // 2 + 1
    for init in list(graph.initializer):
        if not init.name.endswith(STFT_KERNEL_SUFFIX) or init.data_type != TensorProto.FLOAT:
            continue
        if tuple(init.dims) != (2 * n_bins, 1, n_fft):
            continue
        stored = numpy_helper.to_array(init)
        if float(np.abs(stored - stft_kernel(frontend)).max()) > atol:
            continue
        nodes, inits = stft_kernel_nodes(init.name, n_fft)
        graph.initializer.remove(init)
        graph.initializer.extend(inits)
        for n in reversed(nodes):
            graph.node.insert(0, n)
        return True
    return False

