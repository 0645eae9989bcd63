"""Audio input: validation, dtype conversion, down-mixing, resampling and file loading.

Rules (the same for ``classify`` and streams):

* dtypes: float32 is used as is; float16/float64 are converted; int8/int16/int32 are scaled by
  their full range (``x / 32768`` for int16) and uint8 is offset by 128. Every other dtype (bool,
  complex, int64, object, strings) raises :class:`AudioFormatError`.
* float values outside [-1, 1] are clipped to [-1, 1] up to a peak of ``FLOAT_PEAK_LIMIT`` (4.0,
  i.e. +12 dBFS); a larger peak almost always means integer samples stored as floats and raises
  :class:`AudioFormatError` (divide by 32768 for int16 data).
* NaN or Inf raises :class:`AudioFormatError`.
* shapes: 1-D is mono; 2-D is ``(samples, channels)`` or ``(channels, samples)`` with at most
  ``MAX_CHANNELS`` channels (the axis of length <= 8 is the channel axis; when both are,
  ``(samples, channels)`` is assumed) and is down-mixed by averaging the channels.
* sample rates are ints in [8000, 192000], else :class:`SampleRateError`.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ._deps import require
from .errors import AudioFileError, AudioFormatError, AudioTooShortError, SampleRateError

__all__ = [
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_CHANNELS",
    "FLOAT_PEAK_LIMIT",
    "check_sample_rate",
    "to_mono_float32",
    "resample",
    "prepare_clip",
    "Resampler",
    "load_audio",
]

logger = logging.getLogger("edgeemo")

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
MAX_CHANNELS = 8
FLOAT_PEAK_LIMIT = 4.0
RESAMPLE_QUALITY = "HQ"

_INT_SCALE = {
    np.dtype(np.int8): 128.0,
    np.dtype(np.int16): 32768.0,
    np.dtype(np.int32): 2147483648.0,
}


def check_sample_rate(sample_rate: Any) -> int:
    """Return ``sample_rate`` as an int, or raise :class:`SampleRateError`."""
    if isinstance(sample_rate, (bool, np.bool_)) or not isinstance(sample_rate, (int, np.integer)):
        raise SampleRateError(
            f"sample_rate must be an int number of samples per second (e.g. 16000), not "
            f"{sample_rate!r} ({type(sample_rate).__name__}); pass int(sample_rate)"
        )
    sr = int(sample_rate)
    if sr <= 0 or sr < MIN_SAMPLE_RATE or sr > MAX_SAMPLE_RATE:
        raise SampleRateError(
            f"sample_rate {sr} Hz is not supported: use a rate between {MIN_SAMPLE_RATE} and "
            f"{MAX_SAMPLE_RATE} Hz (edgeemo resamples to the model's rate itself)"
        )
    return sr


def _channel_axis(shape: tuple[int, ...]) -> int:
    n0, n1 = shape
    if n1 <= MAX_CHANNELS:
        return 1
    if n0 <= MAX_CHANNELS:
        return 0
    raise AudioFormatError(
        f"2-D audio of shape {shape} has no channel axis of at most {MAX_CHANNELS} channels; pass "
        f"mono samples (1-D) or (samples, channels) / (channels, samples) with <= {MAX_CHANNELS} "
        "channels"
    )


def _to_float32(x: np.ndarray) -> np.ndarray:
    dt = x.dtype
    if dt == np.float32:
        return x
    if dt in (np.float16, np.float64):
        return x.astype(np.float32)
    if dt in _INT_SCALE:
        return (x.astype(np.float32) / np.float32(_INT_SCALE[dt])).astype(np.float32)
    if dt == np.uint8:
        return ((x.astype(np.float32) - np.float32(128.0)) / np.float32(128.0)).astype(np.float32)
    raise AudioFormatError(
        f"audio dtype {dt} is not supported; pass float32 in [-1, 1] (or float16/float64, int8, "
        "int16, int32, uint8 PCM, which edgeemo converts)"
    )


def to_mono_float32(wave: Any) -> np.ndarray:
    """Validate ``wave`` and return it as contiguous 1-D float32 mono in [-1, 1].

    Raises :class:`AudioFormatError` for an unsupported dtype or shape or non-finite values.
    Empty input gives an empty array (callers decide whether that is too short).
    """
    try:
        x = np.asarray(wave)
    except Exception as exc:  # ragged lists and other oddities
        raise AudioFormatError(
            f"audio must be a numpy array of samples; could not convert {type(wave).__name__} ({exc})"
        ) from None
    if x.dtype.kind not in "fiu":
        raise AudioFormatError(
            f"audio dtype {x.dtype} ({type(wave).__name__}) is not audio; pass a numpy array of "
            "float32 samples in [-1, 1] (or int16/int32/uint8 PCM)"
        )
    if x.ndim == 1:
        mono = _to_float32(x)
    elif x.ndim == 2:
        if x.size == 0:
            return np.zeros(0, dtype=np.float32)
        axis = _channel_axis(x.shape)
        xf = _to_float32(x)
        if xf.shape[axis] == 1:
            mono = np.take(xf, 0, axis=axis)
        else:
            mono = xf.mean(axis=axis, dtype=np.float32)
    else:
        raise AudioFormatError(
            f"audio must be 1-D (mono) or 2-D (samples, channels), not {x.ndim}-D with shape "
            f"{x.shape}"
        )
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if mono.size == 0:
        return mono
    if not np.isfinite(mono).all():
        raise AudioFormatError("audio contains NaN or Inf values; remove or replace them (np.nan_to_num)")
    peak = float(np.max(np.abs(mono)))
    if peak > 1.0:
        if peak > FLOAT_PEAK_LIMIT:
            raise AudioFormatError(
                f"float audio must lie in [-1, 1] but its peak is {peak:g}; this looks like integer "
                "PCM stored as floats: divide by 32768 (int16 range) or pass the int16 array itself"
            )
        logger.debug("audio peak %.3f > 1: clipped to [-1, 1]", peak)
        mono = np.clip(mono, -1.0, 1.0)
    return mono


def resample(x: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample 1-D float32 ``x`` with soxr (HQ); a no-op when the rates match."""
    if from_rate == to_rate or x.size == 0:
        return x
    soxr = require("soxr", purpose="resampling")
    y = soxr.resample(x, from_rate, to_rate, quality=RESAMPLE_QUALITY)
    return np.clip(np.ascontiguousarray(y, dtype=np.float32), -1.0, 1.0)


def prepare_clip(wave: Any, sample_rate: Any, target_rate: int, min_samples: int) -> np.ndarray:
    """Validate, convert, down-mix and resample a whole clip; enforce the model's minimum length."""
    sr = check_sample_rate(sample_rate)
    mono = to_mono_float32(wave)
    if mono.size == 0:
        raise AudioTooShortError(
            f"audio is empty; the model needs at least {min_samples / target_rate:.3f} s"
        )
    x = resample(mono, sr, target_rate)
    if x.size < min_samples:
        raise AudioTooShortError(
            f"audio is {x.size / target_rate:.3f} s long; the model needs at least "
            f"{min_samples / target_rate:.3f} s ({min_samples} samples at {target_rate} Hz): pass a "
            "longer clip"
        )
    return x


class Resampler:
    """Streaming soxr resampler; the output does not depend on how the input is chunked."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._stream: Any = None
        self.reset()

    def reset(self) -> None:
        """Forget all buffered input."""
        if self.from_rate == self.to_rate:
            self._stream = None
        else:
            soxr = require("soxr", purpose="resampling")
            self._stream = soxr.ResampleStream(
                self.from_rate, self.to_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
            )

    def process(self, x: np.ndarray, *, last: bool = False) -> np.ndarray:
        """Resample the next chunk (``last=True`` drains the filter at end of input)."""
        if self._stream is None:
            return x
        y = self._stream.resample_chunk(x, last=last)
        return np.clip(np.ascontiguousarray(y, dtype=np.float32), -1.0, 1.0)


def load_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read an audio file with soundfile: ``(float32 samples, sample_rate)``.

    Mono files give a 1-D array, others ``(samples, channels)``. Raises :class:`AudioFileError`
    naming the file and the reason when it is missing, unreadable, truncated or unsupported.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise AudioFileError(f"audio file not found: {p}")
    if p.is_dir():
        raise AudioFileError(f"{p} is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"audio file {p} is empty (0 bytes)")
    sf = require("soundfile", purpose="reading audio files")
    try:
        with sf.SoundFile(str(p)) as fh:
            expected = fh.frames
            sr = int(fh.samplerate)
            data = fh.read(dtype="float32", always_2d=False)
            extra = str(fh.extra_info)
    except (RuntimeError, ValueError, TypeError, OSError) as exc:
        reason = re.sub(r"^Error opening .*?: ", "", str(exc).split("\n")[0]).strip().rstrip(".")
        reason = re.sub(r"^Error\s*:\s*", "", reason) or type(exc).__name__
        raise AudioFileError(
            f"cannot read audio file {p}: {reason}. It may be corrupt, truncated or in a format "
            "libsndfile does not read (use WAV, FLAC, OGG or MP3)"
        ) from None
    got = data.shape[0]
    if got < expected:
        raise AudioFileError(
            f"audio file {p} is truncated: its header announces {expected} frames but only {got} "
            "could be read"
        )
    short = _wav_shortfall(extra)
    if short is not None:
        raise AudioFileError(
            f"audio file {p} is truncated: its header announces {short[0]} bytes of audio data but "
            f"the file holds only {short[1]}"
        )
    return np.ascontiguousarray(data, dtype=np.float32), sr


_PLACEHOLDER_SIZES = {0, 0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000}
_DATA_LOG = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _wav_shortfall(log: str) -> tuple[int, int] | None:
    """(declared, actual) data bytes when libsndfile's log shows a WAV/AIFF cut short.

    libsndfile reads such files without error (it trims the length to what is there); a declared
    size that is a streaming placeholder (0, 0xFFFFFFFF) is not a truncation.
    """
    m = _DATA_LOG.search(log or "")
    if not m:
        return None
    declared, actual = int(m.group(1)), int(m.group(2))
    if declared in _PLACEHOLDER_SIZES or declared <= actual:
        return None
    return declared, actual
