"""Parity of an exported ONNX model against the PyTorch student it came from."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ParityReport:
    """Differences between PyTorch and ONNX Runtime probabilities on the same windows."""

    n_windows: int
    max_abs_diff: float
    mean_abs_diff: float
    top1_agreement: float

    def ok(self, tolerance: float) -> bool:
        return self.max_abs_diff <= tolerance

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def onnx_probs(onnx_path: str | os.PathLike[str], windows: np.ndarray, num_threads: int = 1) -> np.ndarray:
    """``probs`` of an ONNX model on ``[N, window]`` float32 windows (plain ONNX Runtime)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = num_threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    return np.concatenate([
        session.run(["probs"], {"audio": windows[i : i + 32]})[0] for i in range(0, len(windows), 32)
    ])


def torch_probs(model: "torch.nn.Module", windows: np.ndarray) -> np.ndarray:  # noqa: F821
    import torch

    model.eval()
    with torch.no_grad():
        return np.concatenate([
            torch.softmax(model(torch.from_numpy(windows[i : i + 32]))["logits"], dim=1).numpy()
            for i in range(0, len(windows), 32)
        ])


def compare(reference: np.ndarray, candidate: np.ndarray) -> ParityReport:
    diff = np.abs(reference - candidate)
    return ParityReport(
        n_windows=int(reference.shape[0]),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        top1_agreement=float((reference.argmax(1) == candidate.argmax(1)).mean()),
    )


def check_parity(model: "torch.nn.Module", onnx_path: str | os.PathLike[str], windows: np.ndarray) -> ParityReport:  # noqa: F821
    """PyTorch vs ONNX Runtime on the same windows."""
    return compare(torch_probs(model, windows), onnx_probs(onnx_path, windows))
