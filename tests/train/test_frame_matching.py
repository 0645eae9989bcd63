"""Frame-level Whisper regression: where the student's columns sit in time, which Whisper frames
each one is matched to, the frame cache on real clips, and a short real run with the term."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from edgeemo.errors import ConfigError
from edgeemo.train.data import RAVDESS_LABELS
from edgeemo.train.distill.frame_matching import WHISPER_FRAME_SAMPLES, FrameTargets, frame_regression_term
from edgeemo.train.distill.function_matching import (
    FunctionMatchingConfig,
    ViewTargets,
    build_function_matching_terms,
    function_matching_trainer,
)
from edgeemo.train.frontend import FrontendConfig
from edgeemo.train.models.student import StudentConfig, StudentNet

from .conftest import tiny_train_config

STREAM = dict(normalization="local_max", time_padding="valid", time_pools=(5, 2, 1),
              frontend=FrontendConfig(log_floor=1e-10))


# ------------------------------------------------------------------ where the columns are
def _receptive_field(model: StudentNet, n_frames: int, column: int) -> tuple[int, int]:
    """First and last input frame (of the normalised input) that trunk column ``column`` depends on."""
    torch.manual_seed(0)
    reach = torch.zeros(n_frames, dtype=torch.bool)
    for _ in range(4):  # max pooling passes gradient to one input per window: several random inputs
        x = torch.randn(1, 1, model.cfg.frontend.n_mels, n_frames, requires_grad=True)
        (grad,) = torch.autograd.grad(model.trunk(x)[0, :, :, column].sum(), x)
        reach |= grad.abs().sum(dim=(0, 1, 2)) > 0
    hit = torch.nonzero(reach).flatten()
    return int(hit.min()), int(hit.max())


@pytest.mark.parametrize("kind", ["stream", "same"])
def test_column_centers_are_the_middles_of_the_receptive_fields(kind: str):
    cfg = StudentConfig(labels=RAVDESS_LABELS, **(STREAM if kind == "stream" else {}))
    model = StudentNet(cfg).eval()
    margin = cfg.local_context_frames if cfg.normalization == "local_max" else 0
    n_in = cfg.frontend.n_frames(cfg.window_samples) - 2 * margin  # what the trunk gets after normalising
    n_columns = int(model.trunk(torch.zeros(1, 1, cfg.frontend.n_mels, n_in)).shape[3])
    centers = cfg.column_centers(n_columns)
    assert np.allclose(np.diff(centers), cfg.frame_stride)
    # a padded trunk's edge columns see a truncated field: check the interior there
    columns = [0, n_columns // 2, n_columns - 1] if kind == "stream" else [n_columns // 2, n_columns // 2 + 1]
    for j in columns:
        first, last = _receptive_field(model, n_in, j)
        assert centers[j] == pytest.approx(margin + (first + last) / 2)


# ------------------------------------------------------------------ which Whisper frames a column gets
def _student(dim: int) -> StudentConfig:
    return StudentConfig(labels=RAVDESS_LABELS, channels=(4, 4, 4, dim), **STREAM)


def _frames(n_clips: int, variants: int, lengths: list[int], dim: int, seed: int = 0) -> FrameTargets:
    rng = np.random.default_rng(seed)
    frames = tuple(tuple(torch.from_numpy(rng.standard_normal((lengths[(c + v) % len(lengths)], dim))).half()
                         for v in range(variants)) for c in range(n_clips))
    return FrameTargets(frames=frames, paths=tuple(f"c{c}.wav" for c in range(n_clips)), layer=2)


def _expected(frames: torch.Tensor, student: StudentConfig, start: int, n_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the mean of the Whisper frames centred within its span (by sample times, brute
    force), and whether all of them exist."""
    hop, half_span = student.frontend.hop_length, student.frame_stride * student.frontend.hop_length / 2
    centers = hop * (start + student.column_centers(n_columns)) + student.frontend.n_fft / 2  # samples
    times = WHISPER_FRAME_SAMPLES * np.arange(frames.shape[0] + 1000)
    out, ok = np.zeros((n_columns, frames.shape[1])), np.zeros(n_columns, bool)
    for j, c in enumerate(centers):
        inside = np.nonzero((times >= c - half_span) & (times < c + half_span))[0]
        assert len(inside) == student.frame_stride * hop // WHISPER_FRAME_SAMPLES
        ok[j] = inside.max() < frames.shape[0]
        if ok[j]:
            out[j] = frames[inside].float().mean(dim=0).numpy()
    return out, ok


def _identity_term(targets: FrameTargets, student: StudentConfig):
    term, head = frame_regression_term(targets, student)
    with torch.no_grad():
        head.weight.copy_(torch.eye(targets.dim))
        head.bias.zero_()
    return term


def test_each_column_is_matched_to_the_whisper_frames_of_its_own_span():
    dim, n_columns = 6, 19
    student = _student(dim)
    targets = _frames(3, 2, [150, 170, 95], dim)  # clip 1's view 1 (95 frames) ends before the crop's reach
    term = _identity_term(targets, student)
    idx, views, starts = torch.tensor([0, 2, 1]), torch.tensor([0, 1, 1]), np.array([0, 37, 11])
    expected, valid = zip(*(_expected(targets.frames[c][v], student, s, n_columns)
                            for c, v, s in zip(idx.tolist(), views.tolist(), starts)))
    assert valid[0].all() and valid[1].all() and not valid[2].all() and valid[2].any()
    columns = torch.zeros(3, dim, 2, n_columns)  # two frequency rows: the term averages them
    for b in range(3):
        columns[b, :, :, :] = torch.from_numpy(expected[b].T).float()[:, None, :]
    columns[2, :, :, ~torch.from_numpy(valid[2])] = torch.randn(dim, 2, int((~valid[2]).sum()))  # no target there
    out = {"columns": columns, "crop_start": torch.from_numpy(starts), "view": views}
    assert float(term(out, idx, 0).detach()) == pytest.approx(0.0, abs=1e-3)
    shifted = {**out, "crop_start": torch.from_numpy(starts + 10)}  # 100 ms later: other frames
    assert float(term(shifted, idx, 0).detach()) > 0.3
    other_view = {**out, "view": torch.tensor([1, 1, 1])}
    assert float(term(other_view, idx, 0).detach()) > 0.3


def test_mixup_mixes_the_frame_targets_and_a_missing_target_drops_the_column_for_both():
    dim, n_columns = 5, 19
    student = _student(dim)
    targets = _frames(2, 1, [160, 90], dim, seed=4)
    term = _identity_term(targets, student)
    starts = np.array([3, 0])
    (a, ok_a), (b, ok_b) = (_expected(targets.frames[c][0], student, s, n_columns) for c, s in zip((0, 1), starts))
    lam, perm = 0.7, torch.tensor([1, 0])
    mixed = np.stack([lam * a + (1 - lam) * b, lam * b + (1 - lam) * a])
    columns = torch.from_numpy(mixed.transpose(0, 2, 1)).float()[:, :, None, :]
    both = ok_a & ok_b
    assert both.any() and not both.all()
    columns[:, :, :, ~torch.from_numpy(both)] = 5.0  # wrong, but left out of the loss
    out = {"columns": columns, "crop_start": torch.from_numpy(starts), "mixup_lam": torch.tensor(lam),
           "mixup_perm": perm}
    assert float(term(out, torch.tensor([0, 1]), 0).detach()) == pytest.approx(0.0, abs=1e-3)
    assert float(term({**out, "mixup_lam": torch.tensor(0.5)}, torch.tensor([0, 1]), 0).detach()) > 0.01


def test_frame_options_are_checked():
    targets = _frames(2, 3, [150], 6)
    views = ViewTargets(logits=np.zeros((2, 3, 8), np.float32), embedding=np.zeros((2, 3, 4), np.float32),
                        paths=targets.paths)
    student = _student(6)
    with pytest.raises(ConfigError, match="frame targets and the student"):
        build_function_matching_terms(FunctionMatchingConfig(frame_weight=1.0), views, 16)
    with pytest.raises(ConfigError, match="do not match"):
        build_function_matching_terms(FunctionMatchingConfig(frame_weight=1.0, frame_layer=3), views, 16,
                                      frames=targets, student=student)
    terms, heads = build_function_matching_terms(FunctionMatchingConfig(frame_weight=1.0), views, 16,
                                                 frames=targets, student=student)
    assert len(terms) == 3 and set(heads) == {"proj", "frame_proj"}
    FunctionMatchingConfig(kl_weight=0, embedding_weight=0, frame_weight=1.0)  # frames alone are a target
    with pytest.raises(ConfigError, match="frame_weight must be >= 0"):
        FunctionMatchingConfig(frame_weight=-1)
    with pytest.raises(ConfigError, match="the frame targets hold 2"):
        term, _ = frame_regression_term(targets, student)
        term({"columns": torch.zeros(1, 6, 1, 19), "crop_start": torch.zeros(1, dtype=torch.int64),
              "view": torch.tensor([3])}, torch.tensor([0]), 0)
    with pytest.raises(ConfigError, match="crop_start"):
        term({"columns": torch.zeros(1, 6, 1, 19)}, torch.tensor([0]), 0)
    with pytest.raises(ConfigError, match="same number of variants"):
        FrameTargets(frames=((torch.zeros(3, 2),), (torch.zeros(3, 2), torch.zeros(3, 2))), paths=("a", "b"), layer=2)


def test_several_layers_get_one_head_and_one_term_each():
    dim, n_columns = 6, 19
    student = _student(dim)
    layer2, layer4 = _frames(2, 3, [150], dim, seed=1), _frames(2, 3, [150], dim, seed=2)
    layer4 = FrameTargets(frames=layer4.frames, paths=layer4.paths, layer=4)
    views = ViewTargets(logits=np.zeros((2, 3, 8), np.float32), embedding=np.zeros((2, 3, 4), np.float32),
                        paths=layer2.paths)
    cfg = FunctionMatchingConfig(kl_weight=0, embedding_weight=0, frame_weight=0.5, frame_extra_layers=(4,))
    assert cfg.frame_layers == (2, 4)
    with pytest.raises(ConfigError, match=r"layers \[4, 2\] do not match the layers \[2, 4\]"):
        build_function_matching_terms(cfg, views, 16, frames=(layer4, layer2), student=student)
    with pytest.raises(ConfigError, match=r"layers \[2\] do not match"):
        build_function_matching_terms(cfg, views, 16, frames=layer2, student=student)
    terms, heads = build_function_matching_terms(cfg, views, 16, frames=(layer2, layer4), student=student)
    assert len(terms) == 2 and set(heads) == {"frame_proj", "frame_proj_4"}
    assert not torch.allclose(heads["frame_proj"].weight, heads["frame_proj_4"].weight)  # seeded apart
    for head in heads.values():  # identity heads: each term is zero only on its own layer's frames
        with torch.no_grad():
            head.weight.copy_(torch.eye(dim))
            head.bias.zero_()
    idx, starts = torch.tensor([0, 1]), np.array([0, 20])
    for own, other in ((0, 1), (1, 0)):
        layer = (layer2, layer4)[own]
        expected = [_expected(layer.frames[c][1], student, s, n_columns)[0] for c, s in zip((0, 1), starts)]
        columns = torch.from_numpy(np.stack(expected).transpose(0, 2, 1)).float()[:, :, None, :]
        out = {"columns": columns, "crop_start": torch.from_numpy(starts), "view": torch.tensor([1, 1])}
        assert float(terms[own](out, idx, 0).detach()) == pytest.approx(0.0, abs=1e-3)
        assert float(terms[other](out, idx, 0).detach()) > 0.3 * 0.5  # weight 0.5 each
    with pytest.raises(ConfigError, match="distinct layer numbers"):
        FunctionMatchingConfig(frame_weight=1.0, frame_extra_layers=(2,))
    with pytest.raises(ConfigError, match="distinct layer numbers"):
        FunctionMatchingConfig(frame_weight=1.0, frame_extra_layers=(-1,))
    with pytest.raises(ConfigError, match="needs frame_weight > 0"):
        FunctionMatchingConfig(frame_extra_layers=(4,))
    from_json = FunctionMatchingConfig.from_dict({"frame_weight": 1.0, "frame_extra_layers": [4, 3]})
    assert from_json.frame_layers == (2, 4, 3)


# ------------------------------------------------------------------ the cache on real clips, and a real run
@pytest.fixture(scope="module")
def whisper_frames(tiny_subset, tmp_path_factory):
    from .conftest import skip_without_whisper

    skip_without_whisper()
    from edgeemo.train.distill.frame_matching import whisper_frame_targets
    from edgeemo.train.teachers.whisper import load_whisper_encoder, weights_fingerprint
    from edgeemo.train.trainer import StudentTrainer
    from edgeemo.train.views import TrainingViews, ViewSet, teacher_babble_pool

    train = StudentTrainer(tiny_train_config(tmp_path_factory.mktemp("probe")), utterances=tiny_subset,
                           progress=False).train_utts
    views = TrainingViews(ViewSet(1), teacher_babble_pool(tiny_subset))
    loads: list[int] = []

    def load():
        loads.append(1)
        return load_whisper_encoder()

    cache = tmp_path_factory.mktemp("frames")
    kwargs = dict(layer=2, fingerprint=weights_fingerprint(), load_encoder=load, cache_dir=cache, progress=False)
    first = whisper_frame_targets(train, views, **kwargs)
    again = whisper_frame_targets(train, views, **kwargs)
    return train, views, first, again, loads, cache


def test_frames_are_the_encoders_hidden_states_of_the_students_views_and_are_cached(whisper_frames, whisper_tiny):
    from edgeemo.fileio import sha256_file
    from edgeemo.train.data import read_audio
    from edgeemo.train.distill.frame_matching import frame_folder
    from edgeemo.train.teachers.whisper import real_frames

    train, views, first, again, loads, cache = whisper_frames
    assert loads == [1] and first.seconds > 0 and again.seconds == 0  # the second call only read the cache
    assert first.n_views == 1 and first.dim == whisper_tiny.d_model and first.paths == tuple(str(u.path) for u in train)
    for a, b in zip(first.frames, again.frames):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    clean = torch.cat([f[0].float() for f in first.frames])
    assert clean.mean(dim=0).abs().max() < 0.05 and (clean.std(dim=0) - 1).abs().max() < 0.05  # standardised
    u = train[0]
    wave = read_audio(u.path, 16000)
    view = views.waves(u, wave)[1]  # what the student trains on
    raw = np.load(frame_folder(whisper_tiny.fingerprint, 2, view_seed=1, view_tag="view", cache_dir=cache)
                  / f"{sha256_file(u.path)}.npy")
    assert raw.shape == (real_frames(len(view)) // 2, whisper_tiny.d_model)
    with torch.inference_mode():
        fresh = whisper_tiny.wave_hidden_states(view)[2].numpy()
    np.testing.assert_allclose(raw.astype(np.float32), fresh, atol=2e-2, rtol=1e-2)


@pytest.mark.slow
def test_a_short_run_with_the_frame_term_trains_its_head_and_sees_aligned_crops(tmp_path: Path, tiny_subset,
                                                                                whisper_frames):
    from edgeemo.train.checkpoint import load_checkpoint

    train, views, frames, _, _, _ = whisper_frames
    fields = {"augment": {"noise_prob": 0.0, "mixup_prob": 0.5}, "channels": (4, 4, 4, 8),
              **{k: v for k, v in STREAM.items() if k != "frontend"}}
    cfg = tiny_train_config(tmp_path / "run", **fields)
    rng = np.random.default_rng(0)
    targets = ViewTargets(logits=rng.standard_normal((len(train), 2, 8)).astype(np.float32),
                          embedding=rng.standard_normal((len(train), 2, 12)).astype(np.float32), paths=frames.paths)
    fm = FunctionMatchingConfig(frame_weight=1.0)
    trainer = function_matching_trainer(cfg, fm, targets, tiny_subset, views, frames=frames, progress=False)
    seen: list[tuple[int, int]] = []

    def spy(out, idx, epoch):
        seen.append((int(out["crop_start"].max()), int(out["columns"].shape[3])))
        for b, clip in enumerate(idx.tolist()):  # every crop lies inside its view's log-mel
            n = trainer.feats[clip][int(out["view"][b])].shape[1]
            assert 0 <= int(out["crop_start"][b]) <= n - trainer.n_frames
        return out["logits"].sum() * 0.0

    with pytest.raises(ConfigError, match="speed perturbation"):  # without views, a sped-up clip has no frames
        function_matching_trainer(tiny_train_config(tmp_path / "plain"), fm, targets, tiny_subset, None, frames=frames,
                                  progress=False)
    trainer.extra_losses.append(spy)
    head_before = trainer.extra_modules["frame_proj"].weight.detach().clone()
    result = trainer.fit()
    assert seen and all(cols == 19 for _, cols in seen)
    state = load_checkpoint(result.last_dir, with_state=True).trainer_state["extra_modules"]
    assert not torch.allclose(state["frame_proj.weight"], head_before)  # the frame term's gradient reached its head
    assert all(np.isfinite(h["train_loss"]) for h in result.history)
