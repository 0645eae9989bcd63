"""Degradations measured on real RAVDESS clips: each condition does what its name says, with the
same audio for the same seed; random views stay in range; the robustness bench runs end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgeemo.errors import ConfigError, MissingDependencyError
from edgeemo.train import degrade as D
from edgeemo.train.data import read_audio

SR = 16000
FRAME = 480  # 30 ms


@pytest.fixture(scope="module")
def clips(ravdess_utts) -> list[tuple[str, np.ndarray]]:
    """Six test-actor clips (three per actor, different emotions): (speaker, wave)."""
    picked = [u for u in sorted(ravdess_utts, key=lambda u: str(u.path)) if u.split == "test"][::20]
    return [(u.speaker, read_audio(u.path)) for u in picked]


@pytest.fixture(scope="module")
def pool(ravdess_utts) -> D.BabblePool:
    """One clip of each train/dev speaker; test speakers excluded."""
    exclude = {u.speaker for u in ravdess_utts if u.split == "test"}
    return D.load_babble_pool(ravdess_utts, exclude_speakers=exclude, per_speaker=1)


def db(x: float) -> float:
    return 20.0 * np.log10(x)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def noise_rms_in_quiet(clean: np.ndarray, degraded: np.ndarray, below_dbfs: float) -> float:
    """RMS of what was added, measured in the 30 ms frames where ``clean`` is below ``below_dbfs``
    (RAVDESS pauses are near digital silence): the powers of the degraded and the clean frames,
    subtracted."""
    n = clean.size // FRAME
    c = clean[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    d = degraded[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    quiet = 10 * np.log10(np.mean(c**2, axis=1) + 1e-20) < below_dbfs
    assert quiet.sum() >= 10, "the clip has less than 0.3 s quiet enough to measure the noise in"
    return float(np.sqrt(np.mean(d[quiet] ** 2) - np.mean(c[quiet] ** 2)))


def band_db(x: np.ndarray, lo: float, hi: float) -> float:
    from scipy.signal import welch

    f, p = welch(x.astype(np.float64), SR, nperseg=1024)
    return 10.0 * np.log10(p[(f >= lo) & (f < hi)].sum() + 1e-30)


def test_active_level_of_ravdess_is_quiet_and_ignores_silence(clips) -> None:
    levels = [db(D.active_rms(w)) for _, w in clips]
    assert -55 < np.median(levels) < -25
    for (_, w), level in zip(clips, levels):
        assert level > db(rms(w))  # pauses and silence are left out
        padded = np.concatenate([np.zeros(34 * FRAME), w, np.zeros(34 * FRAME)]).astype(np.float32)
        assert abs(db(D.active_rms(padded)) - level) < 0.01


@pytest.mark.parametrize("name,dbfs", [("floor_-50dBFS", -50.0), ("floor_-40dBFS", -40.0)])
def test_noise_floor_has_its_absolute_level_in_the_silence(clips, name: str, dbfs: float) -> None:
    for i, (_, w) in enumerate(clips):
        y = D.EVAL_CONDITIONS[name](w, i)
        assert abs(db(noise_rms_in_quiet(w, y, dbfs - 10.0)) - dbfs) < 1.0


@pytest.mark.parametrize("name,snr", [("white_20dB", 20.0), ("white_10dB", 10.0)])
def test_white_noise_snr_is_measured_against_active_speech(clips, name: str, snr: float) -> None:
    for i, (_, w) in enumerate(clips):
        y = D.EVAL_CONDITIONS[name](w, i)
        active = D.active_rms(w)
        noise = noise_rms_in_quiet(w, y, db(active) - snr - 10.0)
        assert abs(db(active / noise) - snr) < 1.0


@pytest.mark.parametrize("color", D.COLORS)
def test_colored_noise_at_snr_and_its_spectral_tilt(clips, color: str) -> None:
    _, w = clips[0]
    y = D.add_noise_snr(w, 15.0, color, rng=3)
    noise = y.astype(np.float64) - w
    assert abs(db(D.active_rms(w) / D.active_rms(noise)) - 15.0) < 0.5
    # band totals, 100-500 Hz over 4-8 kHz: 400/4000 Hz (white), ln 5 / ln 2 (pink, 1/f),
    # (1/100 - 1/500) / (1/4000 - 1/8000) (brown, 1/f^2)
    expected = {"white": 10 * np.log10(0.1), "pink": 10 * np.log10(np.log(5) / np.log(2)),
                "brown": 10 * np.log10(0.008 / 0.000125)}[color]
    assert band_db(noise, 100, 500) - band_db(noise, 4000, 8000) == pytest.approx(expected, abs=1.5)


def test_babble_pool_excludes_the_clips_speakers_and_sets_the_snr(clips, pool, ravdess_utts) -> None:
    test_speakers = {s for s, _ in clips}
    assert set(pool.speakers) == {u.speaker for u in ravdess_utts} - {u.speaker for u in ravdess_utts
                                                                       if u.split == "test"}
    assert not test_speakers & set(pool.speakers)
    assert len(pool.excluding("ravdess_01")) == len(pool.waves) - 1
    assert "ravdess_01" in pool.speakers
    for i, (_, w) in enumerate(clips):
        y = D.EVAL_CONDITIONS["babble_10dB"](w, i, pool.waves)
        interference = y.astype(np.float64) - w
        assert abs(db(D.active_rms(w) / D.active_rms(interference)) - 10.0) < 1.0
        # speech-like, not stationary: its 30 ms levels spread far more than white noise's
        n = interference.size // FRAME
        levels = 10 * np.log10(np.mean(interference[: n * FRAME].reshape(n, FRAME) ** 2, axis=1) + 1e-20)
        assert np.std(levels) > 2.0
    with pytest.raises(ConfigError):
        D.EVAL_CONDITIONS["babble_10dB"](clips[0][1], 0)
    with pytest.raises(ConfigError):
        D.babble(clips[0][1], pool, 10.0, rng=0)  # the pool, not its waves: own speaker not excluded


def test_load_babble_pool_is_deterministic_and_order_free(ravdess_utts) -> None:
    some = [u for u in ravdess_utts if u.actor in (1, 2, 3)]
    a = D.load_babble_pool(some, exclude_speakers={"ravdess_02"}, per_speaker=2, seed=5)
    b = D.load_babble_pool(list(reversed(some)), exclude_speakers={"ravdess_02"}, per_speaker=2, seed=5)
    assert a.speakers == b.speakers == ("ravdess_01", "ravdess_01", "ravdess_03", "ravdess_03")
    assert all(np.array_equal(x, y) for x, y in zip(a.waves, b.waves))


def test_gain_scales_rms_by_a_tenth(clips) -> None:
    for i, (_, w) in enumerate(clips):
        assert rms(D.EVAL_CONDITIONS["gain_-20dB"](w, i)) == pytest.approx(0.1 * rms(w), rel=1e-5)


def test_telephone_removes_energy_outside_the_band(clips) -> None:
    with_low_band = 0
    for i, (_, w) in enumerate(clips):
        y = D.EVAL_CONDITIONS["telephone_8k"](w, i)
        assert y.shape == w.shape
        assert band_db(y, 4000, 8000) - band_db(w, 4000, 8000) <= -30.0
        assert abs(band_db(y, 500, 3000) - band_db(w, 500, 3000)) < 1.5
        # below 200 Hz, where the clip has energy there (else the band-pass skirt above 200 Hz dominates)
        if band_db(w, 0, 200) > band_db(w, 500, 3000) - 20.0:
            with_low_band += 1
            assert band_db(y, 0, 200) - band_db(w, 0, 200) <= -20.0
    assert with_low_band >= 3


def test_lowpass_clip_and_speed(clips) -> None:
    _, w = clips[1]
    assert band_db(D.lowpass(w, 2000.0), 3000, 8000) - band_db(w, 3000, 8000) <= -30.0
    peak = float(np.abs(w).max())
    assert np.abs(D.clip_distortion(w, 0.5 * peak)).max() == pytest.approx(0.5 * peak)
    for factor in (0.9, 1.1):
        assert abs(D.speed(w, factor).size - w.size / factor) <= 1
    with pytest.raises(ConfigError):
        D.lowpass(w, 9000.0)
    with pytest.raises(ConfigError):
        D.speed(w, 3.0)


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0])
def test_synthetic_rir_decays_at_its_rt60(rt60: float) -> None:
    rir = D.synthetic_rir(rt60, rng=4)
    assert rir[0] == 1.0
    edc = np.cumsum(rir[::-1] ** 2)[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    t20 = (np.argmax(edc_db < -25.0) - np.argmax(edc_db < -5.0)) / SR
    assert 3 * t20 == pytest.approx(rt60, rel=0.15)  # Schroeder T20 extrapolated to 60 dB


def _decay_rt60(clean: np.ndarray, x: np.ndarray, hop: int = 160) -> float:
    """RT60 estimate from the fall of ``x``'s 10 ms energy after the clip's last speech frame:
    twice the time to drop 30 dB below the level just before the offset (interrupted-noise method)."""
    def energy(y: np.ndarray) -> np.ndarray:
        n = y.size // hop
        return 10 * np.log10(np.mean(y[: n * hop].astype(np.float64).reshape(n, hop) ** 2, axis=1) + 1e-14)

    ec, ex = energy(clean), energy(x)
    offset = np.flatnonzero(ec >= ec.max() - 30.0)[-1]
    ref = ex[max(0, offset - 5) : offset + 1].max()
    below = np.flatnonzero(ex[offset:] < ref - 30.0)
    return 2 * (below[0] if below.size else ex.size - offset) * hop / SR


def test_reverb_lengthens_the_decay_of_real_speech(ravdess_utts) -> None:
    utts = [u for u in sorted(ravdess_utts, key=lambda u: str(u.path)) if u.actor == 20][::12][:6]
    waves = [read_audio(u.path) for u in utts]
    clean = np.median([_decay_rt60(w, w) for w in waves])
    measured = {rt: np.median([_decay_rt60(w, D.reverb(w, rt, rng=i)) for i, w in enumerate(waves)])
                for rt in (0.3, 0.6, 1.0)}
    assert clean < 0.2
    assert measured[0.3] < measured[0.6] < measured[1.0]
    for rt, value in measured.items():
        assert rt / 2 < value < rt * 2, measured
    y = D.EVAL_CONDITIONS["reverb_0.6s"](waves[0], 0)
    assert y.shape == waves[0].shape and y.dtype == np.float32


def test_conditions_are_the_named_set_and_deterministic(clips, pool) -> None:
    assert list(D.EVAL_CONDITIONS) == ["clean", "floor_-50dBFS", "floor_-40dBFS", "white_20dB", "white_10dB",
                                       "babble_10dB", "reverb_0.6s", "telephone_8k", "gain_-20dB"]
    _, w = clips[2]
    for cond in D.EVAL_CONDITIONS.values():
        a, b = cond(w, "03-01-05-02-01-01-19", pool.waves), cond(w, "03-01-05-02-01-01-19", pool.waves)
        assert a.dtype == np.float32 and a.shape == w.shape and np.all(np.isfinite(a))
        assert np.abs(a).max() <= 1.0
        assert np.array_equal(a, b)
        if cond.name not in ("clean", "telephone_8k", "gain_-20dB"):
            assert not np.array_equal(a, cond(w, 7, pool.waves))
    assert np.array_equal(D.EVAL_CONDITIONS["clean"](w, 0), w)
    with pytest.raises(ConfigError):
        D.condition("floor_-60dBFS")


def test_make_view_is_reproducible_from_its_seed(clips, pool) -> None:
    _, w = clips[3]
    others = pool.excluding(clips[3][0])
    cfg = D.ViewConfig(floor_prob=1.0)
    assert np.array_equal(D.make_view(w, (3, 1), cfg, others), D.make_view(w, (3, 1), cfg, others))
    assert not np.array_equal(D.make_view(w, (3, 1), cfg, others), D.make_view(w, (3, 2), cfg, others))
    assert np.array_equal(D.make_view(w, 11, D.ViewConfig.off()), w)


def test_make_view_outputs_stay_in_range(clips, pool) -> None:
    everything = D.ViewConfig(speed_prob=1, reverb_prob=1, snr_prob=1, telephone_prob=0.5, lowpass_prob=0.5,
                              gain_prob=1, clip_prob=1, floor_prob=1, gain_db=(20.0, 20.0))
    for k, (speaker, w) in enumerate(clips):
        for seed in range(8):
            for cfg in (D.ViewConfig(), everything):
                v = D.make_view(w, (k, seed), cfg, pool.excluding(speaker))
                assert v.dtype == np.float32 and v.ndim == 1
                assert np.all(np.isfinite(v)) and np.abs(v).max() <= 1.0
                assert w.size / 1.1 - 1 <= v.size <= w.size / 0.9 + 1


def median_f0(x: np.ndarray) -> float:
    import parselmouth

    f0 = parselmouth.Sound(x.astype(np.float64), SR).to_pitch(pitch_floor=75.0, pitch_ceiling=600.0)
    values = f0.selected_array["frequency"]
    return float(np.median(values[values > 0]))


def spectral_centroid(x: np.ndarray) -> float:
    """Of the long-term spectrum between 300 Hz and 5 kHz (where the formants are), in Hz."""
    from scipy.signal import welch

    f, p = welch(x.astype(np.float64), SR, nperseg=1024)
    band = (f >= 300) & (f < 5000)
    return float((f[band] * p[band]).sum() / p[band].sum())


def test_voice_shift_moves_pitch_and_formants_apart(clips) -> None:
    for _, w in clips[:3]:
        f0, centroid = median_f0(w), spectral_centroid(w)
        up = D.voice_shift(w, pitch_semitones=2.0, rng=0)
        assert up.dtype == np.float32 and up.size == w.size
        assert 12 * np.log2(median_f0(up) / f0) == pytest.approx(2.0, abs=0.5)
        longer_tract = D.voice_shift(w, formant_ratio=0.9, rng=0)  # formants down, pitch kept
        assert longer_tract.size == w.size
        assert abs(12 * np.log2(median_f0(longer_tract) / f0)) < 0.5
        assert spectral_centroid(longer_tract) < 0.99 * centroid
        assert spectral_centroid(D.voice_shift(w, formant_ratio=1.1, rng=0)) > 1.01 * centroid
    _, w = clips[0]
    assert np.array_equal(D.voice_shift(w, rng=0), w)
    assert np.array_equal(D.voice_shift(np.zeros(SR, np.float32), pitch_semitones=2.0, rng=0), np.zeros(SR, np.float32))
    a = D.voice_shift(w, pitch_semitones=-1.5, formant_ratio=1.05, rng=3)  # Praat's random numbers come from rng
    assert np.array_equal(a, D.voice_shift(w, pitch_semitones=-1.5, formant_ratio=1.05, rng=3))
    assert not np.array_equal(a, D.voice_shift(w, pitch_semitones=-1.5, formant_ratio=1.05, rng=4))
    for bad in ({"pitch_semitones": 13.0}, {"formant_ratio": 0.3}):
        with pytest.raises(ConfigError):
            D.voice_shift(w, rng=0, **bad)


def test_voice_shift_without_parselmouth_names_the_extra(clips, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "parselmouth", None)
    with pytest.raises(MissingDependencyError, match=r'pip install "edgeemo\[talker\]"'):
        D.voice_shift(clips[0][1], pitch_semitones=1.0, rng=0)


def test_the_voice_step_leaves_the_other_steps_draws_alone(clips, pool) -> None:
    """The talker views add a step; the standard views (and the caches made from them) stay the same."""
    speaker, w = clips[2]
    others = pool.excluding(speaker)
    no_shift = D.ViewConfig(pitch_prob=1.0, pitch_semitones=(0.0, 0.0), formant_prob=1.0, formant_ratio=(1.0, 1.0))
    talker = D.ViewConfig(pitch_prob=1.0, formant_prob=1.0)
    for seed in range(4):
        standard = D.make_view(w, (5, seed), D.ViewConfig(), others)
        assert np.array_equal(D.make_view(w, (5, seed), no_shift, others), standard)
        shifted = D.make_view(w, (5, seed), talker, others)
        assert np.array_equal(shifted, D.make_view(w, (5, seed), talker, others))
        assert shifted.size == standard.size and not np.array_equal(shifted, standard)


def test_view_config_rejects_bad_options() -> None:
    for bad in ({"gain_prob": 1.5}, {"snr_db": (30.0, 0.0)}, {"colors": ("purple",)},
                {"telephone_prob": 0.6, "lowpass_prob": 0.6}, {"speed_factor": (0.2, 1.0)},
                {"pitch_semitones": (-13.0, 0.0)}, {"formant_ratio": (1.1, 0.9)}, {"pitch_prob": -0.1}):
        with pytest.raises(ConfigError):
            D.ViewConfig(**bad)


def test_robustness_bench_writes_its_table_and_plot(fixture_models, test_module_loader, repo_root: Path,
                                                      data_root: Path, tmp_path: Path, capsys) -> None:
    bench = test_module_loader("edgeemo_bench_robustness", repo_root / "bench" / "robustness.py")
    out = tmp_path / "robustness.md"
    assert bench.main(["--model", str(fixture_models["valid"]), "--clips-per-actor", "2", "--out", str(out),
                       "--data", str(data_root), "--no-progress"]) == 0
    text = out.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| valid |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == 1 + len(D.EVAL_CONDITIONS) + 2
    assert all(0.0 <= float(c) <= 100.0 for c in cells[1:-1])
    assert all(f"`{name}`" in text for name in D.EVAL_CONDITIONS)
    assert "4 clips" in text and (tmp_path / "robustness.png").stat().st_size > 1000
    assert "| valid |" in capsys.readouterr().out
    with pytest.raises(ConfigError):
        bench.main(["--model", str(tmp_path / "missing.onnx"), "--out", str(out)])
