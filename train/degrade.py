"""Realistic degradations of speech: named evaluation conditions and random training views.

Every function takes a 1-D mono wave at ``sample_rate`` (16 kHz by default; full scale is 1.0) and
returns a new float32 array of the same length, except :func:`speed` (``round(len / factor)``
samples). Randomness comes only from the ``rng`` argument (a ``numpy.random.Generator``, or an int
/ sequence of ints used as its seed), so equal seeds give identical audio. numpy, scipy.signal and
soxr only (no torch).

Levels:

* **active speech level** (:func:`active_rms`): the wave is cut into 30 ms frames; the gate is the
  loudest frame's energy minus :data:`ACTIVE_RANGE_DB` (30 dB); the level is the RMS over the frames
  at or above the gate. Pauses and the digital silence around RAVDESS sentences are left out, so a
  clip's level does not depend on how much silence it has (RAVDESS: median about -37 dBFS).
  Signal-to-noise ratios (:func:`add_noise_snr`, :func:`babble`) are the active level of the clip
  over the active level of the interference, both measured this way (for stationary noise that is
  its plain RMS).
* **noise floor** (:func:`noise_floor`): noise at a fixed absolute RMS in dBFS, whatever the speech
  level (a microphone's self-noise): -50 dBFS is about 13 dB SNR for a clip of median level, far
  less for the quiet ones.

Outputs are not normalised, with one exception: where a step pushes the peak above full scale
(reverberation, added noise, gain), :func:`make_view` and :class:`Condition` scale the result down
to a peak of 1.0 (:func:`fit_full_scale`), as a recorder's level setting would. :func:`gain` itself
only scales; :func:`clip_distortion` is the one deliberate clipping.

:func:`speed` changes tempo and pitch together; :func:`voice_shift` moves the pitch and the formants
(vocal-tract length) apart, at the same tempo, with Praat's PSOLA ("Change gender", through the
optional ``praat-parselmouth`` package: ``pip install "edgeemo[talker]"``; GPL-3.0, training only).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from types import MappingProxyType

import numpy as np

from edgeemo.errors import AudioFormatError, ConfigError

from .data import Utterance, read_audio

__all__ = [
    "ACTIVE_RANGE_DB",
    "COLORS",
    "EVAL_CONDITIONS",
    "BabblePool",
    "Condition",
    "ViewConfig",
    "active_rms",
    "add_noise_snr",
    "babble",
    "clip_distortion",
    "colored_noise",
    "condition",
    "db_to_amp",
    "fit_full_scale",
    "gain",
    "load_babble_pool",
    "lowpass",
    "make_view",
    "noise_floor",
    "reverb",
    "speed",
    "synthetic_rir",
    "telephone",
    "voice_shift",
]

SAMPLE_RATE = 16000
FRAME_S = 0.03
ACTIVE_RANGE_DB = 30.0
COLORS = ("white", "pink", "brown")
COLOR_LOW_HZ = 20.0  # pink and brown noise are flat below this (no DC or sub-sonic drift)
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_RATE = 8000
RIR_PREDELAY_S = 0.003  # the diffuse tail starts 3 ms after the direct sound
RIR_REFERENCE_RT60_S = 0.5  # the tail carries as much energy as the direct sound at this RT60

VOICE_PITCH_RANGE_HZ = (75.0, 600.0)  # Praat's pitch search range for voice_shift (adult speech)

RngLike = np.random.Generator | int | Sequence[int]


def _rng(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        raise ConfigError("rng is required (a numpy Generator or an int seed): degradations are deterministic")
    return np.random.default_rng(rng)


def _mono(wave: np.ndarray) -> np.ndarray:
    """``wave`` as a finite 1-D float64 array (computations run in float64)."""
    x = np.asarray(wave)
    if x.ndim != 1:
        raise AudioFormatError(f"expected a 1-D mono wave, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise AudioFormatError(f"expected float samples in [-1, 1], got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise AudioFormatError("the wave contains NaN or Inf")
    return x


def _out(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float32)


def db_to_amp(db: float) -> float:
    """Amplitude ratio of ``db`` decibels."""
    return float(10.0 ** (db / 20.0))


def fit_full_scale(wave: np.ndarray) -> np.ndarray:
    """``wave`` as float32, scaled down to a peak of 1.0 only when its peak exceeds full scale."""
    x = _mono(wave)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return _out(x / peak if peak > 1.0 else x)


def active_rms(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> float:
    """RMS of the frames within :data:`ACTIVE_RANGE_DB` of the loudest 30 ms frame (0 for silence)."""
    x = _mono(wave)
    frame = max(1, round(FRAME_S * sample_rate))
    n = x.size // frame
    if n == 0:
        return float(np.sqrt(np.mean(x**2))) if x.size else 0.0
    power = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    top = float(power.max())
    if top <= 0.0:
        return 0.0
    return float(np.sqrt(power[power >= top * 10.0 ** (-ACTIVE_RANGE_DB / 10.0)].mean()))


# ---------------------------------------------------------------- level, noise


def gain(wave: np.ndarray, db: float) -> np.ndarray:
    """``wave`` scaled by ``db`` decibels (no clipping: the result may exceed full scale)."""
    return _out(_mono(wave) * db_to_amp(db))


def colored_noise(n: int, color: str, rng: RngLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``n`` samples of white, pink (1/f power) or brown (1/f^2 power) noise at unit RMS (float64).

    Pink and brown are shaped in the frequency domain and are flat below 20 Hz, with no DC."""
    if color not in COLORS:
        raise ConfigError(f"noise color must be one of {COLORS}, got {color!r}")
    if n <= 0:
        return np.zeros(0)
    white = _rng(rng).standard_normal(n)
    if color == "white":
        noise = white
    else:
        spectrum = np.fft.rfft(white)
        freqs = np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate), COLOR_LOW_HZ)
        spectrum *= freqs ** (-0.5 if color == "pink" else -1.0)
        spectrum[0] = 0.0
        noise = np.fft.irfft(spectrum, n)
    rms = float(np.sqrt(np.mean(noise**2)))
    return noise / rms if rms > 0 else noise


def noise_floor(wave: np.ndarray, dbfs: float, color: str = "white", *, rng: RngLike,
                sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` plus noise whose RMS is ``dbfs`` re full scale, independent of the speech level."""
    x = _mono(wave)
    return _out(x + colored_noise(x.size, color, rng, sample_rate) * db_to_amp(dbfs))


def _mix_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float, sample_rate: int) -> np.ndarray:
    speech, interference = active_rms(x, sample_rate), active_rms(noise, sample_rate)
    if speech == 0.0 or interference == 0.0:
        return x.copy()
    return x + noise * (speech / interference / db_to_amp(snr_db))


def add_noise_snr(wave: np.ndarray, snr_db: float, color: str = "white", *, rng: RngLike,
                  sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` plus stationary noise ``snr_db`` below its active speech level (see module doc).

    A silent wave is returned unchanged (there is no level to be relative to)."""
    x = _mono(wave)
    return _out(_mix_at_snr(x, colored_noise(x.size, color, rng, sample_rate), snr_db, sample_rate))


def _active_span(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` without its leading and trailing frames below the active-speech gate."""
    frame = max(1, round(FRAME_S * sample_rate))
    n = x.size // frame
    if n == 0:
        return x
    power = np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1)
    if power.max() <= 0.0:
        return x
    active = np.flatnonzero(power >= power.max() * 10.0 ** (-ACTIVE_RANGE_DB / 10.0))
    return x[active[0] * frame : (active[-1] + 1) * frame]


def babble(wave: np.ndarray, others: Sequence[np.ndarray], snr_db: float, n_talkers: int = 4, *,
           rng: RngLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` plus the sum of ``n_talkers`` clips drawn from ``others`` at ``snr_db``.

    Each talker is trimmed to its active span, set to unit active level, looped and cropped to the
    length of ``wave`` from a random offset; the sum is scaled so that its active level is
    ``snr_db`` below the clip's. ``others`` must hold speakers other than the clip's (see
    :class:`BabblePool`); talkers are drawn without replacement when the pool is large enough."""
    if isinstance(others, BabblePool):
        raise ConfigError("pass pool.excluding(speaker) (or pool.waves), not the BabblePool itself")
    if not others:
        raise ConfigError("babble needs a non-empty pool of other speakers' clips")
    if n_talkers < 1:
        raise ConfigError(f"n_talkers must be >= 1, got {n_talkers}")
    x = _mono(wave)
    gen = _rng(rng)
    picks = gen.choice(len(others), size=n_talkers, replace=len(others) < n_talkers)
    mix = np.zeros_like(x)
    for i in picks:
        talker = _active_span(_mono(others[int(i)]), sample_rate)
        level = active_rms(talker, sample_rate)
        if level == 0.0 or x.size == 0:
            continue
        start = int(gen.integers(0, talker.size))
        reps = -(-(start + x.size) // talker.size)
        mix += np.tile(talker / level, reps)[start : start + x.size]
    return _out(_mix_at_snr(x, mix, snr_db, sample_rate))


# ---------------------------------------------------------------- room and channel


def synthetic_rir(rt60_s: float, *, rng: RngLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A room impulse response: a unit direct path, then exponentially decaying Gaussian noise.

    The tail starts 3 ms after the direct sound, decays by 60 dB in ``rt60_s`` (amplitude
    ``exp(-6.91 t / rt60)``) and lasts ``rt60_s``. Its energy grows in proportion to RT60 (a diffuse
    field in a fixed room): equal to the direct sound's at 0.5 s, so the direct-to-reverberant
    ratio is ``10 log10(0.5 / rt60)`` dB (+4 dB at 0.2 s, -0.8 dB at 0.6 s, -3 dB at 1 s)."""
    if not 0.05 <= rt60_s <= 5.0:
        raise ConfigError(f"rt60_s must be in [0.05, 5] s, got {rt60_s}")
    gen = _rng(rng)
    start = round(RIR_PREDELAY_S * sample_rate)
    t = np.arange(max(1, round(rt60_s * sample_rate))) / sample_rate
    tail = gen.standard_normal(t.size) * np.exp(-3.0 * math.log(10.0) * t / rt60_s)
    tail *= math.sqrt(rt60_s / RIR_REFERENCE_RT60_S / np.sum(tail**2))
    rir = np.zeros(start + t.size)
    rir[0] = 1.0
    rir[start:] += tail
    return rir


def reverb(wave: np.ndarray, rt60_s: float, *, rng: RngLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` convolved with :func:`synthetic_rir` (direct sound kept at its level; the tail past
    the end of the clip is cut, so the length is kept)."""
    from scipy.signal import fftconvolve

    x = _mono(wave)
    if x.size == 0:
        return _out(x)
    return _out(fftconvolve(x, synthetic_rir(rt60_s, rng=rng, sample_rate=sample_rate))[: x.size])


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if x.size >= n else np.concatenate([x, np.zeros(n - x.size)])


def telephone(wave: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A narrow-band telephone channel: soxr to 8 kHz, 300-3400 Hz Butterworth band-pass (order 6,
    causal), soxr back to ``sample_rate``."""
    import soxr
    from scipy.signal import butter, sosfilt

    x = _mono(wave)
    if x.size == 0:
        return _out(x)
    narrow = soxr.resample(x, sample_rate, TELEPHONE_RATE, quality="HQ")
    sos = butter(6, TELEPHONE_BAND_HZ, btype="bandpass", fs=TELEPHONE_RATE, output="sos")
    back = soxr.resample(sosfilt(sos, narrow), TELEPHONE_RATE, sample_rate, quality="HQ")
    return _out(_fit_length(np.asarray(back, dtype=np.float64), x.size))


def lowpass(wave: np.ndarray, cutoff_hz: float, sample_rate: int = SAMPLE_RATE, order: int = 8) -> np.ndarray:
    """``wave`` through a causal Butterworth low-pass at ``cutoff_hz``."""
    from scipy.signal import butter, sosfilt

    if not 0.0 < cutoff_hz < sample_rate / 2:
        raise ConfigError(f"cutoff_hz must be in (0, {sample_rate / 2:g}), got {cutoff_hz}")
    x = _mono(wave)
    return _out(sosfilt(butter(order, cutoff_hz, btype="lowpass", fs=sample_rate, output="sos"), x))


def clip_distortion(wave: np.ndarray, threshold: float) -> np.ndarray:
    """``wave`` hard-clipped at ``±threshold`` (absolute, full scale 1.0)."""
    if not threshold > 0.0:
        raise ConfigError(f"clipping threshold must be > 0, got {threshold}")
    return _out(np.clip(_mono(wave), -threshold, threshold))


def speed(wave: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` played ``factor`` times faster (tempo and pitch together; soxr resampling): the
    result has ``round(len(wave) / factor)`` samples."""
    import soxr

    if not 0.5 <= factor <= 2.0:
        raise ConfigError(f"speed factor must be in [0.5, 2], got {factor}")
    x = _mono(wave)
    if factor == 1.0 or x.size == 0:
        return _out(x)
    return _out(soxr.resample(x, sample_rate * factor, sample_rate, quality="HQ"))


def voice_shift(wave: np.ndarray, *, pitch_semitones: float = 0.0, formant_ratio: float = 1.0, rng: RngLike,
                sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """``wave`` spoken by another voice: the median pitch moved by ``pitch_semitones`` and every
    formant scaled by ``formant_ratio`` (a longer or shorter vocal tract, as vocal-tract-length
    perturbation warps the spectrum), tempo and length unchanged. Praat's "Change gender" (PSOLA)
    through ``praat-parselmouth``; Praat draws random numbers there, so its generator is seeded
    from ``rng`` for the call (and reseeded unpredictably after it). A clip without voiced frames
    keeps its pitch."""
    if not -12.0 <= pitch_semitones <= 12.0:
        raise ConfigError(f"pitch shift must be within ±12 semitones, got {pitch_semitones}")
    if not 0.5 <= formant_ratio <= 2.0:
        raise ConfigError(f"formant ratio must be in [0.5, 2], got {formant_ratio}")
    x = _mono(wave)
    if (pitch_semitones == 0.0 and formant_ratio == 1.0) or x.size == 0 or not np.any(x):
        return _out(x)
    from edgeemo._deps import require

    parselmouth = require("parselmouth", purpose="pitch and formant shifts (talker views)")
    call, run = parselmouth.praat.call, parselmouth.praat.run
    lo, hi = VOICE_PITCH_RANGE_HZ
    if x.size < 3 * sample_rate / lo:  # Praat's pitch analysis needs three periods of the lowest pitch
        return _out(x)
    seed = int(_rng(rng).integers(1, 2**31 - 1))
    sound = parselmouth.Sound(x.astype(np.float64), sampling_frequency=float(sample_rate))
    median = call(sound.to_pitch(pitch_floor=lo, pitch_ceiling=hi), "Get quantile", 0.0, 0.0, 0.5, "Hertz")
    new_median = float(median) * 2.0 ** (pitch_semitones / 12.0) if math.isfinite(median) else 0.0  # 0: unchanged
    run(f"random_initializeWithSeedUnsafelyButPredictably ({seed})")
    try:
        shifted = call(sound, "Change gender", lo, hi, float(formant_ratio), new_median, 1.0, 1.0)
    finally:
        run("random_initializeSafelyAndUnpredictably ()")
    return _out(_fit_length(np.asarray(shifted.values[0], dtype=np.float32), x.size))


# ---------------------------------------------------------------- babble pool


@dataclass(frozen=True)
class BabblePool:
    """Clips of other speakers for :func:`babble`: ``waves[i]`` was spoken by ``speakers[i]``."""

    waves: tuple[np.ndarray, ...]
    speakers: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.waves) != len(self.speakers):
            raise ConfigError("a babble pool needs one speaker per wave")

    def excluding(self, *speakers: str) -> tuple[np.ndarray, ...]:
        """The waves whose speaker is none of ``speakers`` (pass the clip's own speaker)."""
        drop = set(speakers)
        return tuple(w for w, s in zip(self.waves, self.speakers) if s not in drop)


def load_babble_pool(utterances: Sequence[Utterance], *, exclude_speakers: Iterable[str] = (),
                     per_speaker: int = 4, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> BabblePool:
    """``per_speaker`` clips of every speaker in ``utterances`` except ``exclude_speakers``.

    Deterministic: speakers in sorted order, each one's clips sorted by path and drawn with
    ``default_rng([seed, speaker index])``, whatever the order of ``utterances``."""
    if per_speaker < 1:
        raise ConfigError(f"per_speaker must be >= 1, got {per_speaker}")
    drop = set(exclude_speakers)
    by_speaker: dict[str, list[Utterance]] = {}
    for u in utterances:
        if u.speaker not in drop:
            by_speaker.setdefault(u.speaker, []).append(u)
    if not by_speaker:
        raise ConfigError("no speakers left for the babble pool after the exclusions")
    waves: list[np.ndarray] = []
    names: list[str] = []
    for k, speaker in enumerate(sorted(by_speaker)):
        clips = sorted(by_speaker[speaker], key=lambda u: str(u.path))
        picks = np.random.default_rng([seed, k]).permutation(len(clips))[:per_speaker]
        for i in sorted(picks.tolist()):
            waves.append(read_audio(clips[i].path, sample_rate))
            names.append(speaker)
    return BabblePool(tuple(waves), tuple(names))


# ---------------------------------------------------------------- named evaluation conditions

Apply = Callable[[np.ndarray, np.random.Generator, Sequence[np.ndarray]], np.ndarray]


def _stable_key(clip: int | str) -> int:
    if isinstance(clip, str):
        return zlib.crc32(clip.encode("utf-8"))
    if isinstance(clip, (int, np.integer)) and clip >= 0:
        return int(clip)
    raise ConfigError(f"a clip key is a non-negative int or a string, got {clip!r}")


@dataclass(frozen=True)
class Condition:
    """A named, fixed degradation. ``apply(wave, rng, pool)`` does the work; calling the condition
    with a clip key (an index or a stable id such as the file name) seeds ``rng`` from
    (clip, condition name), so every model is scored on the very same degraded audio."""

    name: str
    apply: Apply
    description: str
    needs_pool: bool = False

    def rng(self, clip: int | str) -> np.random.Generator:
        """The generator for ``clip`` under this condition."""
        return np.random.default_rng([_stable_key(clip), zlib.crc32(self.name.encode("utf-8"))])

    def __call__(self, wave: np.ndarray, clip: int | str, pool: Sequence[np.ndarray] = ()) -> np.ndarray:
        if self.needs_pool and not pool:
            raise ConfigError(f"condition {self.name} needs a babble pool of other speakers' clips")
        return fit_full_scale(self.apply(wave, self.rng(clip), pool))


def _clean(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    return _out(_mono(w))


def _floor(dbfs: float) -> Apply:
    def apply(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
        return noise_floor(w, dbfs, "white", rng=rng)
    return apply


def _white(snr_db: float) -> Apply:
    def apply(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
        return add_noise_snr(w, snr_db, "white", rng=rng)
    return apply


def _babble10(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    return babble(w, pool, 10.0, 4, rng=rng)


def _reverb06(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    return reverb(w, 0.6, rng=rng)


def _telephone(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    return telephone(w)


def _quiet(w: np.ndarray, rng: np.random.Generator, pool: Sequence[np.ndarray]) -> np.ndarray:
    return gain(w, -20.0)


EVAL_CONDITIONS: Mapping[str, Condition] = MappingProxyType({c.name: c for c in (
    Condition("clean", _clean, "the clip as recorded"),
    Condition("floor_-50dBFS", _floor(-50.0), "white noise at a fixed -50 dBFS RMS"),
    Condition("floor_-40dBFS", _floor(-40.0), "white noise at a fixed -40 dBFS RMS"),
    Condition("white_20dB", _white(20.0), "white noise 20 dB below the active speech level"),
    Condition("white_10dB", _white(10.0), "white noise 10 dB below the active speech level"),
    Condition("babble_10dB", _babble10, "4 other talkers, 10 dB below the active speech level", needs_pool=True),
    Condition("reverb_0.6s", _reverb06, "synthetic room, RT60 0.6 s, direct sound kept"),
    Condition("telephone_8k", _telephone, "8 kHz resampling and 300-3400 Hz band-pass"),
    Condition("gain_-20dB", _quiet, "20 dB quieter"),
)})
"""The robustness bench's conditions, in report order: ``clean`` and 8 degraded ones."""


def condition(name: str) -> Condition:
    """The evaluation condition called ``name``."""
    try:
        return EVAL_CONDITIONS[name]
    except KeyError:
        raise ConfigError(f"unknown condition {name!r}; known: {', '.join(EVAL_CONDITIONS)}") from None


# ---------------------------------------------------------------- random training views


def _check_range(name: str, value: tuple[float, float], lo: float, hi: float) -> None:
    if len(value) != 2 or not lo <= value[0] <= value[1] <= hi:
        raise ConfigError(f"ViewConfig.{name} must be (low, high) with {lo} <= low <= high <= {hi}, got {value}")


@dataclass(frozen=True)
class ViewConfig:
    """What :func:`make_view` may draw. Each ``*_prob`` is the chance that the step is applied.

    Steps, in signal order: speed, then pitch and formant shifts (the talker; off by default, they
    need ``praat-parselmouth``), reverberation (the room), noise at an SNR or babble (other sources
    in the room), telephone band or low-pass (the channel; at most one), gain (the input level; an
    increase is capped so the peak stays at or below full scale), clipping (at a fraction of the
    current peak), noise floor (the device's self-noise, fixed level)."""

    speed_prob: float = 0.3
    speed_factor: tuple[float, float] = (0.9, 1.1)
    pitch_prob: float = 0.0
    pitch_semitones: tuple[float, float] = (-2.0, 2.0)
    formant_prob: float = 0.0
    formant_ratio: tuple[float, float] = (0.9, 1.1)
    reverb_prob: float = 0.3
    rt60_s: tuple[float, float] = (0.2, 1.0)
    snr_prob: float = 0.4
    snr_db: tuple[float, float] = (0.0, 30.0)
    colors: tuple[str, ...] = COLORS
    babble_share: float = 0.4  # of the SNR draws, when a babble pool is given
    babble_talkers: tuple[int, int] = (2, 6)
    telephone_prob: float = 0.1
    lowpass_prob: float = 0.1
    lowpass_hz: tuple[float, float] = (2000.0, 6000.0)
    gain_prob: float = 0.5
    gain_db: tuple[float, float] = (-20.0, 20.0)
    clip_prob: float = 0.1
    clip_ratio: tuple[float, float] = (0.2, 0.7)
    floor_prob: float = 0.4
    floor_dbfs: tuple[float, float] = (-70.0, -35.0)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name.endswith("_prob") or f.name == "babble_share":
                value = getattr(self, f.name)
                if not 0.0 <= value <= 1.0:
                    raise ConfigError(f"ViewConfig.{f.name} must be in [0, 1], got {value}")
        if self.telephone_prob + self.lowpass_prob > 1.0:
            raise ConfigError("ViewConfig.telephone_prob + lowpass_prob must be <= 1 (one channel per view)")
        _check_range("speed_factor", self.speed_factor, 0.5, 2.0)
        _check_range("pitch_semitones", self.pitch_semitones, -12.0, 12.0)
        _check_range("formant_ratio", self.formant_ratio, 0.5, 2.0)
        _check_range("rt60_s", self.rt60_s, 0.05, 5.0)
        _check_range("snr_db", self.snr_db, -20.0, 80.0)
        _check_range("babble_talkers", self.babble_talkers, 1, 32)
        _check_range("lowpass_hz", self.lowpass_hz, 100.0, 7900.0)
        _check_range("gain_db", self.gain_db, -60.0, 60.0)
        _check_range("clip_ratio", self.clip_ratio, 0.01, 1.0)
        _check_range("floor_dbfs", self.floor_dbfs, -120.0, 0.0)
        if not self.colors or any(c not in COLORS for c in self.colors):
            raise ConfigError(f"ViewConfig.colors must be a non-empty subset of {COLORS}, got {self.colors}")

    @classmethod
    def off(cls) -> ViewConfig:
        """Every probability zero: views are the clean clip."""
        return cls(speed_prob=0.0, pitch_prob=0.0, formant_prob=0.0, reverb_prob=0.0, snr_prob=0.0, telephone_prob=0.0, lowpass_prob=0.0,
                   gain_prob=0.0, clip_prob=0.0, floor_prob=0.0)


#: one random stream per step; a new step goes at the end, so that the others' draws stay the same
_STEPS = ("speed", "reverb", "snr", "channel", "gain", "clip", "floor", "voice")


def make_view(wave: np.ndarray, seed: int | Sequence[int], cfg: ViewConfig = ViewConfig(),
              babble_pool: Sequence[np.ndarray] | None = None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """A random degraded view of ``wave`` (float32, finite, peak <= 1), the same for the same seed.

    ``seed`` is an int or a sequence of ints, e.g. ``(clip index, view index)``; each step draws from
    its own child of ``SeedSequence(seed)``, so changing one step's settings leaves the others'
    draws alone. ``babble_pool`` holds clips of speakers other than this clip's (e.g.
    ``pool.excluding(utt.speaker)``); without it every SNR draw is coloured noise. The view has
    ``len(wave)`` samples unless the speed step applies (``round(len(wave) / factor)``)."""
    rngs = dict(zip(_STEPS, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STEPS)))))
    x = _mono(wave)

    def hit(step: str, prob: float) -> np.random.Generator | None:
        gen = rngs[step]
        return gen if gen.random() < prob else None

    if (gen := hit("speed", cfg.speed_prob)) is not None:
        x = _mono(speed(x, float(gen.uniform(*cfg.speed_factor)), sample_rate))
    gen = rngs["voice"]
    semitones = float(gen.uniform(*cfg.pitch_semitones)) if gen.random() < cfg.pitch_prob else 0.0
    ratio = float(gen.uniform(*cfg.formant_ratio)) if gen.random() < cfg.formant_prob else 1.0
    if semitones != 0.0 or ratio != 1.0:
        x = _mono(voice_shift(x, pitch_semitones=semitones, formant_ratio=ratio, rng=gen, sample_rate=sample_rate))
    if (gen := hit("reverb", cfg.reverb_prob)) is not None:
        x = _mono(reverb(x, float(gen.uniform(*cfg.rt60_s)), rng=gen, sample_rate=sample_rate))
    if (gen := hit("snr", cfg.snr_prob)) is not None:
        snr = float(gen.uniform(*cfg.snr_db))
        if babble_pool and gen.random() < cfg.babble_share:
            talkers = int(gen.integers(cfg.babble_talkers[0], cfg.babble_talkers[1] + 1))
            x = _mono(babble(x, babble_pool, snr, talkers, rng=gen, sample_rate=sample_rate))
        else:
            color = cfg.colors[int(gen.integers(len(cfg.colors)))]
            x = _mono(add_noise_snr(x, snr, color, rng=gen, sample_rate=sample_rate))
    gen = rngs["channel"]
    u = gen.random()
    if u < cfg.telephone_prob:
        x = _mono(telephone(x, sample_rate))
    elif u < cfg.telephone_prob + cfg.lowpass_prob:
        x = _mono(lowpass(x, float(gen.uniform(*cfg.lowpass_hz)), sample_rate))
    x = _mono(fit_full_scale(x))
    if (gen := hit("gain", cfg.gain_prob)) is not None:
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        headroom = -20.0 * math.log10(peak) if peak > 0 else math.inf
        x = _mono(gain(x, min(float(gen.uniform(*cfg.gain_db)), headroom)))
    if (gen := hit("clip", cfg.clip_prob)) is not None and x.size and np.max(np.abs(x)) > 0:
        x = _mono(clip_distortion(x, float(gen.uniform(*cfg.clip_ratio)) * float(np.max(np.abs(x)))))
    if (gen := hit("floor", cfg.floor_prob)) is not None:
        color = cfg.colors[int(gen.integers(len(cfg.colors)))]
        x = _mono(noise_floor(x, float(gen.uniform(*cfg.floor_dbfs)), color, rng=gen, sample_rate=sample_rate))
    return fit_full_scale(x)
