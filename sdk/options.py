"""Option dataclasses for :class:`~edgeemo.Recognizer` and :class:`~edgeemo.Stream`.

Both are frozen and validated on construction; both also accept a plain ``dict`` through
:meth:`from_any`, so ``Recognizer(options={"num_threads": 2})`` and
``Recognizer(num_threads=2)`` are the same. Any bad key or value raises :class:`ConfigError`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from .errors import ConfigError

MAX_CHANNELS = 8
"""Most channels 2-D audio may have (streams, ``classify``, the microphone)."""

__all__ = ["RecognizerOptions", "StreamOptions", "PROVIDERS", "PRECISIONS", "LOG_LEVELS"]

PROVIDERS = ("auto", "cpu", "cuda", "tensorrt")
PRECISIONS = ("fp32", "fp16", "int8")
LOG_LEVELS = ("verbose", "info", "warning", "error", "fatal")

_T = TypeVar("_T", bound="_Options")


class _Options:
    """Shared ``from_any`` for the option dataclasses."""

    _what: ClassVar[str] = "options"

    @classmethod
    def from_any(cls: type[_T], value: Any = None, **overrides: Any) -> _T:
        """Build options from ``None`` (defaults), an instance or a ``dict``, then apply overrides."""
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        if value is None:
            base: dict[str, Any] = {}
        elif isinstance(value, cls):
            base = {n: getattr(value, n) for n in names}
        elif isinstance(value, Mapping):
            base = dict(value)
        else:
            raise ConfigError(
                f"{cls._what} must be a {cls.__name__}, a dict or None, not {type(value).__name__}"
            )
        base.update(overrides)
        unknown = sorted(str(k) for k in base if k not in names)
        if unknown:
            raise ConfigError(
                f"unknown {cls._what} key(s) {', '.join(map(repr, unknown))}; "
                f"valid keys are: {', '.join(names)}"
            )
        return cls(**base)


def _check_choice(name: str, value: Any, choices: tuple[str, ...], *, allow_none: bool = False) -> Any:
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or value.lower() not in choices:
        extra = " or None" if allow_none else ""
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, choices))}{extra}, not {value!r}")
    return value.lower()


def _check_fraction(name: str, value: Any, *, upper_open: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = 0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0
    if not ok:
        rng = "[0, 1)" if upper_open else "[0, 1]"
        raise ConfigError(f"{name} must be a number in {rng}, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class RecognizerOptions(_Options):
    """How a :class:`~edgeemo.Recognizer` runs its model.

    Attributes:
        num_threads: ONNX Runtime intra-op threads (``0`` lets ONNX Runtime choose).
        provider: ``"auto"`` (TensorRT, then CUDA, then CPU, among those installed), ``"cpu"``,
            ``"cuda"`` or ``"tensorrt"``.
        precision: ``None`` (run the model as it is), ``"fp32"``/``"int8"`` (must match the model's
            ``quantization`` metadata) or ``"fp16"`` (TensorRT only). Never changed silently.
        engine_cache_dir: where TensorRT engines are cached (default ``~/.cache/edgeemo/trt``).
        log_level: ONNX Runtime's own log level: verbose, info, warning, error or fatal. edgeemo's
            messages go to the ``logging`` logger ``"edgeemo"``, configured by the application.
    """

    _what: ClassVar[str] = "recognizer option"

    num_threads: int = 1
    provider: str = "cpu"
    precision: str | None = None
    engine_cache_dir: str | None = None
    log_level: str = "warning"

    def __post_init__(self) -> None:
        n = self.num_threads
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ConfigError(f"num_threads must be an int >= 0 (0 = ONNX Runtime's choice), not {n!r}")
        object.__setattr__(self, "provider", _check_choice("provider", self.provider, PROVIDERS))
        object.__setattr__(
            self, "precision", _check_choice("precision", self.precision, PRECISIONS, allow_none=True)
        )
        object.__setattr__(self, "log_level", _check_choice("log_level", self.log_level, LOG_LEVELS))
        d = self.engine_cache_dir
        if d is not None:
            if not isinstance(d, (str, os.PathLike)) or not str(d):
                raise ConfigError(f"engine_cache_dir must be a folder path or None, not {d!r}")
            object.__setattr__(self, "engine_cache_dir", os.fspath(d))


@dataclass(frozen=True)
class StreamOptions(_Options):
    """How a :class:`~edgeemo.Stream` turns windows into results.

    Attributes:
        hop_s: seconds between results; ``None`` uses the model's ``hop_samples``. Must lie in
            ``(0, window_s]`` (checked when the stream is created).
        vad: gate results with the speech detector (``False``: every window counts as speech and
            ``speech_prob`` is ``1.0``).
        vad_threshold: per 30 ms frame, the speech probability above which the frame is speech.
        smoothing: exponential moving average factor on the probabilities, in ``[0, 1)``
            (``0`` = no smoothing; ``0.8`` keeps 80 % of the previous value).
        min_speech_ratio: a window whose fraction of speech frames is below this is emitted with
            ``is_speech=False`` and the label ``"no_speech"`` (confidence 0, its own model scores);
            it does not update the smoothing.
        min_confidence: a speech window whose top (calibrated, smoothed) probability is below this
            gets the label ``"uncertain"`` (``0`` = off).
        channels: the channel count of 2-D chunks (1 to 8), which tells the layout of chunks of
            at most 8 samples; ``None``: learnt from the first chunk whose shape tells it.
        incremental: use the model's stream graph when it has one and the hop is the model's
            (:mod:`edgeemo.incremental`: each frame computed once; the same scores to float
            rounding); ``False`` always runs whole windows.
    """

    _what: ClassVar[str] = "stream option"

    hop_s: float | None = None
    vad: bool = True
    vad_threshold: float = 0.5
    smoothing: float = 0.0
    min_speech_ratio: float = 0.1
    min_confidence: float = 0.0
    channels: int | None = None
    incremental: bool = True

    def __post_init__(self) -> None:
        h = self.hop_s
        if h is not None:
            if isinstance(h, bool) or not isinstance(h, (int, float)) or not math.isfinite(h) or h <= 0:
                raise ConfigError(f"hop_s must be a positive number of seconds or None, not {h!r}")
            object.__setattr__(self, "hop_s", float(h))
        if not isinstance(self.vad, bool):
            raise ConfigError(f"vad must be True or False, not {self.vad!r}")
        if not isinstance(self.incremental, bool):
            raise ConfigError(f"incremental must be True or False, not {self.incremental!r}")
        object.__setattr__(self, "vad_threshold", _check_fraction("vad_threshold", self.vad_threshold))
        object.__setattr__(
            self, "smoothing", _check_fraction("smoothing", self.smoothing, upper_open=True)
        )
        object.__setattr__(
            self, "min_speech_ratio", _check_fraction("min_speech_ratio", self.min_speech_ratio)
        )
        object.__setattr__(
            self, "min_confidence", _check_fraction("min_confidence", self.min_confidence)
        )
        c = self.channels
        if c is not None and (isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= MAX_CHANNELS):
            raise ConfigError(f"channels must be an int from 1 to {MAX_CHANNELS} or None, not {c!r}")
