"""Latency and memory profile of a model on this machine (``edgeemo profile``).

What is measured, per model:

* ``session_create_ms``: constructing a :class:`~edgeemo.Recognizer` (read + hash the file, create
  the ONNX Runtime session, validate the metadata) — what an application pays at start-up;
* ``first_run_ms``: its first ``classify_batch`` of one window (lazy initialisation, allocations);
* per window, streaming-style (batch 1), on a second session created with ONNX Runtime's profiler
  (``SessionOptions.enable_profiling``):

  - ``frontend``: the summed kernel time of the graph nodes whose name starts with the model's
    ``frontend_node_prefix`` metadata (default ``"frontend/"``): the in-graph log-mel front end;
  - ``model``: the summed kernel time of every other node;
  - ``run``: the wall-clock time of ``session.run`` (kernels plus ONNX Runtime's own overhead);
  - ``postprocess``: the Python work after ``run`` that a :class:`~edgeemo.Stream` does per window
    (score smoothing and building the :class:`~edgeemo.EmotionResult`: the stream's own
    :meth:`~edgeemo.Stream.postprocess`);
  - ``total``: ``run + postprocess``;

  each as p50 / p95 / p99 / mean / max in milliseconds;
* ``rtf``: real-time factor of streaming, mean ``total`` per window / hop (a stream runs one
  window per hop; below 1 keeps up with live audio); ``rtf_window``: per window / window length;
* ``stream_hop``: for a model with a stream graph (:mod:`edgeemo.incremental`), the wall-clock
  time of one stream-graph step per hop over consecutive windows (p50 ... max, as above), and
  ``rtf_incremental``, its mean per hop over the hop length (``None`` without a stream graph);
* ``peak_rss_mb``: the process's peak resident memory (``resource.getrusage``; psutil elsewhere);
* the model's own memory, apart from the process baseline (resident memory, :func:`rss_mb`):

  - ``baseline_rss_mb``: the process before the model is loaded (interpreter, numpy, ONNX
    Runtime's library; what any application using edgeemo pays once);
  - ``session_mb``: what ``Recognizer()`` added (the session: weights, graph, kernels);
  - ``arena_mb``: what running :attr:`~edgeemo.Recognizer.batch_size` windows at a time (as
    ``classify`` does) added on top (ONNX Runtime's arena: activations, kept for the session's
    life);
  - ``model_mb``: ``session_mb + arena_mb``, the memory the model costs in an application.

  Measured on the recognizer's own session before the profiled second session is created; it does
  not grow with the length of the audio classified.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import contract
from .errors import ConfigError
from .results import WindowScores

if TYPE_CHECKING:  # pragma: no cover
    from .recognizer import Recognizer

__all__ = [
    "StageStats",
    "ProfileReport",
    "profile_model",
    "split_profile",
    "peak_rss_mb",
    "rss_mb",
    "plot_latency",
]

_KERNEL_SUFFIX = "_kernel_time"
_WARMUP_RUNS = 3


@dataclass(frozen=True)
class StageStats:
    """Latency percentiles of one stage, in milliseconds."""

    p50: float
    p95: float
    p99: float
    mean: float
    min: float
    max: float

    @classmethod
    def of(cls, samples_ms: Any) -> StageStats:
        """Statistics of a sequence of millisecond samples (zeros when empty)."""
        x = np.asarray(samples_ms, dtype=np.float64)
        if x.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        p50, p95, p99 = np.percentile(x, [50, 95, 99])
        return cls(
            float(p50), float(p95), float(p99), float(x.mean()), float(x.min()), float(x.max())
        )


@dataclass(frozen=True)
class ProfileReport:
    """Everything ``edgeemo profile`` measures (see the module docstring)."""

    model: str
    model_name: str
    quantization: str | None
    provider: str
    num_threads: int
    window_s: float
    hop_s: float
    n_windows: int
    session_create_ms: float
    first_run_ms: float
    frontend: StageStats
    model_stage: StageStats
    postprocess: StageStats
    run: StageStats
    total: StageStats
    rtf: float
    rtf_window: float
    peak_rss_mb: float
    frontend_prefix: str
    frontend_nodes: tuple[str, ...]
    baseline_rss_mb: float = float("nan")
    session_mb: float = float("nan")
    arena_mb: float = float("nan")
    batch_size: int = 1
    stream_hop: StageStats | None = None
    rtf_incremental: float | None = None
    samples_ms: dict[str, list[float]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def model_mb(self) -> float:
        """The model's own resident memory: ``session_mb + arena_mb``."""
        return self.session_mb + self.arena_mb

    def to_dict(self, *, samples: bool = False) -> dict[str, Any]:
        """A JSON-serialisable dict (per-window samples only when asked)."""
        d = asdict(self)
        d["model_mb"] = self.model_mb
        d["stages"] = {
            "frontend": d.pop("frontend"),
            "model": d.pop("model_stage"),
            "postprocess": d.pop("postprocess"),
            "run": d.pop("run"),
            "total": d.pop("total"),
        }
        d["frontend_nodes"] = list(self.frontend_nodes)
        if not samples:
            d.pop("samples_ms")
        return d

    def to_json(self, *, samples: bool = False) -> str:
        """:meth:`to_dict` as indented JSON."""
        return json.dumps(self.to_dict(samples=samples), indent=2)


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB."""
    try:
        import resource
        import sys

        peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        # Linux reports KiB, macOS bytes.
        return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
    except (ImportError, OSError):  # Windows: no resource module
        try:
            import psutil

            info = psutil.Process().memory_info()
            return float(getattr(info, "peak_wset", info.rss)) / (1024.0 * 1024.0)
        except ImportError:
            return float("nan")


def rss_mb() -> float:
    """Current resident set size of this process in MiB (``/proc/self/statm`` on Linux, psutil
    elsewhere; NaN when neither is available)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * float(os.sysconf("SC_PAGE_SIZE")) / (1024.0 * 1024.0)
    except (OSError, ValueError, IndexError, AttributeError):
        try:
            import psutil

            return float(psutil.Process().memory_info().rss) / (1024.0 * 1024.0)
        except ImportError:
            return float("nan")


def split_profile(
    events: list[dict[str, Any]], prefix: str
) -> tuple[list[float], list[float], set[str]]:
    """Per ``model_run`` in an ONNX Runtime profile: (front-end ms, model ms, front-end node names).

    Kernel events (``<node>_kernel_time``) are assigned to the run whose time span contains them.
    """
    runs = sorted(
        (e for e in events if e.get("cat") == "Session" and e.get("name") == "model_run"),
        key=lambda e: e["ts"],
    )
    front = [0.0] * len(runs)
    model = [0.0] * len(runs)
    names: set[str] = set()
    if not runs:
        return front, model, names
    bounds = np.array([r["ts"] for r in runs], dtype=np.float64)
    for e in events:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith(_KERNEL_SUFFIX):
            continue
        node = str(e["name"])[: -len(_KERNEL_SUFFIX)]
        i = int(np.searchsorted(bounds, float(e["ts"]), side="right")) - 1
        if i < 0 or float(e["ts"]) > runs[i]["ts"] + runs[i]["dur"]:
            continue
        ms = float(e.get("dur", 0.0)) / 1000.0
        if node.startswith(prefix):
            front[i] += ms
            names.add(node)
        else:
            model[i] += ms
    return front, model, names


def _profiled_session(rec: Recognizer, folder: str) -> Any:
    """A second ONNX Runtime session on the recognizer's model, with the profiler on (same
    providers and session options as the recognizer's own: :func:`edgeemo.model.create_session`)."""
    from .model import create_session

    return create_session(rec.info.path, rec.options, model_sha256=rec.info.sha256, profile_dir=folder)


def _test_windows(n: int, window: int, sample_rate: int, rng_seed: int = 0) -> np.ndarray:
    """Speech-like test windows: noise with a slow amplitude envelope (content barely matters)."""
    rng = np.random.default_rng(rng_seed)
    t = np.arange(window, dtype=np.float32) / float(sample_rate)
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t)
    windows: np.ndarray = (rng.normal(0.0, 0.1, size=(n, window)) * envelope).astype(np.float32)
    return windows


def profile_model(
    model: str | os.PathLike[str] | None = None,
    *,
    windows: int = 100,
    num_threads: int = 1,
    provider: str = "cpu",
    frontend_prefix: str | None = None,
    audio: np.ndarray | None = None,
) -> ProfileReport:
    """Profile ``model`` (see the module docstring); ``windows`` timed windows after 3 warm-ups.

    ``audio`` (float32 at the model rate) supplies the windows, cycled; by default speech-like
    noise is used. ``frontend_prefix`` overrides the model's ``frontend_node_prefix`` metadata.
    """
    if int(windows) < 1:
        raise ConfigError(f"windows must be >= 1, got {windows}")
    from ._deps import require
    from .recognizer import Recognizer

    require("onnxruntime", purpose="running models")  # its library belongs to the baseline
    baseline = rss_mb()
    t0 = time.perf_counter()
    rec = Recognizer(model, num_threads=num_threads, provider=provider)
    create_ms = (time.perf_counter() - t0) * 1000.0
    session_mb = rss_mb() - baseline
    w = rec.window_samples
    n_total = int(windows) + _WARMUP_RUNS
    if audio is not None and np.asarray(audio).size >= w:
        x = np.asarray(audio, dtype=np.float32)
        starts = [(i * rec.hop_samples) % (x.size - w + 1) for i in range(n_total)]
        batch = np.stack([x[s : s + w] for s in starts])
    else:
        batch = _test_windows(n_total, w, rec.sample_rate)
    # The arena: full batches as classify runs them (the batch size is what bounds it).
    full = np.ascontiguousarray(np.resize(batch, (max(rec.batch_size, 1), w)), dtype=np.float32)
    before_runs = rss_mb()
    t0 = time.perf_counter()
    rec.classify_batch(batch[:1])
    first_ms = (time.perf_counter() - t0) * 1000.0
    for _ in range(2):
        rec.classify_batch(full)
    arena_mb = rss_mb() - before_runs

    prefix = frontend_prefix
    if prefix is None:
        prefix = rec.info.frontend_node_prefix
    outputs = contract.output_names(rec.heads)
    run_ms: list[float] = []
    post_ms: list[float] = []
    # The stream's own per-window post-processing (no voice-activity gate: every window counts).
    stream = rec.create_stream(vad=False, smoothing=0.0)
    hop, w = rec.hop_samples, rec.window_samples
    with tempfile.TemporaryDirectory(prefix="edgeemo-profile-") as folder:
        sess = _profiled_session(rec, folder)
        for i in range(n_total):
            t0 = time.perf_counter()
            outs = sess.run(outputs, {contract.INPUT_NAME: batch[i : i + 1]})
            t1 = time.perf_counter()
            va = np.asarray(outs[1], dtype=np.float32).reshape(-1, 2) if len(outs) > 1 else None
            scores = WindowScores(np.asarray(outs[0], dtype=np.float32), va)
            stream.postprocess(scores, [i * hop], [i * hop + w])
            t2 = time.perf_counter()
            run_ms.append((t1 - t0) * 1000.0)
            post_ms.append((t2 - t1) * 1000.0)
        trace = sess.end_profiling()
        with open(trace, encoding="utf-8") as fh:
            events = json.load(fh)
    front, model_part, names = split_profile(events, prefix)
    skip = _WARMUP_RUNS
    if len(front) != n_total:  # should not happen; keep the last `windows` runs
        skip = max(0, len(front) - int(windows))
    front, model_part = front[skip:], model_part[skip:]
    run_ms, post_ms = run_ms[_WARMUP_RUNS:], post_ms[_WARMUP_RUNS:]
    total_ms = [r + p for r, p in zip(run_ms, post_ms)]
    mean_total = float(np.mean(total_ms))
    hop_ms = _stream_hop_ms(rec, audio, n_total)
    return ProfileReport(
        model=str(rec.info.path),
        model_name=rec.info.model_name,
        quantization=rec.info.quantization,
        provider=rec.provider,
        num_threads=int(num_threads),
        window_s=rec.window_s,
        hop_s=rec.hop_s,
        n_windows=int(windows),
        session_create_ms=create_ms,
        first_run_ms=first_ms,
        frontend=StageStats.of(front),
        model_stage=StageStats.of(model_part),
        postprocess=StageStats.of(post_ms),
        run=StageStats.of(run_ms),
        total=StageStats.of(total_ms),
        rtf=mean_total / 1000.0 / rec.hop_s,
        rtf_window=mean_total / 1000.0 / rec.window_s,
        peak_rss_mb=peak_rss_mb(),
        frontend_prefix=prefix,
        frontend_nodes=tuple(sorted(names)),
        baseline_rss_mb=baseline,
        session_mb=session_mb,
        arena_mb=arena_mb,
        batch_size=rec.batch_size,
        stream_hop=None if hop_ms is None else StageStats.of(hop_ms),
        rtf_incremental=None if hop_ms is None else float(np.mean(hop_ms)) / 1000.0 / rec.hop_s,
        samples_ms={
            "frontend": front, "model": model_part, "postprocess": post_ms, "run": run_ms,
            "total": total_ms, **({"stream_hop": hop_ms} if hop_ms is not None else {}),
        },
    )


def _stream_hop_ms(rec: Recognizer, audio: np.ndarray | None, n_total: int) -> list[float] | None:
    """Per-hop wall-clock ms of the model's stream graph over ``n_total`` consecutive windows (the
    warm-ups dropped), or None when the model has none."""
    from .incremental import StreamState

    graph = rec.stream_graph()
    if graph is None:
        return None
    w, hop = rec.window_samples, rec.hop_samples
    need = w + (n_total - 1) * hop
    if audio is not None and np.asarray(audio).size >= w:
        x = np.resize(np.asarray(audio, dtype=np.float32), need)
    else:
        x = np.concatenate(list(_test_windows(-(-need // w), w, rec.sample_rate)))[:need]
    state, times = StreamState(), []
    for i in range(n_total):
        s = i * hop
        window = np.ascontiguousarray(x[s : s + w])
        t0 = time.perf_counter()
        graph.step(state, window, s)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times[_WARMUP_RUNS:]


def plot_latency(report: ProfileReport, path: str | os.PathLike[str]) -> Path:
    """Save a histogram of the per-window latencies by stage as a PNG (needs matplotlib)."""
    from ._deps import require

    matplotlib = require("matplotlib", purpose="edgeemo profile --plot")
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    samples = report.samples_ms
    # Up to 1.2 x the total's p99: rare outliers are gathered in the last bin.
    hi = report.total.p99 * 1.2 if report.total.p99 > 0 else 1.0
    bins = np.linspace(0.0, hi, 50)
    for key, colour in (
        ("frontend", "tab:blue"), ("model", "tab:orange"), ("postprocess", "tab:green"),
        ("total", "tab:red"),
    ):
        values = samples.get(key) or []
        if values and max(values) > 0:
            ax.hist(
                np.clip(values, 0.0, hi), bins=bins.tolist(), alpha=0.55, color=colour,
                label=f"{key} (p50 {np.median(values):.3f} ms)",
            )
    ax.axvline(report.total.p95, color="tab:red", linestyle="--", linewidth=1, label="total p95")
    ax.set_xlabel(f"milliseconds per window (max {report.total.max:.2f} ms, clipped at {hi:.2f})")
    ax.set_ylabel("windows")
    ax.set_title(
        f"{report.model_name} · {report.provider} · {report.num_threads} thread(s) · "
        f"RTF {report.rtf:.4f}", fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
