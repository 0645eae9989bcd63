"""Temperature calibration of a model's ``probs``, written into the ONNX graph itself.

Everything works on arrays, so any source of held-out predictions can be used (the bundled model's
dev/test actors, out-of-fold predictions of a five-fold recipe):

* :func:`fit_temperature` ``(probs, labels, *, groups=None)`` -> ``T``: minimises the negative
  log-likelihood of ``softmax(log(p) / T)``. With ``groups`` the rows are *windows* and a clip's
  probability is the mean of its calibrated windows, as ``Recognizer.classify`` computes it;
* :func:`calibrate_probs` ``(probs, T)``: ``softmax(log(max(p, 1e-12)) / T)`` (what the graph does);
* :func:`clip_probs` ``(probs, groups)``: mean of the rows of each group;
* :func:`expected_calibration_error` ``(probs, labels, n_bins=10)`` and :func:`reliability`
  (the per-bin numbers of a reliability diagram);
* :func:`nll` and :func:`accuracy`;
* :func:`apply_temperature` ``(in_onnx, out_onnx, T, ...)``: graph surgery after ``probs``:
  ``probs = Softmax(Log(Max(probs_uncalibrated, 1e-12)) / T)``; the former output stays available as
  ``probs_uncalibrated`` and the ``calibration`` metadata key records ``T`` and the fit
  (:func:`format_calibration` / :func:`parse_calibration`). Python and C++ then read the same
  calibrated ``probs`` without code of their own.
* :func:`window_probs` ``(model, waves)``: the *uncalibrated* window probabilities of a model on
  whole clips (windows as ``classify`` cuts them) and each window's clip index.

``labels`` are integer class indices in the model's label order.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeemo import contract
from edgeemo.errors import ConfigError

__all__ = [
    "PROB_FLOOR",
    "TEMPERATURE_NODE",
    "Reliability",
    "calibrate_probs",
    "clip_probs",
    "fit_temperature",
    "nll",
    "accuracy",
    "expected_calibration_error",
    "reliability",
    "apply_temperature",
    "format_calibration",
    "parse_calibration",
    "window_probs",
]

PROB_FLOOR = 1e-12
"""Probabilities are clamped to this before the logarithm (in the graph and here)."""
NODE_PREFIX = "calibration/"
TEMPERATURE_NODE = NODE_PREFIX + "temperature"
"""Name of the scalar initializer holding ``T`` in a calibrated graph."""
T_BOUNDS = (0.05, 20.0)


def _as_probs(probs: np.ndarray) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
        raise ConfigError(f"probs must be a non-empty [N, n_labels] array, not shape {p.shape}")
    if not np.isfinite(p).all():
        raise ConfigError("probs holds NaN or Inf")
    return p


def _as_labels(labels: np.ndarray, n: int, n_labels: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.shape != (n,) or y.dtype.kind not in "iu":
        raise ConfigError(f"labels must be {n} integer class indices, not {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= n_labels):
        raise ConfigError(f"labels must lie in [0, {n_labels}), not [{y.min()}, {y.max()}]")
    return y.astype(np.int64)


def calibrate_probs(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(max(probs, 1e-12)) / T)`` row-wise, float64 (what a calibrated graph does)."""
    p = _as_probs(probs)
    z = np.log(np.maximum(p, PROB_FLOOR)) / float(temperature)
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def clip_probs(probs: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the rows of each group: ``(clip_probs [G, C], first_row_index [G])``, groups in
    order of first appearance."""
    p = np.asarray(probs, dtype=np.float64)
    g = np.asarray(groups)
    if g.shape != (p.shape[0],):
        raise ConfigError(f"groups must have one entry per row ({p.shape[0]}), not shape {g.shape}")
    _, first, inverse = np.unique(g, return_index=True, return_inverse=True)
    sums = np.zeros((first.size, p.shape[1]))
    np.add.at(sums, inverse, p)
    counts = np.bincount(inverse, minlength=first.size)[:, None]
    order = np.argsort(first)
    return (sums / counts)[order], first[order]


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of the true labels (probabilities floored at 1e-12)."""
    p = _as_probs(probs)
    y = _as_labels(labels, p.shape[0], p.shape[1])
    return float(-np.mean(np.log(np.maximum(p[np.arange(y.size), y], PROB_FLOOR))))


def accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose argmax is the label."""
    p = _as_probs(probs)
    y = _as_labels(labels, p.shape[0], p.shape[1])
    return float(np.mean(p.argmax(axis=1) == y))


def _objective(p: np.ndarray, y: np.ndarray, groups: np.ndarray | None) -> Callable[[float], float]:
    if groups is None:
        return lambda t: nll(calibrate_probs(p, t), y)
    g = np.asarray(groups)
    _, first = clip_probs(p[:, :1], g)
    y_clip = y[first]
    return lambda t: nll(clip_probs(calibrate_probs(p, t), g)[0], y_clip)


def fit_temperature(
    probs: np.ndarray,
    labels: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    bounds: tuple[float, float] = T_BOUNDS,
) -> float:
    """The temperature ``T`` in ``bounds`` that minimises the NLL of ``softmax(log(p) / T)``.

    ``probs`` are *uncalibrated* probabilities ``[N, C]``, ``labels`` their class indices ``[N]``.
    With ``groups`` (``[N]``, e.g. a clip id per window) the NLL is that of each group's mean
    calibrated row (labels: the group's first row), which is how ``classify`` averages windows.
    A grid over log T, then golden-section refinement (to 1e-4 relative).
    """
    p = _as_probs(probs)
    y = _as_labels(labels, p.shape[0], p.shape[1])
    f = _objective(p, y, groups)
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    grid = np.linspace(lo, hi, 121)
    vals = [f(math.exp(v)) for v in grid]
    i = int(np.argmin(vals))
    a, b = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    while b - a > 1e-4:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(math.exp(d))
    return float(math.exp((a + b) / 2.0))


@dataclass(frozen=True)
class Reliability:
    """Per-bin numbers of a reliability diagram (equal-width confidence bins on [0, 1]).

    ``edges`` ``[n_bins + 1]``; ``counts``, ``accuracy`` and ``confidence`` ``[n_bins]`` (the last
    two are NaN for empty bins); ``ece`` = sum over bins of ``counts / N * |accuracy - confidence|``.
    """

    edges: np.ndarray
    counts: np.ndarray
    accuracy: np.ndarray
    confidence: np.ndarray
    ece: float

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly lists (empty bins as ``None``)."""
        def clean(a: np.ndarray) -> list[float | None]:
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {
            "edges": [float(v) for v in self.edges],
            "counts": [int(v) for v in self.counts],
            "accuracy": clean(self.accuracy),
            "confidence": clean(self.confidence),
            "ece": self.ece,
        }


def reliability(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> Reliability:
    """Reliability-diagram data: rows binned by confidence (max probability) into ``n_bins``
    equal-width bins ``(k/n, (k+1)/n]`` (the first also holds 0), each bin's accuracy and mean
    confidence, and the ECE."""
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ConfigError(f"n_bins must be a positive int, not {n_bins!r}")
    p = _as_probs(probs)
    y = _as_labels(labels, p.shape[0], p.shape[1])
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    idx = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.bincount(idx, weights=correct, minlength=n_bins) / counts
        mean_conf = np.bincount(idx, weights=conf, minlength=n_bins) / counts
    gaps = np.where(counts > 0, np.abs(np.nan_to_num(acc) - np.nan_to_num(mean_conf)), 0.0)
    ece = float(np.sum(counts / conf.size * gaps))
    return Reliability(np.linspace(0.0, 1.0, n_bins + 1), counts, acc, mean_conf, ece)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """ECE with ``n_bins`` equal-width confidence bins (see :func:`reliability`)."""
    return reliability(probs, labels, n_bins).ece


# -- metadata --------------------------------------------------------------------------------
def format_calibration(
    temperature: float,
    *,
    fitted_on: str = "",
    ece_before: float | None = None,
    ece_after: float | None = None,
    nll_before: float | None = None,
    nll_after: float | None = None,
) -> str:
    """The ``calibration`` metadata value: ``temperature=T;fitted_on=...;ece_before=..;ece_after=..``
    (then ``nll_before``/``nll_after`` when given; ``;`` and ``=`` are replaced in ``fitted_on``)."""
    parts = [f"temperature={temperature:.6f}"]
    if fitted_on:
        parts.append("fitted_on=" + fitted_on.replace(";", ",").replace("=", ":"))
    if ece_before is not None:
        parts.append(f"ece_before={ece_before:.4f}")
    if ece_after is not None:
        parts.append(f"ece_after={ece_after:.4f}")
    if nll_before is not None:
        parts.append(f"nll_before={nll_before:.4f}")
    if nll_after is not None:
        parts.append(f"nll_after={nll_after:.4f}")
    return ";".join(parts)


def parse_calibration(value: str) -> dict[str, str]:
    """The fields of a ``calibration`` metadata value (``{}`` for an empty one)."""
    out: dict[str, str] = {}
    for part in value.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


# -- the graph -------------------------------------------------------------------------------
def apply_temperature(
    in_onnx: str | os.PathLike[str],
    out_onnx: str | os.PathLike[str],
    temperature: float,
    *,
    fitted_on: str = "",
    ece_before: float | None = None,
    ece_after: float | None = None,
    nll_before: float | None = None,
    nll_after: float | None = None,
    replace: bool = False,
) -> dict[str, str]:
    """Write ``in_onnx`` to ``out_onnx`` with ``probs = Softmax(Log(Max(p, 1e-12)) / T)`` after the
    model's own ``probs`` (renamed ``probs_uncalibrated``, kept as an extra output), and the
    ``calibration`` metadata key. A model that is already calibrated is refused unless
    ``replace`` (then only ``T`` and the metadata change: ``T`` always applies to the
    uncalibrated output). Returns the new metadata. Needs the ``onnx`` package."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    t = float(temperature)
    if not (math.isfinite(t) and T_BOUNDS[0] <= t <= T_BOUNDS[1]):
        raise ConfigError(f"temperature must lie in [{T_BOUNDS[0]}, {T_BOUNDS[1]}], not {temperature!r}")
    model = onnx.load(os.fspath(in_onnx))
    graph = model.graph
    existing = [init for init in graph.initializer if init.name == TEMPERATURE_NODE]
    meta = {p.key: p.value for p in model.metadata_props}
    if existing:
        if not replace:
            raise ConfigError(
                f"{in_onnx} is already calibrated ({contract.KEY_CALIBRATION}="
                f"{meta.get(contract.KEY_CALIBRATION, '?')!r}); pass replace=True (--replace) to set "
                "a new temperature"
            )
        existing[0].CopyFrom(numpy_helper.from_array(np.array(t, np.float32), TEMPERATURE_NODE))
    else:
        probs, unc = contract.OUTPUT_PROBS, contract.OUTPUT_PROBS_UNCALIBRATED
        producers = [n for n in graph.node if probs in n.output]
        if len(producers) != 1:
            raise ConfigError(f"{in_onnx}: no single node produces the '{probs}' output")
        for node in graph.node:
            node.output[:] = [unc if o == probs else o for o in node.output]
            node.input[:] = [unc if i == probs else i for i in node.input]
        out_vi = next(o for o in graph.output if o.name == probs)
        unc_vi = onnx.ValueInfoProto()
        unc_vi.CopyFrom(out_vi)
        unc_vi.name = unc
        graph.initializer.extend([
            numpy_helper.from_array(np.array(PROB_FLOOR, np.float32), NODE_PREFIX + "floor"),
            numpy_helper.from_array(np.array(t, np.float32), TEMPERATURE_NODE),
        ])
        graph.node.extend([
            helper.make_node("Max", [unc, NODE_PREFIX + "floor"], [NODE_PREFIX + "clamped"], name=NODE_PREFIX + "max"),
            helper.make_node("Log", [NODE_PREFIX + "clamped"], [NODE_PREFIX + "log"], name=NODE_PREFIX + "log"),
            helper.make_node("Div", [NODE_PREFIX + "log", TEMPERATURE_NODE], [NODE_PREFIX + "scaled"],
                             name=NODE_PREFIX + "div"),
            helper.make_node("Softmax", [NODE_PREFIX + "scaled"], [probs], name=NODE_PREFIX + "softmax", axis=-1),
        ])
        graph.output.append(unc_vi)
        assert out_vi.type.tensor_type.elem_type == TensorProto.FLOAT
    meta[contract.KEY_CALIBRATION] = format_calibration(
        t, fitted_on=fitted_on, ece_before=ece_before, ece_after=ece_after, nll_before=nll_before,
        nll_after=nll_after,
    )
    onnx.helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    out = Path(out_onnx)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    onnx.save(model, os.fspath(tmp))
    os.replace(tmp, out)
    return meta


# -- predictions of a model --------------------------------------------------------------------
def window_probs(
    model: str | os.PathLike[str], waves: Sequence[np.ndarray], *, num_threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Uncalibrated window probabilities of ``model`` on whole clips already at the model's rate
    (windows cut as ``Recognizer.classify`` cuts them): ``(probs [W, C] float64, clip_index [W])``.
    A calibrated model's ``probs_uncalibrated`` output is read, so refitting is possible."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = num_threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(os.fspath(model), so, providers=["CPUExecutionProvider"])
    meta: Mapping[str, str] = sess.get_modelmeta().custom_metadata_map
    parsed = contract.parse_metadata(meta, Path(model).name)
    outputs = [o.name for o in sess.get_outputs()]
    name = contract.OUTPUT_PROBS_UNCALIBRATED if contract.OUTPUT_PROBS_UNCALIBRATED in outputs else contract.OUTPUT_PROBS
    w, hop = parsed.window_samples, parsed.hop_samples
    rows: list[np.ndarray] = []
    idx: list[np.ndarray] = []
    for k, wave in enumerate(waves):
        x = np.asarray(wave, np.float32)
        if x.size < w:
            x = np.concatenate([x, np.zeros(w - x.size, np.float32)])
        starts = contract.clip_window_starts(x.size, w, hop)
        batch = np.stack([x[s : s + w] for s in starts])
        for i in range(0, len(batch), 32):
            rows.append(np.asarray(sess.run([name], {contract.INPUT_NAME: batch[i : i + 32]})[0], np.float64))
        idx.append(np.full(len(starts), k))
    return np.concatenate(rows), np.concatenate(idx)
