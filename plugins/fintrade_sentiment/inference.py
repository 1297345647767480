"""Batched classifier inference: tokenize once, bucket by length, pad per batch, no autograd.

Texts are sorted by token count and cut into batches, so each batch pads only to its own
longest text: on tweets that spends almost no compute on padding. Every batch runs under
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

PROGRESS_MIN_TEXTS = 256
"""Fewer texts than this finish in seconds: no progress bar (unless asked for)."""


def class_probabilities(
    classifier: LoadedClassifier,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
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
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in rows)
            # Right padding: BERT-type models ignore masked positions; decoder classifiers read
            # the last non-pad token, which right padding keeps in place.
            ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for row, i in enumerate(rows):
                tokens = encoded[i]
                ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
                mask[row, : len(tokens)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits.float()
            probabilities = torch.softmax(logits, dim=-1)[:, label_order]
            out[rows] = probabilities.double().numpy()
            if bar is not None:
                bar.update(len(rows))
    return out


def progress_bar(total: int, name: str) -> Any:
    """A tqdm bar on stderr for scoring ``total`` texts (shown when stderr is a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, unit="doc", desc=f"scoring with {name}", file=sys.stderr, leave=False)
