"""The :class:`Recognizer`: one loaded model (the shared context), used by many streams and threads.

Like whisper.cpp's context/state split: the recognizer owns the ONNX Runtime session and the
model facts and never changes after construction, so :meth:`Recognizer.run_windows` (the one
inference entry point, also used by :class:`~edgeemo.Stream`) may be called from any thread;
each :class:`~edgeemo.Stream` owns its audio, smoothing and timing state.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from . import contract
from .audio import AudioFileReader, Resampler, check_sample_rate, iter_mono_blocks
from .errors import (
    AudioFormatError,
    AudioTooShortError,
    ConfigError,
    ModelError,
    ModelMetadataError,
)
from .incremental import StreamGraph, stream_graph_path
from .model import ModelInfo, load_model
from .options import RecognizerOptions, StreamOptions
from .results import EmotionResult, Timing, WindowScores
from .stream import Stream
from .vad import DEFAULT_MIN_SPEECH_RATIO, DEFAULT_THRESHOLD, SpeechDetector

__all__ = ["Recognizer", "MAX_BATCH", "CPU_BATCH"]

logger = logging.getLogger("edgeemo")

MAX_BATCH = 32
"""Windows per ``session.run`` call on GPU providers (CUDA, TensorRT)."""

CPU_BATCH = 2
"""Windows per ``session.run`` call on the CPU provider. ONNX Runtime keeps the activation memory
of the largest batch it has run in its arena for the session's life (about 6 MiB per window for
the tiny model: 32 windows cost 218 MiB); on one CPU thread batches of 1-2 windows are also the
fastest per window (docs/api.md, "Memory")."""


def _check_min_confidence(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0
    if not ok:
        raise ConfigError(f"min_confidence must be a number in [0, 1], not {value!r}")
    return float(value)


class Recognizer:
    """Speech emotion recognition with one edgeemo ONNX model.

    Args:
        model: path of an ``.onnx`` file following docs/model_contract.md; ``None`` loads the
            bundled default model (:func:`edgeemo.default_model_path`).
        options: a :class:`RecognizerOptions`, a dict of its fields, or ``None``.
        **overrides: individual option fields, e.g. ``num_threads=2, provider="auto"``.

    Raises :class:`ModelNotFoundError`, :class:`ModelLoadError`, :class:`ModelMetadataError`,
    :class:`ProviderError`, :class:`ConfigError` or :class:`MissingDependencyError` (no
    onnxruntime). One recognizer may serve many streams and threads at once: it holds no
    per-call state (ONNX Runtime's ``run`` is thread-safe, :attr:`timings` is per thread); each
    :class:`Stream` holds its own state.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        options: RecognizerOptions | dict[str, Any] | None = None,
        **overrides: Any,
    ) -> None:
        self.options = RecognizerOptions.from_any(options, **overrides)
        self._session, self._info = load_model(model, self.options)
        self._outputs = contract.output_names(self._info.heads)
        self._local = threading.local()  # per-thread timing of classify/classify_batch
        self._batch = CPU_BATCH if self.provider == "CPUExecutionProvider" else MAX_BATCH
        self._stream_graph_lock = threading.Lock()
        self._stream_graph: StreamGraph | None | bool = False  # False: not looked for yet

    # -- model facts ----------------------------------------------------------------------
    @property
    def info(self) -> ModelInfo:
        """All metadata of the model plus its path, size, hash and input/output names."""
        return self._info

    @property
    def labels(self) -> tuple[str, ...]:
        """Category labels, in the order of the model's ``probs`` output."""
        return self._info.labels

    @property
    def sample_rate(self) -> int:
        """The model's sample rate in Hz (input is resampled to it)."""
        return self._info.sample_rate

    @property
    def window_samples(self) -> int:
        """Samples per model window."""
        return self._info.window_samples

    @property
    def hop_samples(self) -> int:
        """Default hop between stream windows, in samples."""
        return self._info.hop_samples

    @property
    def window_s(self) -> float:
        """Window length in seconds."""
        return self._info.window_s

    @property
    def hop_s(self) -> float:
        """Default hop in seconds."""
        return self._info.hop_s

    @property
    def min_samples(self) -> int:
        """Shortest clip (at the model rate) that :meth:`classify` accepts."""
        return self._info.min_samples

    @property
    def heads(self) -> tuple[str, ...]:
        """Output heads, e.g. ``("categories", "valence_arousal")``."""
        return self._info.heads

    @property
    def provider(self) -> str:
        """The execution provider ONNX Runtime actually uses, e.g. ``"CPUExecutionProvider"``."""
        return str(self._session.get_providers()[0])

    @property
    def batch_size(self) -> int:
        """Windows per ``session.run`` call: :data:`CPU_BATCH` on the CPU provider (bounded
        memory), :data:`MAX_BATCH` on GPU providers."""
        return self._batch

    @property
    def timings(self) -> Timing:
        """Timing of the last :meth:`classify`/:meth:`classify_batch` call made *by this thread*
        (a zero :class:`Timing` before the first). Streams keep their own: :attr:`Stream.timings`."""
        timing: Timing = getattr(self._local, "timings", None) or Timing()
        return timing

    def __repr__(self) -> str:
        return (
            f"Recognizer(model={self._info.path.name!r}, provider={self.provider!r}, "
            f"labels={len(self.labels)}, window_s={self.window_s:g})"
        )

    # -- inference ------------------------------------------------------------------------
    def run_windows(self, windows: np.ndarray) -> tuple[WindowScores, Timing]:
        """Low level, thread-safe: run the model on C-contiguous float32 ``[N, window_samples]``.

        Returns the raw outputs and the :class:`Timing` of this call (``model_ms``, ``n_windows``).
        Runs :attr:`batch_size` windows per ``session.run``; checks the output shapes
        (:class:`ModelMetadataError`) and that every score is finite (:class:`ModelError`:
        "model produced non-finite scores"). :class:`Stream` and :meth:`classify`
        use it; :meth:`classify_batch` is the checked public variant.
        """
        n_labels = len(self._info.labels)
        probs: list[np.ndarray] = []
        vas: list[np.ndarray] = []
        bs = self._batch
        t0 = time.perf_counter()
        for i in range(0, windows.shape[0], bs):
            try:
                outs = self._session.run(self._outputs, {contract.INPUT_NAME: windows[i : i + bs]})
            except Exception as exc:  # ORT's own exception types
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise ModelError(f"model {self._info.path.name} failed to run: {reason}") from None
            p = np.asarray(outs[0], dtype=np.float32)
            if p.ndim != 2 or p.shape[1] != n_labels:
                raise ModelMetadataError(
                    f"model {self._info.path.name}: output 'probs' has shape {p.shape} but the "
                    f"metadata lists {n_labels} labels; re-export the model with `edgeemo export`"
                )
            self._check_finite(p, contract.OUTPUT_PROBS)
            probs.append(p)
            if len(outs) > 1:
                va_batch = np.asarray(outs[1], dtype=np.float32).reshape(p.shape[0], 2)
                self._check_finite(va_batch, contract.OUTPUT_VALENCE_AROUSAL)
                vas.append(va_batch)
        model_ms = (time.perf_counter() - t0) * 1000.0
        timing = Timing(model_ms=model_ms, n_windows=int(windows.shape[0]))
        if not probs:
            empty_va = np.zeros((0, 2), np.float32) if len(self._outputs) > 1 else None
            return WindowScores(np.zeros((0, n_labels), np.float32), empty_va), timing
        va = np.concatenate(vas) if vas else None
        return WindowScores(np.concatenate(probs), va), timing

    def _check_finite(self, out: np.ndarray, name: str) -> None:
        """Raise :class:`ModelError` when a model output holds NaN or Inf."""
        bad = ~np.isfinite(out).all(axis=-1)
        if bad.any():
            raise ModelError(
                f"model {self._info.path.name} produced non-finite scores (NaN or Inf in its "
                f"'{name}' output) for {int(bad.sum())} of {bad.size} window(s): the model file is "
                "broken (e.g. diverged training or a bad export); re-export it with `edgeemo export` "
                "or use another model"
            )

    def classify_batch(self, windows: np.ndarray) -> WindowScores:
        """Low level: model outputs for float32 windows ``[N, window_samples]`` at the model rate.

        No resampling, conversion or voice-activity gating; only the shape is checked
        (:class:`AudioFormatError`).
        """
        x = np.asarray(windows)
        if x.ndim != 2 or x.shape[1] != self.window_samples or x.dtype.kind not in "fiu":
            raise AudioFormatError(
                f"classify_batch expects float32 windows of shape [N, {self.window_samples}], not "
                f"{x.dtype} {x.shape}; use classify() for clips of any length"
            )
        scores, timing = self.run_windows(np.ascontiguousarray(x, dtype=np.float32))
        self._local.timings = timing
        return scores

    def make_result(
        self,
        probs: np.ndarray,
        va: np.ndarray | None,
        *,
        start_s: float,
        end_s: float,
        speech_prob: float,
        is_speech: bool,
        min_confidence: float = 0.0,
    ) -> EmotionResult:
        """Build an :class:`EmotionResult` from one probability vector (and valence/arousal).

        Public helper for code that runs windows itself: ``probs`` is in :attr:`labels` order,
        ``va`` is ``(valence, arousal)`` or ``None`` (:meth:`EmotionResult.from_scores`).
        """
        return EmotionResult.from_scores(
            self.labels, probs, va, start_s=start_s, end_s=end_s, speech_prob=speech_prob,
            is_speech=is_speech, min_confidence=min_confidence,
        )

    def classify(
        self, wave: np.ndarray, sample_rate: int, *, min_confidence: float = 0.0
    ) -> EmotionResult:
        """Emotion of a whole clip: the mean of the model's window probabilities.

        ``wave`` may be 1-D mono or 2-D (samples, channels)/(channels, samples) with up to 8
        channels, float (in [-1, 1]) or int PCM, at any rate in [8000, 192000] Hz. It is down-mixed,
        resampled to :attr:`sample_rate` and cut into windows every :attr:`hop_samples` (the last
        aligned to the end; a clip shorter than a window is zero-padded). ``speech_prob`` is the
        clip's fraction of speech frames (the speech detector, :mod:`edgeemo.vad`); ``is_speech``
        compares it with the default ``min_speech_ratio`` (0.1): a clip that is not speech gets
        the label ``"no_speech"``. A speech clip whose top probability is below
        ``min_confidence`` (in [0, 1]; 0 = off) gets ``"uncertain"``. Raises :class:`AudioError`
        subclasses for unusable input.

        Memory stays bounded: the clip is converted, resampled and run block by block
        (:func:`edgeemo.audio.iter_mono_blocks`, :attr:`batch_size` windows per model call), never
        copied whole (docs/api.md, "Memory").
        """
        min_confidence = _check_min_confidence(min_confidence)
        sr = check_sample_rate(sample_rate)
        return self._classify_blocks(iter_mono_blocks(wave), sr, min_confidence)

    def classify_file(
        self, path: str | os.PathLike[str], *, min_confidence: float = 0.0
    ) -> EmotionResult:
        """:meth:`classify` on an audio file (down-mixed), read in blocks with
        :class:`edgeemo.audio.AudioFileReader`: memory does not grow with the file's length."""
        min_confidence = _check_min_confidence(min_confidence)
        with AudioFileReader(path) as reader:
            sr = check_sample_rate(reader.sample_rate)
            return self._classify_blocks(reader.mono_blocks(), sr, min_confidence)

    def _classify_blocks(
        self, blocks: Iterable[np.ndarray], sample_rate: int, min_confidence: float
    ) -> EmotionResult:
        """:meth:`classify` of a clip given as consecutive float32 mono blocks at ``sample_rate``:
        resampled with the streaming resampler, windows run :attr:`batch_size` at a time as soon
        as they are complete, so memory stays bounded whatever the clip's length."""
        t0 = time.perf_counter()
        clip = _ClipScorer(self, sample_rate)
        for block in blocks:
            clip.feed(block)
        result = clip.finish(min_confidence)
        total_ms = (time.perf_counter() - t0) * 1000.0
        pre_ms = max(0.0, total_ms - clip.model_ms - clip.post_ms)
        self._local.timings = Timing(
            model_ms=clip.model_ms, post_ms=clip.post_ms, pre_ms=pre_ms, n_windows=clip.n_windows
        )
        return result

    def stream_graph(self) -> StreamGraph | None:
        """The model's stream graph (``<name>.stream.onnx`` beside it, :mod:`edgeemo.incremental`),
        loaded on first use, or ``None`` when the model has none. Raises
        :class:`ModelLoadError` / :class:`ModelMetadataError` for a broken or stale stream file."""
        with self._stream_graph_lock:
            if self._stream_graph is False:
                path = stream_graph_path(self._info.path)
                if not path.is_file():
                    self._stream_graph = None
                else:
                    from .fileio import sha256_file
                    from .model import create_session

                    self._stream_graph = StreamGraph.load(
                        path, window_sha256=self._info.sha256, window_samples=self.window_samples,
                        hop_samples=self.hop_samples, heads_outputs=tuple(self._outputs),
                        create_session=lambda p: create_session(p, self.options, model_sha256=sha256_file(p)),
                    )
                    logger.info("loaded the stream graph %s", path.name)
            graph = self._stream_graph
        return graph if isinstance(graph, StreamGraph) else None

    def create_stream(
        self, options: StreamOptions | dict[str, Any] | None = None, **overrides: Any
    ) -> Stream:
        """A new :class:`Stream` on this recognizer (options as a :class:`StreamOptions` or dict)."""
        return Stream(self, StreamOptions.from_any(options, **overrides))


class _ClipScorer:
    """One :meth:`Recognizer.classify` in progress: model-rate samples in, the mean of the window
    probabilities out. Holds at most one window plus one block of audio and one batch of windows.

    The windows are those of :func:`edgeemo.contract.clip_window_starts`: every hop while they fit,
    then one aligned to the end of the clip (a clip shorter than a window: one zero-padded window).
    """

    def __init__(self, rec: Recognizer, sample_rate: int) -> None:
        self.rec = rec
        self.w, self.hop, self.sr = rec.window_samples, rec.hop_samples, rec.sample_rate
        self.resampler = Resampler(sample_rate, self.sr)
        self.vad = SpeechDetector(self.sr, DEFAULT_THRESHOLD)
        self.n_speech = 0  # speech frames seen (the detector's decisions are trimmed as we go)
        self.n_in = 0  # input samples (mono, input rate)
        self.n = 0  # model-rate samples
        self.buf = np.zeros(0, np.float32)
        self.buf_start = 0  # model-rate index of buf[0]
        self.next_start = 0  # next regular window start
        self.last_start = -1  # start of the last window run
        self.batch = np.empty((rec.batch_size, self.w), np.float32)
        self.n_batch = 0
        self.prob_sum = np.zeros(len(rec.labels), np.float64)
        self.va_sum = np.zeros(2, np.float64)
        self.n_windows = 0
        self.model_ms = 0.0
        self.post_ms = 0.0

    def feed(self, block: np.ndarray) -> None:
        """The next input block (float32 mono at the input rate)."""
        if block.size == 0:
            return
        self.n_in += int(block.size)
        self._push(self.resampler.process(block))

    def _push(self, y: np.ndarray) -> None:
        if y.size == 0:
            return
        vad = self.vad
        vad.accept(y)
        self.n_speech += int(np.count_nonzero(vad.frame_probs >= vad.threshold))
        vad.trim(vad.n_frames * vad.frame_len)
        self.buf = np.concatenate([self.buf, y]) if self.buf.size else y
        self.n += int(y.size)
        while self.next_start + self.w <= self.n:
            self._add_window(self.next_start)
            self.next_start += self.hop
        keep_from = max(self.buf_start, self.n - self.w)  # the end-aligned last window
        if keep_from > self.buf_start:
            self.buf = self.buf[keep_from - self.buf_start :].copy()
            self.buf_start = keep_from

    def _add_window(self, start: int) -> None:
        i = start - self.buf_start
        self.batch[self.n_batch] = self.buf[i : i + self.w]
        self.n_batch += 1
        self.last_start = start
        if self.n_batch == self.batch.shape[0]:
            self._run()

    def _run(self) -> None:
        if self.n_batch == 0:
            return
        scores, timing = self.rec.run_windows(self.batch[: self.n_batch])
        self.model_ms += timing.model_ms
        self.prob_sum += scores.probs.sum(axis=0, dtype=np.float64)
        if scores.valence_arousal is not None:
            self.va_sum += scores.valence_arousal.sum(axis=0, dtype=np.float64)
        self.n_windows += self.n_batch
        self.n_batch = 0

    def finish(self, min_confidence: float) -> EmotionResult:
        """Drain the resampler, run the remaining windows and build the clip's result."""
        rec = self.rec
        self._push(self.resampler.process(np.zeros(0, np.float32), last=True))
        if self.n_in == 0:
            raise AudioTooShortError(
                f"audio is empty; the model needs at least {rec.min_samples / self.sr:.3f} s"
            )
        if self.n < rec.min_samples:
            raise AudioTooShortError(
                f"audio is {self.n / self.sr:.3f} s long; the model needs at least "
                f"{rec.min_samples / self.sr:.3f} s ({rec.min_samples} samples at {self.sr} Hz): "
                "pass a longer clip"
            )
        if self.n < self.w:  # shorter than a window: one zero-padded window
            self.batch[self.n_batch] = 0.0
            self.batch[self.n_batch, : self.n] = self.buf[: self.n]
            self.n_batch += 1
        elif self.last_start + self.w < self.n:  # one more window, aligned to the end
            self._add_window(self.n - self.w)
        self._run()
        t1 = time.perf_counter()
        n_frames = self.vad.n_frames
        ratio = float(self.n_speech) / n_frames if n_frames else 0.0
        has_va = contract.HEAD_VALENCE_AROUSAL in rec.heads
        n = self.n_windows
        result = rec.make_result(
            self.prob_sum / n,
            self.va_sum / n if has_va else None,
            start_s=0.0,
            end_s=self.n / self.sr,
            speech_prob=ratio,
            is_speech=ratio >= DEFAULT_MIN_SPEECH_RATIO,
            min_confidence=min_confidence,
        )
        self.post_ms += (time.perf_counter() - t1) * 1000.0
        return result
