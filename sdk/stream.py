"""Streaming recognition: :class:`Stream` turns chunks of any size into one result per hop.

A stream is the per-source *state* on a shared recognizer (the *context*): it needs only the model
facts and the thread-safe :meth:`Recognizer.run_windows <edgeemo.Recognizer.run_windows>`
(:class:`WindowModel`), so this module does not import the recognizer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np

from .audio import ChannelLayout, Resampler, check_sample_rate, to_mono_float32
from .contract import stream_window_starts, takes_partial_window
from .errors import ConfigError, ModelError, SampleRateError
from .incremental import StreamGraph, StreamState
from .options import StreamOptions
from .results import EmotionResult, Timing, WindowScores
from .smoothing import EMA
from .vad import SpeechDetector

__all__ = ["Stream", "WindowModel"]

logger = logging.getLogger("edgeemo")


class WindowModel(Protocol):
    """What a :class:`Stream` needs from its model (:class:`~edgeemo.Recognizer` provides it)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def window_samples(self) -> int: ...

    @property
    def hop_samples(self) -> int: ...

    @property
    def min_samples(self) -> int: ...

    def run_windows(self, windows: np.ndarray) -> tuple[WindowScores, Timing]: ...


class Stream:
    """Per-stream state on a shared :class:`~edgeemo.Recognizer` (create it with
    :meth:`Recognizer.create_stream`).

    Feed audio with :meth:`accept` (any chunk size, any supported rate: it is down-mixed and
    resampled to the model rate with a chunk-invariant streaming resampler), collect results with
    :meth:`results`. A window of ``window_samples`` starts every hop (``0, hop, 2*hop, ...`` at the
    model rate); its result is ready once the whole window has arrived, so the results do not
    depend on how the input was chunked.

    Speech detector: a window whose fraction of speech frames (``speech_prob``) is below
    ``min_speech_ratio`` is still emitted, with ``is_speech=False`` and the label ``"no_speech"``
    (confidence 0; its scores and valence/arousal are the window's own raw model output, for
    diagnostics); it does not update the smoothing. A speech window whose top probability is below
    ``min_confidence`` is labelled ``"uncertain"``. A stream is not thread-safe itself: use one per thread
    or audio source.
    """

    def __init__(self, recognizer: WindowModel, options: StreamOptions | None = None) -> None:
        self.recognizer = recognizer
        self.options = options or StreamOptions()
        sr = recognizer.sample_rate
        w = recognizer.window_samples
        if self.options.hop_s is None:
            hop = recognizer.hop_samples
        else:
            hop = round(self.options.hop_s * sr)
            if hop < 1 or hop > w:
                raise ConfigError(
                    f"hop_s={self.options.hop_s:g} s gives a hop of {hop} samples; it must lie in "
                    f"(0, window_s] = (0, {w / sr:g}] s for this model"
                )
        self.hop_samples = hop
        self._window = w
        self._layout = ChannelLayout(self.options.channels)
        self._graph = self._stream_graph(recognizer, hop)
        self._vad = SpeechDetector(sr, self.options.vad_threshold) if self.options.vad else None
        self._ema = EMA(self.options.smoothing)
        self._timings = Timing()
        self.reset()

    # -- state ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all audio, the input rate and channel layout, the noise floor and the smoothing
        state."""
        self._in_rate: int | None = None
        self._layout.reset()
        self._resampler: Resampler | None = None
        self._buf = np.zeros(0, np.float32)
        self._buf_start = 0  # model-rate index of self._buf[0]
        self._n_model = 0  # model-rate samples received
        self._next_start = 0  # start of the next window not yet queued
        self._pending: list[int] = []  # starts of complete windows not yet run
        self._samples_seen = 0
        self._finished = False
        self._pre_ms = 0.0
        self._state = StreamState()
        if self._vad is not None:
            self._vad.reset()
        self._ema.reset()

    def _stream_graph(self, recognizer: WindowModel, hop: int) -> StreamGraph | None:
        """The recognizer's stream graph when this stream can use it (same hop), else None."""
        get = getattr(recognizer, "stream_graph", None)
        if not self.options.incremental or not callable(get):
            return None
        graph = get()
        return graph if isinstance(graph, StreamGraph) and graph.geometry.hop_samples == hop else None

    @property
    def incremental(self) -> bool:
        """Whether this stream runs the model's stream graph (each frame once) rather than whole windows."""
        return self._graph is not None

    @property
    def samples_seen(self) -> int:
        """Input samples (per channel, at the input rate) accepted since the last reset."""
        return self._samples_seen

    @property
    def seconds_seen(self) -> float:
        """Audio accepted so far, in seconds at the model rate."""
        return self._n_model / self.recognizer.sample_rate

    @property
    def timings(self) -> Timing:
        """Timing of this stream's last :meth:`results`/:meth:`flush` call."""
        return self._timings

    # -- input ----------------------------------------------------------------------------
    def accept(
        self, chunk: np.ndarray, sample_rate: int | None = None, *, channels: int | None = None
    ) -> None:
        """Feed the next chunk (any length; 1-D mono, or 2-D ``(samples, channels)`` /
        ``(channels, samples)``). ``sample_rate`` defaults to the model rate and must stay the
        same until :meth:`reset` (or :meth:`flush`).

        ``channels`` declares the chunk's channel count (or set :attr:`StreamOptions.channels`);
        without it the count comes from the first chunk whose shape tells it. A chunk whose
        layout cannot be told (both axes <= 8 and no known count) raises
        :class:`AudioFormatError`; so does a change of channel count before :meth:`reset`.
        """
        t0 = time.perf_counter()
        if self._finished:
            self.reset()
        model_sr = self.recognizer.sample_rate
        sr = model_sr if sample_rate is None else check_sample_rate(sample_rate)
        if self._in_rate is None:
            self._in_rate = sr
            self._resampler = Resampler(sr, model_sr)
        elif sr != self._in_rate:
            raise SampleRateError(
                f"this stream was fed at {self._in_rate} Hz and now at {sr} Hz; call reset() "
                "before changing the sample rate"
            )
        x = to_mono_float32(chunk, channels=channels, layout=self._layout)
        if x.size == 0:
            return
        self._samples_seen += int(x.size)
        assert self._resampler is not None
        self._push(self._resampler.process(x))
        self._pre_ms += (time.perf_counter() - t0) * 1000.0

    def _push(self, y: np.ndarray) -> None:
        if y.size == 0:
            return
        self._buf = np.concatenate([self._buf, y])
        self._n_model += int(y.size)
        if self._vad is not None:
            self._vad.accept(y)
        starts = stream_window_starts(self._next_start, self._n_model, self._window, self.hop_samples)
        if starts:
            self._pending.extend(starts)
            self._next_start = starts[-1] + self.hop_samples

    # -- output ---------------------------------------------------------------------------
    def results(self) -> Iterator[EmotionResult]:
        """Run the model on every complete window so far and return their results, oldest first."""
        return iter(self._drain(partial=False))

    def flush(self) -> Iterator[EmotionResult]:
        """End of input: results of the remaining complete windows, then of the pending partial
        window (starting at the next hop, zero-padded) if it holds at least ``min_samples``
        samples. The next :meth:`accept` starts a new input (as after :meth:`reset`)."""
        if self._resampler is not None and not self._finished:
            t0 = time.perf_counter()
            self._push(self._resampler.process(np.zeros(0, np.float32), last=True))
            self._pre_ms += (time.perf_counter() - t0) * 1000.0
        out = self._drain(partial=not self._finished)
        self._finished = True
        return iter(out)

    def _drain(self, *, partial: bool) -> list[EmotionResult]:
        rec = self.recognizer
        w = self._window
        starts = list(self._pending)
        windows = [self._buf[s - self._buf_start : s - self._buf_start + w] for s in starts]
        ends = [s + w for s in starts]
        tail = self._n_model - self._next_start
        if partial and takes_partial_window(tail, rec.min_samples):
            part = self._buf[self._next_start - self._buf_start :]
            windows.append(np.concatenate([part, np.zeros(w - part.size, np.float32)]))
            starts.append(self._next_start)
            ends.append(self._n_model)
        if not windows:
            self._timings = Timing(pre_ms=self._pre_ms)
            self._pre_ms = 0.0
            return []
        scores, run = self._run(windows, starts, n_complete=len(self._pending))
        t1 = time.perf_counter()
        out = self.postprocess(scores, starts, ends)
        # forget what no future window needs
        self._pending.clear()
        keep_from = min(self._next_start, self._n_model)
        self._buf = self._buf[keep_from - self._buf_start :].copy()
        self._buf_start = keep_from
        if self._vad is not None:
            self._vad.trim(keep_from)
        post_ms = (time.perf_counter() - t1) * 1000.0
        self._timings = Timing(
            model_ms=run.model_ms, post_ms=post_ms, pre_ms=self._pre_ms, n_windows=len(out)
        )
        self._pre_ms = 0.0
        return out

    def _run(self, windows: list[np.ndarray], starts: list[int], n_complete: int) -> tuple[WindowScores, Timing]:
        """Model outputs of ``windows``: the complete ones through the stream graph when there is
        one (in order, carrying its state), the rest (a zero-padded partial window) as whole windows."""
        rec = self.recognizer
        graph = self._graph
        if graph is None or n_complete == 0:
            return rec.run_windows(np.ascontiguousarray(np.stack(windows), dtype=np.float32))
        t0 = time.perf_counter()
        outs = [graph.step(self._state, w, s) for w, s in zip(windows[:n_complete], starts[:n_complete])]
        model_ms = (time.perf_counter() - t0) * 1000.0
        probs = np.concatenate([o[0] for o in outs])
        va = np.concatenate([o[1] for o in outs]) if len(outs[0]) > 1 else None
        for name, out in (("probs", probs), ("valence_arousal", va)):
            if out is not None and not np.isfinite(out).all():
                raise ModelError(
                    f"stream graph {graph.path.name} produced non-finite scores (NaN or Inf in its '{name}' "
                    "output): the model file is broken; re-export it, or stream with incremental=False"
                )
        if n_complete < len(windows):
            rest, run = rec.run_windows(np.ascontiguousarray(np.stack(windows[n_complete:]), dtype=np.float32))
            probs = np.concatenate([probs, rest.probs])
            va = None if va is None or rest.valence_arousal is None else np.concatenate([va, rest.valence_arousal])
            model_ms += run.model_ms
        return WindowScores(probs, va), Timing(model_ms=model_ms, n_windows=len(windows))

    def postprocess(
        self, scores: WindowScores, starts: Sequence[int], ends: Sequence[int]
    ) -> list[EmotionResult]:
        """Low level: this stream's results for model outputs of its windows ``[starts[i],
        ends[i])`` (model-rate samples), oldest first: the voice-activity gate, smoothing and
        :class:`EmotionResult` (updates the smoothing state on speech windows). :meth:`results` uses it; so does
        ``edgeemo profile`` to time it."""
        sr = self.recognizer.sample_rate
        labels = self.recognizer.labels
        probs, va = scores.probs, scores.valence_arousal
        n_labels = probs.shape[1]
        out: list[EmotionResult] = []
        for i, (s, e) in enumerate(zip(starts, ends)):
            p = probs[i].astype(np.float64)
            v = None if va is None else va[i].astype(np.float64)
            ratio = 1.0 if self._vad is None else self._vad.speech_ratio(s, min(e, self._n_model))
            speech = self._vad is None or ratio >= self.options.min_speech_ratio
            if speech:
                sm = self._ema.update(p if v is None else np.concatenate([p, v]))
                p, v = sm[:n_labels], (None if v is None else sm[n_labels:])
            out.append(
                EmotionResult.from_scores(
                    labels, p, v, start_s=s / sr, end_s=e / sr, speech_prob=ratio, is_speech=speech,
                    min_confidence=self.options.min_confidence,
                )
            )
        return out

    def __repr__(self) -> str:
        return (
            f"Stream(hop_samples={self.hop_samples}, seconds_seen={self.seconds_seen:.2f}, "
            f"vad={self.options.vad}, smoothing={self.options.smoothing:g}, incremental={self.incremental})"
        )
