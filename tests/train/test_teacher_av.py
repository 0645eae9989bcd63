"""The audio+video teacher on a real subset of ravdess + ravdess_visual (one short epoch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.data import RAVDESS_LABELS, fold_split, load_ravdess, select, subset_per_actor
from edgeemo.train.teachers.features import build_teacher_inputs
from edgeemo.train.teachers.model import TeacherAV, TeacherConfig
from edgeemo.train.teachers.trainer import TeacherTrainConfig, TeacherTrainer, load_teacher, predict_teacher
from edgeemo.train.teachers.visual import clip_key, load_visual_table, visual_features

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny(data_root: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """8 clips from each of actors 1, 5, 9 (train) and 13 (dev); eGeMAPS cached in a temp folder."""
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("EDGEEMO_CACHE", str(cache))
    utts = subset_per_actor([u for u in load_ravdess(data_root) if u.actor in (1, 5, 9, 13)], 8)
    inputs = build_teacher_inputs(utts, RAVDESS_LABELS, visual_root=data_root / "ravdess_visual")
    yield utts, inputs, cache
    mp.undo()


def test_visual_rows_match_the_manifest(data_root: Path) -> None:
    table = load_visual_table(data_root / "ravdess_visual")
    assert len(table) == 1200
    with np.load(data_root / "ravdess_visual" / "features" / "Actor_01.npz") as npz:
        row0 = npz["au_dynamic"][0]
        assert str(npz["names"][0]) == "01-01-01-01-01-01-01"
    utt = next(u for u in load_ravdess(data_root) if clip_key(u.path) == "03-01-01-01-01-01-01")
    np.testing.assert_array_equal(visual_features([utt], table=table)[0], row0)
    fake = type(utt)(path=Path("nowhere/03-01-01-01-01-01-99.flac"), label="neutral", speaker="x", actor=99,
                     split="train", fold=0)
    with pytest.raises(ConfigError):
        visual_features([fake], table=table)


def test_egemaps_cached_per_clip(tiny) -> None:  # type: ignore[no-untyped-def]
    utts, inputs, cache = tiny
    files = list((cache / "egemaps").rglob("*.npy"))
    assert len(files) == len({f.stem for f in files}) >= len(utts) - 1  # one byte-duplicate clip may share
    assert inputs.egemaps.shape == (len(utts), 88) and np.isfinite(inputs.egemaps).all()


@pytest.mark.parametrize("fusion", ["concat", "attention", "shift"])
def test_fusions_and_missing_video(fusion: str) -> None:
    torch.manual_seed(0)
    cfg = TeacherConfig(labels=RAVDESS_LABELS, fusion=fusion, audio_channels=(16, 16), hidden=32, heads=4)
    model = TeacherAV(cfg).eval()
    feats = model.normalize(torch.randn(3, 64, 298))
    out = model.forward_features(feats, torch.randn(3, 88), torch.randn(3, 35))
    assert out["logits"].shape == (3, 8) and out["embedding"].shape == (3, 32)
    assert {"embedding_audio", "embedding_visual", "logits_audio", "logits_visual"} <= set(out)
    # video removed (None) == video given but flagged absent: both use the learned "missing" vector
    assert torch.allclose(model.forward_features(feats, out["embedding_audio"].new_zeros(3, 88), None)["logits"],
                          model.forward_features(feats, out["embedding_audio"].new_zeros(3, 88), torch.randn(3, 35),
                                                 video_present=torch.zeros(3, dtype=torch.bool))["logits"])
    audio_only = TeacherAV(TeacherConfig(labels=RAVDESS_LABELS, use_visual=False, audio_channels=(16,), hidden=32))
    assert "embedding_visual" not in audio_only.eval().forward_features(feats, torch.randn(3, 88))


def test_bad_teacher_config() -> None:
    with pytest.raises(ConfigError):
        TeacherConfig(labels=RAVDESS_LABELS, fusion="sum")
    with pytest.raises(ConfigError):
        TeacherConfig(labels=RAVDESS_LABELS, use_logmel=False, use_egemaps=False)


@pytest.mark.slow  # trains a model
def test_av_teacher_one_epoch_on_real_data(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    utts, inputs, _ = tiny
    train = inputs.select_utterances([u for u in utts if u.actor != 13])
    dev = inputs.select_utterances([u for u in utts if u.actor == 13])
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, fusion="attention", audio_channels=(32, 32), hidden=64)
    tcfg = TeacherTrainConfig(out_dir=str(tmp_path / "t"), epochs=1, batch_size=8)
    result = TeacherTrainer(mcfg, tcfg, train, dev).fit()
    assert result.best_epoch == 0 and 0.0 <= result.dev.ua <= 1.0
    model, std, config = load_teacher(result.best_dir)
    assert config["kind"] == "teacher_av" and config["train_speakers"] == ["ravdess_01", "ravdess_05", "ravdess_09"]
    # standardisation fitted on the training rows only
    np.testing.assert_allclose(std.visual.mean, train.visual.mean(axis=0), rtol=1e-5, atol=1e-6)
    out = predict_teacher(model, std, dev)
    assert out["probs"].shape == (len(dev), 8) and np.allclose(out["probs"].sum(axis=1), 1, atol=1e-5)
    no_video = predict_teacher(model, std, dev, with_video=False)
    assert not np.allclose(out["probs"], no_video["probs"])
    center = predict_teacher(model, std, dev, crop="center")
    assert center["embedding"].shape == out["embedding"].shape
    # same configuration again: returns the finished run without training
    again = TeacherTrainer(mcfg, tcfg, train, dev).fit()
    assert again.seconds == 0.0 and again.best_epoch == result.best_epoch
    with pytest.raises(ConfigError):
        TeacherTrainer(mcfg, TeacherTrainConfig(out_dir=str(tmp_path / "t"), epochs=2), train, dev).fit()


def test_fold_split() -> None:
    assert fold_split(0) == ((2, 3, 4), 1, 0)
    assert fold_split(4) == ((1, 2, 3), 0, 4)
    with pytest.raises(ConfigError):
        fold_split(5)


@pytest.mark.slow  # trains a model
def test_masked_teacher_trains(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from edgeemo.train.teachers.masking import MaskingConfig

    utts, inputs, _ = tiny
    train = inputs.select_utterances(select(utts, folds=(0, 1)))
    dev = inputs.select_utterances(select(utts, folds=(2,)))
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, fusion="shift", audio_channels=(16,), hidden=32, use_logmel=True)
    tcfg = TeacherTrainConfig(out_dir=str(tmp_path / "m"), epochs=1, batch_size=8, select_without_video=True,
                              masking=MaskingConfig(modality_dropout=0.2))
    result = TeacherTrainer(mcfg, tcfg, train, dev).fit()
    assert (result.best_dir / "config.json").is_file()


def test_compare_functionals_feed_the_teacher(tiny) -> None:  # type: ignore[no-untyped-def]
    """ComParE 2016 (6373 values) can replace eGeMAPS; the sizes and sets are checked, not assumed."""
    from edgeemo.train.teachers.egemaps import opensmile_functionals

    utts, inputs, cache = tiny
    few = utts[:3]
    values = opensmile_functionals(few, "ComParE_2016")
    assert values.shape == (3, 6373) and np.isfinite(values).all()
    assert len(list((cache / "egemaps" / "ComParE_2016").glob("*.npy"))) == 3
    np.testing.assert_array_equal(opensmile_functionals(few, "ComParE_2016"), values)  # read back from the cache
    with pytest.raises(ConfigError, match="known"):
        opensmile_functionals(few, "GeMAPS_typo")

    cfg = TeacherConfig(labels=RAVDESS_LABELS, functionals="ComParE_2016", audio_channels=(16,), hidden=32)
    assert cfg.egemaps_dim == 6373
    assert TeacherConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="egemaps_dim"):
        TeacherConfig(labels=RAVDESS_LABELS, functionals="ComParE_2016", egemaps_dim=88)
    # a checkpoint config written before the option existed still loads as eGeMAPS
    old = {k: v for k, v in TeacherConfig(labels=RAVDESS_LABELS).to_dict().items() if k != "functionals"}
    assert TeacherConfig.from_dict(old).functionals == "eGeMAPSv02"

    from edgeemo.train.teachers.trainer import Standardizers

    std = Standardizers.fit(inputs)
    with pytest.raises(ConfigError, match="ComParE_2016"):  # eGeMAPS inputs given to a ComParE teacher
        std.tensors(inputs, cfg)


@pytest.mark.slow  # trains a model
def test_refit_with_dev_trains_the_final_teacher_on_train_and_dev(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    utts, inputs, _ = tiny
    train = inputs.select_utterances([u for u in utts if u.actor != 13])
    dev = inputs.select_utterances([u for u in utts if u.actor == 13])
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, fusion="concat", audio_channels=(16,), hidden=32)
    plain = TeacherTrainer(mcfg, TeacherTrainConfig(out_dir=str(tmp_path / "p"), epochs=2, batch_size=8),
                           train, dev).fit()
    refit = TeacherTrainer(mcfg, TeacherTrainConfig(out_dir=str(tmp_path / "r"), epochs=2, batch_size=8,
                                                    refit_with_dev=True), train, dev).fit()
    # the selection run is the same; the saved teacher is the refit one
    assert refit.best_epoch == plain.best_epoch and refit.dev == plain.dev
    _, std_p, cfg_p = load_teacher(plain.best_dir)
    model_r, std_r, cfg_r = load_teacher(refit.best_dir)
    assert cfg_r["train_speakers"] == ["ravdess_01", "ravdess_05", "ravdess_09", "ravdess_13"]
    assert cfg_p["train_speakers"] == ["ravdess_01", "ravdess_05", "ravdess_09"]
    joint = train.concat(dev)
    assert len(joint) == len(train) + len(dev) and joint.keys == train.keys + dev.keys
    np.testing.assert_allclose(std_r.visual.mean, joint.visual.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert not np.allclose(std_r.visual.mean, std_p.visual.mean)
    out = predict_teacher(model_r, std_r, dev)
    assert out["probs"].shape == (len(dev), 8)


@pytest.mark.slow  # trains a model
def test_finished_runs_resume_after_new_options_were_added(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A done.json written before an option existed (its signature lacks it) is still this run."""
    import json

    utts, inputs, _ = tiny
    train = inputs.select_utterances([u for u in utts if u.actor != 13])
    dev = inputs.select_utterances([u for u in utts if u.actor == 13])
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, fusion="concat", audio_channels=(16,), hidden=32)
    tcfg = TeacherTrainConfig(out_dir=str(tmp_path / "o"), epochs=1, batch_size=8)
    first = TeacherTrainer(mcfg, tcfg, train, dev).fit()
    done = tmp_path / "o" / "done.json"
    record = json.loads(done.read_text())
    del record["signature"]["model"]["functionals"], record["signature"]["train"]["refit_with_dev"]
    done.write_text(json.dumps(record))
    again = TeacherTrainer(mcfg, tcfg, train, dev).fit()
    assert again.seconds == 0.0 and again.best_epoch == first.best_epoch
    record["signature"]["train"]["lr"] = 1.0  # a real difference is still refused
    done.write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="another configuration"):
        TeacherTrainer(mcfg, tcfg, train, dev).fit()


def test_standardize_per_speaker_uses_each_speakers_own_rows() -> None:
    from edgeemo.train.teachers.visual import standardize_per_speaker

    rng = np.random.default_rng(0)
    a = rng.normal(5.0, 2.0, size=(6, 3))
    b = rng.normal(-3.0, 0.5, size=(4, 3))
    out = standardize_per_speaker(np.concatenate([a, b]), ["a"] * 6 + ["b"] * 4)
    expected_a = (a - a.mean(0)) / a.std(0)
    np.testing.assert_allclose(out[:6], expected_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[6:].mean(0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out[6:].std(0), 1.0, atol=1e-5)
    # another speaker's rows never change a speaker's values; interleaved rows stay in place
    alone = standardize_per_speaker(a, ["a"] * 6)
    np.testing.assert_allclose(alone, out[:6], atol=1e-6)
    mixed = standardize_per_speaker(np.stack([a[0], b[0], a[1], a[2], b[1]]), ["a", "b", "a", "a", "b"])
    np.testing.assert_allclose(mixed[[0, 2, 3]], standardize_per_speaker(a[:3], ["a"] * 3), atol=1e-6)
    with pytest.raises(ConfigError, match="speaker 'c' has 1 clip"):
        standardize_per_speaker(np.concatenate([a, b[:1]]), ["a"] * 6 + ["c"])
    with pytest.raises(ConfigError, match="speaker ids"):
        standardize_per_speaker(a, ["a"] * 5)


@pytest.mark.slow  # trains a model
def test_speaker_norm_teacher_normalises_every_speaker_at_fit_and_predict(tiny, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from edgeemo.train.teachers.trainer import Standardizers

    utts, inputs, _ = tiny
    train = inputs.select_utterances([u for u in utts if u.actor != 13])
    dev = inputs.select_utterances([u for u in utts if u.actor == 13])
    mcfg = TeacherConfig(labels=RAVDESS_LABELS, fusion="concat", audio_channels=(16,), hidden=32, speaker_norm=True)
    std = Standardizers.fit(train, mcfg)
    e, v = std.tensors(dev, mcfg)
    # after per-speaker z-scoring every column of the dev speaker has mean 0 (up to the global
    # standardiser, whose mean over per-speaker z-scores is 0 too)
    np.testing.assert_allclose(np.asarray(std.visual.mean), 0.0, atol=1e-5)
    np.testing.assert_allclose(e.numpy().mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(v.numpy().mean(0), 0.0, atol=1e-4)
    plain_cfg = TeacherConfig(labels=RAVDESS_LABELS, fusion="concat", audio_channels=(16,), hidden=32)
    _, v_plain = Standardizers.fit(train).tensors(dev, plain_cfg)
    assert not np.allclose(v_plain.numpy().mean(0), 0.0, atol=1e-2)  # without it the speaker offset stays

    result = TeacherTrainer(mcfg, TeacherTrainConfig(out_dir=str(tmp_path / "t"), epochs=1, batch_size=8),
                            train, dev).fit()
    model, std_loaded, config = load_teacher(result.best_dir)
    assert model.cfg.speaker_norm and config["model"]["speaker_norm"] is True
    with pytest.raises(ConfigError, match="speaker_norm must be true or false"):
        TeacherConfig(labels=RAVDESS_LABELS, speaker_norm="yes")  # type: ignore[arg-type]
    probs = predict_teacher(model, std_loaded, dev)["probs"]
    assert probs.shape == (len(dev), 8) and np.isfinite(probs).all()
    # the prediction of a clip depends on the other clips of its speaker (transductive), by design
    half = dev.subset(np.arange(len(dev) // 2))
    assert not np.allclose(predict_teacher(model, std_loaded, half)["probs"], probs[: len(half)], atol=1e-6)
