"""Result types: frozen dataclasses returned by the recognizer and streams."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["EmotionResult", "WindowScores", "Timing", "NO_SPEECH", "UNCERTAIN", "RESERVED_LABELS"]

NO_SPEECH = "no_speech"
"""``EmotionResult.label`` of a span that is not speech (``is_speech`` is ``False``)."""
UNCERTAIN = "uncertain"
"""``EmotionResult.label`` of speech whose top probability is below the ``min_confidence`` option."""
RESERVED_LABELS = (NO_SPEECH, UNCERTAIN)
"""Label values that are never emotions (a model may not use them as labels)."""


def _rebuild_result(kwargs: dict[str, Any]) -> EmotionResult:
    return EmotionResult(**kwargs)


@dataclass(frozen=True)
class EmotionResult:
    """The emotion of one window (streams) or of a whole clip (``classify``).

    Attributes:
        label: the most likely emotion label when the span is speech; :data:`NO_SPEECH`
            (``"no_speech"``) when it is not (``is_speech`` is ``False``); :data:`UNCERTAIN`
            (``"uncertain"``) when it is speech but the top probability is below the
            ``min_confidence`` option.
        confidence: the top emotion probability (``0.0`` for ``"no_speech"``).
        scores: read-only mapping label -> probability (sums to 1), in the model's label order:
            the model's (calibrated) output for the span, also for ``"no_speech"`` and
            ``"uncertain"`` results, where it is diagnostic only, not an emotion decision.
        start_s, end_s: the span this result covers, in seconds from the start of the input.
        speech_prob: fraction of the span's 30 ms frames the voice-activity gate judged speech
            (``1.0`` when the gate is off).
        is_speech: ``False`` when ``speech_prob`` is below ``min_speech_ratio`` (default 0.1); the
            label is then ``"no_speech"``.
        valence, arousal: in [-1, 1] when the model has a ``valence_arousal`` head, else ``None``.
    """

    label: str
    confidence: float
    scores: Mapping[str, float] = field(hash=False)
    start_s: float
    end_s: float
    speech_prob: float
    is_speech: bool
    valence: float | None = None
    arousal: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.scores, MappingProxyType):
            object.__setattr__(
                self, "scores", MappingProxyType({str(k): float(v) for k, v in self.scores.items()})
            )

    @classmethod
    def from_scores(
        cls,
        labels: Sequence[str],
        probs: np.ndarray,
        va: np.ndarray | None,
        *,
        start_s: float,
        end_s: float,
        speech_prob: float,
        is_speech: bool,
        min_confidence: float = 0.0,
    ) -> EmotionResult:
        """The result for one probability vector ``probs`` (in ``labels`` order) and ``va`` =
        ``(valence, arousal)`` or ``None``: the label is the most likely one when ``is_speech``
        and its probability reaches ``min_confidence``; else ``"no_speech"`` (not speech,
        confidence 0) or ``"uncertain"`` (speech, top probability below ``min_confidence``)."""
        i = int(np.argmax(probs))
        top = float(probs[i])
        if not is_speech:
            label, confidence = NO_SPEECH, 0.0
        elif top < min_confidence:
            label, confidence = UNCERTAIN, top
        else:
            label, confidence = labels[i], top
        return cls(
            label=label,
            confidence=confidence,
            scores={lab: float(v) for lab, v in zip(labels, probs)},
            start_s=float(start_s),
            end_s=float(end_s),
            speech_prob=float(speech_prob),
            is_speech=bool(is_speech),
            valence=None if va is None else float(va[0]),
            arousal=None if va is None else float(va[1]),
        )

    @property
    def has_emotion(self) -> bool:
        """``True`` when :attr:`label` is an emotion (not ``"no_speech"`` or ``"uncertain"``)."""
        return self.label not in RESERVED_LABELS

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (plain floats, ``scores`` as a dict)."""
        return {
            "label": self.label,
            "confidence": float(self.confidence),
            "scores": {k: float(v) for k, v in self.scores.items()},
            "start_s": float(self.start_s),
            "end_s": float(self.end_s),
            "speech_prob": float(self.speech_prob),
            "is_speech": bool(self.is_speech),
            "valence": None if self.valence is None else float(self.valence),
            "arousal": None if self.arousal is None else float(self.arousal),
        }

    def __reduce__(self) -> tuple[Any, ...]:  # MappingProxyType itself cannot be pickled
        return (_rebuild_result, (self.to_dict(),))


@dataclass(frozen=True, eq=False)
class WindowScores:
    """Raw model outputs for a batch of windows (read-only arrays).

    Attributes:
        probs: float32 ``[N, n_labels]`` softmax probabilities.
        valence_arousal: float32 ``[N, 2]`` or ``None`` when the model has no such head.
    """

    probs: np.ndarray
    valence_arousal: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.probs.setflags(write=False)
        if self.valence_arousal is not None:
            self.valence_arousal.setflags(write=False)

    def __len__(self) -> int:
        return int(self.probs.shape[0])


@dataclass(frozen=True)
class Timing:
    """Wall-clock cost of one call, in milliseconds.

    Attributes:
        model_ms: ONNX Runtime ``session.run`` time.
        post_ms: averaging, smoothing and building results.
        pre_ms: validation, conversion, resampling, voice-activity detection.
        n_windows: windows the model ran on.
    """

    model_ms: float = 0.0
    post_ms: float = 0.0
    pre_ms: float = 0.0
    n_windows: int = 0

    @property
    def total_ms(self) -> float:
        """Sum of the stages."""
        return self.pre_ms + self.model_ms + self.post_ms
