"""Sentence embeddings of texts: mean-pooled, L2-normalised encoder outputs, cached per text.

The encoder is named as ``fintrade train`` names base models (the ``minilm`` alias, a local
folder or a hub id), resolved by the adapters plugin's model code. Vectors are what
sentence-transformers gives for all-MiniLM-L6-v2: the attention-masked mean of the last hidden
states, scaled to unit length. Every text's vector is cached on disk
(:mod:`.embedding_cache`) under a key that changes with the model's files, so a text is
encoded once per model, whatever run or process asks for it again.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fintrade.errors import ConfigError
from fintrade_direction.embedding_cache import EmbeddingCache, embedding_cache_path

if TYPE_CHECKING:
    from fintrade.models.sources import ModelSource

MAX_LENGTH = 128
"""Tokens per text; headlines and tweets fit, long articles are cut."""
BATCH_SIZE = 64
POOLING = "mean-normalised"


def text_hash(text: str) -> bytes:
    """SHA-256 of the text's UTF-8 bytes (lone surrogates kept rather than failing)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _source(model: str) -> ModelSource:
    from fintrade.models.sources import resolve_model

    return resolve_model(model)


def model_key(model: str) -> str:
    """What identifies the vectors of ``model``: its files (name, size, change time) where local,
    else its hub id, plus pooling and maximum length."""
    source = _source(model)
    files: list[tuple[str, int, int]] = []
    if source.local:
        folder = Path(source.path)
        files = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file()]
    parts = {"path": source.path, "files": files, "pooling": POOLING, "max_length": MAX_LENGTH}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=2)
def _encoder(model: str) -> tuple[Any, Any]:
    """Tokenizer and encoder, loaded once per process (a sweep calls the model many times)."""
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    from fintrade.models.sources import load_kwargs, load_tokenizer

    source = _source(model)
    tokenizer = load_tokenizer(source)
    # A backtest's output is fintrade's tables: no weight-loading bar in the middle of them.
    bar_was_on = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        encoder = AutoModel.from_pretrained(source.path, **load_kwargs(source))
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"market-direction: cannot load encoder {model!r} from {source.path}: {first}") from None
    finally:
        if bar_was_on:
            transformers_logging.enable_progress_bar()
    encoder.eval()
    return tokenizer, encoder


def encode(texts: Sequence[str], model: str) -> np.ndarray:
    """Embed ``texts`` with no cache: (len(texts), dim) float32, batched by similar length."""
    import torch

    tokenizer, encoder = _encoder(model)
    tokens = tokenizer(list(texts), truncation=True, max_length=MAX_LENGTH)["input_ids"]
    # Sorting by length keeps padding (wasted work) small inside each batch.
    order = np.argsort([len(ids) for ids in tokens], kind="stable")
    dim = int(encoder.config.hidden_size)
    out = np.empty((len(texts), dim), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            batch = tokenizer.pad({"input_ids": [tokens[i] for i in rows]}, return_tensors="pt")
            hidden = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
            out[rows] = pooled.float().numpy()
    return out


@functools.cache
def _shared_cache(path: Path) -> EmbeddingCache:
    """One cache (and one connection) per file per process."""
    return EmbeddingCache(path)


def embed_texts(texts: Sequence[str], model: str = "minilm", *, cache: EmbeddingCache | None = None) -> np.ndarray:
    """Vectors for ``texts`` (float32, one row each): from the cache where present, otherwise
    encoded (each distinct text once) and stored."""
    cache = cache if cache is not None else _shared_cache(embedding_cache_path())
    if not texts:
        return np.empty((0, 0), dtype=np.float32)
    key = model_key(model)
    hashes = [text_hash(text) for text in texts]
    distinct = dict(zip(hashes, texts, strict=True))
    found = cache.get(key, list(distinct))
    missing = [h for h in distinct if h not in found]
    if missing:
        vectors = encode([distinct[h] for h in missing], model)
        fresh = dict(zip(missing, vectors, strict=True))
        cache.put(key, fresh)
        found.update(fresh)
    return np.stack([found[h] for h in hashes])
