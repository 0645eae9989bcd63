"""``edgeemo.microphone`` against a fake ``sounddevice`` (no audio hardware needed).

The real device path (PortAudio through PulseAudio) is covered by
tests/e2e/test_listen_virtual_mic.py.
"""

from __future__ import annotations

import threading
import time
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import edgeemo
from edgeemo import microphone
from edgeemo.errors import ConfigError, DeviceError, ModelNotFoundError
from edgeemo.microphone import ListenStats, NoInputDeviceError


def _dev(index: int, name: str, inputs: int = 2, rate: float = 48000.0) -> dict[str, Any]:
    return {"index": index, "name": name, "max_input_channels": inputs,
            "max_output_channels": 2, "default_samplerate": rate, "hostapi": 0}


class FakeStatus:
    def __init__(self, overflow: bool) -> None:
        self.input_overflow = overflow

    def __bool__(self) -> bool:
        return self.input_overflow


class FakeSd(types.SimpleNamespace):
    """Just enough of sounddevice: devices, settings check and a callback InputStream."""

    def __init__(self, devices: list[dict[str, Any]], default: int | None = None,
                 audio: np.ndarray | None = None, overflow_blocks: tuple[int, ...] = (),
                 bad_rates: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.devices, self.default = [dict(d) for d in devices], default
        self.audio = audio  # [frames, channels] delivered by the "device"
        self.overflow_blocks, self.bad_rates = overflow_blocks, bad_rates
        self.opened: list[dict[str, Any]] = []

    def query_devices(self, kind: str | None = None) -> Any:
        if kind == "input":
            if self.default is None:
                raise RuntimeError("Error querying device -1")
            return self.devices[self.default]
        return self.devices

    def query_hostapis(self, index: int) -> dict[str, str]:
        return {"name": "FakeAPI"}

    def check_input_settings(self, device: int, channels: int, dtype: str, samplerate: int) -> None:
        if samplerate in self.bad_rates:
            raise RuntimeError("Invalid sample rate")

    def InputStream(self, **kwargs: Any) -> FakeInputStream:  # noqa: N802 - sounddevice's name
        self.opened.append(kwargs)
        return FakeInputStream(self, **kwargs)


class FakeInputStream:
    def __init__(self, sd: FakeSd, *, device: int, samplerate: int, channels: int, dtype: str,
                 blocksize: int, callback: Any, finished_callback: Any) -> None:
        self.sd, self.blocksize, self.callback = sd, blocksize, callback
        self.channels, self.finished = channels, finished_callback
        self.active = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        audio = self.sd.audio
        assert audio is not None and audio.shape[1] == self.channels
        for i, start in enumerate(range(0, len(audio), self.blocksize)):
            if self._stop.is_set():
                return
            block = np.ascontiguousarray(audio[start : start + self.blocksize], dtype=np.float32)
            self.callback(block, len(block), None, FakeStatus(i in self.sd.overflow_blocks))
        self.active = False  # the device stopped delivering (end of the fake audio)

    def __enter__(self) -> FakeInputStream:
        self.active = True
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.active = False


DEVICES = [
    _dev(0, "HDA Intel PCH: ALC892 Analog (hw:0,0)", 2, 44100.0),
    {**_dev(1, "HDMI output", 0), "max_input_channels": 0},
    _dev(2, "USB Audio Device: Mic (hw:1,0)", 1, 48000.0),
    _dev(3, "pulse", 32, 44100.0),
    _dev(4, "default", 32, 44100.0),
]


@pytest.fixture()
def use_sd(monkeypatch: pytest.MonkeyPatch):
    def install(sd: FakeSd) -> FakeSd:
        monkeypatch.setattr(microphone, "_import_sounddevice", lambda: sd)
        return sd

    return install


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize(
    ("query", "index"),
    [(None, 4), (2, 2), ("2", 2), ("usb", 2), ("USB AUDIO", 2), ("pulse", 3), ("default", 4),
     ("alc892", 0)],
)
def test_resolve_device(query: Any, index: int) -> None:
    sd = FakeSd(DEVICES, default=4)
    assert microphone.resolve_input_device(query, sd=sd).index == index


def test_resolve_device_without_default_takes_first_input() -> None:
    assert microphone.resolve_input_device(None, sd=FakeSd(DEVICES, default=None)).index == 0


def test_output_only_device_is_not_an_input() -> None:
    with pytest.raises(DeviceError, match="no audio input device with index 1") as err:
        microphone.resolve_input_device(1, sd=FakeSd(DEVICES))
    assert "[2] USB Audio Device" in str(err.value) and "HDMI" not in str(err.value)


def test_unknown_name_lists_inputs() -> None:
    with pytest.raises(DeviceError, match="no audio input device matches 'blue yeti'") as err:
        microphone.resolve_input_device("blue yeti", sd=FakeSd(DEVICES))
    for name in ("ALC892", "USB Audio Device", "pulse", "default"):
        assert name in str(err.value)


def test_ambiguous_name() -> None:
    with pytest.raises(DeviceError, match="matches several input devices"):
        microphone.resolve_input_device("hw:", sd=FakeSd(DEVICES))


def test_no_input_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULSE_SERVER", "unix:/nowhere/native")
    only_outputs = [{**_dev(0, "HDMI", 0), "max_input_channels": 0}]
    for devices in ([], only_outputs):
        with pytest.raises(NoInputDeviceError, match="no audio input device found") as err:
            microphone.resolve_input_device(None, sd=FakeSd(devices))
        assert isinstance(err.value, DeviceError) and "PULSE_SERVER" in str(err.value)


def test_portaudio_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    real = importlib.import_module

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", fake_import)
    with pytest.raises(NoInputDeviceError, match="apt-get install libportaudio2"):
        microphone.list_input_devices()


def test_sounddevice_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "sounddevice", None)
    with pytest.raises(edgeemo.MissingDependencyError, match=r'edgeemo\[cpu\]') as err:
        microphone.list_input_devices()
    assert "libportaudio2" in str(err.value)


# --------------------------------------------------------------------------- listen


def _stereo_at(clip: tuple[np.ndarray, int], rate: int, seconds: float) -> np.ndarray:
    import soxr

    wave, sr = clip
    x = soxr.resample(wave[: int(seconds * sr)], sr, rate).astype(np.float32)
    return np.stack([x, 0.5 * x], axis=1)


def test_listen_lazy_export() -> None:
    assert edgeemo.listen is microphone.listen


def test_listen_matches_stream_48k_stereo(use_sd: Any, recognizer: Any, clip: Any) -> None:
    audio = _stereo_at(clip, 48000, 3.0)
    sd = use_sd(FakeSd(DEVICES, default=2, audio=audio, overflow_blocks=(3, 7)))
    stats = ListenStats()
    sd.devices[2]["max_input_channels"] = 2  # a stereo USB microphone
    gen = microphone.listen("usb", recognizer=recognizer, channels=2, stats=stats, max_seconds=2.5)
    assert sd.opened == [], "the stream opens only when iteration starts (model already loaded)"
    results = list(gen)
    assert sd.opened and sd.opened[0]["samplerate"] == 48000 and sd.opened[0]["channels"] == 2
    assert sd.opened[0]["blocksize"] == 2400  # 50 ms
    snap = stats.snapshot()
    assert snap.overflows == 2 and snap.device_rate == 48000 and snap.channels == 2
    assert snap.device_name.startswith("USB Audio") and snap.blocks >= 50
    # the same audio through a Stream directly
    stream = recognizer.create_stream()
    stream.accept(audio[: int(2.5 * 48000)], 48000)
    expected = [*stream.results(), *stream.flush()]
    assert len(results) == len(expected) > 0
    for got, exp in zip(results, expected):
        assert got.start_s == pytest.approx(exp.start_s) and got.label == exp.label
        assert np.allclose(list(got.scores.values()), list(exp.scores.values()), atol=1e-6)


def test_listen_native_rate_and_overrides(use_sd: Any, recognizer: Any, clip: Any) -> None:
    sd = use_sd(FakeSd(DEVICES, default=0, audio=_stereo_at(clip, 44100, 1.5)[:, :1]))
    list(microphone.listen(recognizer=recognizer, max_seconds=1.2, block_s=0.02))
    assert sd.opened[-1]["samplerate"] == 44100 and sd.opened[-1]["blocksize"] == 882
    sd.audio = _stereo_at(clip, 16000, 1.5)[:, :1]
    list(microphone.listen(recognizer=recognizer, sample_rate=16000, max_seconds=1.2))
    assert sd.opened[-1]["samplerate"] == 16000


def test_listen_loads_model_before_opening(use_sd: Any, tmp_path: Path) -> None:
    sd = use_sd(FakeSd(DEVICES, default=2, audio=np.zeros((100, 1), np.float32)))
    with pytest.raises(ModelNotFoundError):
        microphone.listen(model=tmp_path / "missing.onnx")
    assert sd.opened == []


def test_listen_device_errors(use_sd: Any, recognizer: Any) -> None:
    use_sd(FakeSd(DEVICES, default=2, bad_rates=(96000,)))
    with pytest.raises(DeviceError, match="cannot record 1 channel.* at 96000 Hz"):
        microphone.listen(recognizer=recognizer, sample_rate=96000)
    with pytest.raises(DeviceError, match="has 1 input channel"):
        microphone.listen("usb", recognizer=recognizer, channels=2)


@pytest.mark.parametrize(
    "kwargs",
    [{"channels": 0}, {"channels": 9}, {"block_s": 0}, {"sample_rate": -1}, {"max_seconds": 0}],
)
def test_listen_bad_arguments(use_sd: Any, recognizer: Any, kwargs: dict[str, Any]) -> None:
    use_sd(FakeSd(DEVICES, default=2))
    with pytest.raises(ConfigError):
        microphone.listen(recognizer=recognizer, **kwargs)


def test_listen_model_and_recognizer_conflict(use_sd: Any, recognizer: Any, fixture_models: Any) -> None:
    use_sd(FakeSd(DEVICES, default=2))
    with pytest.raises(ConfigError, match="not both"):
        microphone.listen(model=fixture_models["valid"], recognizer=recognizer)


def test_listen_device_stops(use_sd: Any, recognizer: Any, clip: Any) -> None:
    use_sd(FakeSd(DEVICES, default=2, audio=_stereo_at(clip, 48000, 0.5)[:, :1]))
    with pytest.raises(DeviceError, match="stopped delivering audio"):
        list(microphone.listen(recognizer=recognizer))  # no max_seconds: runs until the device dies


def test_listen_close_stops_stream(use_sd: Any, recognizer: Any, clip: Any) -> None:
    sd = use_sd(FakeSd(DEVICES, default=2, audio=_stereo_at(clip, 48000, 3.0)[:, :1]))
    gen = microphone.listen(recognizer=recognizer)
    first = next(gen)
    assert isinstance(first, edgeemo.EmotionResult)
    gen.close()  # the with-block closes the input stream
    assert sd.opened


# --------------------------------------------------------------------------- files and demo clip


def test_stream_file_realtime_and_fast(recognizer: Any, test_actor_clips: Any, tmp_path: Path) -> None:
    import soundfile as sf

    path = test_actor_clips[0][0]
    wave, sr = sf.read(path, dtype="float32")
    short = tmp_path / "short.wav"
    sf.write(short, wave[: int(1.5 * sr)], sr)
    t0 = time.monotonic()
    fast = list(microphone.stream_file(short, recognizer, realtime=False))
    t_fast = time.monotonic() - t0
    t0 = time.monotonic()
    paced = list(microphone.stream_file(short, recognizer, realtime=True, chunk_s=0.1))
    t_paced = time.monotonic() - t0
    assert t_paced >= 1.4 and t_fast < 1.0
    assert [r.to_dict() for r in fast] == [r.to_dict() for r in paced]
    limited = list(microphone.stream_file(path, recognizer, realtime=False, max_seconds=1.25))
    assert limited[-1].end_s <= 1.25 + 1e-9
    with pytest.raises(ConfigError):
        microphone.stream_file(short, recognizer, chunk_s=0)


def test_demo_clip_prefers_ravdess(monkeypatch: pytest.MonkeyPatch, data_root: Path, tmp_path: Path) -> None:
    monkeypatch.setenv("EDGEEMO_DATA", str(data_root))
    assert microphone.demo_clip_path() == (data_root / microphone.DEMO_RAVDESS_CLIP).resolve()
    monkeypatch.setenv("EDGEEMO_DATA", str(tmp_path / "nothing"))
    monkeypatch.chdir(tmp_path)
    assert microphone.demo_clip_path() == microphone.bundled_demo_clip()
    # ../shared/data relative to the current directory
    (tmp_path / "shared").symlink_to(data_root.parent, target_is_directory=True)
    (tmp_path / "repo").mkdir()
    monkeypatch.delenv("EDGEEMO_DATA")
    monkeypatch.chdir(tmp_path / "repo")
    assert microphone.demo_clip_path().name == "03-01-05-02-01-01-19.flac"


def test_bundled_demo_clip_is_small_16k_mono_flac() -> None:
    import soundfile as sf

    path = microphone.bundled_demo_clip()
    assert path.is_file() and path.stat().st_size < 100_000
    info = sf.info(str(path))
    assert (info.format, info.samplerate, info.channels) == ("FLAC", 16000, 1)
    assert 3.0 < info.duration < 10.0
