"""edgeemo: edge-deployable speech emotion recognition.

>>> import edgeemo
>>> rec = edgeemo.Recognizer("tiny")                      # doctest: +SKIP
>>> rec = edgeemo.Recognizer("model.onnx")                # doctest: +SKIP
>>> rec.classify(wave, sample_rate=44100).label           # doctest: +SKIP

Importing edgeemo is light: numpy only. onnxruntime, soxr and soundfile are imported when first
needed; ``edgeemo.listen`` (microphone, sounddevice) is imported on first access.

Errors: every failure is an :class:`EdgeEmoError`; the specific classes live in
:mod:`edgeemo.errors` (``edgeemo.AudioFormatError`` etc. also resolve, for compatibility). The
model contract (metadata keys, window rule) is :mod:`edgeemo.contract`; the bundled models and
their names are :mod:`edgeemo.registry`.
"""

from __future__ import annotations

from typing import Any

from . import errors, registry
from ._version import __version__
from .audio import load_audio
from .errors import EdgeEmoError
from .model import ModelInfo, default_model_path
from .options import RecognizerOptions, StreamOptions
from .providers import available_providers
from .recognizer import Recognizer
from .results import EmotionResult, Timing, WindowScores
from .stream import Stream

__all__ = [
    "__version__",
    "Recognizer",
    "RecognizerOptions",
    "Stream",
    "StreamOptions",
    "EmotionResult",
    "WindowScores",
    "Timing",
    "ModelInfo",
    "load_audio",
    "default_model_path",
    "available_providers",
    "listen",
    "ListenStats",
    "stream_file",
    "demo_clip_path",
    "list_input_devices",
    "errors",
    "registry",
    "EdgeEmoError",
]

_LAZY = {
    name: ("microphone", name)
    for name in ("listen", "ListenStats", "stream_file", "demo_clip_path", "list_input_devices")
}


def __getattr__(name: str) -> Any:
    """Lazy attributes: ``listen`` and its helpers import the microphone module (and sounddevice)
    on first use; the error classes of :mod:`edgeemo.errors` resolve here for compatibility."""
    if name in _LAZY:
        import importlib

        module_name, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{module_name}", __name__), attr)
        globals()[name] = value
        return value
    if name in errors.__all__:
        return getattr(errors, name)
    raise AttributeError(f"module 'edgeemo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
