"""Audio input: validation, dtype conversion, down-mixing, resampling and file loading.

Rules (the same for ``classify`` and streams):

* numpy dtypes: every real float dtype (float16/32/64, either byte order) is converted to native
  float32 as is; integer PCM is scaled by its full range: int8 ``x / 128``, int16 ``x / 32768``,
  int32 ``x / 2**31`` (either byte order); uint8 is offset by 128 (``(x - 128) / 128``). Every
  other dtype (bool, complex, int64, uint16+, object, strings) raises :class:`AudioFormatError`.
* Python lists and tuples hold sample *values*: numbers (ints or floats) become float32 as they
  are, with no PCM scaling (``[0, 0.5, -0.25]``); pass a numpy int16 array for PCM.
* float values outside [-1, 1] are clipped to [-1, 1] up to a peak of ``FLOAT_PEAK_LIMIT`` (4.0,
  i.e. +12 dBFS); a larger peak almost always means integer samples stored as floats and raises
  :class:`AudioFormatError` (divide by 32768 for int16 data).
* NaN or Inf raises :class:`AudioFormatError`.
* shapes: 1-D is mono; 2-D is ``(samples, channels)`` or ``(channels, samples)`` with at most
  ``MAX_CHANNELS`` channels, down-mixed by averaging the channels. The channel axis is the one of
  length <= 8; when *both* are (a chunk of <= 8 samples) the layout cannot be told and
  :class:`AudioFormatError` is raised, unless the channel count is known (``channels=``, or a
  stream's earlier chunks: :class:`ChannelLayout`). Samples are never silently dropped.
* sample rates are ints in [8000, 192000], else :class:`SampleRateError`.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._deps import require
from .errors import AudioFileError, AudioFormatError, AudioTooShortError, SampleRateError
from .options import MAX_CHANNELS

__all__ = [
    "MIN_SAMPLE_RATE",
    "MAX_SAMPLE_RATE",
    "MAX_CHANNELS",
    "FLOAT_PEAK_LIMIT",
    "check_sample_rate",
    "to_mono_float32",
    "ChannelLayout",
    "resample",
    "prepare_clip",
    "Resampler",
    "load_audio",
    "load_mono",
    "BLOCK_FRAMES",
    "iter_mono_blocks",
    "AudioFileReader",
]

logger = logging.getLogger("edgeemo")

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000
FLOAT_PEAK_LIMIT = 4.0
RESAMPLE_QUALITY = "HQ"
BLOCK_FRAMES = 1 << 16
"""Frames (per channel) per block when a clip is read, converted and resampled block by block
(:func:`iter_mono_blocks`, :class:`AudioFileReader`): 64 Ki frames, 1.4 s at 48 kHz."""


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


def _ambiguous_layout(shape: tuple[int, ...]) -> AudioFormatError:
    return AudioFormatError(
        f"2-D audio of shape {shape} is ambiguous: both axes have at most {MAX_CHANNELS} entries, so "
        "it cannot be told whether it is (samples, channels) or (channels, samples). Pass the "
        "channel count (Stream.accept(chunk, channels=N) or StreamOptions(channels=N)), or send "
        f"(samples, channels) chunks of more than {MAX_CHANNELS} samples (transpose a (channels, "
        "samples) array with .T)"
    )


def _guess_channel_axis(shape: tuple[int, ...]) -> int:
    """The channel axis of 2-D audio from its shape alone: the one axis of length <= 8."""
    if shape == (1, 1):
        return 1  # one sample of one channel: both readings agree
    small = [axis for axis in (0, 1) if shape[axis] <= MAX_CHANNELS]
    if len(small) == 1:
        return small[0]
    if small:
        raise _ambiguous_layout(shape)
    raise AudioFormatError(
        f"2-D audio of shape {shape} has no channel axis of at most {MAX_CHANNELS} channels; pass "
        f"mono samples (1-D) or (samples, channels) / (channels, samples) with <= {MAX_CHANNELS} "
        "channels"
    )


def _check_channels(channels: Any) -> int:
    if isinstance(channels, (bool, np.bool_)) or not isinstance(channels, (int, np.integer)) or not (
        1 <= int(channels) <= MAX_CHANNELS
    ):
        raise AudioFormatError(
            f"channels must be an int from 1 to {MAX_CHANNELS}, not {channels!r}"
        )
    return int(channels)


class ChannelLayout:
    """Which axis of 2-D audio holds the channels, remembered across the chunks of one stream.

    The count comes from ``channels`` (declared: :attr:`StreamOptions.channels
    <edgeemo.StreamOptions.channels>`), a chunk's own ``channels=`` or the first chunk whose shape
    tells it; later chunks must keep it (:meth:`reset` to change it). A square chunk (e.g.
    ``(2, 2)``) keeps the axis of the chunks before it.
    """

    def __init__(self, channels: int | None = None) -> None:
        self.declared = None if channels is None else _check_channels(channels)
        self.reset()

    def reset(self) -> None:
        """Forget what earlier chunks told (the declared count stays)."""
        self.channels: int | None = self.declared
        self.axis: int | None = None

    def expected(self, channels: int | None = None) -> int | None:
        """The channel count a chunk must have: ``channels`` (checked against what is known),
        else the known count, else ``None``."""
        if channels is None:
            return self.channels
        n = _check_channels(channels)
        if self.channels is not None and n != self.channels:
            raise AudioFormatError(
                f"this chunk has channels={n} but the stream's audio has {self.channels} "
                "channel(s); call reset() before changing the channel count"
            )
        return n

    def channel_axis(self, shape: tuple[int, ...], channels: int | None = None) -> int:
        """The channel axis (0 or 1) of a 2-D chunk of ``shape``; remembers count and axis."""
        n = self.expected(channels)
        axis = _guess_channel_axis(shape) if n is None else self._axis_of(shape, n)
        self.channels, self.axis = int(shape[axis]), axis
        return axis

    def _axis_of(self, shape: tuple[int, ...], n: int) -> int:
        matches = [axis for axis in (0, 1) if shape[axis] == n]
        if len(matches) == 1:
            return matches[0]
        if matches:
            if self.axis is not None:
                return self.axis
            raise _ambiguous_layout(shape)
        raise AudioFormatError(
            f"2-D audio of shape {shape} has no axis of {n} channels, the stream's channel count; "
            "pass (samples, channels) or (channels, samples) chunks, or call reset() before "
            "changing the channel count"
        )


def _as_array(wave: Any) -> np.ndarray:
    """``wave`` as a numpy array; a list or tuple of numbers becomes float32 *values*."""
    try:
        x = np.asarray(wave)
    except Exception as exc:  # ragged lists and other oddities
        raise AudioFormatError(
            f"audio must be a numpy array of samples; could not convert {type(wave).__name__} ({exc})"
        ) from None
    if isinstance(wave, (list, tuple)) and x.dtype.kind in "iuf":
        return x.astype(np.float32)
    return x


def _to_float32(x: np.ndarray) -> np.ndarray:
    """Native float32: floats converted as they are, integer PCM scaled by its full range."""
    dt = x.dtype
    if dt.kind == "f":
        return np.asarray(x, dtype=np.float32)  # any width and byte order (>f4, float16, ...)
    if dt.kind == "i" and dt.itemsize in (1, 2, 4):
        scale = np.float32(2.0 ** (8 * dt.itemsize - 1))
        return (x.astype(np.float32) / scale).astype(np.float32)
    if dt.kind == "u" and dt.itemsize == 1:
        return ((x.astype(np.float32) - np.float32(128.0)) / np.float32(128.0)).astype(np.float32)
    raise AudioFormatError(
        f"audio dtype {dt.name} is not supported; pass float32 in [-1, 1] (float16/float64 and "
        "big-endian floats are converted) or int8/int16/int32/uint8 PCM (scaled by its full "
        "range, int16 / 32768). For int64 samples cast first: x.astype(np.int16) if they are "
        "16-bit PCM, x.astype(np.float32) if they lie in [-1, 1]"
    )


def _downmix(xf: np.ndarray, axis: int) -> np.ndarray:
    if xf.shape[axis] == 1:
        return np.take(xf, 0, axis=axis)
    return xf.mean(axis=axis, dtype=np.float32)


def _check_mono(layout: ChannelLayout, channels: int | None) -> None:
    """A 1-D chunk is mono: refuse it when more channels were declared (interleaved samples?)."""
    n = layout.expected(channels) if channels is not None else layout.declared
    if n is not None and n > 1:
        raise AudioFormatError(
            f"1-D audio is mono but {n} channels were declared; pass (samples, channels), e.g. "
            f"x.reshape(-1, {n}) for interleaved samples"
        )


def _check_values(mono: np.ndarray) -> np.ndarray:
    """Refuse NaN/Inf and integer PCM stored as floats; clip small overshoots to [-1, 1]."""
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


def to_mono_float32(
    wave: Any, *, channels: int | None = None, layout: ChannelLayout | None = None
) -> np.ndarray:
    """Validate ``wave`` and return it as contiguous 1-D float32 mono in [-1, 1].

    ``channels`` is the channel count of 2-D audio when the caller knows it; ``layout`` carries
    what a stream's earlier chunks told (see :class:`ChannelLayout`). Raises
    :class:`AudioFormatError` for an unsupported dtype or shape, an ambiguous layout or
    non-finite values. Empty input gives an empty array (callers decide whether that is too short).
    """
    x = _as_array(wave)
    if x.dtype.kind not in "fiu":
        raise AudioFormatError(
            f"audio dtype {x.dtype} ({type(wave).__name__}) is not audio; pass a numpy array of "
            "float32 samples in [-1, 1] (or int16/int32/uint8 PCM)"
        )
    layout = layout if layout is not None else ChannelLayout()
    if x.ndim == 1:
        _check_mono(layout, channels)
        mono = _to_float32(x)
    elif x.ndim == 2:
        if x.size == 0:
            return np.zeros(0, dtype=np.float32)
        mono = _downmix(_to_float32(x), layout.channel_axis(x.shape, channels))
    else:
        raise AudioFormatError(
            f"audio must be 1-D (mono) or 2-D (samples, channels), not {x.ndim}-D with shape "
            f"{x.shape}"
        )
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if mono.size == 0:
        return mono
    return _check_values(mono)


def iter_mono_blocks(wave: Any, *, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """:func:`to_mono_float32` of a whole clip, block by block: yields contiguous float32 mono
    blocks of at most ``block_frames`` samples whose concatenation equals
    ``to_mono_float32(wave)`` exactly (same rules and errors), without ever holding a converted
    copy of the whole clip. The dtype, shape and layout are checked before the first block is
    yielded; values (NaN/Inf, peak) are checked block by block.
    """
    x = _as_array(wave)
    if x.dtype.kind not in "fiu":
        to_mono_float32(wave)  # raises the same AudioFormatError
    if x.ndim == 1:
        sample_axis, channel_axis = 0, None
    elif x.ndim == 2:
        if x.size == 0:
            return
        channel_axis = ChannelLayout().channel_axis(x.shape)
        sample_axis = 1 - channel_axis
    else:
        to_mono_float32(wave)  # raises the same AudioFormatError (not 1-D or 2-D)
        return
    n = int(x.shape[sample_axis])
    step = max(1, int(block_frames))
    for start in range(0, n, step):
        part = x[start : start + step] if sample_axis == 0 else x[:, start : start + step]
        xf = _to_float32(part)
        mono = xf if channel_axis is None else _downmix(xf, channel_axis)
        yield _check_values(np.ascontiguousarray(mono, dtype=np.float32))


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


def _check_file(p: Path) -> None:
    if not p.exists():
        raise AudioFileError(f"audio file not found: {p}")
    if p.is_dir():
        raise AudioFileError(f"{p} is a folder, not an audio file")
    if p.stat().st_size == 0:
        raise AudioFileError(f"audio file {p} is empty (0 bytes)")


def _unreadable(p: Path, exc: BaseException) -> AudioFileError:
    reason = re.sub(r"^Error opening .*?: ", "", str(exc).split("\n")[0]).strip().rstrip(".")
    reason = re.sub(r"^Error\s*:\s*", "", reason) or type(exc).__name__
    return AudioFileError(
        f"cannot read audio file {p}: {reason}. It may be corrupt, truncated or in a format "
        "libsndfile does not read (use WAV, FLAC, OGG or MP3)"
    )


def _truncated(p: Path, expected: int, got: int) -> AudioFileError:
    return AudioFileError(
        f"audio file {p} is truncated: its header announces {expected} frames but only {got} "
        "could be read"
    )


def _check_shortfall(p: Path, extra: str) -> None:
    short = _wav_shortfall(extra)
    if short is not None:
        raise AudioFileError(
            f"audio file {p} is truncated: its header announces {short[0]} bytes of audio data but "
            f"the file holds only {short[1]}"
        )


_READ_ERRORS = (RuntimeError, ValueError, TypeError, OSError)


def load_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read an audio file with soundfile: ``(float32 samples, sample_rate)``.

    Mono files give a 1-D array, others ``(samples, channels)``. Raises :class:`AudioFileError`
    naming the file and the reason when it is missing, unreadable, truncated or unsupported.
    To read a long file without holding it whole, use :class:`AudioFileReader`.
    """
    p = Path(path).expanduser()
    _check_file(p)
    sf = require("soundfile", purpose="reading audio files")
    try:
        with sf.SoundFile(str(p)) as fh:
            expected = fh.frames
            sr = int(fh.samplerate)
            data = fh.read(dtype="float32", always_2d=False)
            extra = str(fh.extra_info)
    except _READ_ERRORS as exc:
        raise _unreadable(p, exc) from None
    got = data.shape[0]
    if got < expected:
        raise _truncated(p, expected, got)
    _check_shortfall(p, extra)
    return np.ascontiguousarray(data, dtype=np.float32), sr


class AudioFileReader:
    """An audio file read block by block: bounded memory for files of any length.

    ``with AudioFileReader(path) as r: for block in r.mono_blocks(): ...`` yields float32 mono
    blocks of at most ``block_frames`` frames whose concatenation equals :func:`load_mono`'s
    samples exactly. Opening checks what :func:`load_audio` checks up front (missing, folder,
    empty, unreadable, a WAV whose header announces more data than the file holds) and raises
    the same :class:`AudioFileError`; a file that ends before its announced frame count raises it
    after the last block. Attributes: ``path``, ``sample_rate``, ``channels``, ``frames`` (as
    announced by the header).
    """

    def __init__(self, path: str | os.PathLike[str], *, block_frames: int = BLOCK_FRAMES) -> None:
        self.path = p = Path(path).expanduser()
        self.block_frames = max(1, int(block_frames))
        _check_file(p)
        sf = require("soundfile", purpose="reading audio files")
        try:
            self._fh = sf.SoundFile(str(p))
        except _READ_ERRORS as exc:
            raise _unreadable(p, exc) from None
        try:
            self.sample_rate = int(self._fh.samplerate)
            self.channels = int(self._fh.channels)
            self.frames = int(self._fh.frames)
            _check_shortfall(p, str(self._fh.extra_info))
        except BaseException:
            self.close()
            raise

    def mono_blocks(self) -> Iterator[np.ndarray]:
        """The file's samples from the start, down-mixed, as float32 mono blocks (each checked
        like :func:`to_mono_float32`: NaN/Inf and peak)."""
        try:
            self._fh.seek(0)
        except _READ_ERRORS as exc:
            raise _unreadable(self.path, exc) from None
        got = 0
        while True:
            try:
                data = self._fh.read(self.block_frames, dtype="float32", always_2d=True)
            except _READ_ERRORS as exc:
                raise _unreadable(self.path, exc) from None
            if data.shape[0] == 0:
                break
            got += int(data.shape[0])
            mono = data[:, 0] if data.shape[1] == 1 else _downmix(data, 1)
            yield _check_values(np.ascontiguousarray(mono, dtype=np.float32))
        if got < self.frames:
            raise _truncated(self.path, self.frames, got)

    def close(self) -> None:
        """Close the file (also done by ``with``)."""
        self._fh.close()

    def __enter__(self) -> AudioFileReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_mono(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """:func:`load_audio`, down-mixed: ``(float32 mono samples, sample_rate)``. The file's channel
    count is known, so even a file of a few frames is read with the right layout."""
    wave, sr = load_audio(path)
    channels = int(wave.shape[1]) if wave.ndim == 2 else None
    return to_mono_float32(wave, channels=channels), sr


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
