"""Live emotion recognition from a microphone (``edgeemo.listen``), and file streaming helpers.

The capture follows the rules learnt on real devices (shared/design/PITFALLS.md):

* the model is loaded *before* the input stream opens (a slow load would overflow the device);
* the PortAudio callback only copies each block into a :class:`queue.Queue` and counts overflows;
  all the work (down-mixing, resampling, inference) happens in the consuming thread;
* the device is opened at its native rate (USB microphones often only do 44.1/48 kHz) and the
  :class:`~edgeemo.Stream` resamples.

``sounddevice`` (and PortAudio under it) is imported only when :func:`listen` is called.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import ConfigError, DeviceError, MissingDependencyError, NoInputDeviceError
from .options import MAX_CHANNELS

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .recognizer import Recognizer
    from .results import EmotionResult

__all__ = [
    "ListenStats",
    "ListenSnapshot",
    "InputDevice",
    "NoInputDeviceError",
    "listen",
    "list_input_devices",
    "resolve_input_device",
    "stream_file",
    "demo_clip_path",
    "DEMO_RAVDESS_CLIP",
]

log = logging.getLogger("edgeemo")

#: The RAVDESS test-actor clip (actor 19, angry, strong) the demo prefers when the data is around.
DEMO_RAVDESS_CLIP = "ravdess/audio/Actor_19/03-01-05-02-01-01-19.flac"
#: The synthetic (espeak-ng) clip bundled with the package, used when no RAVDESS data is found.
BUNDLED_DEMO_CLIP = "demo_speech.flac"


_PORTAUDIO_HINT = (
    "PortAudio is needed for microphone input. On Debian/Ubuntu: "
    "apt-get install libportaudio2 (macOS: brew install portaudio)"
)





@dataclass(frozen=True)
class ListenSnapshot:
    """A frozen copy of :class:`ListenStats` at one moment."""

    overflows: int
    blocks: int
    frames: int
    seconds_captured: float
    device_name: str
    device_index: int | None
    device_rate: int
    channels: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        return {
            "overflows": self.overflows,
            "blocks": self.blocks,
            "frames": self.frames,
            "seconds_captured": round(self.seconds_captured, 3),
            "device_name": self.device_name,
            "device_index": self.device_index,
            "device_rate": self.device_rate,
            "channels": self.channels,
        }


@dataclass
class ListenStats:
    """Live capture counters, updated from the audio thread; read them with :meth:`snapshot`.

    Pass an instance to :func:`listen` to watch overflows while iterating.
    """

    overflows: int = 0
    blocks: int = 0
    frames: int = 0
    device_name: str = ""
    device_index: int | None = None
    device_rate: int = 0
    channels: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def seconds_captured(self) -> float:
        """Seconds of audio delivered by the device so far."""
        return self.frames / self.device_rate if self.device_rate else 0.0

    def _record_block(self, frames: int, overflowed: bool) -> None:
        with self._lock:
            self.blocks += 1
            self.frames += frames
            if overflowed:
                self.overflows += 1

    def snapshot(self) -> ListenSnapshot:
        """A consistent, frozen copy of the counters."""
        with self._lock:
            return ListenSnapshot(
                overflows=self.overflows,
                blocks=self.blocks,
                frames=self.frames,
                seconds_captured=self.seconds_captured,
                device_name=self.device_name,
                device_index=self.device_index,
                device_rate=self.device_rate,
                channels=self.channels,
            )


@dataclass(frozen=True)
class InputDevice:
    """An audio input device as PortAudio reports it."""

    index: int
    name: str
    max_input_channels: int
    default_samplerate: float
    hostapi: str = ""

    def __str__(self) -> str:
        rate = int(round(self.default_samplerate))
        api = f", {self.hostapi}" if self.hostapi else ""
        return f"[{self.index}] {self.name} ({self.max_input_channels} in, {rate} Hz{api})"


# --------------------------------------------------------------------------------------------
# sounddevice / PortAudio access


def _import_sounddevice() -> ModuleType:
    """Import ``sounddevice`` lazily, turning a missing PortAudio into a clear :class:`DeviceError`."""
    try:
        from ._deps import require

        return require("sounddevice", purpose="microphone input")
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{exc}. {_PORTAUDIO_HINT}") from exc
    except OSError as exc:  # sounddevice raises OSError('PortAudio library not found')
        raise NoInputDeviceError(
            f"no audio input device: the PortAudio library is missing ({exc}). {_PORTAUDIO_HINT}"
        ) from exc


def _hostapi_name(sd: ModuleType, index: Any) -> str:
    try:
        return str(sd.query_hostapis(int(index))["name"])
    except Exception:  # noqa: BLE001 - cosmetic only
        return ""


def list_input_devices(sd: ModuleType | None = None) -> list[InputDevice]:
    """Every device with at least one input channel (empty when there is none)."""
    sd = sd or _import_sounddevice()
    try:
        devices = sd.query_devices()
    except Exception as exc:  # PortAudioError and friends
        raise DeviceError(f"cannot list audio devices: {exc}") from exc
    out = []
    for idx, dev in enumerate(devices):
        if int(dev.get("max_input_channels", 0)) > 0:
            out.append(
                InputDevice(
                    index=int(dev.get("index", idx)),
                    name=str(dev["name"]),
                    max_input_channels=int(dev["max_input_channels"]),
                    default_samplerate=float(dev.get("default_samplerate") or 0.0),
                    hostapi=_hostapi_name(sd, dev.get("hostapi", -1)),
                )
            )
    return out


def _available(devices: list[InputDevice]) -> str:
    return "; ".join(str(d) for d in devices)


def _no_device_message() -> str:
    hint = ""
    if os.environ.get("PULSE_SERVER"):
        hint = f" (PULSE_SERVER={os.environ['PULSE_SERVER']} is set: is that server running?)"
    return (
        "no audio input device found: PortAudio lists no device with input channels" + hint
        + ". Plug in a microphone, or use a file instead (edgeemo listen --input FILE)"
    )


def resolve_input_device(
    device: int | str | None = None, *, sd: ModuleType | None = None
) -> InputDevice:
    """Find the input device by index, by name (case-insensitive substring) or the default one.

    Raises :class:`NoInputDeviceError` when there is no input device at all and
    :class:`DeviceError`, listing the available input devices, when ``device`` matches none.
    """
    sd = sd or _import_sounddevice()
    inputs = list_input_devices(sd)
    if not inputs:
        raise NoInputDeviceError(_no_device_message())
    if isinstance(device, str) and device.strip().lstrip("-").isdigit():
        device = int(device.strip())
    if device is None:
        try:
            info = sd.query_devices(kind="input")
            index = int(info.get("index", -1))
        except Exception:  # noqa: BLE001 - PortAudioError: no default input
            return inputs[0]
        for dev in inputs:
            if dev.index == index:
                return dev
        return inputs[0]
    if isinstance(device, int):
        for dev in inputs:
            if dev.index == device:
                return dev
        raise DeviceError(
            f"no audio input device with index {device}. Input devices: {_available(inputs)}"
        )
    wanted = device.strip().lower()
    exact = [d for d in inputs if d.name.lower() == wanted]
    if len(exact) == 1:
        return exact[0]
    matches = [d for d in inputs if wanted in d.name.lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(
            f"no audio input device matches {device!r}. Input devices: {_available(inputs)}"
        )
    raise DeviceError(
        f"{device!r} matches several input devices, give an index or a longer name: "
        f"{_available(matches)}"
    )


# --------------------------------------------------------------------------------------------
# listen


def _make_recognizer(model: Any, recognizer: Recognizer | None) -> Recognizer:
    if recognizer is not None:
        if model is not None:
            raise ConfigError("give either model= or recognizer= to listen(), not both")
        return recognizer
    from .recognizer import Recognizer

    return Recognizer(model)


def _check_args(channels: int, block_s: float, sample_rate: int | None, max_seconds: float | None) -> None:
    if not 1 <= int(channels) <= MAX_CHANNELS:
        raise ConfigError(f"channels must be between 1 and {MAX_CHANNELS}, got {channels}")
    if not block_s > 0:
        raise ConfigError(f"block_s must be > 0, got {block_s}")
    if sample_rate is not None and int(sample_rate) <= 0:
        raise ConfigError(f"sample_rate must be positive, got {sample_rate}")
    if max_seconds is not None and not max_seconds > 0:
        raise ConfigError(f"max_seconds must be > 0, got {max_seconds}")


def listen(
    device: int | str | None = None,
    *,
    model: Any = None,
    recognizer: Recognizer | None = None,
    stream_options: Any = None,
    sample_rate: int | None = None,
    channels: int = 1,
    block_s: float = 0.05,
    stats: ListenStats | None = None,
    max_seconds: float | None = None,
    tap: Callable[[np.ndarray, int], None] | None = None,
) -> Iterator[EmotionResult]:
    """Recognise emotion live from an input device; yields one :class:`EmotionResult` per hop.

    Args:
        device: input device index, a (case-insensitive substring of a) device name, or ``None``
            for the default input device.
        model: model path for a new :class:`~edgeemo.Recognizer` (``None``: the bundled model).
        recognizer: an existing recognizer to share (give this or ``model``, not both).
        stream_options: :class:`~edgeemo.StreamOptions` (or a dict) for the stream.
        sample_rate: capture rate; ``None`` opens the device at its native default rate and the
            stream resamples to the model's rate.
        channels: capture channels; several are averaged to mono.
        block_s: PortAudio block length in seconds.
        stats: a :class:`ListenStats` to fill (overflows, blocks, seconds captured, device).
        max_seconds: stop after this many captured seconds (``None``: until the caller stops).
        tap: called in the consuming thread with each captured block (float32
            ``[frames, channels]``, at the capture rate) and the rate, before the stream sees it;
            e.g. to record what the model heard (``edgeemo listen --record``).

    The device is checked and the model loaded when ``listen`` is called (so errors surface at
    once); the input stream opens when iteration starts and closes when the generator is closed,
    garbage-collected or exhausted. When ``max_seconds`` is reached, the stream is flushed and its
    last results are yielded.

    Raises:
        NoInputDeviceError: the machine has no input device (a :class:`DeviceError`).
        DeviceError: wrong device, unsupported rate/channels, PortAudio missing or failing.
        MissingDependencyError: ``sounddevice`` is not installed.
    """
    _check_args(channels, block_s, sample_rate, max_seconds)
    sd = _import_sounddevice()
    dev = resolve_input_device(device, sd=sd)
    channels = int(channels)
    if channels > dev.max_input_channels:
        raise DeviceError(
            f"{dev.name!r} has {dev.max_input_channels} input channel(s), {channels} requested"
        )
    rate = int(sample_rate) if sample_rate is not None else int(round(dev.default_samplerate))
    if rate <= 0:
        raise DeviceError(f"{dev.name!r} reports no default sample rate: pass sample_rate=")
    try:
        sd.check_input_settings(device=dev.index, channels=channels, dtype="float32", samplerate=rate)
    except Exception as exc:  # noqa: BLE001 - PortAudioError / ValueError
        raise DeviceError(
            f"{dev.name!r} cannot record {channels} channel(s) at {rate} Hz: {exc}"
        ) from exc
    # Load the model before the stream opens: a slow load would make the device overflow.
    rec = _make_recognizer(model, recognizer)
    stream = rec.create_stream(options=stream_options)
    stats = stats if stats is not None else ListenStats()
    stats.device_name, stats.device_index = dev.name, dev.index
    stats.device_rate, stats.channels = rate, channels
    return _capture(sd, dev, rate, channels, block_s, stream, stats, max_seconds, tap)


def _capture(
    sd: ModuleType,
    dev: InputDevice,
    rate: int,
    channels: int,
    block_s: float,
    stream: Any,
    stats: ListenStats,
    max_seconds: float | None,
    tap: Callable[[np.ndarray, int], None] | None,
) -> Iterator[EmotionResult]:
    blocks: queue.Queue[np.ndarray] = queue.Queue()
    errors: list[BaseException] = []

    def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Audio thread: copy and count only.
        blocks.put_nowait(indata.copy())
        stats._record_block(frames, bool(getattr(status, "input_overflow", False)))

    def finished() -> None:
        errors.append(DeviceError(f"the input stream of {dev.name!r} stopped"))

    max_frames = None if max_seconds is None else int(round(max_seconds * rate))
    taken = 0
    blocksize = max(1, int(round(block_s * rate)))
    try:
        input_stream = sd.InputStream(
            device=dev.index, samplerate=rate, channels=channels, dtype="float32",
            blocksize=blocksize, callback=callback, finished_callback=finished,
        )
    except Exception as exc:  # noqa: BLE001 - PortAudioError
        raise DeviceError(f"cannot open {dev.name!r} at {rate} Hz: {exc}") from exc
    log.info("listening on %s at %d Hz, %d channel(s)", dev, rate, channels)
    with input_stream:
        while max_frames is None or taken < max_frames:
            try:
                block = blocks.get(timeout=1.0)
            except queue.Empty:
                if errors or not input_stream.active:
                    raise DeviceError(
                        f"the input device {dev.name!r} stopped delivering audio"
                    ) from (errors[0] if errors else None)
                continue
            if max_frames is not None and taken + len(block) > max_frames:
                block = block[: max_frames - taken]
            taken += len(block)
            if tap is not None:
                tap(block, rate)
            stream.accept(block, sample_rate=rate, channels=int(block.shape[1]))
            yield from stream.results()
    yield from stream.flush()


# --------------------------------------------------------------------------------------------
# files


def stream_file(
    path: str | os.PathLike[str],
    recognizer: Recognizer,
    *,
    realtime: bool = True,
    chunk_s: float = 0.05,
    stream_options: Any = None,
    max_seconds: float | None = None,
) -> Iterator[EmotionResult]:
    """Feed an audio file through a :class:`~edgeemo.Stream` in chunks and yield its results.

    With ``realtime`` the chunks are paced at the speed of the audio (what ``edgeemo listen
    --input`` does, so a file behaves like a microphone); without it the file runs as fast as the
    model allows. The file is read at its own rate; the stream resamples. The stream is flushed
    at the end of the file (or after ``max_seconds``). A file shorter than the model's minimum
    raises :class:`~edgeemo.errors.AudioTooShortError` at once, as ``classify`` does.
    """
    if not chunk_s > 0:
        raise ConfigError(f"chunk_s must be > 0, got {chunk_s}")
    from .audio import load_mono

    wave, sr = load_mono(path)
    _check_long_enough(wave, int(sr), recognizer)
    if max_seconds is not None:
        wave = wave[: int(round(max_seconds * sr))]
    return _paced(wave, int(sr), recognizer.create_stream(options=stream_options), realtime, chunk_s)


def _check_long_enough(wave: np.ndarray, sr: int, recognizer: Recognizer) -> None:
    """Raise :class:`AudioTooShortError` (the error and message of ``classify``) for a file shorter
    than the model's ``min_samples``: a stream would silently give no result at all."""
    if wave.size * recognizer.sample_rate >= (recognizer.min_samples + 1) * sr:
        return  # clearly long enough; only short files pay for the exact check
    from .audio import prepare_clip

    prepare_clip(wave, sr, recognizer.sample_rate, recognizer.min_samples)


def _paced(
    wave: np.ndarray, sr: int, stream: Any, realtime: bool, chunk_s: float
) -> Iterator[EmotionResult]:
    step = max(1, int(round(chunk_s * sr)))
    start = time.monotonic()
    for offset in range(0, len(wave), step):
        chunk = wave[offset : offset + step]
        if realtime:
            due = start + (offset + len(chunk)) / sr
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        stream.accept(chunk, sample_rate=sr)
        yield from stream.results()
    yield from stream.flush()


def _data_roots(env: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if env is None else env
    roots = []
    if env.get("EDGEEMO_DATA"):
        roots.append(Path(env["EDGEEMO_DATA"]))
    roots.append(Path("..") / "shared" / "data")
    return roots


def bundled_demo_clip() -> Path:
    """The synthetic demo clip shipped inside the package (``edgeemo/models/demo_speech.flac``)."""
    return Path(str(resources.files("edgeemo") / "models" / BUNDLED_DEMO_CLIP))


def demo_clip_path() -> Path:
    """A speech clip to show the product working without a microphone.

    Prefers the RAVDESS test-actor clip (actor 19, angry) from ``$EDGEEMO_DATA`` or
    ``../shared/data`` (relative to the current directory) when it is there; else the bundled
    synthetic clip (espeak-ng, 16 kHz mono FLAC). RAVDESS audio is never shipped in the package.
    """
    for root in _data_roots():
        candidate = root / DEMO_RAVDESS_CLIP
        if candidate.is_file():
            return candidate.resolve()
    return bundled_demo_clip()
