"""Batched classifier inference: tokenize once, bucket by length, pad per batch, no autograd.

Texts are sorted by token count and cut into batches of at most ``batch_size`` texts and
:data:`MAX_BATCH_TOKENS` padded tokens, so each batch pads only to its own longest text (on
tweets that spends almost no compute on padding) and long documents come in smaller batches. Every batch runs under
``torch.inference_mode``. Probabilities come back in the caller's order, as
(negative, neutral, positive) whatever the model's own label order.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from fintrade_sentiment.classifier import LoadedClassifier

DEFAULT_BATCH_SIZE = 64
MAX_BATCH_TOKENS = 8192
"""Padded tokens per batch at most: 64 tweets, or 16 documents of 512 tokens."""
PROGRESS_MIN_TEXTS = 256
"""Fewer texts than this finish in seconds: no progress bar (unless asked for)."""


def class_probabilities(
    classifier: LoadedClassifier,
    texts: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    bar: Any = None,
) -> np.ndarray:
    """``(len(texts), 3)`` float64 probabilities of negative, neutral, positive.

    ``bar``: a progress bar (:func:`progress_bar`) advanced by each batch's size.
    """
    import numpy as np
    import torch

    out = np.zeros((len(texts), 3), dtype=np.float64)
    if not texts:
        return out
    tokenizer, model = classifier.tokenizer, classifier.model
    encoded = tokenizer(list(texts), truncation=True, max_length=classifier.spec.max_length)["input_ids"]
    order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    label_order = list(classifier.spec.order)
    device = torch.device(classifier.device)
    with torch.inference_mode():
        for rows in _batches(order, [len(ids) for ids in encoded], batch_size):
            width = len(encoded[rows[-1]])
            # Right padding: BERT-type models ignore masked positions; decoder classifiers read
            # the last non-pad token, which right padding keeps in place.
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for row, i in enumerate(rows):
                tokens = encoded[i]
                ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
                mask[row, : len(tokens)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
            probabilities = torch.softmax(logits, dim=-1)[:, label_order]
            out[rows] = probabilities.double().cpu().numpy()
            if bar is not None:
                bar.update(len(rows))
    return out


def _batches(order: list[int], lengths: list[int], batch_size: int) -> list[list[int]]:
    """Consecutive runs of ``order`` (ascending length) within the size and padded-token limits."""
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Ascending order: the newest text is the longest, so it sets the batch's padded width.
        if current and (len(current) == batch_size or (len(current) + 1) * lengths[i] > MAX_BATCH_TOKENS):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def progress_bar(total: int, name: str) -> Any:
    """A tqdm bar on stderr for scoring ``total`` texts (shown when stderr is a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", desc=f"scoring with {name}", file=sys.stderr, leave=False)
