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
from typing import Any

import numpy as np

from . import contract
from .audio import load_mono, prepare_clip
from .contract import clip_window_starts
from .errors import AudioFormatError, ModelError, ModelMetadataError
from .model import ModelInfo, load_model
from .options import RecognizerOptions, StreamOptions
from .results import EmotionResult, Timing, WindowScores
from .stream import Stream
from .vad import DEFAULT_THRESHOLD, speech_ratio

__all__ = ["Recognizer", "MAX_BATCH"]

logger = logging.getLogger("edgeemo")

MAX_BATCH = 32
"""Windows per ``session.run`` call (bounds memory on long clips)."""


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
        Runs ``MAX_BATCH`` windows per ``session.run``; checks the output shapes
        (:class:`ModelMetadataError`) and that every score is finite (:class:`ModelError`:
        "model produced non-finite scores"). :class:`Stream` and :meth:`classify`
        use it; :meth:`classify_batch` is the checked public variant.
        """
        n_labels = len(self._info.labels)
        probs: list[np.ndarray] = []
        vas: list[np.ndarray] = []
        t0 = time.perf_counter()
        for i in range(0, windows.shape[0], MAX_BATCH):
            try:
                outs = self._session.run(
                    self._outputs, {contract.INPUT_NAME: windows[i : i + MAX_BATCH]}
                )
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
    ) -> EmotionResult:
        """Build an :class:`EmotionResult` from one probability vector (and valence/arousal).

        Public helper for code that runs windows itself: ``probs`` is in :attr:`labels` order,
        ``va`` is ``(valence, arousal)`` or ``None`` (:meth:`EmotionResult.from_scores`).
        """
        return EmotionResult.from_scores(
            self.labels, probs, va, start_s=start_s, end_s=end_s, speech_prob=speech_prob,
            is_speech=is_speech,
        )

    def classify(self, wave: np.ndarray, sample_rate: int) -> EmotionResult:
        """Emotion of a whole clip: the mean of the model's window probabilities.

        ``wave`` may be 1-D mono or 2-D (samples, channels)/(channels, samples) with up to 8
        channels, float (in [-1, 1]) or int PCM, at any rate in [8000, 192000] Hz. It is down-mixed,
        resampled to :attr:`sample_rate` and cut into windows every :attr:`hop_samples` (the last
        aligned to the end; a clip shorter than a window is zero-padded). ``speech_prob`` is the
        clip's fraction of speech frames; ``is_speech`` compares it with the default
        ``min_speech_ratio`` (0.2). Raises :class:`AudioError` subclasses for unusable input.
        """
        t0 = time.perf_counter()
        x = prepare_clip(wave, sample_rate, self.sample_rate, self.min_samples)
        ratio = speech_ratio(x, self.sample_rate, DEFAULT_THRESHOLD)
        w = self.window_samples
        n_real = x.size
        if n_real < w:
            x = np.concatenate([x, np.zeros(w - n_real, np.float32)])
        starts = clip_window_starts(x.size, w, self.hop_samples)
        view = np.lib.stride_tricks.sliding_window_view(x, w)
        pre_ms = (time.perf_counter() - t0) * 1000.0
        prob_sum = np.zeros(len(self.labels), np.float64)
        va_sum = np.zeros(2, np.float64)
        model_ms = 0.0
        has_va = contract.HEAD_VALENCE_AROUSAL in self.heads
        for i in range(0, len(starts), MAX_BATCH):
            batch = np.ascontiguousarray(view[starts[i : i + MAX_BATCH]], dtype=np.float32)
            scores, timing = self.run_windows(batch)
            model_ms += timing.model_ms
            prob_sum += scores.probs.sum(axis=0, dtype=np.float64)
            if scores.valence_arousal is not None:
                va_sum += scores.valence_arousal.sum(axis=0, dtype=np.float64)
        t1 = time.perf_counter()
        n = len(starts)
        result = self.make_result(
            prob_sum / n,
            va_sum / n if has_va else None,
            start_s=0.0,
            end_s=n_real / self.sample_rate,
            speech_prob=ratio,
            is_speech=ratio >= StreamOptions().min_speech_ratio,
        )
        post_ms = (time.perf_counter() - t1) * 1000.0
        self._local.timings = Timing(model_ms=model_ms, post_ms=post_ms, pre_ms=pre_ms, n_windows=n)
        return result

    def classify_file(self, path: str | os.PathLike[str]) -> EmotionResult:
        """:meth:`classify` on an audio file read with :func:`edgeemo.load_audio` (down-mixed)."""
        wave, sr = load_mono(path)
        return self.classify(wave, sr)

    def create_stream(
        self, options: StreamOptions | dict[str, Any] | None = None, **overrides: Any
    ) -> Stream:
        """A new :class:`Stream` on this recognizer (options as a :class:`StreamOptions` or dict)."""
        return Stream(self, StreamOptions.from_any(options, **overrides))
