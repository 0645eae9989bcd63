"""The student's views are the teacher cache's views: same seeds, same audio, sample for sample."""

from __future__ import annotations

import numpy as np
import pytest

from edgeemo.errors import ConfigError, MissingDependencyError, ModelNotFoundError
from edgeemo.fileio import sha256_file
from edgeemo.train.data import read_audio
from edgeemo.train.degrade import (
    EVAL_CONDITIONS,
    ViewConfig,
    load_babble_pool,
    make_view,
)
from edgeemo.train.teachers.whisper_features import clip_view_seed
from edgeemo.train.views import (
    BABBLE_VIEWS,
    TALKER_VIEWS,
    VIEW_KINDS,
    TrainingViews,
    ViewSet,
    condition_seed,
    condition_wave,
    teacher_babble_pool,
    view_set,
)


@pytest.fixture(scope="module")
def pool(ravdess_utts):
    return teacher_babble_pool(ravdess_utts)


@pytest.fixture(scope="module")
def clips(ravdess_utts):
    """Three clips of three speakers."""
    picked, seen = [], set()
    for u in ravdess_utts[::37]:
        if u.speaker not in seen:
            picked.append(u)
            seen.add(u.speaker)
        if len(picked) == 3:
            break
    return picked


def test_the_pool_is_the_feature_banks(ravdess_utts, pool):
    bank = load_babble_pool(ravdess_utts, per_speaker=4, seed=0)  # as recipes/whisper_teachers.py makes it
    assert bank.speakers == pool.speakers
    assert all(np.array_equal(a, b) for a, b in zip(bank.waves, pool.waves))


def test_views_equal_what_the_teacher_cache_made(clips, pool):
    views = TrainingViews(ViewSet(3), pool)
    for u in clips:
        wave = read_audio(u.path)
        got = views.waves(u, wave)
        assert len(got) == 4 and np.array_equal(got[0], wave)
        digest = sha256_file(u.path)
        for v in (1, 2, 3):  # FeatureBank: make_view(w, s, ViewConfig(), pool.excluding(spk)), tag "view", seed v
            expected = make_view(wave, clip_view_seed(v, digest), ViewConfig(), pool.excluding(u.speaker))
            assert got[v].dtype == np.float32 and np.array_equal(got[v], expected)
        assert not np.array_equal(got[1][: len(got[2])], got[2][: len(got[1])])
        again = TrainingViews(ViewSet(3), pool).waves(u, wave, clip_hash=digest)
        assert all(np.array_equal(a, b) for a, b in zip(got, again))


def test_conditions_equal_what_the_teacher_cache_made(clips, pool):
    u = clips[0]
    wave = read_audio(u.path)
    digest = sha256_file(u.path)
    for i, (name, cond) in enumerate(EVAL_CONDITIONS.items()):
        got = condition_wave(u, wave, name, pool)
        if name == "clean":
            assert np.array_equal(got, wave)
            continue
        assert condition_seed(name) == 1000 + i
        expected = cond(wave, clip_view_seed(1000 + i, digest), pool.excluding(u.speaker))
        assert np.array_equal(got, expected), name


def test_view_kinds_share_seeds_and_differ_in_tag_and_config(clips, pool):
    standard, talker = view_set(2), view_set(2, "talker")
    assert standard == ViewSet(2) and standard.tag == "view"
    assert talker.seeds == standard.seeds and talker.tag == "view-talker" != standard.tag
    assert talker.cfg.pitch_prob > 0 and talker.cfg.formant_prob > 0
    assert talker.signature()["view_config"]["formant_ratio"] == [0.9, 1.1]
    assert len({tag for _, tag in VIEW_KINDS.values()}) == len(VIEW_KINDS)
    with pytest.raises(ConfigError, match="unknown view kind 'robot'"):
        view_set(2, "robot")
    u = clips[1]
    wave = read_audio(u.path)
    got = TrainingViews(talker, pool).waves(u, wave)
    digest = sha256_file(u.path)
    for v in (1, 2):
        expected = make_view(wave, clip_view_seed(v, digest), TALKER_VIEWS, pool.excluding(u.speaker))
        assert np.array_equal(got[v], expected)


def test_views_of_several_kinds_follow_one_another(clips, pool):
    """2 standard views then 2 babble views: each made with its own config and the same seeds, as
    the feature cache made them under each kind's tag."""
    standard, babble = view_set(2), view_set(2, "babble")
    assert babble.tag == "view-babble" and babble.cfg == BABBLE_VIEWS == VIEW_KINDS["babble"][0]
    assert BABBLE_VIEWS.snr_prob == 1.0 and BABBLE_VIEWS.babble_share == 1.0 and BABBLE_VIEWS.snr_db == (0.0, 20.0)
    views = TrainingViews((standard, babble), pool)
    assert views.n_views == 4
    sig = views.signature()
    assert sig["n_views"] == 4 and [p["tag"] for p in sig["parts"]] == ["view", "view-babble"]
    assert TrainingViews(standard, pool).signature() == standard.signature()  # one set: unchanged (old runs resume)
    for u in clips[:2]:
        wave = read_audio(u.path)
        got = views.waves(u, wave)
        digest = sha256_file(u.path)
        assert len(got) == 5 and np.array_equal(got[0], wave)
        for i, (cfg, v) in enumerate([(ViewConfig(), 1), (ViewConfig(), 2), (BABBLE_VIEWS, 1), (BABBLE_VIEWS, 2)]):
            expected = make_view(wave, clip_view_seed(v, digest), cfg, pool.excluding(u.speaker))
            assert np.array_equal(got[i + 1], expected), (u.path.name, i)
        # a babble view always carries other talkers: it is never the clean clip
        residual = [float(np.sqrt(np.mean((g[: len(wave)] - wave[: len(g)]) ** 2))) for g in got[3:]]
        assert min(residual) > 1e-3
    with pytest.raises(ConfigError, match="at least one"):
        TrainingViews((), pool)


def test_view_set_checks_and_signature():
    sig = ViewSet(2).signature()
    assert sig["seeds"] == [1, 2] and sig["tag"] == "view" and sig["view_config"]["colors"] == ["white", "pink", "brown"]
    with pytest.raises(ConfigError):
        ViewSet(-1)
    with pytest.raises(ConfigError, match="unknown condition"):
        condition_seed("fog")


@pytest.mark.slow
def test_regenerated_view_gives_the_cached_whisper_features(clips, pool, tmp_path):
    """The cache recipes/whisper_teachers.py filled holds the features of exactly these waves."""
    from edgeemo.train.teachers.whisper import weights_fingerprint
    from edgeemo.train.teachers.whisper_features import (
        extract_whisper_features,
        feature_folder,
    )
    from edgeemo.train.views import view_function

    try:
        fingerprint = weights_fingerprint(size="tiny.en")
    except (ModelNotFoundError, MissingDependencyError) as exc:  # the [whisper] extra is optional
        pytest.skip(f"Whisper tiny.en is not installed: {exc}")
    u = clips[0]
    cached = feature_folder(fingerprint, view_seed=1, view_tag="view") / f"{sha256_file(u.path)}.npy"
    if not cached.is_file():
        pytest.skip(f"no cached view-1 features for {u.path.name} (run `edgeemo recipe whisper-teachers` first)")
    fresh = extract_whisper_features([u], views=view_function(pool, u.speaker), view_seed=1, view_tag="view",
                                     cache_dir=tmp_path, progress=False)
    assert fresh.computed == 1
    np.testing.assert_allclose(fresh.features[0], np.load(cached), atol=1e-4)
    babble = view_set(1, "babble")  # filled by a recipe row with babble views, if one ran here
    cached = feature_folder(fingerprint, view_seed=1, view_tag=babble.tag) / f"{sha256_file(u.path)}.npy"
    if cached.is_file():
        fresh = extract_whisper_features([u], views=view_function(pool, u.speaker, babble.cfg), view_seed=1,
                                         view_tag=babble.tag, cache_dir=tmp_path, progress=False)
        np.testing.assert_allclose(fresh.features[0], np.load(cached), atol=1e-4)
