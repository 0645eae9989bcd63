"""The "small" student: Whisper's own log-mel front end, conv stem and first ``k`` encoder layers,
mean + std pooled, with a layer-weighted head. Raw 16 kHz PCM in, class logits out.

Everything runs as plain tensor ops so the same module trains in torch and exports to a portable
ONNX graph (no STFT or complex op; TensorRT-friendly):

* :class:`WhisperLogMel`: ``WhisperFeatureExtractor``'s log-mel as a fixed-weight convolution STFT
  (periodic Hann window, reflect-padded centred frames, the last frame dropped, Slaney mel filters,
  log10, floor at each window's maximum - 8, ``(x + 4) / 4``);
* :class:`EncoderLayer`: one pre-norm Whisper transformer layer with explicit attention matmuls;
* :class:`WhisperWindowEncoder`: front end + conv stem + positions sliced to the window +
  ``k`` layers -> ``[batch, k + 1, 2 d]`` pooled statistics of every hidden state (the embedding
  output, then each layer; the encoder's final layer norm only when ``k`` is all layers, as in
  :meth:`~edgeemo.train.teachers.whisper.WhisperAudioEncoder.hidden_states`);
* :class:`WhisperSmall`: that encoder + :class:`~edgeemo.train.teachers.whisper_head.WhisperTeacherHead`.

Weights: OpenAI Whisper (MIT licence, Copyright (c) 2022 OpenAI), taken from a loaded
:class:`~edgeemo.train.teachers.whisper.WhisperAudioEncoder`.
"""

from __future__ import annotations

import json
import math
import os
import pickle
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from edgeemo.errors import ConfigError, ModelError
from edgeemo.fileio import atomic_write, atomic_write_text
from torch import nn

from ..teachers.whisper_head import WhisperHeadConfig, WhisperTeacherHead

__all__ = ["EncoderLayer", "SmallConfig", "WhisperLogMel", "WhisperSmall", "WhisperWindowEncoder",
           "load_encoder_weights", "load_small", "save_encoder_weights", "save_small"]

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
_LOG10 = math.log(10.0)
CHECKPOINT_WEIGHTS = "small.pt"
CHECKPOINT_CONFIG = "small.json"


@dataclass(frozen=True)
class SmallConfig:
    """Shape of a small student (what :func:`load_small` needs to rebuild it)."""

    labels: tuple[str, ...]
    n_layers: int = 2  # encoder layers kept (k)
    d_model: int = 384
    n_heads: int = 6
    ffn_dim: int = 1536
    n_mels: int = 80
    encoder_layers: int = 4  # layers of the full encoder the weights came from
    window_samples: int = 48000
    hop_samples: int = 8000
    min_samples: int = 8000
    hidden: int = 256
    whisper_size: str = "tiny.en"
    whisper_fingerprint: str = ""

    def __post_init__(self) -> None:
        if not 1 <= self.n_layers <= self.encoder_layers:
            raise ConfigError(f"n_layers must be in 1..{self.encoder_layers}, got {self.n_layers}")
        if self.window_samples % (2 * HOP_LENGTH):
            raise ConfigError(f"window_samples must be a multiple of {2 * HOP_LENGTH}, got {self.window_samples}")
        if self.window_samples // HOP_LENGTH > 3000:
            raise ConfigError("Whisper takes at most 30 s windows")

    @property
    def n_states(self) -> int:
        """Hidden states pooled: the embedding output plus each kept layer."""
        return self.n_layers + 1

    @property
    def n_frames(self) -> int:
        """Encoder positions per window (mel frames / 2)."""
        return self.window_samples // (2 * HOP_LENGTH)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["labels"] = list(self.labels)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SmallConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown small-student option(s) {unknown}")
        return cls(**{**data, "labels": tuple(data["labels"])})


def _whisper_mel_filters(n_mels: int) -> np.ndarray:
    from edgeemo.train.teachers.whisper import _mel_filters

    return _mel_filters(n_mels).T.copy()  # [n_mels, n_fft // 2 + 1]


def _stft_basis() -> np.ndarray:
    """Periodic-Hann-windowed DFT rows (real, then imaginary): ``[2 * 201, 1, 400]``."""
    n = np.arange(N_FFT)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)
    k = np.arange(N_FFT // 2 + 1)[:, None]
    angle = 2 * np.pi * k * n[None, :] / N_FFT
    return np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])[:, None, :].astype(np.float32)


class WhisperLogMel(nn.Module):
    """``[batch, samples]`` 16 kHz PCM -> ``[batch, n_mels, samples // 160]`` Whisper log-mel."""

    def __init__(self, n_mels: int = 80, mel_filters: np.ndarray | None = None) -> None:
        super().__init__()
        filters = mel_filters if mel_filters is not None else _whisper_mel_filters(n_mels)
        self.n_bins = N_FFT // 2 + 1
        self.register_buffer("stft_basis", torch.from_numpy(_stft_basis()))
        self.register_buffer("mel_matrix", torch.from_numpy(np.asarray(filters, np.float32)))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pad(audio.unsqueeze(1), (N_FFT // 2, N_FFT // 2), mode="reflect")
        spec = nn.functional.conv1d(x, self.stft_basis, stride=HOP_LENGTH)[..., :-1]
        real, imag = spec[:, : self.n_bins], spec[:, self.n_bins :]
        mel = torch.matmul(self.mel_matrix, real * real + imag * imag)
        log_mel = torch.log(torch.clamp(mel, min=1e-10)) / _LOG10
        peak = torch.amax(log_mel, dim=(1, 2), keepdim=True)
        return (torch.maximum(log_mel, peak - 8.0) + 4.0) / 4.0


class EncoderLayer(nn.Module):
    """One Whisper encoder layer (pre-norm self-attention, then a GELU MLP), explicit attention."""

    def __init__(self, d_model: int, n_heads: int, ffn_dim: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ConfigError(f"d_model {d_model} is not a multiple of n_heads {n_heads}")
        self.n_heads = n_heads
        self.head_dim = d_model // n_heads
        self.attn_norm = nn.LayerNorm(d_model)
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model, bias=False)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.mlp_norm = nn.LayerNorm(d_model)
        self.fc1 = nn.Linear(d_model, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, d_model)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.n_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.attn_norm(x)
        q = self._heads(self.q(h)) * (self.head_dim ** -0.5)
        k, v = self._heads(self.k(h)), self._heads(self.v(h))
        attn = torch.softmax(torch.matmul(q, k.transpose(-1, -2)), dim=-1)
        ctx = torch.matmul(attn, v).transpose(1, 2).reshape(x.shape)
        x = x + self.out(ctx)
        return x + self.fc2(nn.functional.gelu(self.fc1(self.mlp_norm(x))))

    def load_hf(self, layer: nn.Module) -> None:
        """Copy the weights of a ``transformers`` WhisperEncoderLayer."""
        pairs = [(self.attn_norm, layer.self_attn_layer_norm), (self.q, layer.self_attn.q_proj),
                 (self.k, layer.self_attn.k_proj), (self.v, layer.self_attn.v_proj),
                 (self.out, layer.self_attn.out_proj), (self.mlp_norm, layer.final_layer_norm),
                 (self.fc1, layer.fc1), (self.fc2, layer.fc2)]
        for mine, theirs in pairs:
            mine.load_state_dict(theirs.state_dict())


class WhisperWindowEncoder(nn.Module):
    """Front end + conv stem + the first ``n_layers`` layers -> pooled ``[B, n_layers + 1, 2 d]``."""

    def __init__(self, cfg: SmallConfig, mel_filters: np.ndarray | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.frontend = WhisperLogMel(cfg.n_mels, mel_filters)
        self.conv1 = nn.Conv1d(cfg.n_mels, cfg.d_model, 3, padding=1)
        self.conv2 = nn.Conv1d(cfg.d_model, cfg.d_model, 3, stride=2, padding=1)
        self.positions = nn.Parameter(torch.zeros(cfg.n_frames, cfg.d_model))
        self.layers = nn.ModuleList(EncoderLayer(cfg.d_model, cfg.n_heads, cfg.ffn_dim) for _ in range(cfg.n_layers))
        self.final_norm = nn.LayerNorm(cfg.d_model) if cfg.n_layers == cfg.encoder_layers else None

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        mel = self.frontend(audio)
        h = nn.functional.gelu(self.conv1(mel))
        h = nn.functional.gelu(self.conv2(h)).transpose(1, 2) + self.positions
        states = [h]
        for layer in self.layers:
            h = layer(h)
            states.append(h)
        if self.final_norm is not None:
            states[-1] = self.final_norm(h)
        pooled = []
        for s in states:
            mean = s.mean(dim=1)
            var = (s - mean.unsqueeze(1)).pow(2).mean(dim=1)
            pooled.append(torch.cat([mean, torch.sqrt(var)], dim=-1))
        return torch.stack(pooled, dim=1)

    @classmethod
    def from_whisper(cls, whisper: nn.Module, cfg: SmallConfig) -> WhisperWindowEncoder:
        """Take the weights of a :class:`~edgeemo.train.teachers.whisper.WhisperAudioEncoder`."""
        enc = whisper.encoder
        model = cls(cfg, whisper.mel_filters.T.numpy())
        model.conv1.load_state_dict(enc.conv1.state_dict())
        model.conv2.load_state_dict(enc.conv2.state_dict())
        with torch.no_grad():
            model.positions.copy_(enc.embed_positions.weight[: cfg.n_frames])
        for mine, theirs in zip(model.layers, enc.layers):
            mine.load_hf(theirs)
        if model.final_norm is not None:
            model.final_norm.load_state_dict(enc.layer_norm.state_dict())
        return model.eval()


class WhisperSmall(nn.Module):
    """The small student: :class:`WhisperWindowEncoder` + a layer-weighted head.

    ``forward(audio)`` returns ``{"logits": [B, classes], "embedding": [B, hidden]}``.
    """

    def __init__(self, cfg: SmallConfig, encoder: WhisperWindowEncoder | None = None,
                 head: WhisperTeacherHead | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder if encoder is not None else WhisperWindowEncoder(cfg)
        self.head = head if head is not None else WhisperTeacherHead(self.head_config(cfg))
        if self.head.cfg.n_layers != cfg.n_states:
            raise ConfigError(f"the head takes {self.head.cfg.n_layers} pooled states, the encoder gives {cfg.n_states}")

    @staticmethod
    def head_config(cfg: SmallConfig) -> WhisperHeadConfig:
        return WhisperHeadConfig(n_layers=cfg.n_states, feature_dim=2 * cfg.d_model, n_classes=len(cfg.labels),
                                 hidden=cfg.hidden)

    def forward(self, audio: torch.Tensor) -> dict[str, torch.Tensor]:
        pooled = self.encoder(audio)
        hidden = self.head.audio(self.head.embedding(pooled))
        return {"logits": self.head.classifier(hidden), "embedding": hidden}

    @property
    def learned_parameters(self) -> int:
        """Parameters (the front end's fixed STFT and mel constants excluded)."""
        return sum(p.numel() for p in self.parameters())


def save_encoder_weights(encoder: WhisperWindowEncoder, path: str | os.PathLike[str]) -> Path:
    """One file with a window encoder's config, mel filters and weights (float16, as Whisper's own
    weights are stored): what a machine without the Whisper package needs to rebuild it."""
    state = {k: v.half() for k, v in encoder.state_dict().items() if not k.startswith("frontend.")}
    payload = {"config": encoder.cfg.to_dict(), "mel_filters": encoder.frontend.mel_matrix.clone(), "state": state}
    atomic_write(Path(path), lambda fh: torch.save(payload, fh))
    return Path(path)


def load_encoder_weights(path: str | os.PathLike[str], n_layers: int | None = None) -> WhisperWindowEncoder:
    """A :class:`WhisperWindowEncoder` from :func:`save_encoder_weights`'s file, keeping its first
    ``n_layers`` layers (all it has by default)."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        cfg = SmallConfig.from_dict(payload["config"])
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError, ConfigError) as exc:
        raise ModelError(f"{path} is not a window-encoder weights file ({exc}); write one with "
                         "save_encoder_weights") from None
    if n_layers is not None:
        if n_layers > cfg.n_layers:
            raise ConfigError(f"{path} holds {cfg.n_layers} layers, {n_layers} asked for")
        cfg = SmallConfig.from_dict({**cfg.to_dict(), "n_layers": n_layers})
    model = WhisperWindowEncoder(cfg, payload["mel_filters"].numpy())
    keep = {k: v.float() for k, v in payload["state"].items()
            if not k.startswith("layers.") or int(k.split(".")[1]) < cfg.n_layers}
    if model.final_norm is None:
        keep = {k: v for k, v in keep.items() if not k.startswith("final_norm.")}
    missing, unexpected = model.load_state_dict(keep, strict=False)
    missing = [k for k in missing if not k.startswith("frontend.")]
    if missing or unexpected:
        raise ModelError(f"{path} does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.eval()


def save_small(model: WhisperSmall, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None, *,
               half: bool = False) -> Path:
    """Write ``small.json`` (config + ``extra``) and ``small.pt`` (state dict) atomically; with
    ``half`` the weights are stored as float16 (half the file, e.g. to move it between machines)."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v)
             for k, v in model.state_dict().items() if not k.startswith("encoder.frontend.")}
    atomic_write(out / CHECKPOINT_WEIGHTS, lambda fh: torch.save(state, fh))
    atomic_write_text(out / CHECKPOINT_CONFIG, json.dumps({"model": model.cfg.to_dict(), **(extra or {})}, indent=2))
    return out


def load_small(folder: str | os.PathLike[str]) -> tuple[WhisperSmall, dict[str, Any]]:
    """A small student (eval mode) and its ``small.json`` from :func:`save_small`'s folder."""
    root = Path(folder)
    for name in (CHECKPOINT_CONFIG, CHECKPOINT_WEIGHTS):
        if not (root / name).is_file():
            raise ModelError(f"{root} is not a small-student checkpoint (no {name})")
    meta = json.loads((root / CHECKPOINT_CONFIG).read_text())
    cfg = SmallConfig.from_dict(meta["model"])
    model = WhisperSmall(cfg)
    state = torch.load(root / CHECKPOINT_WEIGHTS, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("encoder.frontend.")]
    if missing or unexpected:
        raise ModelError(f"{root / CHECKPOINT_WEIGHTS} does not fit its config: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return model.eval(), meta
