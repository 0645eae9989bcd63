"""One error hierarchy for edgeemo: every public failure is an :class:`EdgeEmoError`.

Each class mixes in the matching built-in (``ValueError``, ``RuntimeError``, ``FileNotFoundError``,
``ImportError``) so callers that already catch those keep working.
"""

from __future__ import annotations

__all__ = [
    "EdgeEmoError",
    "AudioError",
    "AudioFormatError",
    "AudioFileError",
    "AudioTooShortError",
    "SampleRateError",
    "ModelError",
    "ModelNotFoundError",
    "ModelMetadataError",
    "ModelLoadError",
    "ProviderError",
    "DeviceError",
    "NoInputDeviceError",
    "MissingDependencyError",
    "ConfigError",
]


class EdgeEmoError(Exception):
    """Base class of every error raised by edgeemo.

    Attributes:
        cli_message: the message in command-line terms (``--model PATH`` instead of a Python
            argument), when it differs from ``str(error)``; the ``edgeemo`` CLI prints it.
        detail: a third-party library's own text (e.g. ONNX Runtime's), kept out of the CLI's
            message unless ``--verbose`` is given; ``None`` when there is none.
    """

    def __init__(self, *args: object, cli_message: str | None = None, detail: str | None = None) -> None:
        super().__init__(*args)
        self.cli_message = cli_message
        self.detail = detail


class AudioError(EdgeEmoError, ValueError):
    """The audio given to edgeemo cannot be used (shape, dtype, values, length)."""


class AudioFormatError(AudioError):
    """Audio has a wrong dtype or shape, or contains NaN/Inf."""


class AudioFileError(AudioError):
    """An audio file is missing, unreadable, truncated or of an unsupported format."""


class AudioTooShortError(AudioError):
    """Audio is empty or shorter than the model's minimum."""


class SampleRateError(AudioError):
    """The sample rate is missing, non-positive or unsupported."""


class ModelError(EdgeEmoError, RuntimeError):
    """A model file cannot be used."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """The model file does not exist."""


class ModelMetadataError(ModelError):
    """The model's ONNX metadata is missing or inconsistent with its graph."""


class ModelLoadError(ModelError):
    """ONNX Runtime could not load the model file (corrupt or not ONNX)."""


class ProviderError(EdgeEmoError, RuntimeError):
    """An execution provider (TensorRT, CUDA, CPU) or precision was asked for and is unavailable."""


class DeviceError(EdgeEmoError, RuntimeError):
    """No usable audio input device (missing, wrong index/name, PortAudio absent)."""


class NoInputDeviceError(DeviceError):
    """The machine has no usable audio input at all: no input device, or PortAudio is missing.

    (As opposed to a wrong device index or name, which raises a plain :class:`DeviceError`.)
    """


class MissingDependencyError(EdgeEmoError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class ConfigError(EdgeEmoError, ValueError):
    """An option or configuration value is invalid."""
