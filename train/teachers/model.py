"""Audio(+video) teacher: log-mel encoder, optional eGeMAPS branch, AU encoder and a fusion block.

Inputs (clip level, as the RAVDESS visual features are clip means):

* log-mel ``[B, n_mels, frames]`` from the same conv-STFT front end as the student; a 1-D temporal
  CNN (wider than the student, time halved first) with mean+std pooling,
* openSMILE clip functionals (standardised; ``functionals`` picks the set: eGeMAPS v02, 88, by
  default, or ComParE 2016, 6373) through a small MLP, joined to the audio vector (the inputs and
  arguments keep the name ``egemaps`` for either set),
* OpenFace AU means ``[B, 35]`` (standardised) through an MLP.

Fusion (``TeacherConfig.fusion``):

``concat``
    MLP over ``[audio; visual]``.
``attention``
    Cross-modal attention: the visual vector queries the audio tokens (log-mel frames and the
    eGeMAPS token), the attended context refines it (residual + LayerNorm) and a sigmoid gate
    mixes audio and refined visual per dimension: ``z = g * a + (1 - g) * v'``.
``shift``
    TelME's attention-based modality shifting, audio-led: the audio embedding is the anchor and
    is *shifted* by a displacement computed from the (attention-refined) visual vector,
    ``h = relu(W_h [v'; a]) * W_v v'``, ``alpha = min(beta * |a| / |h|, 1)``,
    ``z = LayerNorm(a + alpha * h)`` (TelME leads with text; here audio leads because the
    deployed student hears audio only).

``use_visual=False`` gives the audio-only teacher (same class). A modality marked absent (see
:mod:`edgeemo.train.teachers.masking`) has its embedding replaced by a learned "missing" vector.
Outputs: ``logits``, ``embedding`` (fused), ``embedding_audio``, ``embedding_visual`` (the visual
vector as it enters the fusion: the refined ``v'`` for ``attention``, the shift ``alpha * h`` for
``shift``, the encoder output for ``concat``) and, with
``aux_heads``, per-modality ``logits_audio`` / ``logits_visual`` (used by the DMD-style loss).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from edgeemo.errors import ConfigError

from ..config import DictConfig
from ..frontend import FrontendConfig, LogMelFrontend
from .egemaps import FEATURE_SET, functionals_dim

FUSIONS = ("concat", "attention", "shift")


@dataclass(frozen=True)
class TeacherConfig(DictConfig):
    """Architecture of an audio(+video) teacher (stored in its checkpoint)."""

    _what: ClassVar[str] = "teacher model option"
    _nested: ClassVar[dict[str, type]] = {"frontend": FrontendConfig}

    labels: tuple[str, ...]
    use_logmel: bool = True
    use_egemaps: bool = True
    use_visual: bool = True
    fusion: str = "attention"
    audio_channels: tuple[int, ...] = (96, 128, 128)
    functionals: str = FEATURE_SET  # openSMILE set of the functionals branch (see FEATURE_SETS)
    egemaps_dim: int | None = None  # None: the size of ``functionals``
    visual_dim: int = 35
    # z-score functionals and AUs per speaker over that speaker's clips before the global
    # standardiser (transductive: needs many clips of every speaker, see standardize_per_speaker)
    speaker_norm: bool = False
    hidden: int = 128
    heads: int = 4
    dropout: float = 0.3
    shift_beta: float = 0.5
    aux_heads: bool = True
    window_samples: int = 48000
    hop_samples: int = 8000
    frontend: FrontendConfig = field(default_factory=FrontendConfig)

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {self.fusion!r}; choose one of {FUSIONS}")
        if not (self.use_logmel or self.use_egemaps):
            raise ConfigError("a teacher needs an audio input: set use_logmel and/or use_egemaps")
        expected = functionals_dim(self.functionals)
        if self.egemaps_dim is None:
            object.__setattr__(self, "egemaps_dim", expected)
        elif self.egemaps_dim != expected:
            raise ConfigError(f"egemaps_dim {self.egemaps_dim} does not match {self.functionals} ({expected} "
                              "values); leave egemaps_dim unset")
        if not isinstance(self.speaker_norm, bool):
            raise ConfigError(f"speaker_norm must be true or false, got {self.speaker_norm!r}")
        if self.hidden % self.heads:
            raise ConfigError(f"hidden ({self.hidden}) must be divisible by heads ({self.heads})")

    @property
    def modalities(self) -> tuple[str, ...]:
        return ("audio", "visual") if self.use_visual else ("audio",)



def _mlp(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d_out), nn.LayerNorm(d_out), nn.GELU(), nn.Dropout(dropout))


class LogMelEncoder(nn.Module):
    """``[B, 1, n_mels, T]`` normalised log-mel -> frame tokens ``[B, T', hidden]`` and a pooled vector."""

    def __init__(self, n_mels: int, channels: tuple[int, ...], hidden: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.AvgPool1d(2)]  # 10 ms -> 20 ms frames: cheap and enough
        c_in = n_mels
        for i, c_out in enumerate(channels):
            layers += [nn.Conv1d(c_in, c_out, kernel_size=5 if i < 2 else 3, padding="same", bias=False),
                       nn.BatchNorm1d(c_out), nn.GELU()]
            if i < len(channels) - 1:
                layers.append(nn.MaxPool1d(2))
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        self.tokens = nn.Linear(c_in, hidden)
        self.pool = _mlp(2 * c_in, hidden, dropout)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.convs(feats.squeeze(1))  # [B, C, T']
        pooled = self.pool(torch.cat([x.mean(dim=2), x.std(dim=2)], dim=1))
        return self.tokens(x.transpose(1, 2)), pooled


class TeacherAV(nn.Module):
    """Audio(+video) emotion teacher with configurable fusion (see the module docstring)."""

    def __init__(self, cfg: TeacherConfig) -> None:
        super().__init__()
        self.cfg = cfg
        h, n_cls = cfg.hidden, len(cfg.labels)
        self.frontend = LogMelFrontend(cfg.frontend)
        self.input_norm = nn.BatchNorm2d(1)
        self.logmel_enc = (
            LogMelEncoder(cfg.frontend.n_mels, cfg.audio_channels, h, cfg.dropout) if cfg.use_logmel else None
        )
        self.egemaps_enc = _mlp(cfg.egemaps_dim, h, cfg.dropout) if cfg.use_egemaps else None
        n_audio = int(cfg.use_logmel) + int(cfg.use_egemaps)
        self.audio_join = _mlp(n_audio * h, h, cfg.dropout)
        self.missing_audio = nn.Parameter(torch.zeros(h))
        self.classifier = nn.Linear(h, n_cls)
        self.aux_audio = nn.Linear(h, n_cls) if cfg.aux_heads else None
        if cfg.use_visual:
            self.visual_enc = nn.Sequential(_mlp(cfg.visual_dim, h, cfg.dropout), _mlp(h, h, cfg.dropout))
            self.missing_visual = nn.Parameter(torch.zeros(h))
            self.aux_visual = nn.Linear(h, n_cls) if cfg.aux_heads else None
            if cfg.fusion == "concat":
                self.fuse = _mlp(2 * h, h, cfg.dropout)
            else:
                self.cross_attn = nn.MultiheadAttention(h, cfg.heads, dropout=cfg.dropout, batch_first=True)
                self.cross_norm = nn.LayerNorm(h)
                if cfg.fusion == "attention":
                    self.gate = nn.Linear(2 * h, h)
                else:  # shift
                    self.shift_weight = nn.Linear(2 * h, h)
                    self.shift_value = nn.Linear(h, h)
                    self.shift_norm = nn.LayerNorm(h)
                    self.shift_dropout = nn.Dropout(cfg.dropout)

    # ------------------------------------------------------------------ inputs
    def normalize(self, logmel: torch.Tensor) -> torch.Tensor:
        """``[B, n_mels, T]`` log-mel -> per-band mean-removed, batch-normed ``[B, 1, n_mels, T]``."""
        logmel = logmel - logmel.mean(dim=2, keepdim=True)
        return self.input_norm(logmel.unsqueeze(1))

    # ------------------------------------------------------------------ forward
    def forward_features(
        self,
        feats: torch.Tensor | None,
        egemaps: torch.Tensor | None = None,
        visual: torch.Tensor | None = None,
        *,
        audio_present: torch.Tensor | None = None,
        video_present: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Outputs from normalised log-mel, standardised eGeMAPS and standardised AUs.

        ``video_present=None`` means "present" when ``visual`` is given and "absent" when it is
        None, so ``model.forward_features(feats, egemaps)`` is the video-removed evaluation.
        """
        parts, tokens = [], []
        batch = self._batch_size(feats, egemaps, visual)
        if self.logmel_enc is not None:
            if feats is None:
                raise ConfigError("this teacher uses log-mel input; pass feats")
            frame_tokens, pooled = self.logmel_enc(feats)
            parts.append(pooled)
            tokens.append(frame_tokens)
        if self.egemaps_enc is not None:
            if egemaps is None:
                raise ConfigError("this teacher uses eGeMAPS input; pass egemaps")
            e = self.egemaps_enc(egemaps)
            parts.append(e)
            tokens.append(e[:, None])
        a = self.audio_join(torch.cat(parts, dim=1))
        if audio_present is not None:
            a = torch.where(audio_present[:, None], a, self.missing_audio.expand_as(a))
        out = {"embedding_audio": a}
        if self.aux_audio is not None:
            out["logits_audio"] = self.aux_audio(a)
        if not self.cfg.use_visual:
            out["embedding"] = a
            out["logits"] = self.classifier(a)
            return out

        if visual is None:
            v = self.missing_visual.expand(batch, -1)
        else:
            v = self.visual_enc(visual)
            if video_present is not None:
                v = torch.where(video_present[:, None], v, self.missing_visual.expand_as(v))
        if self.aux_visual is not None:
            out["logits_visual"] = self.aux_visual(v)
        z, v_fused = self._fuse(a, v, torch.cat(tokens, dim=1), audio_present)
        out["embedding_visual"] = v_fused
        out["embedding"] = z
        out["logits"] = self.classifier(z)
        return out

    @staticmethod
    def _batch_size(*tensors: torch.Tensor | None) -> int:
        for t in tensors:
            if t is not None:
                return int(t.shape[0])
        raise ConfigError("no input given")

    def _fuse(self, a: torch.Tensor, v: torch.Tensor, tokens: torch.Tensor,
              audio_present: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Fused embedding and the visual vector as it enters the fusion (same space as ``a``
        for ``attention`` and ``shift``)."""
        if self.cfg.fusion == "concat":
            return self.fuse(torch.cat([a, v], dim=1)), v
        if audio_present is not None:  # an absent audio offers only its "missing" token
            tokens = torch.where(audio_present[:, None, None], tokens, self.missing_audio.expand_as(tokens))
        ctx, _ = self.cross_attn(v[:, None], tokens, tokens, need_weights=False)
        v_ref = self.cross_norm(v + ctx[:, 0])
        if self.cfg.fusion == "attention":
            g = torch.sigmoid(self.gate(torch.cat([a, v_ref], dim=1)))
            return g * a + (1 - g) * v_ref, v_ref
        # TelME-style modality shift, led by audio
        h = torch.relu(self.shift_weight(torch.cat([v_ref, a], dim=1))) * self.shift_value(v_ref)
        h_norm = h.norm(dim=1).clamp_min(1e-6)
        alpha = torch.clamp(self.cfg.shift_beta * a.norm(dim=1) / h_norm, max=1.0)
        shift = alpha[:, None] * h
        return self.shift_dropout(self.shift_norm(a + shift)), shift

    def forward(
        self,
        audio: torch.Tensor,
        egemaps: torch.Tensor | None = None,
        visual: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Raw 16 kHz PCM ``[B, samples]`` (plus standardised clip features) -> outputs."""
        feats = self.normalize(self.frontend(audio)) if self.cfg.use_logmel else None
        return self.forward_features(feats, egemaps, visual)
