"""The ``phrasebank`` dataset: Financial PhraseBank v1.0 (Malo et al., 2014), read from disk.

The PhraseBank's licence is CC BY-NC-SA 3.0 (non-commercial), so fintrade does not ship it:
fintrade is MIT and may be used commercially. The files are read from, in order,

1. option ``path``: the folder holding ``Sentences_*.txt``;
2. the folder named by ``$FINTRADE_PHRASEBANK_DIR``;
3. ``../shared/data/financial_phrasebank_v1.0``, looked for from the current directory and
   each directory above it, then likewise from the fintrade source checkout (development).

Options:

``agreement``
    ``"all"`` (default), ``"75"``, ``"66"`` or ``"50"``: the share of the annotators who had
    to agree on a sentence's label (``Sentences_AllAgree.txt``, ``Sentences_75Agree.txt``...).
    ``75``, ``66`` and ``50`` may also be given as ints.
``dedupe``
    ``True`` (default): drop rows that repeat an earlier row's sentence and label, and drop
    every row of a sentence that carries different labels in different rows, with a warning
    that counts them. ``False``: every line of the file, as released.
``path``
    the folder holding the ``Sentences_*.txt`` files.

The release's format: one ``sentence@label`` per line, ISO-8859-1 (latin-1) with CRLF line
endings; a line is split on its **last** ``@``, since sentences may contain ``@`` themselves.
Odd sequences such as ``Sepp+ñl+ñ`` are in the original files and are kept.

Duplicates in the release (``dedupe=False`` keeps them; ``True`` removes them):

============  =====  ===================  ===================================  ============
file          rows   repeated rows        sentences with conflicting labels    dedupe=True
============  =====  ===================  ===================================  ============
AllAgree      2264   5                    0                                    2259
75Agree       3453   5                    0                                    3448
66Agree       4217   6                    0                                    4211
50Agree       4846   6                    2 (4 rows)                           4836
============  =====  ===================  ===================================  ============

The rows have no dates (no ``published_at``); ``id`` is a hash of the sentence, equal across
agreement levels (see :func:`fintrade_datasets.labelled.text_ids`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from fintrade.cache import DataWarning
from fintrade.errors import ConfigError, DataError
from fintrade.options import bool_option, check_option_names
from fintrade_datasets.labelled import labelled_frame
from fintrade_datasets.labels import SENTIMENT_LABELS, plural

DATASET = "dataset 'phrasebank'"
OPTIONS: tuple[str, ...] = ("agreement", "dedupe", "path")
ENV_VAR = "FINTRADE_PHRASEBANK_DIR"
FOLDER_NAME = "financial_phrasebank_v1.0"
FILES: dict[str, str] = {
    "all": "Sentences_AllAgree.txt",
    "75": "Sentences_75Agree.txt",
    "66": "Sentences_66Agree.txt",
    "50": "Sentences_50Agree.txt",
}
ENCODING = "latin-1"
WHY_NOT_BUNDLED = (
    "it is not bundled with fintrade because its licence (CC BY-NC-SA 3.0) forbids commercial use; "
    "get FinancialPhraseBank-v1.0 from its authors (Malo et al. 2014)"
)


def agreement_option(options: Mapping[str, Any]) -> str:
    """Option ``agreement`` as a key of :data:`FILES`."""
    value = options.get("agreement", "all")
    key = str(value).strip().lower() if isinstance(value, str | int) and not isinstance(value, bool) else None
    if key not in FILES:
        raise ConfigError(f"{DATASET}: option 'agreement' must be one of {', '.join(map(repr, FILES))}, got {value!r}")
    return key


def _checkout_root() -> Path | None:
    """The source checkout this module runs from (an editable install), or None for a wheel."""
    here = Path(__file__).resolve()
    root = here.parents[2]
    if here.parents[1].name == "plugins" and (root / "pyproject.toml").is_file():
        return root
    return None


def _shared_candidates() -> list[Path]:
    """``<dir>/../shared/data/financial_phrasebank_v1.0`` for every dir above cwd and the checkout."""
    starts = [Path.cwd().resolve()]
    root = _checkout_root()
    if root is not None:
        starts.append(root)
    candidates: list[Path] = []
    for start in starts:
        for directory in (start, *start.parents):
            candidate = directory.parent / "shared" / "data" / FOLDER_NAME
            if candidate not in candidates:
                candidates.append(candidate)
    return candidates


def find_file(agreement: str, path: object = None) -> Path:
    """The ``Sentences_*.txt`` file for ``agreement``, searched as the module docstring says.

    A folder named explicitly (option ``path`` or the environment variable) must hold the
    file: falling through to another copy would hide a typo.
    """
    name = FILES[agreement]
    if path is not None:
        if not isinstance(path, str | os.PathLike) or not str(path):
            raise ConfigError(f"{DATASET}: option 'path' must be a folder name, got {path!r}")
        return _file_in(Path(path).expanduser(), name, "option 'path'")
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _file_in(Path(env).expanduser(), name, f"${ENV_VAR}")
    for folder in _shared_candidates():
        if folder.is_dir():
            return _file_in(folder, name, "the shared data folder")
    raise DataError(
        f"{DATASET}: Financial PhraseBank v1.0 not found; pass option path=<folder holding {name}>, "
        f"set ${ENV_VAR}, or put the release in ../shared/data/{FOLDER_NAME}; {WHY_NOT_BUNDLED}"
    )


def _file_in(folder: Path, name: str, named_by: str) -> Path:
    file = folder / name
    if not file.is_file():
        raise DataError(f"{DATASET}: no {name} in {folder} ({named_by}); {WHY_NOT_BUNDLED}")
    return file


def read_sentences(file: Path) -> tuple[list[str], list[str]]:
    """Sentences and labels of one ``Sentences_*.txt`` file, every line, in file order."""
    where = f"{DATASET}, file {file}"
    if file.read_bytes()[:3] == b"\xef\xbb\xbf":
        # A UTF-8 copy (some mirrors re-encode) would be read as latin-1 mojibake without error.
        raise DataError(f"{where}: starts with a UTF-8 byte-order mark; the release is latin-1, use the original file")
    texts: list[str] = []
    labels: list[str] = []
    # newline=None: universal newlines turn the release's CRLF into "\n"; latin-1 decodes any byte.
    with open(file, encoding=ENCODING, newline=None) as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            sentence, at, label = line.rpartition("@")
            if not at:
                raise DataError(f"{where}: line {number} has no '@label' ending: {line[:60]!r}")
            label = label.strip()
            if label not in SENTIMENT_LABELS:
                raise DataError(f"{where}: line {number}: label {label!r} is not one of {', '.join(SENTIMENT_LABELS)}")
            if not sentence.strip():
                raise DataError(f"{where}: line {number} has a label but no sentence")
            texts.append(sentence)
            labels.append(label)
    if not texts:
        raise DataError(f"{where}: the file has no sentences")
    return texts, labels


def dedupe_rows(texts: list[str], labels: list[str], where: str) -> list[int]:
    """Positions to keep: first of each repeated (sentence, label); none of a conflicted sentence.

    A sentence labelled differently in different rows has no single right answer, and keeping
    either label would be a guess, so all its rows go; how many is reported as a warning.
    """
    labels_of: dict[str, set[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        labels_of.setdefault(text, set()).add(label)
    conflicted = {text for text, found in labels_of.items() if len(found) > 1}
    keep: list[int] = []
    seen: set[str] = set()
    conflicted_rows = 0
    for position, text in enumerate(texts):
        if text in conflicted:
            conflicted_rows += 1
        elif text not in seen:
            seen.add(text)
            keep.append(position)
    if conflicted:
        warnings.warn(
            f"{where}: dropped {plural(conflicted_rows, 'row')} of {plural(len(conflicted), 'sentence')} "
            "labelled differently in different rows (option dedupe=False keeps them)",
            DataWarning,
            stacklevel=3,
        )
    return keep


def load_phrasebank(options: Mapping[str, Any]) -> pd.DataFrame:
    """The ``phrasebank`` dataset's ``load``: ``text``, ``label`` and ``id``, in file order."""
    check_option_names(options, OPTIONS, DATASET)
    agreement = agreement_option(options)
    dedupe = bool_option(options, "dedupe", True, DATASET)
    file = find_file(agreement, options.get("path"))
    texts, labels = read_sentences(file)
    if dedupe:
        keep = dedupe_rows(texts, labels, f"{DATASET} ({file.name})")
        texts = [texts[position] for position in keep]
        labels = [labels[position] for position in keep]
    return labelled_frame(texts, labels)
