"""Answer metrics: SQuAD's exact match and token F1, and the best answer span from start/end logits.

Pure Python and torch, no ``evaluate`` or ``datasets`` dependency. The normalisation is the
official SQuAD v1.1 script's: lower-case, drop punctuation, drop the articles ``a``, ``an``
and ``the``, collapse whitespace. Used by extractive QA (:mod:`fintrade_adapters.qa`) and by
free-form generation in causal-LM fine-tuning (:mod:`fintrade_adapters.sft`).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = frozenset(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower-case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, truth: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(truth))


def token_f1(prediction: str, truth: str) -> float:
    """F1 of the normalised tokens in common (a bag of words, counted with multiplicity).

    Two empty answers agree (1.0); one empty answer against a non-empty one scores 0.0.
    """
    predicted = normalize_answer(prediction).split()
    expected = normalize_answer(truth).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted)
    recall = common / len(expected)
    return 2 * precision * recall / (precision + recall)


def answer_scores(predictions: Sequence[str], truths: Sequence[str]) -> dict[str, float]:
    """Mean exact match and token F1 (fractions in [0, 1]) over paired answers."""
    if not predictions:
        return {"exact_match": 0.0, "f1": 0.0}
    n = len(predictions)
    return {
        "exact_match": sum(exact_match(p, t) for p, t in zip(predictions, truths, strict=True)) / n,
        "f1": sum(token_f1(p, t) for p, t in zip(predictions, truths, strict=True)) / n,
    }


def best_span(
    start_logits: torch.Tensor, end_logits: torch.Tensor, allowed: torch.Tensor, max_answer_length: int
) -> tuple[int, int, float]:
    """The token span (start, end, score) maximising start + end logit.

    Only spans with ``start <= end``, ``end - start + 1 <= max_answer_length`` and both ends
    on ``allowed`` tokens (the context) count. Every pair is scored at once (a sequence of a
    few hundred tokens makes a small matrix), so the answer is the exact best, not a top-k
    approximation. Returns ``(-1, -1, -inf)`` when no token is allowed.
    """
    import torch

    n = start_logits.shape[0]
    scores = start_logits[:, None].float() + end_logits[None, :].float()
    rows = torch.arange(n)[:, None]
    cols = torch.arange(n)[None, :]
    valid = (cols >= rows) & (cols - rows < max_answer_length) & allowed[:, None] & allowed[None, :]
    if not bool(valid.any()):
        return -1, -1, float("-inf")
    scores = scores.masked_fill(~valid, float("-inf"))
    flat = int(torch.argmax(scores))
    start, end = divmod(flat, n)
    return start, end, float(scores[start, end])
