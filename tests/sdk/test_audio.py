"""Audio validation, conversion and file loading: every bad input gets a typed, helpful error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import edgeemo
from edgeemo.audio import check_sample_rate, to_mono_float32
from edgeemo.errors import (
    AudioFileError,
    AudioFormatError,
    AudioTooShortError,
    SampleRateError,
)


def test_int_conversions() -> None:
    i16 = np.array([-32768, 0, 16384, 32767], np.int16)
    np.testing.assert_allclose(to_mono_float32(i16), [-1.0, 0.0, 0.5, 32767 / 32768])
    i32 = np.array([-(2**31), 2**30], np.int32)
    np.testing.assert_allclose(to_mono_float32(i32), [-1.0, 0.5])
    u8 = np.array([0, 128, 192], np.uint8)
    np.testing.assert_allclose(to_mono_float32(u8), [-1.0, 0.0, 0.5])
    f64 = np.array([0.25, -0.5])
    out = to_mono_float32(f64)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_allclose(out, [0.25, -0.5])
    assert to_mono_float32([0.1, 0.2]).dtype == np.float32  # lists are fine


def test_downmix_both_layouts() -> None:
    left = np.linspace(-0.5, 0.5, 100, dtype=np.float32)
    right = np.zeros(100, np.float32)
    frames_first = np.stack([left, right], axis=1)  # (n, ch)
    channels_first = frames_first.T.copy()  # (ch, n)
    np.testing.assert_allclose(to_mono_float32(frames_first), left / 2)
    np.testing.assert_allclose(to_mono_float32(channels_first), left / 2)
    np.testing.assert_allclose(to_mono_float32(left[:, None]), left)
    np.testing.assert_allclose(to_mono_float32(left[None, :]), left)
    eight = np.tile(left[:, None], (1, 8))
    np.testing.assert_allclose(to_mono_float32(eight), left, rtol=1e-6)


def test_float_range() -> None:
    x = np.array([0.5, 1.5, -3.0], np.float32)
    np.testing.assert_allclose(to_mono_float32(x), [0.5, 1.0, -1.0])  # clipped
    with pytest.raises(AudioFormatError, match="32768"):
        to_mono_float32(np.array([0.1, 1000.0], np.float32))  # int16 values stored as float


@pytest.mark.parametrize(
    "wave, match",
    [
        (np.zeros(100, bool), "dtype bool"),
        (np.zeros(100, np.complex64), "dtype complex64"),
        (np.array(["a", "b"]), "not audio"),
        (np.array([object(), object()], dtype=object), "not audio"),
        ("hello", "not audio"),
        (None, "not audio"),
        (np.zeros(100, np.int64), "int64 is not supported"),
        (np.array([0.0, np.nan], np.float32), "NaN or Inf"),
        (np.array([0.0, np.inf]), "NaN or Inf"),
        (np.zeros((2, 3, 100), np.float32), "3-D"),
        (np.zeros((100, 20), np.float32), "at most 8"),
        (np.zeros((9, 100), np.float32), "at most 8"),
        (np.float32(0.5), "0-D"),
    ],
)
def test_bad_audio(recognizer: edgeemo.Recognizer, wave, match: str) -> None:
    with pytest.raises(AudioFormatError, match=match) as info:
        recognizer.classify(wave, 16000)
    assert isinstance(info.value, ValueError)


def test_ragged_list(recognizer: edgeemo.Recognizer) -> None:
    with pytest.raises(AudioFormatError):
        recognizer.classify([[0.0, 0.1], [0.2]], 16000)


@pytest.mark.parametrize("sr", [0, -16000, 7999, 192001, 16000.0, "16000", None, True, np.float64(16000)])
def test_bad_sample_rate(recognizer: edgeemo.Recognizer, sr) -> None:
    with pytest.raises(SampleRateError, match="sample_rate"):
        recognizer.classify(np.zeros(16000, np.float32), sr)


def test_good_sample_rates() -> None:
    assert check_sample_rate(np.int64(44100)) == 44100
    assert check_sample_rate(8000) == 8000 and check_sample_rate(192000) == 192000


def test_too_short(recognizer: edgeemo.Recognizer) -> None:
    with pytest.raises(AudioTooShortError, match="empty"):
        recognizer.classify(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioTooShortError, match="empty"):
        recognizer.classify(np.zeros((0, 2), np.float32), 16000)
    with pytest.raises(AudioTooShortError, match=r"at least 0\.500 s") as info:
        recognizer.classify(np.zeros(7999, np.float32), 16000)
    assert "0.500 s" in str(info.value)
    # the minimum applies after resampling: 0.4 s at 48 kHz is too short too
    with pytest.raises(AudioTooShortError, match=r"0\.400 s long"):
        recognizer.classify(np.zeros(19200, np.float32), 48000)
    recognizer.classify(np.zeros(8000, np.float32), 16000)  # exactly the minimum is fine


def test_classify_batch_shape(recognizer: edgeemo.Recognizer) -> None:
    for bad in (np.zeros(16000, np.float32), np.zeros((2, 15999), np.float32), np.zeros((1, 16000), bool)):
        with pytest.raises(AudioFormatError, match=r"\[N, 16000\]"):
            recognizer.classify_batch(bad)


# -- files ------------------------------------------------------------------------------------
def test_load_audio_real(clip, test_actor_clips) -> None:
    wave, sr = edgeemo.load_audio(test_actor_clips[0][0])
    assert sr == 16000 and wave.dtype == np.float32 and wave.ndim == 1 and wave.size > sr


def test_load_audio_stereo(tmp_path: Path) -> None:
    sf = pytest.importorskip("soundfile")
    x = np.zeros((4800, 2), np.float32)
    sf.write(tmp_path / "s.wav", x, 48000)
    wave, sr = edgeemo.load_audio(tmp_path / "s.wav")
    assert sr == 48000 and wave.shape == (4800, 2)


def test_load_audio_errors(tmp_path: Path, test_actor_clips) -> None:
    with pytest.raises(AudioFileError, match="not found") as info:
        edgeemo.load_audio(tmp_path / "missing.wav")
    assert "missing.wav" in str(info.value)
    with pytest.raises(AudioFileError, match="folder"):
        edgeemo.load_audio(tmp_path)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty"):
        edgeemo.load_audio(empty)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all" * 50)
    with pytest.raises(AudioFileError, match="junk.wav"):
        edgeemo.load_audio(junk)
    # truncated FLAC (real clip cut in half) and truncated WAV (header announces more data)
    flac = test_actor_clips[0][0].read_bytes()
    cut_flac = tmp_path / "cut.flac"
    cut_flac.write_bytes(flac[: len(flac) // 2])
    with pytest.raises(AudioFileError, match="cut.flac"):
        edgeemo.load_audio(cut_flac)
    sf = pytest.importorskip("soundfile")
    sf.write(tmp_path / "full.wav", np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    cut_wav = tmp_path / "cut.wav"
    cut_wav.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioFileError, match="cut.wav is truncated"):
        edgeemo.load_audio(cut_wav)


def test_classify_file_errors(recognizer: edgeemo.Recognizer, tmp_path: Path) -> None:
    with pytest.raises(AudioFileError):
        recognizer.classify_file(tmp_path / "missing.flac")


# -- dtypes and containers (issue: silent or misleading edges) --------------------------------
@pytest.mark.parametrize("dtype", [">f4", "<f4", ">f8", "<f8", ">f2", "<f2", "float16", "float64"])
def test_any_float_dtype_and_byte_order_is_converted(dtype: str) -> None:
    values = [0.25, -0.5, 0.0, 1.0]
    out = to_mono_float32(np.array(values, dtype=dtype))
    assert out.dtype == np.float32 and out.dtype.isnative and out.flags.c_contiguous
    np.testing.assert_array_equal(out, np.array(values, np.float32))


def test_big_endian_clip_classifies_like_native(recognizer: edgeemo.Recognizer, clip) -> None:
    wave, sr = clip
    ref = recognizer.classify(wave, sr)
    assert recognizer.classify(wave.astype(">f4"), sr) == ref
    assert recognizer.classify(wave.astype(">f8"), sr).label == ref.label


@pytest.mark.parametrize(("dtype", "full_scale"), [("int8", 128), (">i2", 32768), ("<i2", 32768),
                                                   (">i4", 2**31), ("int32", 2**31)])
def test_integer_pcm_is_scaled_by_its_full_range(dtype: str, full_scale: int) -> None:
    x = np.array([-full_scale, 0, full_scale // 2], dtype=dtype)
    np.testing.assert_allclose(to_mono_float32(x), [-1.0, 0.0, 0.5])


def test_lists_and_tuples_of_numbers_are_sample_values(recognizer: edgeemo.Recognizer, clip) -> None:
    """A list is not reported as 'dtype int64': numbers are sample values, converted to float32."""
    for seq in ([0, 1, -1, 0], (0, 1, -1, 0), [0.0, 1, -1, 0]):
        out = to_mono_float32(seq)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, [0.0, 1.0, -1.0, 0.0])
    np.testing.assert_allclose(to_mono_float32([[0.5, 0.0]] * 20), np.full(20, 0.25))  # (samples, ch)
    wave, sr = clip
    assert recognizer.classify(wave.tolist(), sr).label == recognizer.classify(wave, sr).label
    recognizer.classify([0] * 8000, 16000)  # a list of ints: silence, not a dtype error
    with pytest.raises(AudioFormatError, match="32768"):  # int16 values in a list: no guessing
        to_mono_float32([0, 1000, -2000])


@pytest.mark.parametrize(
    ("wave", "match"),
    [
        ([True, False], "dtype bool"),
        ([1 + 2j, 0j], "dtype complex128"),
        (np.zeros(4, ">c8"), "dtype >c8"),
        (["0.1", "0.2"], "not audio"),
        ([object()], "not audio"),
        (np.zeros(4, np.uint16), "uint16 is not supported"),
        (np.zeros(4, ">i8"), "cast first"),
    ],
)
def test_non_numeric_dtypes_still_refused(wave, match: str) -> None:
    with pytest.raises(AudioFormatError, match=match):
        to_mono_float32(wave)


def test_ambiguous_2d_layout_is_an_error_not_a_guess() -> None:
    """(2, 4) could be 2 samples of 4 channels or 4 samples of 2 channels: never guess."""
    with pytest.raises(AudioFormatError, match=r"ambiguous.*channels=") as info:
        to_mono_float32(np.zeros((2, 4), np.float32))
    assert ".T" in str(info.value)
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 10
    np.testing.assert_allclose(to_mono_float32(x, channels=2), x.mean(axis=0))  # (channels, samples)
    np.testing.assert_allclose(to_mono_float32(x.T, channels=2), x.mean(axis=0))  # (samples, channels)
    np.testing.assert_allclose(to_mono_float32(x, channels=4), x.mean(axis=1))
    with pytest.raises(AudioFormatError, match="no axis of 3 channels"):
        to_mono_float32(x, channels=3)
    with pytest.raises(AudioFormatError, match="channels must be an int from 1 to 8"):
        to_mono_float32(x, channels=9)
    with pytest.raises(AudioFormatError, match=r"reshape\(-1, 2\)"):
        to_mono_float32(np.zeros(100, np.float32), channels=2)  # 1-D is mono, not interleaved
    assert to_mono_float32(np.full((1, 1), 0.5, np.float32)).tolist() == [0.5]  # one sample: no doubt


def test_tiny_stereo_file_is_too_short_not_ambiguous(recognizer: edgeemo.Recognizer, tmp_path: Path) -> None:
    """A file's channel count is known: 4 stereo frames are 'too short', not an ambiguous layout."""
    import soundfile as sf

    path = tmp_path / "tiny.wav"
    sf.write(path, np.full((4, 2), 0.1, np.float32), 16000)
    with pytest.raises(AudioTooShortError, match="needs at least"):
        recognizer.classify_file(path)
