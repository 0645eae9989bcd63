"""The small Whisper student: its in-graph front end and truncated encoder against the reference
Whisper encoder, the window statistics cache, checkpoints, ONNX export parity and INT8, on real
RAVDESS clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from edgeemo.errors import ConfigError, ModelError
from edgeemo.train.data import RAVDESS_LABELS, Utterance, read_audio
from edgeemo.train.models.whisper_small import (
    SmallConfig,
    WhisperSmall,
    WhisperWindowEncoder,
    load_small,
    save_small,
)
from edgeemo.train.small_features import (
    clip_windows,
    extract_window_features,
    variant_names,
)
from edgeemo.train.teachers.whisper_features import pool_hidden_states

from .conftest import skip_without_whisper

skip_without_whisper()
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def clips(ravdess_utts: list[Utterance]) -> list[Utterance]:
    test = [u for u in ravdess_utts if u.split == "test"]
    return [test[0], test[30], test[61]]


def _cfg(k: int) -> SmallConfig:
    return SmallConfig(labels=RAVDESS_LABELS, n_layers=k)


@pytest.mark.parametrize("k", [2, 4])
def test_window_encoder_equals_the_reference_encoder(whisper_tiny, clips: list[Utterance], k: int) -> None:  # type: ignore[no-untyped-def]
    """Front end + stem + k layers give the reference encoder's pooled states 0..k on a 3 s window
    (k = 4 includes the encoder's final layer norm, as the reference's last state does)."""
    wave = read_audio(clips[0].path)[:48000]
    ref = pool_hidden_states(whisper_tiny.wave_hidden_states(wave))
    enc = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(k))
    with torch.no_grad():
        mine = enc(torch.from_numpy(wave)[None])[0].numpy()
    assert mine.shape == (k + 1, 768)
    assert np.abs(mine - ref[: k + 1]).max() < 1e-4 * np.abs(ref).max()


def test_front_end_matches_whisper_log_mel(whisper_tiny, clips: list[Utterance]) -> None:  # type: ignore[no-untyped-def]
    wave = read_audio(clips[1].path)[:48000]
    enc = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(1))
    with torch.no_grad():
        mine = enc.frontend(torch.from_numpy(wave)[None])[0].numpy()
    ref = whisper_tiny.log_mel(wave).numpy()
    assert mine.shape == ref.shape == (80, 300)
    assert np.abs(mine - ref).max() < 1e-4


def test_truncation_drops_later_layers_and_is_deterministic(whisper_tiny, clips: list[Utterance]) -> None:  # type: ignore[no-untyped-def]
    x = torch.from_numpy(np.stack([read_audio(c.path)[:48000] for c in clips[:2]]))
    with torch.no_grad():
        two = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(2))(x)
        four = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(4))(x)
    assert torch.allclose(two, four[:, :3], atol=1e-5)
    assert not torch.allclose(four[:, 3], four[:, 2], atol=1e-2)


def test_config_refuses_bad_shapes() -> None:
    with pytest.raises(ConfigError, match="n_layers"):
        _cfg(5)
    with pytest.raises(ConfigError, match="multiple of 320"):
        SmallConfig(labels=RAVDESS_LABELS, window_samples=48001)


def test_clip_windows_match_the_sdk_rule() -> None:
    short = np.ones(20000, np.float32)
    w = clip_windows(short, 48000, 8000)
    assert w.shape == (1, 48000) and w[0, :20000].all() and not w[0, 20000:].any()
    long = np.arange(60000, dtype=np.float32)
    w = clip_windows(long, 48000, 8000)
    assert w.shape == (3, 48000)  # starts 0, 8000 and the end-aligned 12000
    assert w[-1, -1] == 59999 and w[1, 0] == 8000


def test_window_cache_is_reused_and_sharded(whisper_tiny, clips: list[Utterance], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    enc = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(1))
    variants = {"clean": None, "view-1": lambda u, w, d: 0.5 * w}
    first = extract_window_features(clips[:2], enc, variants, fingerprint="f" * 64, window=48000, hop=8000,
                                    cache_dir=tmp_path, shard=(1, 2), progress=False)
    assert first.computed == 2  # only clip 1, both variants
    assert first.variants["clean"][0].shape == (0, 0, 0)
    again = extract_window_features(clips[:2], enc, variants, fingerprint="f" * 64, window=48000, hop=8000,
                                    cache_dir=tmp_path, progress=False)
    assert again.computed == 2  # clip 0 now
    feats, owner = again.rows("view-1", np.array([0, 1]))
    n0 = len(clip_windows(read_audio(clips[0].path), 48000, 8000))
    assert (owner == 0).sum() == n0 and feats.shape[1:] == (2, 768)
    # half the amplitude: the log-mel peak floor and the log make Whisper nearly level-invariant, not exactly
    clean, _ = again.rows("clean", np.array([0, 1]))
    assert 0 < np.abs(clean - feats).max()
    assert variant_names(2, ["clean", "reverb"]) == ["clean", "view-1", "view-2", "eval-reverb"]
    with pytest.raises(ConfigError, match="shard"):
        extract_window_features(clips[:1], enc, variants, fingerprint="f" * 64, window=48000, hop=8000,
                                cache_dir=tmp_path, shard=(2, 2), progress=False)


def test_save_load_and_onnx_export_parity(whisper_tiny, clips: list[Utterance], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnxscript", reason="the ONNX exporter needs onnxscript (the [export] extra)")
    from edgeemo.contract import parse_metadata
    from edgeemo.export.metadata import get_metadata
    from edgeemo.export.parity import check_parity, onnx_probs
    from edgeemo.export.small_export import export_small, quantize_small

    cfg = _cfg(1)
    torch.manual_seed(0)
    model = WhisperSmall(cfg, WhisperWindowEncoder.from_whisper(whisper_tiny, cfg)).eval()
    torch.nn.init.normal_(model.head.classifier[1].weight, std=0.5)
    save_small(model, tmp_path / "ckpt", extra={"note": "test"})
    loaded, meta = load_small(tmp_path / "ckpt")
    assert meta["note"] == "test" and loaded.cfg == cfg
    windows = np.stack([read_audio(c.path)[:48000] for c in clips]).astype(np.float32)
    with torch.no_grad():
        assert torch.allclose(loaded(torch.from_numpy(windows))["logits"], model(torch.from_numpy(windows))["logits"])
    fp32 = tmp_path / "small.onnx"
    result = export_small(model, fp32, training_data="test clips")
    parity = check_parity(model, fp32, windows)
    assert parity.max_abs_diff < 1e-3 and parity.top1_agreement == 1.0
    import onnx

    proto = onnx.load(str(fp32))
    parsed = parse_metadata(get_metadata(proto), "small.onnx")
    assert parsed.window_samples == 48000 and parsed.labels == RAVDESS_LABELS
    assert "whisper-logmel" in (parsed.frontend or "") and "MIT" in parsed.license and "non-commercial" in parsed.license
    assert int(result.metadata["learned_parameters"]) == model.learned_parameters
    assert not any(n.op_type in ("STFT", "DFT") for n in proto.graph.node)
    assert any(n.name.startswith("frontend/") for n in proto.graph.node)
    int8 = tmp_path / "small-int8.onnx"
    q = quantize_small(fp32, int8, windows)
    assert q.quantized_nodes > 0 and int8.stat().st_size < fp32.stat().st_size / 2
    floats = get_metadata(onnx.load(str(int8)))["int8_float_nodes"].split(",")
    assert len(floats) >= 3  # conv1, the two attention matmuls (and the head)
    p32, p8 = onnx_probs(fp32, windows), onnx_probs(int8, windows)
    assert np.abs(p32 - p8).max() < 0.2
    # ONNX Runtime runs every weight matmul in INT8: none is left as a float MatMul fed by a
    # weight dequantized on every call (what three q/k/v projections sharing one input caused)
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(int8), so, providers=["CPUExecutionProvider"])
    optimized = onnx.load(so.optimized_model_filepath)
    weights = {i.name for i in optimized.graph.initializer}
    producer = {o: n for n in optimized.graph.node for o in n.output}
    float_weight_matmuls = [n.name for n in optimized.graph.node if n.op_type == "MatMul" and any(
        i in producer and producer[i].op_type == "DequantizeLinear" and producer[i].input[0] in weights for i in n.input)]
    assert float_weight_matmuls == []
    assert sum(n.op_type == "QLinearMatMul" for n in optimized.graph.node) == 4  # qkv, out, fc1, fc2 of k = 1


def test_fused_attention_projections_compute_the_same(whisper_tiny, clips: list[Utterance]) -> None:  # type: ignore[no-untyped-def]
    from edgeemo.export.small_export import fuse_attention_projections

    cfg = _cfg(2)
    model = WhisperSmall(cfg, WhisperWindowEncoder.from_whisper(whisper_tiny, cfg)).eval()
    fused = fuse_attention_projections(model)
    assert fuse_attention_projections(fused).encoder.layers[0].qkv.out_features == 3 * 384  # idempotent
    assert hasattr(model.encoder.layers[0], "q")  # the original is left alone
    x = torch.from_numpy(np.stack([read_audio(c.path)[:48000] for c in clips]))
    with torch.no_grad():
        a, b = model(x)["logits"], fused(x)["logits"]
    assert torch.allclose(a, b, atol=1e-4)


def test_load_small_refuses_a_foreign_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a small-student checkpoint"):
        load_small(tmp_path)


def test_encoder_weights_file_rebuilds_the_encoder(whisper_tiny, clips: list[Utterance], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One float16 file stands in for the Whisper package (Whisper's weights are float16 already, so
    nothing is lost), truncated to any k it holds; a half-precision checkpoint loads back in float32."""
    from edgeemo.train.models.whisper_small import load_encoder_weights, save_encoder_weights

    enc3 = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(3))
    path = save_encoder_weights(enc3, tmp_path / "enc.pt")
    wave = torch.from_numpy(read_audio(clips[2].path)[:48000])[None]
    for k in (1, 3):
        ref = WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(k))
        mine = load_encoder_weights(path, k)
        assert len(mine.layers) == k and mine.cfg.whisper_fingerprint == enc3.cfg.whisper_fingerprint
        with torch.no_grad():
            assert torch.equal(mine(wave), ref(wave))
    with pytest.raises(ConfigError, match="holds 3 layers"):
        load_encoder_weights(path, 4)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="not a window-encoder weights file"):
        load_encoder_weights(tmp_path / "junk.pt")

    model = WhisperSmall(_cfg(1), WhisperWindowEncoder.from_whisper(whisper_tiny, _cfg(1)))
    folder = save_small(model, tmp_path / "half", {"row": "x"}, half=True)
    full = save_small(model, tmp_path / "full")
    assert (folder / "small.pt").stat().st_size < 0.6 * (full / "small.pt").stat().st_size
    loaded, meta = load_small(folder)
    assert meta["row"] == "x" and all(p.dtype == torch.float32 for p in loaded.parameters())
    with torch.no_grad():
        a, b = model.eval()(wave)["logits"], loaded(wave)["logits"]
    assert torch.allclose(a, b, atol=1e-2 * float(a.abs().max()))
